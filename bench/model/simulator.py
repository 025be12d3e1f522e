"""The discrete-event simulator that plays one case from calibrated per-call times.

Chunks are dispatched in order to the first free slot of a heap, at most ``slots`` at once (the
concurrency cap), invocations limited to a count per window (the platform's rate limit), new
containers limited likewise (AWS's scaling rate), a platform cold start when a call opens a new
container, the kernel's model load once per worker process (local pools) or once per call (Lithops
and serverless: every call is a fresh process).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Schedule", "schedule"]


@dataclass
class Schedule:
    """What the simulator says about one case; times in seconds from submission."""

    makespan_s: float
    start_s: np.ndarray  # per call (chunk)
    end_s: np.ndarray
    duration_s: np.ndarray  # per call, as a platform would bill it
    new_slot: np.ndarray  # bool: the call opened a new worker / container
    slots_used: int


def _per_call(value: float | np.ndarray, n: int) -> list[float]:
    arr = np.broadcast_to(np.asarray(value, dtype=float), (n,))
    return arr.tolist()


def schedule(
    work_s: Sequence[float] | np.ndarray,
    slots: int,
    *,
    first_dispatch_s: float = 0.0,
    dispatch_s: float = 0.0,
    per_call_s: float | np.ndarray = 0.0,
    new_slot_s: float | np.ndarray = 0.0,
    invocation_limit: tuple[int, float] | None = None,
    scale_limit: tuple[int, float] | None = None,
    end_gap_s: float = 0.0,
    client_limit: tuple[int, float] | None = None,
) -> Schedule:
    """Discrete-event list scheduling of calls (chunks) in submission order.

        ``work_s[i]`` is call i's own busy time. A call goes to the slot that frees first (a heap of free
        times); at most ``slots`` run at once. A call that opens a slot pays ``first_dispatch_s`` and
        ``new_slot_s[i]`` (worker start, model load, container cold start), a call on a used slot
        ``dispatch_s``; every call pays ``per_call_s[i]``. ``invocation_limit = (count, window_s)``: no more
        than count calls start in any window; ``client_limit`` likewise (the client's invocation thread pool:
    threads per request time); ``scale_limit`` likewise for calls opening a new slot. A free
        used slot is preferred to a new one the scale limit would delay. The makespan is the last end
        plus ``end_gap_s``.
    """
    work = np.asarray(work_s, dtype=float)
    n = len(work)
    if slots < 1:
        raise ValueError("slots must be at least 1")
    if n == 0:
        empty = np.zeros(0)
        return Schedule(end_gap_s, empty, empty, empty, np.zeros(0, bool), 0)
    per_call = _per_call(per_call_s, n)
    cold = _per_call(new_slot_s, n)
    work_l = work.tolist()
    k = min(int(slots), n)
    inv_count, inv_window = invocation_limit or (0, 0.0)
    scale_count, scale_window = scale_limit or (0, 0.0)
    client_count, client_window = client_limit or (0, 0.0)
    starts = [0.0] * n
    ends = [0.0] * n
    durations = [0.0] * n
    new = [False] * n
    opened: list[float] = []  # start times of calls that opened a slot
    heap: list[float] = []  # free times of used slots
    push, pop = heapq.heappush, heapq.heappop
    for i in range(n):
        t_new = None
        if len(opened) < k:
            j = len(opened)
            t_new = opened[j - scale_count] + scale_window if scale_count and j >= scale_count else 0.0
        if heap and (t_new is None or heap[0] <= t_new):
            t, is_new = pop(heap), False
        else:
            t, is_new = t_new, True
        if inv_count and i >= inv_count:
            t = max(t, starts[i - inv_count] + inv_window)
        if client_count and i >= client_count:
            t = max(t, starts[i - client_count] + client_window)
        if is_new:
            opened.append(t)
            d = first_dispatch_s + cold[i] + per_call[i] + work_l[i]
        else:
            d = dispatch_s + per_call[i] + work_l[i]
        starts[i], durations[i], new[i] = t, d, is_new
        ends[i] = t + d
        push(heap, ends[i])
    end_arr = np.asarray(ends)
    return Schedule(
        makespan_s=float(end_arr.max()) + end_gap_s,
        start_s=np.asarray(starts),
        end_s=end_arr,
        duration_s=np.asarray(durations),
        new_slot=np.asarray(new),
        slots_used=len(opened),
    )
