"""Executors by name: the four built in, ``package.module:Class``, or a name registered under the
``facebench.executors`` entry-point group (as fsspec's registry: imported lazily, with an install
hint when the package is missing). A new executor is one module; the harness asks it, not a table."""

from __future__ import annotations

from functools import cache
from importlib import import_module
from importlib.metadata import entry_points

from bench.errors import UserError
from bench.executors.base import Billing, Executor, Traits

#: The reference every other case is timed and checked against.
REFERENCE = "sequential"
#: The built-in executors, in the order tables and figures list them.
BUILTIN = {
    "sequential": "bench.executors.sequential:SequentialExecutor",
    "processes": "bench.executors.processes:ProcessesExecutor",
    "dask": "bench.executors.dask:DaskExecutor",
    "lithops": "bench.executors.lithops:LithopsExecutor",
}
ENTRY_POINT_GROUP = "facebench.executors"


def registered() -> dict[str, str]:
    """Every executor name that can be asked for, built-in first, then entry points."""
    found = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def _import(target: str, asked: str) -> type[Executor]:
    module_name, _, attr = target.partition(":")
    try:
        module = import_module(module_name)
    except ModuleNotFoundError as exc:
        hint = f"; install it (pip install {exc.name.split('.')[0]})" if exc.name else ""
        raise UserError(f"executor {asked!r} needs the module {exc.name!r}, which is missing{hint}") from None
    obj = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise UserError(f"executor {asked!r}: {module_name} has no {attr!r}")
    if not (isinstance(obj, type) and issubclass(obj, Executor)):
        raise UserError(f"executor {asked!r} is not a subclass of bench.executors.Executor")
    return obj


@cache
def executor_class(name: str) -> type[Executor]:
    """A built-in or registered name, or ``package.module:Class``. Imported lazily: choosing
    'processes' should not cost Dask's or Lithops' import time."""
    if ":" in name:
        return _import(name, name)
    known = registered()
    if name not in known:
        raise UserError(
            f"unknown executor {name!r}; choose from {', '.join(known)}, or give package.module:Class"
        )
    return _import(known[name], name)


def executor_name(name: str) -> str:
    """The name tables record: the class's declared ``name`` for ``module:Class``, else as given."""
    if ":" not in name:
        return name
    return getattr(executor_class(name), "name", None) or name.rpartition(":")[2]


def traits_of(name: str, recorded: dict | None = None) -> Traits:
    """An executor's declared traits: as the run recorded them (manifest ``executors``), else from
    its class, else the documented defaults (a run made by an executor no longer installed)."""
    if recorded and name in recorded:
        return Traits.from_json(recorded[name])
    try:
        return executor_class(name).traits()
    except UserError:
        return Traits(name=name, cls="")


def display_order(names) -> list[str]:
    """Built-in executors in their order, then any others alphabetically."""
    names = set(names)
    return [n for n in BUILTIN if n in names] + sorted(names - set(BUILTIN))


__all__ = [
    "BUILTIN",
    "REFERENCE",
    "Billing",
    "Executor",
    "Traits",
    "display_order",
    "executor_class",
    "executor_name",
    "registered",
    "traits_of",
]
