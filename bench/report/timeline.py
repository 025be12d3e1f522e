"""Figure 5, the timeline of one case: one row per worker, one bar per image, by stage or cold start.

Thousands of tasks are drawn as one ``PolyCollection`` per stage, rasterized inside the SVG above
``_RASTERIZE_ABOVE`` bars so that the file stays small.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection

from bench import tables
from bench.analysis.statistics import case_summary
from bench.errors import UserError
from bench.executors import REFERENCE
from bench.report.data import COLD_START, MODEL_LOAD, OTHER_IN_WORKER, STAGES
from bench.report.stages import _stage_colours
from bench.report.style import Plot, _empty_runs, _new_figure, _styled

# Above this many bars a figure's bars are rasterized inside its SVG, which stays small.
_RASTERIZE_ABOVE = 400
_OUTLINES_UP_TO = 150  # images per worker in a timeline

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
        for flag, label, colour in ((False, "warm", "0.6"), (True, "cold start", colours[COLD_START])):
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
    load = pd.to_numeric(sel[MODEL_LOAD], errors="coerce").fillna(0.0).sum()
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
