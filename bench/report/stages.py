"""Figures 4 and 6, where the time goes: per-image worker-seconds by stage, per-image service time.

``stage_breakdown`` is the table behind the stacked bars; ``_stage_colours`` gives each stage the
colour the timeline uses too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns

from bench import tables
from bench.analysis.statistics import case_summary
from bench.analysis.utilisation import tail_idle_s
from bench.report.data import COLD_START, DISPATCH, OTHER_IN_WORKER, STAGES, _dataset, _range_text, _short
from bench.report.style import Plot, _absent, _colours, _empty_runs, _new_figure, _order_key, _styled

_ECDF_POINTS = 400
TAIL_IDLE = "idle at the tail"

# ---------------------------------------------------------------------------------------------------
# 4. Where the time goes


def stage_breakdown(tasks: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per case, worker-seconds per image split into stages, cold start, other and dispatch overhead.

    A case offers ``workers x wall_s`` worker-seconds. The images' service times (``t_end - t_start``,
    measured inside the worker) split into the recorded stages, the model load paid on a cold start,
    and what is left in the worker (bookkeeping). The rest of the offered time is dispatch overhead:
    queueing, transfer, start-up, and slots left idle; the slots left idle at the end of the case,
    waiting for the last chunk (``tail_idle_s``, measured from the tasks table), are shown apart. Per
    repeat, divided by the images, then the mean over repeats; ``total_min``/``total_max`` give the
    spread of the bar's height between repeats.
    """
    tasks = tasks.copy()
    tasks["service_s"] = (tasks["t_end"] - tasks["t_start"]).clip(lower=0)
    columns = [c for c, _ in STAGES]
    for column in columns:
        tasks[column] = pd.to_numeric(tasks[column], errors="coerce").fillna(0.0)
    sums = tasks.groupby(["case_id", "repeat"])[[*columns, "service_s"]].sum()
    sums["images"] = tasks.groupby(["case_id", "repeat"]).size()
    tail = {
        key: tail_idle_s(group, int(group["workers"].iloc[0]))
        for key, group in tasks.groupby(["case_id", "repeat"])
    }
    sums["tail_idle_s"] = pd.Series(tail)
    per = runs.set_index(["case_id", "repeat"])[["workers", "wall_s"]].join(sums, how="inner")
    offered = per["workers"] * per["wall_s"]
    table = pd.DataFrame(index=per.index)
    for column, label in STAGES:
        table[label] = per[column] / per["images"]
    table[OTHER_IN_WORKER] = ((per["service_s"] - per[columns].sum(axis=1)) / per["images"]).clip(lower=0)
    idle = (offered - per["service_s"]).clip(lower=0)
    table[TAIL_IDLE] = (per["tail_idle_s"].clip(upper=idle) / per["images"]).fillna(0.0)
    table[DISPATCH] = ((idle - per["tail_idle_s"].clip(upper=idle)) / per["images"]).clip(lower=0)
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
    order = {"fetch": 9, COLD_START: 3, "decode": 2, "detect": 0, "landmarks": 4}
    order.update({"warp": 8, "encode": 5, "put": 6})
    palette = {label: cb[order[label]] for _, label in STAGES}
    palette[OTHER_IN_WORKER] = (0.85, 0.85, 0.85)
    palette[DISPATCH] = (0.55, 0.55, 0.55)
    palette[TAIL_IDLE] = (0.35, 0.35, 0.35)
    return palette


@_styled
def stages(tasks: pd.DataFrame, runs: pd.DataFrame, manifest: dict) -> Plot:
    """Stacked bars per case: per-image worker-seconds by stage, cold start and dispatch overhead."""
    if (absent := _empty_runs(runs, "Where the time goes")) is not None:
        return absent
    table = stage_breakdown(tasks, runs)
    parts = [label for _, label in STAGES] + [OTHER_IN_WORKER, DISPATCH, TAIL_IDLE]
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
    tail = table.loc[(table[TAIL_IDLE] / table["total"]).idxmax()]
    spread = ((table["total_max"] - table["total_min"]) / table["total"]).max()
    reps = int(table["repeats"].max()) if len(table) else 0
    caption = (
        f"Where the time goes: per case, worker-seconds per image (workers x wall / images) split into "
        f"in-worker stages (fetch, decode, detect, landmarks, warp, encode, put), cold start (model "
        f"load), dispatch overhead (workers x wall minus in-worker time: queueing, transfer, start-up) and "
        f"slots idle at the tail (waiting for the last chunk; largest in {tail['case_id']}, "
        f"{tail[TAIL_IDLE] / tail['total']:.0%}); {_repeat_spread(reps, spread)}; "
        f"detect is {detect_share:.0%} of in-worker time; dispatch "
        f"overhead is largest in {worst['case_id']} ({worst[DISPATCH] / worst['total']:.0%}); "
        f"{_dataset(manifest, runs)}; measured on {tables.machine_label(manifest)}."
    )
    return Plot(fig, caption)


def _repeat_spread(repeats: int, spread: float) -> str:
    """How many repeats the bars average and how far they vary; one repeat has no spread to give."""
    if repeats <= 1:
        return "one repeat per case (spread between repeats not measured)"
    return f"mean of {repeats} repeats, bar heights vary by up to {spread:.0%} between repeats"


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
