"""Executors by name. A new executor is one new module and one line here."""

from __future__ import annotations

from importlib import import_module

from bench.errors import UserError
from bench.executors.base import Executor

EXECUTORS = {
    "sequential": "bench.executors.sequential:SequentialExecutor",
    "processes": "bench.executors.processes:ProcessesExecutor",
    "dask": "bench.executors.dask:DaskExecutor",
    "lithops": "bench.executors.lithops:LithopsExecutor",
}


def executor_class(name: str) -> type[Executor]:
    """Import lazily: choosing 'processes' should not cost Dask's or Lithops' import time."""
    if name not in EXECUTORS:
        raise UserError(f"unknown executor {name!r}; choose from {', '.join(EXECUTORS)}")
    module, _, cls = EXECUTORS[name].partition(":")
    return getattr(import_module(module), cls)


__all__ = ["EXECUTORS", "Executor", "executor_class"]
