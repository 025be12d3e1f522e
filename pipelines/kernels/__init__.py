"""Face kernels by name: the built-in ones, ``package.module:name`` (a Kernel subclass or instance), or
a name registered under the ``facebench.kernels`` entry-point group. Imported lazily: asking for
``optimized`` does not load the CNN's module. One instance per kernel and process, which holds that
kernel's models (pipelines/kernels/base.py); docs/kernels.md describes each built-in variant."""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.faces import FaceResult
    from pipelines.kernels.base import Kernel

#: The built-in kernels, the faithful one first, in the order tables list them.
BUILTIN = {
    "optimized": "pipelines.kernels.hog:Optimized",
    "naive": "pipelines.kernels.hog:Naive",
    "hog0": "pipelines.kernels.hog:Hog0",
    "roi": "pipelines.kernels.hog:Roi",
    "center": "pipelines.kernels.hog:Center",
    "hog0-center": "pipelines.kernels.hog:Hog0Center",
    "hog0-roi": "pipelines.kernels.hog:Hog0Roi",
    "landmarks5": "pipelines.kernels.hog:Landmarks5",
    "cnn": "pipelines.kernels.cnn:Cnn",
    "chip": "pipelines.kernels.chip:Chip",
    "chip-hog0": "pipelines.kernels.chip:ChipHog0",
    "chip-hog0-roi": "pipelines.kernels.chip:ChipHog0Roi",
}
ENTRY_POINT_GROUP = "facebench.kernels"
#: The faithful kernel: the one every variant approximates and is measured against.
FAITHFUL = "optimized"

_LOADED: dict[str, Kernel] = {}


class KernelError(ValueError):
    """A kernel that cannot be had: unknown, not importable, or not a Kernel; the message says why."""


def registered() -> dict[str, str]:
    """Every kernel name that can be asked for, built-in first, then entry points."""
    found = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def _import(target: str, asked: str) -> Kernel:
    from pipelines.kernels.base import Kernel

    module_name, _, attr = target.partition(":")
    try:
        module = import_module(module_name)
    except ModuleNotFoundError as exc:
        hint = f"; install it (pip install {exc.name.split('.')[0]})" if exc.name else ""
        raise KernelError(f"kernel {asked!r} needs the module {exc.name!r}, which is missing{hint}") from None
    obj = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise KernelError(f"kernel {asked!r}: {module_name} has no {attr!r}")
    if isinstance(obj, type) and issubclass(obj, Kernel):
        obj = obj()
    if not isinstance(obj, Kernel):
        raise KernelError(f"kernel {asked!r} is not a pipelines.kernels.base.Kernel (subclass or instance)")
    if not obj.name:
        raise KernelError(f"kernel {asked!r} declares no name")
    return obj


def get(spec: str) -> Kernel:
    """This process's instance of a built-in or registered kernel, or of ``package.module:name``."""
    if spec not in _LOADED:
        if ":" in spec:
            _LOADED[spec] = _import(spec, spec)
        else:
            known = registered()
            if spec not in known:
                raise KernelError(
                    f"unknown kernel {spec!r}; choose from {', '.join(known)}, or give package.module:name"
                )
            _LOADED[spec] = _import(known[spec], spec)
    return _LOADED[spec]


def process(data: bytes, spec: str = "optimized") -> FaceResult:
    """One image's bytes through a kernel (the faithful one by default)."""
    return get(spec).process(data)


def unload_all() -> None:
    """Every kernel this process has used forgets its models: the next image pays a load, cold."""
    for kernel in _LOADED.values():
        kernel.unload()
