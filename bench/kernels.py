"""Kernels as the harness sees them: what ``--kernel`` asks for, resolved with one line on a bad
name, and what a saved run's kernels declared (the manifest's ``kernels``), so that the analysis of
a run reads declarations and never imports a kernel or branches on its name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.errors import UserError
from pipelines import kernels
from pipelines.kernels import FAITHFUL

if TYPE_CHECKING:
    from pipelines.kernels.base import Kernel


def kernel_of(spec: str) -> Kernel:
    """A built-in or registered kernel, or ``package.module:name``; a UserError when it cannot be had."""
    try:
        return kernels.get(spec)
    except kernels.KernelError as exc:
        raise UserError(str(exc)) from None


def kernel_name(spec: str) -> str:
    """The name tables record: the kernel's declared ``name``."""
    return kernel_of(spec).name


def declared(manifest: dict | None, name: str) -> dict[str, Any]:
    """A kernel's declarations: as the run recorded them, else from the kernel (a run recorded before
    kernels declared themselves), else the defaults of a kernel no longer installed."""
    recorded = (manifest or {}).get("kernels") or {}
    if name in recorded:
        return recorded[name]
    try:
        return kernels.get(name).declaration()
    except kernels.KernelError:
        return {"name": name, "approximates": FAITHFUL, "loads_per_image": False, "points": []}


def faithful_of(names, manifest: dict | None = None) -> str:
    """Of a run's kernels, the one the others approximate, where the run has it; else the first by name."""
    names = sorted(set(map(str, names)))
    for name in names:
        if declared(manifest, name).get("approximates", FAITHFUL) == name:
            return name
    return names[0]
