"""What the figures read from a run and how their captions name it.

``RunData`` holds a run folder's tables (``figures.load_run`` reads them); ``STAGES`` names the
in-worker stages the time figures split service time into; the caption helpers say, the same way in
every figure, which dataset, how many repeats, what spread and which machine a figure is about.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench import tables
from bench.analysis.statistics import case_summary

# The model load a cold start pays: a task column of its own (tables.TASK_EXTRA_COLUMNS), not a stage.
MODEL_LOAD = "model_load_s"
COLD_START = "cold start (model load)"
# In-worker stages in the order they happen inside one image's service time: the tasks table's stage
# columns, with the cold start's model load after the first of them (the fetch). Labels are the column
# names less "_s".
STAGES = [
    (column, COLD_START if column == MODEL_LOAD else column.removesuffix("_s"))
    for column in [*tables.STAGE_COLUMNS[:1], MODEL_LOAD, *tables.STAGE_COLUMNS[1:]]
]
OTHER_IN_WORKER = "other in-worker"
DISPATCH = "dispatch overhead"


@dataclass
class RunData:
    """The tables of one run folder, plus what other commands may have added to it."""

    path: Path
    tasks: pd.DataFrame
    runs: pd.DataFrame
    manifest: dict
    projection: pd.DataFrame | None = None  # projection.parquet, written by `facebench project`
    training: dict | None = None  # train/metrics.json, written by `facebench train`
    quality: pd.DataFrame | None = None  # quality.parquet, written by a run with several kernels
    downstream: dict | None = None  # the committed downstream scores (bench.analysis.frontier)


# ---------------------------------------------------------------------------------------------------
# Shared pieces of captions and summaries


def _cores(manifest: dict) -> int | None:
    cores = (manifest.get("environment") or {}).get("cpu_count")
    return int(cores) if cores else None


def _dataset(manifest: dict, runs: pd.DataFrame) -> str:
    data = manifest.get("dataset") or {}
    images = data.get("images")
    if images is None and len(runs) and "images" in runs:
        images = int(runs["images"].max())
    kernel = ", ".join(sorted(runs["kernel"].dropna().unique())) if "kernel" in runs else ""
    name = data.get("name") or "an unnamed dataset"
    return f"{images} images of {name}" + (f", {kernel} kernel" if kernel else "")


def describe(data: RunData) -> str:
    """One line naming a run: id, dataset, cases, repeats, machine."""
    runs = data.runs
    return (
        f"run {data.manifest.get('run_id', data.path.name)}: {_dataset(data.manifest, runs)}; "
        f"{runs['case_id'].nunique()} cases, {_repeats(case_summary(runs))}; "
        f"measured on {tables.machine_label(data.manifest)}"
    )


def _range_text(counts: pd.Series, noun: str) -> str:
    lo, hi = int(counts.min()), int(counts.max())
    amount = f"{lo}" if lo == hi else f"{lo}-{hi}"
    return f"{amount} {noun}{'' if hi == 1 else 's'}"


def _repeats(summary: pd.DataFrame) -> str:
    if summary.empty:
        return "no repeats"
    lo, hi = int(summary["repeats"].min()), int(summary["repeats"].max())
    if hi == 1:
        return "1 repeat per case (spread not measured)"
    if lo == hi:
        return f"median of {hi} repeats per case"
    return f"median of {lo} to {hi} repeats per case"


def _spread(summary: pd.DataFrame) -> str:
    """The spread of wall time between repeats, as a caption states it."""
    many = summary[summary["repeats"] > 1]
    if many.empty:
        return "no spread: a single repeat"
    worst = many.loc[many["spread"].idxmax()]
    return (
        f"wall-time spread (max-min)/median {many['spread'].median():.0%} typical, "
        f"{worst['spread']:.0%} at worst ({worst['case_id']})"
    )


def _short(case: pd.Series | dict) -> str:
    return f"{case['executor']}\nw{int(case['workers'])} c{int(case['chunk_size'])}"
