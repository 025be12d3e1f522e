"""Figure 8 and notebook 04's table: projected scaling for the number of images the user asks about,
and, when asked (the claim, notebook 04), against the published pattern's "up to 50x".

The projection (``projection.parquet`` written by ``facebench project``, or one made for
``facebench report --images N``) gives wall time against concurrent workers, a band for its 5-95%
interval where it has one; the run's own cases are scaled linearly to the same number of images.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench import tables
from bench.analysis import pattern
from bench.analysis.statistics import case_summary
from bench.errors import UserError
from bench.report.data import _repeats, _spread
from bench.report.style import Plot, _absent, _colours, _new_figure, _styled

# ---------------------------------------------------------------------------------------------------
# 8. Projected scaling against the pattern's claim


def _projection_images(projection: pd.DataFrame, images: int | None) -> int:
    sizes = sorted(projection["images"].dropna().astype(int).unique())
    if images is not None:
        if images not in sizes:
            raise UserError(f"the projection has no curve for {images} images; it has {sizes}")
        return images
    return max(sizes)  # the largest question asked of this run


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
    runs: pd.DataFrame,
    manifest: dict,
    projection: pd.DataFrame | None = None,
    images: int | None = None,
    pattern_marks: bool = False,
) -> Plot:
    """Projected wall time against workers with its interval, measured points over it; with
    ``pattern_marks``, the pattern's published figures too (for the 1,584-image claim only)."""
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
        if {"predicted_wall_s_low", "predicted_wall_s_high"} <= set(group.columns):
            ax.fill_between(
                group["workers"],
                group["predicted_wall_s_low"],
                group["predicted_wall_s_high"],
                color=colours[key[0]],
                alpha=0.2,
                lw=0,
            )
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
    for value, label, style in marks if pattern_marks else []:
        ax.axhline(value, color="0.3", ls=style, lw=1, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("concurrent workers (functions)")
    ax.set_ylabel(f"wall time for {n:,} images (s)")
    if pattern_marks:
        right = ax.secondary_yaxis("right", functions=(_times_faster, _times_faster))
        right.set_ylabel(f"speedup over the pattern's {pattern.SINGLE_COMPUTER_S:,.0f} s")
    against = " against the pattern's claim" if pattern_marks else ""
    ax.set_title(f"Projected scaling for {n:,} images{against}", loc="left")
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
    banded = "predicted_wall_s_low" in proj.columns and proj["predicted_wall_s_low"].notna().any()
    marked = (
        f"marked: the pattern's {pattern.SINGLE_COMPUTER_S:,.0f} s single computer, "
        f"{pattern.SERVERLESS_S:.0f} s on "
        f'Cloud Functions ({pattern.SINGLE_COMPUTER_S / pattern.SERVERLESS_S:.0f}x) and its "up to 50x" '
        f"({pattern.SINGLE_COMPUTER_S / pattern.CLAIM_X:.0f} s); {reach_text}; "
        if pattern_marks
        else ""
    )
    caption = (
        f"Projected wall time for {n:,} images against concurrent workers (scaling model), one line per "
        f"projected executor"
        + (
            (
                f", the band its {proj['interval_coverage'].dropna().iloc[0]:.0%} prediction interval (the "
                "draws' spread and the model's held-out error; none where not validated)"
                if proj.get("interval_coverage", pd.Series(dtype=float)).notna().any()
                else ", the band its 5-95% interval (the model's sampling uncertainty, not its error)"
            )
            if banded
            else ""
        )
        + f", with this run's {measured} over it; {marked}measured on {tables.machine_label(manifest)}."
    )
    return Plot(fig, caption)


def pattern_table(runs: pd.DataFrame) -> pd.DataFrame:
    """This run's cases next to the pattern's figures, scaled linearly to its 1,584 images."""
    summary = case_summary(runs)
    table = summary[["case_id", "executor", "workers", "images", "repeats", "wall_s", "speedup"]].copy()
    table["wall_1584_s"] = table["wall_s"] * pattern.IMAGES / table["images"]
    table["x_vs_pattern_2200s"] = pattern.SINGLE_COMPUTER_S / table["wall_1584_s"]
    table["x_vs_pattern_35s"] = pattern.SERVERLESS_S / table["wall_1584_s"]
    return table
