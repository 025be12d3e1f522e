"""A calibrated model played forward: one case or a grid of them, on this machine or a serverless
platform, with wall time and cost; and the projection written into the run folder.

Per-image times are resampled from the fit and summed per chunk, compute stretched by the cores the
workers share (local) or by the function's CPU share (serverless); :func:`schedule` then places the
chunks, and the price book bills the result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench import tables
from bench.analysis.billing import cost_of_case
from bench.analysis.pricebook import PriceBook
from bench.errors import UserError
from bench.executors import Billing, display_order, traits_of
from bench.executors.chunking import chunk_size_for
from bench.model.calibration import Model
from bench.model.intervals import interval_text
from bench.model.platforms import PLATFORM_STORE, Platform
from bench.model.simulator import schedule
from bench.model.workload import job_schedule

__all__ = [
    "PROJECTION_KEYS",
    "SEED",
    "Prediction",
    "executors_for",
    "format_projection",
    "json_rows",
    "predict_case",
    "project",
    "store_projection",
]

SEED = 0
#: Draws per projected case: each refits by bootstrap and simulates anew; the rows give the median and
#: the 5-95% interval. Measured on results/reference at 50,000 images over 5 seeds: the median moved by
#: up to 5% for Lambda x 1,000 (8.56-9.02 s) and 0.05% locally, hence format_interval's rounding.
DRAWS = 40
#: The columns that name a projected case: a new projection of the same case replaces the old row.
PROJECTION_KEYS = ["executor", "platform", "kernel", "workers", "images", "chunk_size", "memory_mb"]


@dataclass
class Prediction:
    executor: str
    platform: str
    kernel: str
    workers: int
    images: int
    chunk_size: int
    calls: int
    slots: int
    cpu_share: float
    predicted_wall_s: float
    predicted_cost_usd: float
    predicted_wall_s_low: float
    predicted_wall_s_high: float
    predicted_cost_usd_low: float
    predicted_cost_usd_high: float
    draws: int
    cost_model: str
    memory_mb: float | None
    notes: str
    durations_s: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    def row(self) -> dict:
        row = {k: v for k, v in vars(self).items() if k != "durations_s"}
        row["images_per_s"] = self.images / self.predicted_wall_s if self.predicted_wall_s > 0 else math.nan
        return row


def predict_case(
    model: Model,
    *,
    executor: str,
    workers: int,
    images: int,
    kernel: str,
    chunk_size: int | None = None,
    platform: Platform | None = None,
    book: PriceBook | None = None,
    seed: int = SEED,
    draws: int = DRAWS,
) -> Prediction:
    """Simulate one case ``draws`` times: ``executor`` with ``workers`` on this machine (platform local)
    or in the cloud. The first draw uses the fit as measured, the others a bootstrap of it, each with
    its own random schedule; the prediction is their median with a 5-95% interval."""
    if draws < 1:
        raise ValueError("draws must be at least 1")
    rng = np.random.default_rng(seed)
    runs = [
        _draw(model, executor, workers, images, kernel, chunk_size, platform, book, rng, resample=i > 0)
        for i in range(draws)
    ]
    walls = np.array([r.predicted_wall_s for r in runs])
    costs = np.array([r.predicted_cost_usd for r in runs])
    middle = runs[int(np.argsort(walls)[len(walls) // 2])]  # a real draw, its calls and notes
    middle.predicted_wall_s = float(np.median(walls))
    middle.predicted_cost_usd = float(np.median(costs))
    middle.predicted_wall_s_low, middle.predicted_wall_s_high = (
        float(q) for q in np.quantile(walls, [0.05, 0.95])
    )
    middle.predicted_cost_usd_low, middle.predicted_cost_usd_high = (
        float(q) for q in np.quantile(costs, [0.05, 0.95])
    )
    middle.draws = draws
    return middle


def _draw(
    model: Model,
    executor: str,
    workers: int,
    images: int,
    kernel: str,
    chunk_size: int | None,
    platform: Platform | None,
    book: PriceBook | None,
    rng: np.random.Generator,
    resample: bool,
) -> Prediction:
    """One simulated case."""
    platform = platform or Platform("local")
    serverless = platform.name != "local"
    traits = model.traits(executor)
    if serverless and not traits.fresh_process_per_call:
        raise ValueError(
            f"on {platform.name} the executor runs a fresh process per call; {executor} does not"
        )
    if traits.in_process and workers != 1:
        raise ValueError(f"the {executor} executor has exactly one worker")
    if workers < 1 or images < 1:
        raise ValueError("workers and images must be at least 1")
    chunk = int(chunk_size or chunk_size_for(traits, images, workers))
    dist = model.dist(kernel)
    if resample:
        dist = dist.resampled(rng)
    compute, store, overhead = dist.sample(images, rng)
    n_calls = math.ceil(images / chunk)
    notes = []

    if serverless:
        slots = min(workers, platform.concurrency_cap or workers)
        if slots < workers:
            notes.append(f"{platform.name} runs at most {slots} at once")
        slow = 1.0 / platform.share_at(min(slots, n_calls))
        contended = 1.0
        over = model.overhead(executor)
        if not over.source.startswith("measured"):
            notes.append(f"invocation overhead {over.source}")
    else:
        slots = workers
        active = min(workers, n_calls)
        share = max(1.0, active / model.cores)
        contended = model.slowdown(min(active, model.cpu_count))
        slow = share * contended
        if share > 1:
            notes.append(f"{active} workers share {model.cores:.3g} cores")
        if contended > 1:
            notes.append(f"{min(active, model.cpu_count)} busy cores: compute {contended:.2f}x (probe)")
        over = model.overhead(executor)
        if not over.source.startswith("measured"):
            notes.append(f"overheads {over.source}")

    bounds = np.arange(0, images, chunk)
    work = (
        np.add.reduceat(compute, bounds) * slow
        + (np.add.reduceat(store, bounds) + np.add.reduceat(overhead, bounds)) * contended
    )
    load = dist.sample_cold(n_calls, rng) * slow
    wall_extra = 0.0
    if serverless:
        # a Lithops map job: the client's pool, start latency, storage round trips, polling
        job = job_schedule(
            work,
            slots,
            platform,
            rng,
            per_call_s=load,
            dispatch_s=over.first_dispatch_s,
            end_gap_s=over.end_gap_s,
        )
        sched, wall_extra = job.schedule, job.wall_s - job.schedule.makespan_s
        notes += job.notes
    else:
        # a fresh process for every call pays import and model load in every call, dispatched as the
        # first; a worker that outlives its calls pays them once, when its slot opens
        fresh = traits.fresh_process_per_call
        sched = schedule(
            work,
            slots,
            first_dispatch_s=over.first_dispatch_s,
            dispatch_s=over.first_dispatch_s if fresh else over.dispatch_s,
            per_call_s=load if fresh else 0.0,
            new_slot_s=0.0 if fresh else load,
            end_gap_s=over.end_gap_s,
        )
    if platform.timeout_s and len(sched.duration_s) and sched.duration_s.max() > platform.timeout_s:
        notes.append(f"a call runs {sched.duration_s.max():.0f} s > the {platform.timeout_s:g} s limit")

    wall = sched.makespan_s + wall_extra
    cost, cost_model = math.nan, "unpriced: no price book"
    if book is not None:
        ok_share = float(dist.ok.mean()) if len(dist.ok) else 1.0
        common = dict(
            workers=workers,
            wall_s=wall,
            gets=images,
            puts=round(images * ok_share),
        )
        if serverless:
            cost, cost_model = cost_of_case(
                book,
                billing=Billing("serverless", platform.name),
                durations_s=sched.duration_s.tolist(),
                store=PLATFORM_STORE.get(platform.name, "local"),
                memory_gb=(platform.memory_mb or 1024) / 1024,
                **common,
            )
        else:
            cost, cost_model = cost_of_case(
                book,
                billing=Billing(),
                machine=model.machine,
                durations_s=[],
                store=model.store_fit.get("store", "local"),
                **common,
            )
    return Prediction(
        executor=executor,
        platform=platform.name,
        kernel=kernel,
        workers=workers,
        images=images,
        chunk_size=chunk,
        calls=n_calls,
        slots=sched.slots_used,
        cpu_share=round(1.0 / slow, 4),
        predicted_wall_s=wall,
        predicted_cost_usd=cost,
        predicted_wall_s_low=wall,
        predicted_wall_s_high=wall,
        predicted_cost_usd_low=cost,
        predicted_cost_usd_high=cost,
        draws=1,
        cost_model=cost_model,
        memory_mb=platform.memory_mb,
        notes="; ".join(notes),
        durations_s=sched.duration_s,
    )


def project(
    model: Model,
    *,
    executors: Sequence[str],
    workers: Sequence[int],
    images: int,
    kernels: Sequence[str],
    platform: Platform | None = None,
    chunk_size: int | None = None,
    book: PriceBook | None = None,
) -> pd.DataFrame:
    """Every executor x kernel x workers combination as one row (sequential only at one worker)."""
    rows = []
    for executor in executors:
        for kernel in kernels:
            for w in workers:
                if model.traits(executor).in_process and w != 1:
                    continue
                pred = predict_case(
                    model,
                    executor=executor,
                    workers=w,
                    images=images,
                    kernel=kernel,
                    chunk_size=chunk_size,
                    platform=platform,
                    book=book,
                )
                rows.append(pred.row())
    return pd.DataFrame(rows)


def store_projection(run_dir: str | Path, table: pd.DataFrame) -> Path:
    """Merge into ``projection.parquet``: new rows replace earlier rows of the same projected case."""
    path = Path(run_dir) / "projection.parquet"
    table = table.assign(created_at=pd.Timestamp.now(tz="UTC").isoformat())
    if path.is_file():
        old = pd.read_parquet(path)
        if set(PROJECTION_KEYS) <= set(old.columns):

            def key(df: pd.DataFrame) -> list[str]:
                return ["|".join(map(str, values)) for values in df[PROJECTION_KEYS].itertuples(index=False)]

            old = old[[k not in set(key(table)) for k in key(old)]]
            table = pd.concat([old, table], ignore_index=True)
    tables.write_parquet(table, path)
    return path


def json_rows(table: pd.DataFrame) -> list[dict]:
    """Rows as plain JSON values: NaN becomes null, numpy scalars become Python numbers."""
    out = []
    for row in table.to_dict("records"):
        clean = {}
        for k, v in row.items():
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, float) and not math.isfinite(v):
                v = None
            clean[k] = v
        out.append(clean)
    return out


def executors_for(
    platform: str, asked: Sequence[str] | None, runs: pd.DataFrame, manifest: dict
) -> list[str]:
    """The executors ``facebench project`` plays: those asked, else the run's; on a serverless platform
    those with a fresh process per call. facebench reaches serverless platforms through Lithops, so
    Lithops is projected there even where the run has no Lithops case (its overheads then come from the
    closest measured executor, and the table says so)."""
    serverless = platform != "local"
    recorded = manifest.get("executors") or {}
    measured = display_order(set(runs["executor"]))
    per_call = [e for e in measured if traits_of(e, recorded).fresh_process_per_call]
    executors = list(asked or ((per_call or ["lithops"]) if serverless else measured))
    for name in executors:
        if name not in measured and not serverless:
            raise UserError(
                f"--executors {name}: the run has no {name} case to fit (it has {', '.join(measured)})"
            )
        if serverless and not traits_of(name, recorded).fresh_process_per_call:
            raise UserError(
                f"--executors {name} cannot run on {platform}: a serverless platform runs a fresh "
                f"process per call; choose from {', '.join(per_call) or 'lithops'}"
            )
    return executors


def format_projection(table: pd.DataFrame, model: Model, platform: Platform, run_dir: Path) -> str:
    """``facebench project``'s text: one row per projected case, what the interval means, the fit."""
    shown = table.assign(
        wall_s=interval_text(table, "predicted_wall_s"),
        cost_usd=interval_text(table, "predicted_cost_usd"),
        model_error=table["model_error"].map(lambda v: "" if pd.isna(v) else f"{v:.0%}"),
    )
    cols = ["executor", "platform", "kernel", "workers", "images", "chunk_size", "calls", "slots"]
    cols += ["cpu_share", "wall_s", "cost_usd", "model_error", "notes"]
    draws = int(table["draws"].max()) if len(table) else 0
    coverage = table["interval_coverage"].dropna()
    lines = [
        shown[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}"),
        f"\nmedian of {draws} draws (each a bootstrap of the fit simulated anew) [{coverage.iloc[0]:.0%} "
        "prediction interval: the draws' spread and the model's error on held-out cases of the row's kind, "
        "bench/model/errors.py]"
        if len(coverage)
        else f"\nmedian of {draws} draws; no interval: {table['validation'].iloc[0] if len(table) else ''}",
        *sorted({f"  {v}" for v in table["validation"]}),
        f"\nmodel fit on {len(model.fit_cases)} case(s) of {run_dir}; " + "; ".join(model.notes),
    ]
    return "\n".join(lines + [f"  {line}" for line in platform.sources])
