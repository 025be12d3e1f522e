"""A serverless map job played forward from its tasks' service times, with what the platform and the
client add around every call.

Two ways to call a function. ``lithops`` (a Lithops or PyWren map job): the client serialises and
uploads the function and the data once, invokes the calls from a thread pool, every call downloads
the function and its data from object storage and uploads its status and result, and the client
polls the statuses and then downloads the results. ``direct``: synchronous HTTP calls from the
client, the result in the response, no storage round trips. Both pay the platform's start latency
(a cold start more for every new container), its concurrency cap and rate limits, and run the work
at the function's CPU share.

The same play serves ``facebench project --service-time`` (a workload given by its service time),
the run-based projections (:func:`bench.model.projection.predict_case`), the published jobs
(:mod:`bench.model.published`) and the pattern's scenario (:mod:`bench.model.scenarios`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.analysis.billing import cost_of_case
from bench.analysis.pricebook import PriceBook
from bench.executors import Billing
from bench.model.intervals import interval_text
from bench.model.platforms import PLATFORM_STORE, Platform
from bench.model.simulator import Schedule, schedule

__all__ = ["INVOCATIONS", "Job", "format_workload", "job_schedule", "project_workload", "service_times"]

INVOCATIONS = ("lithops", "direct")


def service_times(spec: str | float) -> np.ndarray:
    """Seconds per task: one number, or a CSV file's ``seconds`` column (resampled by the caller)."""
    try:
        return np.array([float(spec)])
    except ValueError:
        pass
    path = Path(str(spec))
    if not path.is_file():
        raise ValueError(f"--service-time takes seconds or a CSV file with a 'seconds' column, not {spec!r}")
    table = pd.read_csv(path)
    if "seconds" not in table.columns:
        raise ValueError(f"{path} has no 'seconds' column")
    seconds = pd.to_numeric(table["seconds"], errors="coerce").dropna().to_numpy(float)
    if len(seconds) == 0 or (seconds < 0).any():
        raise ValueError(f"{path}: 'seconds' needs non-negative numbers")
    return seconds


@dataclass
class Job:
    """One simulated job: its schedule and the end-to-end time the client sees."""

    schedule: Schedule
    wall_s: float
    notes: list[str]


def job_schedule(
    work_s: np.ndarray,
    slots: int,
    platform: Platform,
    rng: np.random.Generator,
    *,
    invocation: str = "lithops",
    per_call_s: float | np.ndarray = 0.0,
    new_container_s: float | np.ndarray = 0.0,
    warm_containers: int = 0,
    dispatch_s: float = 0.0,
    end_gap_s: float = 0.0,
    offset_s: float = 0.0,
    client_limit: tuple[int, float] | None = None,
) -> Job:
    """Place the calls (``work_s`` each, already at the function's CPU share) on ``slots`` containers.

    Every call pays the platform's start latency and ``per_call_s``; under ``lithops`` also the
    per-call storage round trips, and the job the client's setup, its invocation thread pool
    (``client_limit``, default the platform's), the wait for the next status poll after the last
    call ends, the status check and the result download. A call that opens a container pays the
    cold start and ``new_container_s``, except the first ``warm_containers`` (already warm when the
    job starts). ``offset_s`` delays the first invocation (a remote invoker starting first).
    """
    if invocation not in INVOCATIONS:
        raise ValueError(f"invocation takes one of {', '.join(INVOCATIONS)}, not {invocation!r}")
    n = len(work_s)
    lithops = invocation == "lithops"
    per_call = np.broadcast_to(np.asarray(per_call_s, float), (n,)) + platform.start_latency_s
    if lithops:
        per_call = per_call + platform.storage_in_s + platform.storage_out_s
    cold = np.broadcast_to(np.asarray(new_container_s, float), (n,)) + platform.cold_start_s
    cold = np.where(np.arange(n) < warm_containers, 0.0, cold)
    sched = schedule(
        work_s,
        slots,
        first_dispatch_s=dispatch_s,
        dispatch_s=dispatch_s,
        per_call_s=per_call,
        new_slot_s=cold,
        invocation_limit=platform.invocation_limit,
        client_limit=(client_limit or platform.client_limit) if lithops else None,
        scale_limit=platform.scale_limit,
        end_gap_s=end_gap_s,
    )
    notes = []
    wall = sched.makespan_s + offset_s
    if lithops:
        poll_wait = rng.uniform(0.0, platform.poll_interval_s) if platform.poll_interval_s else 0.0
        wall += platform.job_setup_s + poll_wait + platform.status_check_s + platform.result_fetch_s
    if sched.slots_used < n and slots < n:
        notes.append(f"{n} calls in waves of at most {slots}")
    return Job(sched, wall, notes)


def project_workload(
    seconds: np.ndarray,
    platform: Platform,
    *,
    workers: list[int],
    images: int,
    chunk_size: int | None,
    invocation: str = "lithops",
    book: PriceBook | None = None,
    draws: int = 40,
    seed: int = 0,
) -> pd.DataFrame:
    """``images`` tasks of the given service times (seconds on one full vCPU, resampled) on
    ``platform``, for every worker count: the same rows as :func:`bench.model.projection.project`."""
    if images < 1 or not workers or min(workers) < 1:
        raise ValueError("workers and images must be at least 1")
    rows = []
    for w in workers:
        chunk = int(chunk_size or math.ceil(images / w))
        rng = np.random.default_rng(seed)
        walls, costs, last = [], [], None
        for _ in range(draws):
            slots = min(w, platform.concurrency_cap or w)
            share = platform.share_at(min(slots, math.ceil(images / chunk)))
            task = seconds[rng.integers(0, len(seconds), size=images)] / share
            work = np.add.reduceat(task, np.arange(0, images, chunk))
            last = job_schedule(work, slots, platform, rng, invocation=invocation)
            walls.append(last.wall_s)
            costs.append(_cost(book, platform, last, images, w)[0])
        notes = [*last.notes, f"invocation {invocation}; service time given, not measured here"]
        longest = last.schedule.duration_s.max()
        if platform.timeout_s and longest > platform.timeout_s:
            notes.append(f"a call runs {longest:.0f} s > the {platform.timeout_s:g} s limit")
        cost_model = _cost(book, platform, last, images, w)[1]
        rows.append(
            {
                "executor": "lithops" if invocation == "lithops" else "direct",
                "platform": platform.name,
                "kernel": "service-time",
                "workers": w,
                "images": images,
                "chunk_size": chunk,
                "calls": len(work),
                "slots": last.schedule.slots_used,
                "cpu_share": round(share, 4),
                "predicted_wall_s": float(np.median(walls)),
                "predicted_cost_usd": float(np.median(costs)),
                "predicted_wall_s_low": float(np.quantile(walls, 0.05)),
                "predicted_wall_s_high": float(np.quantile(walls, 0.95)),
                "predicted_cost_usd_low": float(np.quantile(costs, 0.05)),
                "predicted_cost_usd_high": float(np.quantile(costs, 0.95)),
                "draws": draws,
                "cost_model": cost_model,
                "memory_mb": platform.memory_mb,
                "notes": "; ".join(notes),
                "images_per_s": images / float(np.median(walls)),
            }
        )
    return pd.DataFrame(rows)


def _cost(
    book: PriceBook | None, platform: Platform, job: Job, images: int, workers: int
) -> tuple[float, str]:
    """The job billed as the platform bills it (every call's duration, requests, storage requests)."""
    if book is None:
        return math.nan, "unpriced: no price book"
    return cost_of_case(
        book,
        billing=Billing("serverless", platform.name),
        durations_s=job.schedule.duration_s.tolist(),
        store=PLATFORM_STORE.get(platform.name, "local"),
        memory_gb=(platform.memory_mb or 1024) / 1024,
        workers=workers,
        wall_s=job.wall_s,
        gets=images,
        puts=images,
    )


def format_workload(table: pd.DataFrame, platform: Platform) -> str:
    """``facebench project --service-time``'s text: one row per projected job, then the sources."""
    shown = table.assign(wall_s_5_95=interval_text(table, "predicted_wall_s"))
    cols = ["executor", "platform", "workers", "images", "chunk_size", "calls", "slots", "cpu_share"]
    lines = [shown[[*cols, "wall_s_5_95", "predicted_cost_usd", "notes"]].to_string(index=False)]
    return "\n".join(lines + [f"  {line}" for line in platform.sources])
