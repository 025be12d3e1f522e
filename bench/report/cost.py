"""Figure 7, cost against wall time per case, with the Pareto front of cases no other beats on both.

Cost comes from the runs table's ``cost_usd`` (a run priced by the price book fills it); an unpriced
run gets a figure that says cost is absent rather than a misleading zero.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench import tables
from bench.analysis.statistics import case_summary, pareto
from bench.report.data import _dataset, _repeats, _spread
from bench.report.style import Plot, _absent, _colours, _new_figure, _styled

# ---------------------------------------------------------------------------------------------------
# 7. Cost against time


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
    front = summary[pareto(summary)].sort_values(["wall_s", "cost_usd"])
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
