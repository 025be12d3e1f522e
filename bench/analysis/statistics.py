"""Per-case statistics over repeats, with the one definition of speedup every command uses.

A case's speedup is the median wall time of the sequential case of the same kernel over the case's
median wall time (a ratio of medians, so the sequential case itself is exactly 1); efficiency is
speedup / workers. The runs table, the CLI summary, the figures and compare all take it from here.
"""

from __future__ import annotations

import pandas as pd

from bench.executors import REFERENCE, display_order


def reference_walls(runs: pd.DataFrame) -> pd.Series:
    """Per kernel, the sequential case's median wall time."""
    return runs[runs["executor"] == REFERENCE].groupby("kernel")["wall_s"].median()


def with_case_statistics(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs table with, on every repeat's row, its case's min, median and spread of wall time,
    and the case's speedup and efficiency (ratio of medians)."""
    if runs.empty:
        return runs.assign(wall_s_min=[], wall_s_median=[], wall_s_spread=[])
    wall = runs.groupby("case_id")["wall_s"]
    median = wall.transform("median")
    out = runs.assign(
        wall_s_min=wall.transform("min"),
        wall_s_median=median,
        wall_s_spread=(wall.transform("max") - wall.transform("min")) / median,
    )
    ref = runs["kernel"].map(reference_walls(runs))
    if ref.notna().any():
        out["speedup"] = ref / median
        out["efficiency"] = out["speedup"] / out["workers"]
    return out


def case_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per case: medians over repeats with their min and max, in executor and worker order.

    Speedup as this module defines it; its whiskers divide the same reference by the case's slowest
    and fastest repeats. Without a sequential case the speedup the runner recorded is summarised.
    """
    grouped = runs.groupby("case_id", sort=False)
    table = grouped.agg(
        executor=("executor", "first"),
        backend=("backend", "first"),
        workers=("workers", "first"),
        chunk_size=("chunk_size", "first"),
        kernel=("kernel", "first"),
        images=("images", "max"),
        ok=("ok", "min"),
        repeats=("repeat", "count"),
        wall_s=("wall_s", "median"),
        wall_min=("wall_s", "min"),
        wall_max=("wall_s", "max"),
        speedup=("speedup", "median"),
        speedup_min=("speedup", "min"),
        speedup_max=("speedup", "max"),
        images_per_s=("images_per_s", "median"),
        cost_usd=("cost_usd", "median"),
        identical=("identical", "all"),
    ).reset_index()
    base = table["kernel"].map(reference_walls(runs))
    has = base.notna()
    table.loc[has, "speedup"] = base[has] / table.loc[has, "wall_s"]
    table.loc[has, "speedup_min"] = base[has] / table.loc[has, "wall_max"]
    table.loc[has, "speedup_max"] = base[has] / table.loc[has, "wall_min"]
    for column in ("", "_min", "_max"):
        table[f"efficiency{column}"] = table[f"speedup{column}"] / table["workers"]
    table["spread"] = (table["wall_max"] - table["wall_min"]) / table["wall_s"]
    order = {name: i for i, name in enumerate(display_order(table["executor"]))}
    table["order"] = table["executor"].map(order)
    table = table.sort_values(["order", "workers", "chunk_size"], kind="stable")
    return table.drop(columns="order").reset_index(drop=True)


def chunks_in_flight(tasks: pd.DataFrame) -> int:
    """The largest number of chunks that ran at once in one case and repeat: the concurrency that
    really happened, from the workers' own clocks (a chunk runs from its first image's start to its
    last image's end)."""
    if tasks.empty:
        return 0
    chunks = tasks.groupby("chunk_id").agg(start=("t_start", "min"), end=("t_end", "max"))
    events = sorted([(t, 1) for t in chunks["start"]] + [(t, -1) for t in chunks["end"]])
    # at equal times an end sorts before a start (-1 < 1): touching chunks do not overlap
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak
