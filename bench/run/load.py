"""What else the machine did during a case: the CPU other work took, and the VM's steal time.

A case's wall time is this machine's answer only if nothing else ran beside it. ``/proc/stat`` counts
the busy time of every CPU; psutil counts the run's own process tree: the client, the executor's
workers, a local Dask cluster's scheduler and workers, Lithops' processes, their children at any
depth, and (through each process's ``children_user``/``children_system``) the children they have
already reaped, such as Lithops' one-call processes. Busy time minus the tree's, over the case's
wall time, is the CPU other work took, in cores (``background_cpu``). Steal is the time the
hypervisor gave this VM's vCPUs to someone else (``steal_cpu``): a slowdown no process inside the
machine shows. Both are NaN where ``/proc/stat`` is absent (not Linux). Work of the run's own that is
not its child, such as an existing Dask cluster's workers on this machine, counts as other work.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import psutil

_TICK_S = 1 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01


@dataclass(frozen=True)
class Sample:
    """CPU counters at one moment (seconds since boot; NaN where not available)."""

    at: float  # time.monotonic()
    busy_s: float  # every CPU's busy time: user, nice, system, irq, softirq (guest is inside user)
    steal_s: float
    tree_s: float  # the run's process tree, reaped children included


def _proc_stat() -> tuple[float, float]:
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
    except OSError:
        return math.nan, math.nan
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return (user + nice + system + irq + softirq) * _TICK_S, steal * _TICK_S


def _tree_cpu_s() -> float:
    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
        except psutil.Error:  # gone between listing and reading: its parent's children_* has it
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def sample() -> Sample:
    """The counters now; taken at a case's start and end."""
    busy, steal = _proc_stat()
    return Sample(time.monotonic(), busy, steal, _tree_cpu_s())


def between(start: Sample, end: Sample) -> dict[str, float]:
    """``background_cpu`` and ``steal_cpu`` in cores from ``start`` to ``end``. Busy time is counted
    in whole clock ticks per CPU and the tree's per process, so a quiet case reads a few hundredths
    either side of 0; below 0 is that rounding and reads 0."""
    elapsed = end.at - start.at
    if not elapsed > 0:
        return {"background_cpu": math.nan, "steal_cpu": math.nan}
    other = ((end.busy_s - start.busy_s) - (end.tree_s - start.tree_s)) / elapsed
    return {
        "background_cpu": other if math.isnan(other) else max(0.0, other),
        "steal_cpu": (end.steal_s - start.steal_s) / elapsed,
    }
