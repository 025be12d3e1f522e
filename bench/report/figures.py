"""Figures over a run's tables: one function per figure, each returning ``Plot(figure, caption)``.

Every function takes the tables of a run folder (``tasks``, ``runs``, the manifest, and where the
figure needs them the projection or the training metrics) and returns a matplotlib ``Figure`` and
a one-line caption that says what was measured, on which machine, over how many repeats and with
what spread. Where a figure depends on something the run does not hold (cost, a projection,
training), the function still returns a small figure and a caption that says plainly what is absent.

The figures are built without pyplot (``matplotlib.figure.Figure``), so this module works under any
backend, leaves no global figure state behind, and is safe headless; the report saves them with Agg.
The notebooks call these functions; nothing here is copied there.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from bench import tables
from bench.analysis import pattern
from bench.analysis.statistics import case_summary
from bench.errors import UserError
from bench.executors import BUILTIN, REFERENCE, chunking

# The pattern's own figures (its companion article): the 1,584-image bucket took about 2,200 s on a
# single computer and about 35 s on IBM Cloud Functions; the pattern says "up to 50 times faster".


# In-worker stages in the order they happen inside one image's service time.
STAGES = [
    ("fetch_s", "fetch"),
    ("model_load_s", "cold start (model load)"),
    ("decode_s", "decode"),
    ("detect_s", "detect"),
    ("landmarks_s", "landmarks"),
    ("warp_s", "warp"),
    ("encode_s", "encode"),
    ("put_s", "put"),
]
OTHER_IN_WORKER = "other in-worker"
DISPATCH = "dispatch overhead"
_ABSENT = "absent"
# Above this many bars a figure's bars are rasterized inside its SVG, which stays small.
_RASTERIZE_ABOVE = 400
_ECDF_POINTS = 400
_OUTLINES_UP_TO = 150  # images per worker in a timeline


class Plot(NamedTuple):
    """A figure and its one-line caption; ``fig, caption = plots.speedup(...)`` unpacks it."""

    figure: Figure
    caption: str

    @property
    def absent(self) -> bool:
        """True when the data for this figure is not in the run and the figure only says so."""
        return self.figure.get_label() == _ABSENT


# ---------------------------------------------------------------------------------------------------
# Loading a run folder


@dataclass
class RunData:
    """The tables of one run folder, plus what other commands may have added to it."""

    path: Path
    tasks: pd.DataFrame
    runs: pd.DataFrame
    manifest: dict
    projection: pd.DataFrame | None = None  # projection.parquet, written by `facebench project`
    training: dict | None = None  # train/metrics.json, written by `facebench train`


def load_run(path: str | Path) -> RunData:
    """Read a run folder (or the newest run under a folder of runs) for the figures."""
    run = tables.resolve_run(path)
    try:
        tasks, runs, manifest = tables.read_run(run)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the run in {run}: {exc}") from None
    projection = None
    if (run / "projection.parquet").is_file():
        projection = pd.read_parquet(run / "projection.parquet")
    training = None
    if (run / "train" / "metrics.json").is_file():
        training = json.loads((run / "train" / "metrics.json").read_text())
    return RunData(run, tasks, runs, manifest, projection, training)


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


def _order_key(executor: str) -> int:
    return list(BUILTIN).index(executor) if executor in BUILTIN else len(BUILTIN)


def _colours(executors) -> dict[str, tuple]:
    """The same colour for an executor in every figure."""
    palette = sns.color_palette("colorblind", 10)
    known = {name: palette[i] for i, name in enumerate(BUILTIN)}
    extra = sorted(e for e in executors if e not in known)
    known.update({e: palette[(len(BUILTIN) + i) % 10] for i, e in enumerate(extra)})
    return known


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


def _new_figure(width: float = 7.5, height: float = 4.5) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _styled(draw):
    """Run a drawing function under seaborn's style without touching the global rcParams for good."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs) -> Plot:
        with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.85):
            return draw(*args, **kwargs)

    return wrapper


def _absent(title: str, message: str, caption: str) -> Plot:
    fig = Figure(figsize=(7.5, 1.6), layout="constrained")
    fig.set_label(_ABSENT)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_title(title, loc="left")
    ax.text(0.0, 0.5, message, ha="left", va="center", wrap=True, transform=ax.transAxes)
    return Plot(fig, caption)


def _empty_runs(runs: pd.DataFrame, what: str) -> Plot | None:
    if runs.empty:
        return _absent(what, "This run has no finished cases.", f"{what}: the run has no finished cases.")
    return None


# ---------------------------------------------------------------------------------------------------
# 1, 2. Speedup and efficiency against workers


def _against_workers(runs: pd.DataFrame, manifest: dict, metric: str) -> Plot:
    summary = case_summary(runs)
    colours = _colours(summary["executor"].unique())
    cores = _cores(manifest)
    fig = _new_figure()
    ax = fig.add_subplot()
    # The default chunk size changes with the workers: one line per executor for it, one per other size.
    summary["chunk"] = [
        "default chunks" if chunking.is_default(e, int(n), int(w), int(c)) else f"c{int(c)}"
        for e, n, w, c in summary[["executor", "images", "workers", "chunk_size"]].itertuples(index=False)
    ]
    multi_chunk = summary.groupby(["executor", "workers"])["chunk"].nunique().max() > 1
    keys = ["executor", "chunk"] if multi_chunk else ["executor"]
    n_lines = summary.groupby(keys).ngroups
    for index, (key, group) in enumerate(summary.groupby(keys, sort=False)):
        name = key[0] if isinstance(key, tuple) else key
        label = f"{name} {key[1]}" if multi_chunk and name != REFERENCE else name
        group = group.sort_values("workers")
        x, y = group["workers"].to_numpy(), group[metric].to_numpy()
        err = np.vstack([y - group[f"{metric}_min"].to_numpy(), group[f"{metric}_max"].to_numpy() - y])
        # Whiskers side by side, so that executors at the same worker count stay readable.
        shift = 0.04 * (index - (n_lines - 1) / 2)
        ax.errorbar(x + shift, y, yerr=err, fmt="none", ecolor=colours[name], elinewidth=1, capsize=3)
        default = not multi_chunk or key[1] == "default chunks"
        style = dict(marker="o", ls="-") if default else dict(marker="s", ls=":", mfc="white")
        ax.plot(x, y, color=colours[name], label=label, **style)
    top = max(int(summary["workers"].max()), cores or 1)
    if metric == "speedup":
        ax.plot([1, top], [1, top], ls="--", color="0.45", lw=1, label="ideal (speedup = workers)")
        ax.set_ylabel("speedup over sequential (x)")
    else:
        ax.axhline(1.0, ls="--", color="0.45", lw=1, label="ideal (efficiency = 1)")
        ax.set_ylabel("parallel efficiency (speedup / workers)")
        ax.set_ylim(bottom=0)
    if cores:
        ax.axvline(cores, ls=":", color="0.2", lw=1.2, label=f"this machine's {cores} cores")
    ax.set_xlabel("workers")
    ticks = sorted(set(summary["workers"].astype(int)) | ({cores} if cores else set()))
    ax.set_xticks(ticks)
    ax.set_xlim(0.7, top + 0.3)
    ax.legend(loc="best", fontsize="small")
    ref = summary.loc[summary["executor"] == REFERENCE, "wall_s"]
    ref_text = f"median sequential wall {ref.median():.2f} s" if len(ref) else "no sequential case"
    executors = ", ".join(dict.fromkeys(summary["executor"]))
    what = "Speedup over the sequential case" if metric == "speedup" else "Parallel efficiency"
    parallel = summary[summary["executor"] != REFERENCE]
    best = (parallel if len(parallel) else summary).loc[lambda t: t[metric].idxmax()]
    caption = (
        f"{what} ({ref_text}) against workers, one line per executor ({executors}); "
        f"{_repeats(summary)}, bars min-max, {_spread(summary)}; best parallel case {best[metric]:.2f} "
        f"({best['case_id']}); dashed: ideal, dotted: the machine's {cores or '?'} cores; "
        f"{_dataset(manifest, runs)}; measured on {tables.machine_label(manifest)}."
    )
    ax.set_title(what + " by workers", loc="left")
    return Plot(fig, caption)


@_styled
def speedup(runs: pd.DataFrame, manifest: dict) -> Plot:
    """Speedup against workers, one line per executor, with the ideal line and the core count."""
    return _empty_runs(runs, "Speedup") or _against_workers(runs, manifest, "speedup")


@_styled
def efficiency(runs: pd.DataFrame, manifest: dict) -> Plot:
    """Parallel efficiency (speedup / workers) against workers, one line per executor."""
    return _empty_runs(runs, "Parallel efficiency") or _against_workers(runs, manifest, "efficiency")


# ---------------------------------------------------------------------------------------------------
# 3. Throughput per executor and chunk size


@_styled
def throughput(runs: pd.DataFrame, manifest: dict) -> Plot:
    """Images per second per case (executor, workers, chunk size): bar of the median, whiskers min-max."""
    if (absent := _empty_runs(runs, "Throughput")) is not None:
        return absent
    summary = case_summary(runs)
    data = runs.merge(summary[["case_id"]].assign(order=range(len(summary))), on="case_id")
    data = data.sort_values("order")
    data["case"] = data.apply(_short, axis=1)
    colours = _colours(summary["executor"].unique())
    fig = _new_figure(max(6.0, 1.0 * len(summary) + 2), 4.5)
    ax = fig.add_subplot()
    sns.barplot(
        data=data,
        x="case",
        y="images_per_s",
        hue="executor",
        palette=colours,
        estimator="median",
        errorbar=("pi", 100),
        dodge=False,
        capsize=0.2,
        err_kws={"linewidth": 1},
        ax=ax,
    )
    ax.set_xlabel("case (executor, w = workers, c = images per task)")
    ax.set_ylabel("throughput (images / s, wall clock)")
    ax.set_title("Throughput per executor, workers and chunk size", loc="left")
    ax.legend(title="executor", fontsize="small")
    best = summary.loc[summary["images_per_s"].idxmax()]
    caption = (
        f"Throughput (images per wall-clock second) per case, executor x workers (w) x images per task "
        f"(c); {_repeats(summary)}, whiskers min-max, {_spread(summary)}; best {best['images_per_s']:.1f} "
        f"images/s ({best['case_id']}); {_dataset(manifest, runs)}; "
        f"measured on {tables.machine_label(manifest)}."
    )
    return Plot(fig, caption)


# ---------------------------------------------------------------------------------------------------
# 4. Where the time goes


def stage_breakdown(tasks: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per case, worker-seconds per image split into stages, cold start, other and dispatch overhead.

    A case offers ``workers x wall_s`` worker-seconds. The images' service times (``t_end - t_start``,
    measured inside the worker) split into the recorded stages, the model load paid on a cold start,
    and what is left in the worker (bookkeeping). The rest of the offered time is dispatch overhead:
    queueing, transfer, start-up, and slots left idle. Per repeat, divided by the images, then the mean
    over repeats; ``total_min``/``total_max`` give the spread of the bar's height between repeats.
    """
    tasks = tasks.copy()
    tasks["service_s"] = (tasks["t_end"] - tasks["t_start"]).clip(lower=0)
    columns = [c for c, _ in STAGES]
    for column in columns:
        tasks[column] = pd.to_numeric(tasks[column], errors="coerce").fillna(0.0)
    sums = tasks.groupby(["case_id", "repeat"])[[*columns, "service_s"]].sum()
    sums["images"] = tasks.groupby(["case_id", "repeat"]).size()
    per = runs.set_index(["case_id", "repeat"])[["workers", "wall_s"]].join(sums, how="inner")
    offered = per["workers"] * per["wall_s"]
    table = pd.DataFrame(index=per.index)
    for column, label in STAGES:
        table[label] = per[column] / per["images"]
    table[OTHER_IN_WORKER] = ((per["service_s"] - per[columns].sum(axis=1)) / per["images"]).clip(lower=0)
    table[DISPATCH] = ((offered - per["service_s"]) / per["images"]).clip(lower=0)
    table["total"] = offered / per["images"]
    grouped = table.groupby(level="case_id", sort=False)
    out = grouped.mean()
    out["total_min"] = grouped["total"].min()
    out["total_max"] = grouped["total"].max()
    out["repeats"] = grouped.size()
    summary = case_summary(runs).set_index("case_id")
    out = summary[["executor", "workers", "chunk_size"]].join(out, how="inner")
    return out.reset_index()


def _stage_colours() -> dict[str, tuple]:
    """Distinct colours (colour-blind safe) for stages; cold start in vermillion, dispatch in grey."""
    cb = sns.color_palette("colorblind", 10)
    order = {"fetch": 9, "cold start (model load)": 3, "decode": 2, "detect": 0, "landmarks": 4}
    order.update({"warp": 8, "encode": 5, "put": 6})
    palette = {label: cb[order[label]] for _, label in STAGES}
    palette[OTHER_IN_WORKER] = (0.85, 0.85, 0.85)
    palette[DISPATCH] = (0.55, 0.55, 0.55)
    return palette


@_styled
def stages(tasks: pd.DataFrame, runs: pd.DataFrame, manifest: dict) -> Plot:
    """Stacked bars per case: per-image worker-seconds by stage, cold start and dispatch overhead."""
    if (absent := _empty_runs(runs, "Where the time goes")) is not None:
        return absent
    table = stage_breakdown(tasks, runs)
    parts = [label for _, label in STAGES] + [OTHER_IN_WORKER, DISPATCH]
    colours = _stage_colours()
    fig = _new_figure(max(6.5, 1.0 * len(table) + 3), 4.8)
    ax = fig.add_subplot()
    x = np.arange(len(table))
    bottom = np.zeros(len(table))
    for part in parts:
        values = table[part].to_numpy() * 1000
        hatch = "//" if part == DISPATCH else None
        ax.bar(x, values, bottom=bottom, color=colours[part], label=part, hatch=hatch, edgecolor="white")
        bottom += values
    ax.set_xticks(x, [_short(row) for _, row in table.iterrows()])
    ax.set_ylabel("worker-milliseconds per image")
    ax.set_title("Where the time goes (workers x wall / images)", loc="left")
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], fontsize="x-small", loc="upper left", bbox_to_anchor=(1, 1))
    in_worker = table[[label for _, label in STAGES] + [OTHER_IN_WORKER]].sum()
    detect_share = in_worker["detect"] / in_worker.sum() if in_worker.sum() else float("nan")
    worst = table.loc[(table[DISPATCH] / table["total"]).idxmax()]
    spread = ((table["total_max"] - table["total_min"]) / table["total"]).max()
    reps = int(table["repeats"].max()) if len(table) else 0
    caption = (
        f"Where the time goes: per case, worker-seconds per image (workers x wall / images) split into "
        f"in-worker stages (fetch, decode, detect, landmarks, warp, encode, put), cold start (model "
        f"load) and dispatch overhead (workers x wall minus in-worker time: queueing, transfer, start-up, "
        f"idle slots); mean of {reps} repeat{'s' if reps != 1 else ''}, bar heights vary by up to "
        f"{spread:.0%} between repeats; detect is {detect_share:.0%} of in-worker time; dispatch "
        f"overhead is largest in {worst['case_id']} ({worst[DISPATCH] / worst['total']:.0%}); "
        f"{_dataset(manifest, runs)}; measured on {tables.machine_label(manifest)}."
    )
    return Plot(fig, caption)


# ---------------------------------------------------------------------------------------------------
# 5. Timeline of one case


def default_case(runs: pd.DataFrame) -> str:
    """The case a timeline shows unless asked: the most workers, the first parallel executor."""
    summary = case_summary(runs)
    parallel = summary[summary["executor"] != REFERENCE]
    pool = parallel if len(parallel) else summary
    return str(pool.loc[pool["workers"].idxmax(), "case_id"])


@_styled
def timeline(
    tasks: pd.DataFrame,
    runs: pd.DataFrame,
    manifest: dict,
    case_id: str | None = None,
    repeat: int = 0,
    colour_by: str = "stage",
) -> Plot:
    """One row per worker, one bar per image, coloured by stage or by cold start, for one case."""
    if colour_by not in ("stage", "cold_start"):
        raise UserError("colour_by is 'stage' or 'cold_start'")
    if (absent := _empty_runs(runs, "Timeline")) is not None:
        return absent
    case_id = case_id or default_case(runs)
    if case_id not in set(tasks["case_id"]):
        raise UserError(f"no case {case_id!r} in this run; cases: {', '.join(tasks['case_id'].unique())}")
    sel = tasks[(tasks["case_id"] == case_id) & (tasks["repeat"] == repeat)]
    if sel.empty:
        raise UserError(f"case {case_id} has no repeat {repeat}")
    t0 = float(sel["t_submit"].min())
    first = sel.groupby("worker")["t_start"].min().sort_values()
    rows = {worker: i for i, worker in enumerate(first.index)}
    many = len(sel) > _RASTERIZE_ABOVE
    fig = _new_figure(8.5, max(2.4, 0.45 * len(rows) + 1.8))
    ax = fig.add_subplot()
    colours = _stage_colours()
    start = (sel["t_start"] - t0).to_numpy()
    service = (sel["t_end"] - sel["t_start"]).clip(lower=0).to_numpy()
    y = sel["worker"].map(rows).to_numpy()
    height = 0.7
    if colour_by == "stage":
        offset = start.copy()
        for column, label in STAGES:
            width = pd.to_numeric(sel[column], errors="coerce").fillna(0.0).to_numpy()
            _bars(ax, y, offset, width, height, label, facecolor=colours[label], rasterized=many)
            offset = offset + width
        rest = np.clip(start + service - offset, 0, None)
        colour = colours[OTHER_IN_WORKER]
        _bars(ax, y, offset, rest, height, OTHER_IN_WORKER, facecolor=colour, rasterized=many)
    else:
        cold = sel["cold_start"].fillna(False).astype(bool).to_numpy()
        for flag, label, colour in ((False, "warm", "0.6"), (True, "cold start", colours[STAGES[1][1]])):
            mask = cold == flag
            _bars(ax, y[mask], start[mask], service[mask], height, label, facecolor=colour, rasterized=many)
    # Task outlines, so that images stay distinct when their stages are too thin to see; with hundreds
    # of images per worker they would only paint the row black.
    if len(sel) <= _OUTLINES_UP_TO * len(rows):
        _bars(
            ax,
            y,
            start,
            service,
            height,
            "_outline",
            facecolor="none",
            edgecolor="black",
            lw=0.3,
            rasterized=many,
        ).set_gid("outline")
    wall = runs[(runs["case_id"] == case_id) & (runs["repeat"] == repeat)]["wall_s"]
    this_wall = float(wall.iloc[0]) if len(wall) else float((sel["t_end"].max()) - t0)
    ax.axvline(this_wall, color="black", ls="--", lw=1, label=f"end of case ({this_wall:.2f} s)")
    ax.set_yticks(range(len(rows)), [_worker_label(w, sel) for w in rows])
    ax.set_ylim(len(rows) - 0.4, -0.6)
    ax.set_xlim(0, max(this_wall, float(np.max(start + service, initial=0))) * 1.03)
    ax.set_xlabel("seconds since the case was submitted")
    ax.set_ylabel("worker")
    ax.set_title(f"Timeline: {case_id}, repeat {repeat}", loc="left")
    ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1, 1))
    walls = runs.loc[runs["case_id"] == case_id, "wall_s"]
    over = (
        f"over its {len(walls)} repeats wall ranged {walls.min():.2f}-{walls.max():.2f} s"
        if len(walls) > 1
        else "a single repeat, no spread"
    )
    colour_text = "coloured by stage" if colour_by == "stage" else "coloured by cold start"
    cold_n = int(sel["cold_start"].fillna(False).astype(bool).sum())
    load = pd.to_numeric(sel["model_load_s"], errors="coerce").fillna(0.0).sum()
    queue = float((sel["t_start"] - sel["t_submit"]).min())
    caption = (
        f"Timeline of {case_id}, repeat {repeat} (wall {this_wall:.2f} s; {over}): one row per worker "
        f"({len(rows)} seen), one bar per image ({len(sel)}), {colour_text}; {cold_n} cold "
        f"start{'s' if cold_n != 1 else ''} paid {load:.2f} s of model loading; first image started "
        f"{queue:.2f} s after submission; measured on {tables.machine_label(manifest)}."
    )
    return Plot(fig, caption)


def _bars(ax, y, left, width, height, label, **style) -> PolyCollection:
    """Horizontal bars as one collection: thousands of tasks draw in milliseconds, not seconds."""
    keep = width > 0
    y, left, width = np.asarray(y)[keep], np.asarray(left)[keep], np.asarray(width)[keep]
    bottom, top, right = y - height / 2, y + height / 2, left + width
    verts = np.stack(
        [np.c_[left, bottom], np.c_[left, top], np.c_[right, top], np.c_[right, bottom]], axis=1
    ).reshape(-1, 4, 2)
    label = label if keep.any() else f"_{label}"  # nothing drawn: nothing in the legend
    bars = PolyCollection(verts, label=label, linewidths=style.pop("lw", 0), **style)
    ax.add_collection(bars)
    return bars


def _worker_label(worker: str, sel: pd.DataFrame) -> str:
    hosts = sel["host"].dropna().unique()
    if len(hosts) <= 1 and ":" in str(worker):
        return f"pid {str(worker).rsplit(':', 1)[1]}"
    return str(worker)


# ---------------------------------------------------------------------------------------------------
# 6. Distribution of per-image service time


def _ecdf(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values = np.sort(values)
    n = len(values)
    if n <= _ECDF_POINTS:
        return values, np.arange(1, n + 1) / n
    probs = np.linspace(0, 1, _ECDF_POINTS + 1)[1:]
    return np.quantile(values, probs, method="inverted_cdf"), probs


@_styled
def service_time(tasks: pd.DataFrame, manifest: dict) -> Plot:
    """ECDF of per-image service time (inside the worker), one line per executor, log time axis."""
    if tasks.empty:
        return _absent("Service time", "This run has no tasks.", "Service time: the run has no tasks.")
    data = tasks.assign(service_s=(tasks["t_end"] - tasks["t_start"]).clip(lower=1e-6))
    executors = sorted(data["executor"].unique(), key=_order_key)
    colours = _colours(executors)
    fig = _new_figure()
    ax = fig.add_subplot()
    quoted = []
    for name in executors:
        values = data.loc[data["executor"] == name, "service_s"].to_numpy()
        x, p = _ecdf(values)
        ax.step(np.r_[x[0], x], np.r_[0.0, p], where="post", color=colours[name], label=name)
        quoted.append(f"{name} {np.median(values):.3f}/{np.quantile(values, 0.95):.3f} s")
    ax.set_xscale("log")
    ax.set_xlabel("service time per image (s, t_end - t_start in the worker; log scale)")
    ax.set_ylabel("fraction of images")
    ax.set_ylim(0, 1.02)
    ax.set_title("Per-image service time", loc="left")
    ax.legend(title="executor", fontsize="small")
    reps = data.groupby("case_id")["repeat"].nunique()
    cases = data.groupby("executor")["case_id"].nunique()
    case_text = _range_text(cases, "case")
    rep_text = _range_text(reps, "repeat")
    caption = (
        f"ECDF of per-image service time measured inside the worker (cold starts included), one line per "
        f"executor over its {case_text} and {rep_text} each; median/p95 per executor: "
        f"{', '.join(quoted)}; {_dataset(manifest, tasks)}; measured on {tables.machine_label(manifest)}."
    )
    return Plot(fig, caption)


# ---------------------------------------------------------------------------------------------------
# 7. Cost against time


def pareto_front(points: pd.DataFrame, x: str = "wall_s", y: str = "cost_usd") -> pd.DataFrame:
    """The rows no other row beats on both x and y (lower is better), sorted by x."""
    ordered = points.sort_values([x, y])
    keep, best = [], math.inf
    for index, row in ordered.iterrows():
        if row[y] < best:
            keep.append(index)
            best = row[y]
    return ordered.loc[keep]


@_styled
def cost(runs: pd.DataFrame, manifest: dict) -> Plot:
    """Cost against wall time per case with the Pareto front; says so when the run has no cost."""
    priced = runs[pd.to_numeric(runs["cost_usd"], errors="coerce").notna()] if len(runs) else runs
    if priced.empty:
        return _absent(
            "Cost against time",
            "Cost is absent: this run's runs.parquet has no cost_usd values, so no cost figure is drawn.",
            "Cost is absent from this run: runs.parquet has no cost_usd values (a run priced by the price "
            "book fills them), so no cost-against-time figure is drawn.",
        )
    summary = case_summary(priced)
    colours = _colours(summary["executor"].unique())
    fig = _new_figure()
    ax = fig.add_subplot()
    front = pareto_front(summary)
    ax.step(
        front["wall_s"], front["cost_usd"], where="post", color="0.5", ls="--", lw=1, label="Pareto front"
    )
    for name, group in summary.groupby("executor", sort=False):
        ax.scatter(group["wall_s"], group["cost_usd"], color=colours[name], label=name, zorder=3, s=40)
        xerr = np.vstack([group["wall_s"] - group["wall_min"], group["wall_max"] - group["wall_s"]])
        ax.errorbar(group["wall_s"], group["cost_usd"], xerr=xerr, fmt="none", ecolor=colours[name], lw=1)
    for _, row in summary.iterrows():
        ax.annotate(
            f"w{int(row['workers'])}",
            (row["wall_s"], row["cost_usd"]),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize="x-small",
        )
    ax.set_xlabel("wall time (s)")
    ax.set_ylabel("cost (USD)")
    ax.set_title("Cost against time per case", loc="left")
    ax.legend(fontsize="small")
    models = priced["cost_model"].dropna().astype(str).unique()
    model_text = "; ".join(models[:2]) + (" ..." if len(models) > 2 else "") if len(models) else "unnamed"
    caption = (
        f"Cost (USD, {model_text}) against wall time per case, {_repeats(summary)}, whiskers min-max "
        f"of wall time, {_spread(summary)}; Pareto-optimal (no case both faster and cheaper): "
        f"{', '.join(front['case_id'])}; {_dataset(manifest, runs)}; "
        f"measured on {tables.machine_label(manifest)}."
    )
    return Plot(fig, caption)


# ---------------------------------------------------------------------------------------------------
# 8. Projected scaling against the pattern's claim


def _projection_images(projection: pd.DataFrame, images: int | None) -> int:
    sizes = sorted(projection["images"].dropna().astype(int).unique())
    if images is not None:
        if images not in sizes:
            raise UserError(f"the projection has no curve for {images} images; it has {sizes}")
        return images
    return min(sizes, key=lambda n: (abs(math.log(n / pattern.IMAGES)), n))


def _variant(values: dict) -> str:
    """'lithops on aws_lambda, naive, 2048 MB' from a projection curve's keys."""
    text = str(values["executor"])
    if pd.notna(values.get("platform")):
        text += f" on {values['platform']}"
    extra = []
    if pd.notna(values.get("kernel")):
        extra.append(str(values["kernel"]))
    if pd.notna(values.get("memory_mb")):
        extra.append(f"{int(values['memory_mb'])} MB")
    return text + (f", {', '.join(extra)}" if extra else "")


def _times_faster(seconds):
    """Speedup over the pattern's single computer; its own inverse (2,200 s / x)."""
    return pattern.SINGLE_COMPUTER_S / np.clip(np.asarray(seconds, dtype=float), 1e-9, None)


@_styled
def projection(
    runs: pd.DataFrame, manifest: dict, projection: pd.DataFrame | None = None, images: int | None = None
) -> Plot:
    """Projected wall time against workers, measured points over it, the pattern's figures marked."""
    needed = {"executor", "workers", "images", "predicted_wall_s"}
    if projection is None or projection.empty or not needed <= set(projection.columns):
        why = (
            "no projection.parquet in the run folder"
            if projection is None
            else "projection.parquet lacks executor, workers, images or predicted_wall_s"
        )
        return _absent(
            "Projected scaling",
            f"The projection is absent: {why}. Write one with the scaling model (facebench project).",
            f"The projected scaling curve is absent: {why}, so only measurements are shown elsewhere.",
        )
    n = _projection_images(projection, images)
    proj = projection[projection["images"].astype(int) == n].copy()
    # One curve per projected variant: executor and platform, and the kernel or function memory where
    # the projection varies them (chunk size follows the workers along a curve, so it does not split).
    label_keys = ["executor"] + [
        k
        for k in ("platform", "kernel", "memory_mb")
        if k in proj.columns and (k == "platform" or proj[k].astype(str).nunique() > 1)
    ]
    summary = case_summary(runs) if len(runs) else pd.DataFrame()
    colours = _colours(list(proj["executor"].unique()) + list(summary.get("executor", [])))
    fig = _new_figure(10, 5)
    ax = fig.add_subplot()
    curves = []
    for key, group in proj.groupby(label_keys, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        group = group.sort_values("workers")
        label = _variant(dict(zip(label_keys, key, strict=True))) + " (projected)"
        ax.plot(group["workers"], group["predicted_wall_s"], color=colours[key[0]], label=label)
        curves.append((label, group))
    scaled = False
    if len(summary):
        measured_n = summary["images"].astype(float)
        scaled = bool((measured_n != n).any())
        factor = n / measured_n
        for name, group in summary.assign(wall_n=summary["wall_s"] * factor).groupby("executor", sort=False):
            ax.scatter(
                group["workers"],
                group["wall_n"],
                color=colours[name],
                edgecolor="black",
                zorder=4,
                s=45,
                label=f"{name} (measured)",
            )
    marks = [
        (pattern.SINGLE_COMPUTER_S, f"pattern: single computer, {pattern.SINGLE_COMPUTER_S:,.0f} s", "-."),
        (pattern.SERVERLESS_S, f"pattern: Cloud Functions, {pattern.SERVERLESS_S:.0f} s", ":"),
        (
            pattern.SINGLE_COMPUTER_S / pattern.CLAIM_X,
            f'"up to 50x": {pattern.SINGLE_COMPUTER_S:,.0f} s / 50 = '
            f"{pattern.SINGLE_COMPUTER_S / pattern.CLAIM_X:.0f} s",
            "--",
        ),
    ]
    for value, label, style in marks:
        ax.axhline(value, color="0.3", ls=style, lw=1, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("concurrent workers (functions)")
    ax.set_ylabel(f"wall time for {n:,} images (s)")
    right = ax.secondary_yaxis("right", functions=(_times_faster, _times_faster))
    right.set_ylabel(f"speedup over the pattern's {pattern.SINGLE_COMPUTER_S:,.0f} s")
    ax.set_title(f"Projected scaling for {n:,} images against the pattern's claim", loc="left")
    ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.15, 1))
    reach = []
    for label, group in curves:
        hit = group[group["predicted_wall_s"] <= pattern.SERVERLESS_S]
        if len(hit):
            reach.append(
                f"{label.replace(' (projected)', '')} reaches 35 s at {int(hit['workers'].min())} workers"
            )
    reach_text = "; ".join(reach) if reach else "no projected curve reaches 35 s"
    measured = (
        f"measured cases ({_repeats(summary)}, {_spread(summary)})"
        + (f" scaled linearly from {int(summary['images'].max())} to {n:,} images" if scaled else "")
        if len(summary)
        else "no measured cases"
    )
    caption = (
        f"Projected wall time for {n:,} images against concurrent workers (scaling model, "
        f"projection.parquet), one line per projected executor, with this run's {measured} over it; "
        f"marked: the pattern's {pattern.SINGLE_COMPUTER_S:,.0f} s single computer, "
        f"{pattern.SERVERLESS_S:.0f} s on "
        f'Cloud Functions ({pattern.SINGLE_COMPUTER_S / pattern.SERVERLESS_S:.0f}x) and its "up to 50x" '
        f"({pattern.SINGLE_COMPUTER_S / pattern.CLAIM_X:.0f} s); {reach_text}; "
        f"measured on {tables.machine_label(manifest)}."
    )
    return Plot(fig, caption)


# ---------------------------------------------------------------------------------------------------
# Training (notebook 05): the held-out metrics of `facebench train`, when it has run


def _scores(metrics: dict) -> dict[str, float]:
    """The score-like figures of metrics.json (accuracies, top-k, F1), top level and LFW pairs."""
    out = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if any(word in key.lower() for word in ("top", "f1", "acc")) and 0.0 <= float(value) <= 1.0:
            out[key] = float(value)
    pairs = metrics.get("lfw_pairs")
    if isinstance(pairs, dict) and isinstance(pairs.get("accuracy"), int | float):
        out["LFW pairs accuracy"] = float(pairs["accuracy"])
    return out


@_styled
def training(metrics: dict | None, manifest: dict) -> Plot:
    """Held-out metrics (accuracies, F1) of the trained model; says so when training has not run."""
    if not metrics:
        return _absent(
            "Training",
            "Training has not run: there is no train/metrics.json in this run folder.",
            "Training has not run for this run: no train/metrics.json in the run folder "
            "(facebench train --run RUN writes it).",
        )
    scores = _scores(metrics)
    history = metrics.get("history") if isinstance(metrics.get("history"), dict) else None
    fig = _new_figure(9 if history else 6, 4)
    ax = fig.add_subplot(1, 2 if history else 1, 1)
    if scores:
        names = list(scores)
        bars = ax.barh(names, [scores[k] for k in names], color=sns.color_palette("crest", len(names)))
        ax.bar_label(bars, fmt="%.3f", fontsize="small", padding=2)
        ax.set_xlim(0, 1.08)
        ax.invert_yaxis()
    ax.set_xlabel("held-out score")
    ax.set_title("Trained model: held-out metrics", loc="left")
    if history:
        curves = fig.add_subplot(1, 2, 2)
        for key, values in history.items():
            if isinstance(values, list) and values and all(isinstance(v, int | float) for v in values):
                curves.plot(range(1, len(values) + 1), values, label=key)
        curves.set_xlabel("epoch")
        curves.set_title("Training history", loc="left")
        curves.legend(fontsize="x-small")
    model = metrics.get("model", "the model")
    shown = ", ".join(f"{k} {v:.3f}" for k, v in scores.items()) or "no scalar scores"
    test = metrics.get("test") if isinstance(metrics.get("test"), dict) else {}
    split = test.get("images") or metrics.get("test_images")
    caption = (
        f"Held-out metrics of {model} trained on this run's best verified output: {shown}"
        + (f" ({split} test images)" if split else "")
        + f"; one training run (no repeats); trained on {tables.machine_label(manifest)}."
    )
    return Plot(fig, caption)


# ---------------------------------------------------------------------------------------------------
# All of a run's figures, in the report's order


FIGURES = [
    "speedup",
    "efficiency",
    "throughput",
    "stages",
    "timeline",
    "service-time",
    "cost",
    "projection",
    "training",
]


def all_figures(data: RunData, case_id: str | None = None, repeat: int = 0) -> dict[str, Plot]:
    """Every figure of the report, by the name its files get."""
    t, r, m = data.tasks, data.runs, data.manifest
    return {
        "speedup": speedup(r, m),
        "efficiency": efficiency(r, m),
        "throughput": throughput(r, m),
        "stages": stages(t, r, m),
        "timeline": timeline(t, r, m, case_id=case_id, repeat=repeat),
        "service-time": service_time(t, m),
        "cost": cost(r, m),
        "projection": projection(r, m, data.projection),
        "training": training(data.training, m),
    }


def pattern_table(runs: pd.DataFrame) -> pd.DataFrame:
    """This run's cases next to the pattern's figures, scaled linearly to its 1,584 images."""
    summary = case_summary(runs)
    table = summary[["case_id", "executor", "workers", "images", "repeats", "wall_s", "speedup"]].copy()
    table["wall_1584_s"] = table["wall_s"] * pattern.IMAGES / table["images"]
    table["x_vs_pattern_2200s"] = pattern.SINGLE_COMPUTER_S / table["wall_1584_s"]
    table["x_vs_pattern_35s"] = pattern.SERVERLESS_S / table["wall_1584_s"]
    return table
