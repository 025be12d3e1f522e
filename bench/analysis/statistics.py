"""Per-case statistics over repeats, with the one definition of speedup every command uses.

A case's speedup is the median wall time of the sequential case of the same kernel over the case's
median wall time (a ratio of medians, so the sequential case itself is exactly 1); efficiency is
speedup / workers. The runs table, the CLI summary, the figures and compare all take it from here.

Intervals are 95% confidence intervals of the median, from order statistics (the binomial interval
of Le Boudec's "Performance Evaluation", which SeBS uses): the number of repeats below the true
median is Binomial(n, 1/2) whatever the distribution of wall time, so the interval between the k-th
smallest and k-th largest repeat holds the median with a probability computed exactly. It needs no
assumption about the shape of the distribution (wall times are skewed, with rare slow outliers) and
no random seed; a bootstrap would need both a seed and more repeats than a benchmark has to be
honest (with 5 repeats its percentile interval of the median is min-max, which holds the median with
probability 93.75%, not 95%). The price of exactness: no 95% interval exists below 6 repeats
(``MIN_REPEATS``), and those columns are NaN, "not measured".

Speedup's interval carries the uncertainty of both sides by a conservative (Bonferroni) combination:
the sequential case's and the case's medians each get a 97.5% interval, and the ratio runs from the
reference's low over the case's high to the reference's high over the case's low. Both hold together
with probability at least 95%, with no assumption of independence; it needs 7 repeats on both sides
(``MIN_REPEATS_SPEEDUP``). Images per second get the order-statistic interval of their own repeats.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pandas as pd

from bench.executors import REFERENCE, display_order

CONFIDENCE = 0.95
# Each side of a ratio gets half the error, so that both hold together with CONFIDENCE (Bonferroni).
SIDE_CONFIDENCE = 1 - (1 - CONFIDENCE) / 2
CI_COLUMNS = ["wall_s_ci_low", "wall_s_ci_high", "speedup_ci_low", "speedup_ci_high"]


@cache
def median_ranks(n: int, confidence: float = CONFIDENCE) -> int | None:
    """The k whose k-th smallest and k-th largest of n samples bound the median with at least
    ``confidence`` (the narrowest such pair), or None when even min-max falls short."""
    below = 0  # P(Binomial(n, 1/2) <= k - 1)
    best = None
    for k in range(1, n // 2 + 1):
        below += math.comb(n, k - 1) / 2**n
        if 1 - 2 * below < confidence:
            break
        best = k
    return best


def min_repeats(confidence: float = CONFIDENCE) -> int:
    """The fewest repeats with which an order-statistic interval of the median reaches ``confidence``."""
    return next(n for n in range(1, 64) if median_ranks(n, confidence) is not None)


MIN_REPEATS = min_repeats(CONFIDENCE)
MIN_REPEATS_SPEEDUP = min_repeats(SIDE_CONFIDENCE)


def median_interval(values, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The order-statistic interval of the median of ``values``; (nan, nan) with too few of them."""
    data = np.sort(np.asarray(values, dtype=float))
    data = data[~np.isnan(data)]
    k = median_ranks(len(data), confidence)
    if k is None:
        return math.nan, math.nan
    return float(data[k - 1]), float(data[len(data) - k])


def ratio_interval(numerator, denominator) -> tuple[float, float]:
    """The 95% interval of median(numerator) / median(denominator): each side's median gets a 97.5%
    interval (Bonferroni, so both hold together with 95%); (nan, nan) below 7 values on either side."""
    num_low, num_high = median_interval(numerator, SIDE_CONFIDENCE)
    den_low, den_high = median_interval(denominator, SIDE_CONFIDENCE)
    return num_low / den_high, num_high / den_low


def reference_of(runs: pd.DataFrame) -> pd.Series:
    """Per row, which sequential case it is measured against: the one of the same kernel and start
    (a warm case against the warm sequential case, a cold one against the cold), or the cold one
    where the run has no sequential case of that start. As 'kernel/start' labels."""
    start = runs["start"].fillna("cold") if "start" in runs else pd.Series("cold", index=runs.index)
    label = runs["kernel"].astype(str) + "/" + start.astype(str)
    have = set(label[runs["executor"] == REFERENCE])
    cold = runs["kernel"].astype(str) + "/cold"
    return label.where(label.isin(have), cold)


def reference_walls(runs: pd.DataFrame) -> pd.Series:
    """Per reference (``reference_of``), the sequential case's median wall time."""
    ref = reference_of(runs)
    return runs["wall_s"][runs["executor"] == REFERENCE].groupby(ref).median()


def _intervals(runs: pd.DataFrame) -> pd.DataFrame:
    """Per case (the index): the intervals of wall time, images per second and speedup."""
    runs = runs.assign(_ref=reference_of(runs))
    reference = runs[runs["executor"] == REFERENCE]
    ref_cases = reference.groupby("_ref")["case_id"].nunique()
    ref_walls = reference.groupby("_ref")["wall_s"].apply(list)
    rows = {}
    for case_id, group in runs.groupby("case_id", sort=False):
        wall_low, wall_high = median_interval(group["wall_s"])
        rate_low, rate_high = median_interval(group["images_per_s"])
        kernel = group["_ref"].iloc[0]
        speed_low = speed_high = math.nan
        if kernel in ref_walls.index:
            if group["executor"].iloc[0] == REFERENCE and ref_cases[kernel] == 1:
                # The reference over itself: exactly 1, once its repeats could carry an interval.
                measured = not math.isnan(median_interval(group["wall_s"], SIDE_CONFIDENCE)[0])
                speed_low = speed_high = 1.0 if measured else math.nan
            else:
                speed_low, speed_high = ratio_interval(ref_walls[kernel], group["wall_s"])
        elif {"speedup_ci_low", "speedup_ci_high"} <= set(group.columns):  # as recorded when it was saved
            speed_low, speed_high = group["speedup_ci_low"].iloc[0], group["speedup_ci_high"].iloc[0]
        rows[case_id] = {
            "wall_s_ci_low": wall_low,
            "wall_s_ci_high": wall_high,
            "images_per_s_ci_low": rate_low,
            "images_per_s_ci_high": rate_high,
            "speedup_ci_low": speed_low,
            "speedup_ci_high": speed_high,
        }
    return pd.DataFrame.from_dict(rows, orient="index", dtype=float)


def with_case_statistics(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs table with, on every repeat's row, its case's min, median and spread of wall time
    (spread NaN for a single repeat: not measured), the case's speedup and efficiency (ratio of
    medians) and the 95% intervals of its median wall time and speedup (``CI_COLUMNS``)."""
    if runs.empty:
        return runs.assign(wall_s_min=[], wall_s_median=[], wall_s_spread=[], **{c: [] for c in CI_COLUMNS})
    wall = runs.groupby("case_id")["wall_s"]
    median = wall.transform("median")
    spread = (wall.transform("max") - wall.transform("min")) / median
    out = runs.assign(
        wall_s_min=wall.transform("min"),
        wall_s_median=median,
        wall_s_spread=spread.where(wall.transform("count") > 1),
    )
    ref = reference_of(runs).map(reference_walls(runs))
    if ref.notna().any():
        out["speedup"] = ref / median
        out["efficiency"] = out["speedup"] / out["workers"]
    intervals = _intervals(runs)
    for column in CI_COLUMNS:
        out[column] = runs["case_id"].map(intervals[column]).astype(float)
    return out


def case_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per case: medians over repeats with their min and max and their 95% intervals
    (``*_ci_low``, ``*_ci_high``; NaN with too few repeats), in executor and worker order.

    Speedup as this module defines it; ``speedup_min``/``speedup_max`` divide the same reference by
    the case's slowest and fastest repeats. Without a sequential case the speedup the runner recorded
    is summarised. ``spread`` is (max - min) / median of wall time, NaN for a single repeat.
    """
    if "start" not in runs:  # runs made before starts were recorded: every case was cold
        runs = runs.assign(start="cold")
    grouped = runs.groupby("case_id", sort=False)
    table = grouped.agg(
        executor=("executor", "first"),
        backend=("backend", "first"),
        workers=("workers", "first"),
        chunk_size=("chunk_size", "first"),
        kernel=("kernel", "first"),
        start=("start", "first"),
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
    reference_by_case = reference_of(runs).groupby(runs["case_id"]).first()
    base = table["case_id"].map(reference_by_case).map(reference_walls(runs))
    has = base.notna()
    table.loc[has, "speedup"] = base[has] / table.loc[has, "wall_s"]
    table.loc[has, "speedup_min"] = base[has] / table.loc[has, "wall_max"]
    table.loc[has, "speedup_max"] = base[has] / table.loc[has, "wall_min"]
    table = table.join(_intervals(runs), on="case_id")
    for column in ("", "_min", "_max", "_ci_low", "_ci_high"):
        table[f"efficiency{column}"] = table[f"speedup{column}"] / table["workers"]
    spread = (table["wall_max"] - table["wall_min"]) / table["wall_s"]
    table["spread"] = spread.where(table["repeats"] > 1)
    order = {name: i for i, name in enumerate(display_order(table["executor"]))}
    table["order"] = table["executor"].map(order)
    table = table.sort_values(["order", "workers", "chunk_size"], kind="stable")
    return table.drop(columns="order").reset_index(drop=True)


def pareto(summary: pd.DataFrame, x: str = "wall_s", y: str = "cost_usd") -> pd.Series:
    """Per row, whether it is on the Pareto front (lower is better on both): no other row is at least
    as good on x and y and better on one. Equal points beat neither each other, so all of them are on
    the front; a row missing x or y is not compared and is not on it."""
    xs, ys = summary[x].to_numpy(float), summary[y].to_numpy(float)
    known = np.isfinite(xs) & np.isfinite(ys)
    dominated = [
        bool(np.any(known & (xs <= xs[i]) & (ys <= ys[i]) & ((xs < xs[i]) | (ys < ys[i]))))
        for i in range(len(xs))
    ]
    return pd.Series(known & ~np.array(dominated, dtype=bool), index=summary.index)


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


def interval_widths(runs: pd.DataFrame) -> pd.Series:
    """Per case_id, how far its median wall time's 95% interval reaches from the median, as a share
    of it (the farther side); NaN where the repeats give no interval. ``facebench run --repeats auto``
    stops when every case's is within its target."""
    widths = {}
    for case_id, walls in runs.groupby("case_id", sort=False)["wall_s"]:
        low, high = median_interval(walls)
        median = float(walls.median())
        widths[case_id] = max(median - low, high - median) / median if median > 0 else math.nan
    return pd.Series(widths, dtype=float)


# Other work on the machine (``background_cpu``, recorded by bench/run/load.py) or the hypervisor
# (``steal_cpu``) taking more than a quarter of a core during a case disturbs it: well above the
# reading of an idle machine (a few hundredths: clock ticks and daemons), and on a machine whose
# cores the case fills, 0.25 core is 12% of two cores, more than the +-5% an interval aims at.
DISTURBED_CORES = 0.25
LOAD_COLUMNS = ["background_cpu", "steal_cpu"]


def disturbed_cases(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per case in which other work or steal exceeded ``DISTURBED_CORES`` during at least one
    repeat: case_id, the repeats disturbed and measured, and the largest background and steal (cores).
    Empty for a quiet run, and for runs made before the load was recorded. Why: a fit on such a case
    learned the busy machine, not the executor."""
    columns = ["case_id", "repeats_disturbed", "repeats", "background_cpu", "steal_cpu"]
    if not set(LOAD_COLUMNS) <= set(runs.columns) or runs.empty:
        return pd.DataFrame(columns=columns)
    load = runs[LOAD_COLUMNS].astype(float)
    runs = runs.assign(_disturbed=(load > DISTURBED_CORES).any(axis=1))
    table = (
        runs.groupby("case_id", sort=False)
        .agg(
            repeats_disturbed=("_disturbed", "sum"),
            repeats=("repeat", "count"),
            background_cpu=("background_cpu", "max"),
            steal_cpu=("steal_cpu", "max"),
        )
        .reset_index()
    )
    return table[table["repeats_disturbed"] > 0].reset_index(drop=True)[columns]


def disturbance_notes(runs: pd.DataFrame) -> list[str]:
    """What ``disturbed_cases`` found, in words: one line for other work, one for steal (none when
    quiet). The run warns with them on stderr and the report's header shows them."""
    table = disturbed_cases(runs)
    lines = []
    for column, what in (
        ("background_cpu", "other work on this machine"),
        ("steal_cpu", "the hypervisor (steal)"),
    ):
        hit = table[table[column] > DISTURBED_CORES]
        if len(hit):
            cases = ", ".join(f"{c} ({v:.2f})" for c, v in zip(hit["case_id"], hit[column], strict=True))
            lines.append(
                f"{what} took more than {DISTURBED_CORES:g} of a core during {len(hit)} case(s), at most "
                f"(cores): {cases}; their times measure a busy machine as much as the executor"
            )
    return lines
