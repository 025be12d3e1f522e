"""Figure 11, the frontier: per kernel x executor, images/s and cost per 1,000 images against accuracy,
with the Pareto front of the points no other beats on both.

Accuracy is LFW pairs verification downstream (``bench.analysis.frontier``: the committed scores, or
the run's own training). Where a kernel of the run has none, the x axis is quality.parquet's median
landmark deviation from the faithful kernel instead, and the caption says so; a run with one kernel
and no accuracy gets a figure that says the frontier is absent.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bench import tables
from bench.analysis import frontier as rule
from bench.analysis.statistics import case_summary
from bench.report.data import _dataset, _repeats
from bench.report.style import Plot, _absent, _colours, _new_figure, _styled

_MARKERS = "osD^v<>pPX*h"
_AXES = {
    "pairs_accuracy": "LFW pairs verification accuracy (%)",
    "landmark_dev_median": "median landmark deviation from the faithful kernel (% of inter-ocular)",
}


@_styled
def frontier(
    runs: pd.DataFrame,
    manifest: dict,
    training: dict | None = None,
    quality: pd.DataFrame | None = None,
    downstream: dict | None = None,
) -> Plot:
    """Speed and cost against accuracy per kernel x executor, the Pareto fronts marked."""
    if runs.empty:
        return _absent(
            "Frontier", "This run has no finished cases.", "Frontier: the run has no finished cases."
        )
    kernels = sorted(set(runs["kernel"].dropna()))
    found = rule.accuracies(manifest, kernels, training, downstream)
    table, axis = rule.frontier_table(runs, manifest, found, quality)
    if axis is None:
        return _absent(
            "Speed against accuracy per kernel",
            "The frontier is absent: no downstream accuracy for this run's kernel and no second kernel "
            "to measure quality against.",
            "The frontier is absent: the run has one kernel and no measured accuracy (train with LFW's "
            "pairs, or commit results/kernel-frontier/downstream.json), so there is no speed/accuracy "
            "trade-off to draw.",
        )
    x = table[axis] * 100
    xerr = table["pairs_accuracy_std"] * 100 if axis == "pairs_accuracy" else None
    colours = _colours(table["executor"].unique())
    markers = {k: _MARKERS[i % len(_MARKERS)] for i, k in enumerate(kernels)}
    fig = _new_figure(11, 4.5)
    speed_ax, cost_ax = fig.subplots(1, 2)
    yerr = np.vstack(
        [
            (table["images_per_s"] - table["images_per_s_ci_low"]).clip(lower=0),
            (table["images_per_s_ci_high"] - table["images_per_s"]).clip(lower=0),
        ]
    )
    panels = [
        (speed_ax, "images_per_s", "front_speed", "images/s (median)", np.nan_to_num(yerr)),
        (cost_ax, "cost_per_1000_usd", "front_cost", "cost per 1,000 images (USD)", None),
    ]
    for ax, column, front, label, errors in panels:
        if table[column].isna().all():
            ax.set_axis_off()
            ax.text(0, 0.5, "not priced: runs.parquet has no cost_usd", transform=ax.transAxes)
            continue
        on = table[table[front]].sort_values(axis)
        ax.plot(on[axis] * 100, on[column], color="0.5", ls="--", lw=1, label="Pareto front", zorder=1)
        ax.scatter(
            on[axis] * 100, on[column], s=160, facecolors="none", edgecolors="0.3", zorder=2, label="on front"
        )
        for i, row in table.iterrows():
            ax.errorbar(
                x[i],
                row[column],
                xerr=None if xerr is None or math.isnan(xerr[i]) else xerr[i],
                yerr=None if errors is None else errors[:, [i]],
                fmt=markers[row["kernel"]],
                color=colours[row["executor"]],
                ms=7,
                zorder=3,
            )
            ax.annotate(
                f"{row['kernel']} {row['executor']} w{int(row['workers'])}",
                (x[i], row[column]),
                textcoords="offset points",
                xytext=(5, 4),
                fontsize="x-small",
            )
        values = table[column].dropna()
        if len(values) and values.min() > 0 and values.max() / values.min() > 10:
            ax.set_yscale("log")
        ax.set_xlabel(_AXES[axis])
        ax.set_ylabel(label)
        if axis == "landmark_dev_median":
            ax.invert_xaxis()  # better to the right, as accuracy is
    speed_ax.set_title("Speed against accuracy per kernel x executor", loc="left")
    speed_ax.legend(fontsize="x-small", loc="best")
    return Plot(fig, _caption(table, axis, runs, manifest))


def _caption(table: pd.DataFrame, axis: str, runs: pd.DataFrame, manifest: dict) -> str:
    summary = case_summary(runs)
    front = ", ".join(
        f"{r.kernel} {r.executor} w{r.workers}" for r in table[table["front_speed"]].itertuples()
    )
    acceptable = ", ".join(sorted(set(table.loc[table["acceptable"], "kernel"]))) or "none"
    if axis == "pairs_accuracy":
        sources = "; ".join(sorted({f"{r.kernel}: {r.accuracy_source}" for r in table.itertuples()}))
        x_text = (
            f"LFW pairs verification accuracy of the model trained on each kernel's crops, whiskers "
            f"± its standard deviation over the folds (from {sources})"
        )
    else:
        missing = ", ".join(sorted(set(table.loc[table["pairs_accuracy"].isna(), "kernel"])))
        x_text = (
            f"accuracy is not measured for {missing}, so the x axis is quality.parquet's median landmark "
            "deviation from the faithful kernel (better to the right), a stand-in for accuracy, not "
            "accuracy; agreement with the faithful kernel's found faces: "
            + ", ".join(f"{r.kernel} {r.agreement:.3f}" for r in table.drop_duplicates("kernel").itertuples())
        )
    return (
        f"Images/s (left) and cost per 1,000 images (right) per kernel x executor, each its fastest case, "
        f"{_repeats(summary)}, whiskers the 95% interval of images/s where the repeats allow one, against "
        f"{x_text}. Pareto front (no other point both faster and more accurate): {front or 'none'}. "
        f"Acceptable for training by the rule ({rule.tolerance_text()}): "
        f"{acceptable}; {_dataset(manifest, runs)}; measured on {tables.machine_label(manifest)}."
    )
