"""Published serverless map jobs: the platform terms calibrated on some, the model scored on the others.

``results/published/jobs.csv`` holds one row per job (platform, calls, memory, the client's
end-to-end time, date and source: repository, path, commit); ``tasks.csv`` one row per call with
Lithops' own per-call timestamps (seconds from the job's start) and the function's execution time
(``seconds``). ``benchmarks/extract_published.py`` wrote both from Lithops' published benchmark
results; nothing in them is typed by hand.

:func:`calibrate` turns the calibration jobs' calls into the price book's per-call and per-job terms
(start latency, cold start, storage round trips, the client's invocation pool, polling, result
download); :func:`validate_published` plays every job with the price book's terms and the job's own
per-call execution times (resampled) and compares the end-to-end time with the published one.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from bench.analysis.pricebook import PriceBook
from bench.model.platforms import JOB_TERMS, lithops_runtime, platform_limits
from bench.model.workload import job_schedule

__all__ = [
    "CALIBRATION_JOBS",
    "PUBLISHED",
    "calibrate",
    "direct_summary",
    "format_direct",
    "format_published",
    "published_summary",
    "read_published",
    "validate_direct",
    "validate_published",
]

PUBLISHED = Path(__file__).resolve().parents[2] / "results" / "published"
#: Fit on the compute-bound jobs (matrix products, 35-130 s a call), scored on the storage-bound ones
#: (512 MiB read or written per call, 5-50 s): another workload, another day.
CALIBRATION_JOBS = ("ibm-flops-100", "ibm-flops-1000", "aws-flops-100", "aws-flops-1000")
#: Lithops 2.6.0 (2022-04-06, the release current when the jobs ran): invoke_pool_threads of the
#: ibm_cf and aws_lambda backends' config.py, MONITORING_INTERVAL of lithops/constants.py.
LITHOPS_THREADS = {"ibm_cloud_functions": 500, "aws_lambda": 64}
LITHOPS_POLL_S = 2.0


def read_published(folder: str | Path = PUBLISHED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The jobs and their calls."""
    folder = Path(folder)
    return pd.read_csv(folder / "jobs.csv"), pd.read_csv(folder / "tasks.csv")


def calibrate(jobs: pd.DataFrame, tasks: pd.DataFrame, platform: str) -> dict[str, float]:
    """The platform's per-call and per-job terms from its calibration jobs' calls (medians)."""
    ids = [j for j in jobs.loc[jobs["platform"] == platform, "job_id"] if j in CALIBRATION_JOBS]
    if not ids:
        raise ValueError(f"no calibration job on {platform}")
    t = tasks[tasks["job_id"].isin(ids)].copy()
    t["latency"] = t["start_s"] - t["submit_s"]
    warm = t.loc[~t["cold_start"], "latency"].median()
    per_job = []
    for job_id, calls in t.groupby("job_id"):
        end_to_end = float(jobs.loc[jobs["job_id"] == job_id, "end_to_end_s"].iloc[0])
        last_end, status_done = calls["end_s"].max(), calls["status_done_s"].max()
        per_job.append(
            {
                "setup": calls["submit_s"].min(),
                # the pool's pace: submissions per second over the job, as threads per request time
                "pace": (calls["submit_s"].max() - calls["submit_s"].min()) / max(1, len(calls) - 1),
                "calls": len(calls),
                "status": status_done - last_end,
                "fetch": end_to_end - status_done,
            }
        )
    jobs_t = pd.DataFrame(per_job)
    biggest = jobs_t.loc[jobs_t["calls"].idxmax()]
    threads = LITHOPS_THREADS[platform]
    return {
        "job_setup_s": float(jobs_t["setup"].median()),
        "invoke_threads": float(threads),
        "invoke_latency_s": float(threads * biggest["pace"]),
        "start_latency_s": float(warm),
        "cold_start_s": float(t.loc[t["cold_start"], "latency"].median() - warm),
        "storage_in_s": float((t["func_start_s"] - t["start_s"]).median()),
        "storage_out_s": float((t["end_s"] - t["func_end_s"]).median()),
        "poll_interval_s": LITHOPS_POLL_S,
        # after the last call ends: half a poll interval on average, then the check itself
        "status_check_s": float(max(0.0, jobs_t["status"].median() - LITHOPS_POLL_S / 2)),
        "result_fetch_s": float(jobs_t["fetch"].median()),
    }


def validate_published(
    book: PriceBook, folder: str | Path = PUBLISHED, draws: int = 40, seed: int = 0
) -> pd.DataFrame:
    """Every published job predicted with the price book's platform terms, against its published time.

    The job's own per-call execution times are its workload (resampled, as ``--service-time`` does
    with a CSV); its published cold-start flags say how many containers were already warm. The end-
    to-end time is never an input.
    """
    jobs, tasks = read_published(folder)
    rows = []
    for job in jobs.itertuples(index=False):
        calls = tasks[tasks["job_id"] == job.job_id]
        seconds = calls["seconds"].to_numpy(float)
        platform = platform_limits(book, job.platform, job.memory_mb)
        # what the model saw before these terms: the platform's limits and cold start only
        bare = replace(platform, **{k: 0.0 for k in JOB_TERMS if k != "storage_mb_per_s"}, invoke_threads=0)
        warm = int((~calls["cold_start"]).sum())
        walls, bare_walls = [], []
        for which, target in ((platform, walls), (bare, bare_walls)):
            rng = np.random.default_rng(seed)
            for _ in range(draws):
                work = seconds[rng.integers(0, len(seconds), size=len(seconds))]
                slots = min(len(work), which.concurrency_cap or len(work))
                target.append(job_schedule(work, slots, which, rng, warm_containers=warm).wall_s)
        predicted = float(np.median(walls))
        rows.append(
            {
                "job_id": job.job_id,
                "role": "calibration" if job.job_id in CALIBRATION_JOBS else "validation",
                "platform": job.platform,
                "benchmark": job.benchmark,
                "calls": int(job.calls),
                "memory_mb": int(job.memory_mb),
                "published_s": float(job.end_to_end_s),
                "predicted_s": predicted,
                "predicted_s_low": float(np.quantile(walls, 0.05)),
                "predicted_s_high": float(np.quantile(walls, 0.95)),
                "rel_error": (predicted - job.end_to_end_s) / job.end_to_end_s,
                "without_job_terms_s": float(np.median(bare_walls)),
                "date": job.date,
                "source": job.source,
            }
        )
    return pd.DataFrame(rows)


def published_summary(table: pd.DataFrame) -> dict:
    """How far the model is from the published end-to-end times of the jobs it was not calibrated on."""
    scored = table.loc[table["role"] == "validation", "rel_error"].abs()
    summary = {"validation_jobs": len(scored), "median_abs_rel_error": scored.median()}
    summary["max_abs_rel_error"] = scored.max()
    return summary


def format_published(table: pd.DataFrame, summary: dict) -> str:
    """``facebench project --validate-published``'s text: every job, then the summary and the sources."""
    cols = ["job_id", "role", "platform", "calls", "published_s", "predicted_s", "rel_error"]
    cols.append("without_job_terms_s")
    return (
        table[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}")
        + f"\n\nvalidation jobs: {summary['validation_jobs']}, median |error| "
        f"{summary['median_abs_rel_error']:.1%}, max {summary['max_abs_rel_error']:.1%}; the calibration "
        "jobs set the price book's platform terms (bench/model/published.py); sources: "
        "results/published/jobs.csv"
    )


def validate_direct(
    book: PriceBook, folder: str | Path = PUBLISHED, draws: int = 40, seed: int = 0
) -> pd.DataFrame:
    """The published direct invocations (``direct_jobs.csv``, none calibrated on) predicted end to end.

    The workload is the task's time on a whole core: the in-function durations of the same
    platform's 2,048 MB calls (a whole vCPU or more on both platforms), resampled; each job's own
    durations are never an input. The function runs in the provider's native runtime, at the CPU
    share of its memory at the job's concurrency (:meth:`Platform.share_at`); its published cold-start
    signs say how many containers were warm. ``before_s``: the same without the two terms (the
    cold start of Lithops' default runtime, the busy host's CPU weight at any concurrency)."""
    folder = Path(folder)
    jobs, calls = pd.read_csv(folder / "direct_jobs.csv"), pd.read_csv(folder / "direct_calls.csv")
    whole_core = {
        p: calls.loc[calls["job_id"].isin(g.loc[g["memory_mb"] >= 2048, "job_id"]), "seconds"].to_numpy(float)
        for p, g in jobs.groupby("platform")
    }
    rows = []
    for job in jobs.itertuples(index=False):
        own = calls[calls["job_id"] == job.job_id]
        warm = int((~own["cold_start"]).sum())
        seconds = whole_core[job.platform]
        now = platform_limits(book, job.platform, job.memory_mb, runtime=job.runtime)
        default = lithops_runtime({k: e.value for k, e in book.platform(job.platform).items()})
        before = platform_limits(book, job.platform, job.memory_mb, runtime=default)
        walls = {}
        for label, platform, share in (
            ("now", now, now.share_at(job.calls)),
            ("before", before, before.cpu_share),
        ):
            rng = np.random.default_rng(seed)
            walls[label] = [
                job_schedule(
                    seconds[rng.integers(0, len(seconds), size=job.calls)] / share,
                    job.calls,
                    platform,
                    rng,
                    invocation="direct",
                    warm_containers=warm,
                ).wall_s
                for _ in range(draws)
            ]
        predicted, before_s = float(np.median(walls["now"])), float(np.median(walls["before"]))
        rows.append(
            {
                "job_id": job.job_id,
                "platform": job.platform,
                "memory_mb": int(job.memory_mb),
                "calls": int(job.calls),
                "cold_calls": int(len(own) - warm),
                "cpu_share": round(now.share_at(job.calls), 4),
                "published_s": float(job.end_to_end_s),
                "predicted_s": predicted,
                "rel_error": (predicted - job.end_to_end_s) / job.end_to_end_s,
                "before_s": before_s,
                "before_error": (before_s - job.end_to_end_s) / job.end_to_end_s,
                "date": job.date,
                "source": job.source,
            }
        )
    return pd.DataFrame(rows)


def direct_summary(table: pd.DataFrame, within: float = 0.30) -> dict:
    """Median absolute error and how many jobs are within ``within``, with the new terms and before."""
    summary: dict = {"jobs": len(table)}
    for label, column in (("", "rel_error"), ("before_", "before_error")):
        errors = table[column].abs()
        summary[f"{label}median_abs_rel_error"] = float(errors.median())
        summary[f"{label}within_30pct"] = int((errors <= within).sum())
    return summary


def format_direct(table: pd.DataFrame, summary: dict) -> str:
    """The direct invocations' table and summary, as ``--validate-published`` prints them after the jobs."""
    cols = ["job_id", "memory_mb", "calls", "cold_calls", "cpu_share", "published_s", "predicted_s"]
    cols += ["rel_error", "before_s", "before_error"]
    return (
        table[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}")
        + f"\n\ndirect invocations (none calibrated on): {summary['jobs']} jobs, median |error| "
        f"{summary['median_abs_rel_error']:.1%}, {summary['within_30pct']} within 30%; before the runtime's "
        f"cold start and the CPU share at concurrency: {summary['before_median_abs_rel_error']:.1%}, "
        f"{summary['before_within_30pct']} within 30%; sources: results/published/direct_jobs.csv"
    )
