"""Per-case intervals: exact coverage, NaN ("not measured") below the repeats they need, speedup's
interval carrying both sides' uncertainty, and the equal-cost comparison."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.analysis import statistics as st
from bench.run.runner import summary_table

RESULTS = Path(__file__).resolve().parents[1] / "results"


def runs_table(cases: dict[tuple[str, int], list[float]], images: int = 12) -> pd.DataFrame:
    """A runs table: per (executor, workers), the wall time of each repeat, interleaved."""
    rows = []
    for (executor, workers), walls in cases.items():
        for repeat, wall in enumerate(walls):
            rows.append(
                {
                    "case_id": f"{executor}-optimized-w{workers}-c1",
                    "repeat": repeat,
                    "executor": executor,
                    "backend": "",
                    "workers": workers,
                    "chunk_size": 1,
                    "kernel": "optimized",
                    "images": images,
                    "ok": images,
                    "wall_s": wall,
                    "images_per_s": images / wall,
                    "speedup": math.nan,
                    "efficiency": math.nan,
                    "cost_usd": wall * workers * 1e-4,
                    "identical": True,
                }
            )
    return pd.DataFrame(rows).sort_values(["repeat", "workers"], kind="stable").reset_index(drop=True)


def test_order_statistic_ranks_are_the_narrowest_with_95_percent_coverage():
    # Le Boudec, Performance Evaluation of Computer and Communication Systems, table A.1 (1-based ranks).
    table = {6: 1, 7: 1, 8: 1, 9: 2, 10: 2, 11: 2, 12: 3, 13: 3, 14: 3, 15: 4, 20: 6, 30: 10}
    assert {n: st.median_ranks(n) for n in table} == table
    assert all(st.median_ranks(n) is None for n in range(1, 6))
    for n in range(6, 40):
        k = st.median_ranks(n)
        coverage = 1 - 2 * sum(math.comb(n, i) for i in range(k)) / 2**n
        wider_k = 1 - 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n
        assert coverage >= 0.95 > wider_k
    assert (st.MIN_REPEATS, st.MIN_REPEATS_SPEEDUP) == (6, 7)


def test_the_interval_holds_the_median_95_percent_of_the_time_whatever_the_distribution():
    rng = np.random.default_rng(7)
    for n in (6, 7, 10):
        samples = rng.lognormal(0.0, 0.5, size=(4000, n))  # skewed, true median exactly 1
        bounds = np.array([st.median_interval(s) for s in samples])
        coverage = np.mean((bounds[:, 0] <= 1) & (bounds[:, 1] >= 1))
        assert coverage >= 0.94, (n, coverage)
    assert np.isnan(st.median_interval([1.0, 2.0, 3.0, 4.0, 5.0])).all()  # 5 repeats: at most 93.75%
    assert st.median_interval([6.0, 1.0, 5.0, 2.0, 4.0, 3.0]) == (1.0, 6.0)


def test_intervals_are_on_every_row_of_a_case_and_nan_below_the_repeats_they_need():
    walls = [2.0, 2.1, 1.9, 2.05, 1.95, 2.2, 1.8]
    expected = ((1, False, False), (5, False, False), (6, True, False), (7, True, True))
    for n, wall_measured, speedup_measured in expected:
        runs = st.with_case_statistics(
            runs_table({("sequential", 1): walls[:n], ("processes", 2): [w / 2 for w in walls[:n]]})
        )
        for _, case in runs.groupby("case_id"):
            for column in st.CI_COLUMNS:
                assert case[column].nunique(dropna=False) == 1  # the same value on every repeat's row
        assert runs["wall_s_ci_low"].notna().all() == wall_measured
        assert runs["wall_s_ci_low"].isna().all() == (not wall_measured)
        assert runs["speedup_ci_low"].notna().all() == speedup_measured
        assert runs["wall_s_spread"].isna().all() == (n == 1)  # a single repeat has no spread, not 0
    parallel = runs[runs["executor"] == "processes"].iloc[0]
    assert parallel["speedup"] == pytest.approx(2.0)
    assert parallel["speedup_ci_low"] <= parallel["speedup"] <= parallel["speedup_ci_high"]
    assert parallel["wall_s_ci_low"] <= parallel["wall_s_median"] <= parallel["wall_s_ci_high"]
    sequential = runs[runs["executor"] == "sequential"].iloc[0]
    assert (sequential["speedup_ci_low"], sequential["speedup_ci_high"]) == (1.0, 1.0)  # by definition


def test_speedup_interval_carries_the_reference_uncertainty():
    case = [1.0, 1.01, 0.99, 1.02, 0.98, 1.0, 1.01]
    steady = st.case_summary(runs_table({("sequential", 1): [2.0] * 7, ("processes", 2): case}))
    noisy = st.case_summary(
        runs_table({("sequential", 1): [1.0, 3.0, 2.0, 1.5, 2.5, 2.0, 2.0], ("processes", 2): case})
    )
    steady, noisy = (t.set_index("executor").loc["processes"] for t in (steady, noisy))
    assert steady["wall_s_ci_low"] == noisy["wall_s_ci_low"] and steady["speedup"] == noisy["speedup"]
    assert noisy["speedup_ci_low"] == pytest.approx(1.0 / 1.02)  # the reference's low over the case's high
    assert noisy["speedup_ci_high"] == pytest.approx(3.0 / 0.98)
    assert noisy["speedup_ci_high"] - noisy["speedup_ci_low"] > 5 * (
        steady["speedup_ci_high"] - steady["speedup_ci_low"]
    )
    assert noisy["efficiency_ci_high"] == pytest.approx(noisy["speedup_ci_high"] / 2)


def test_the_summary_says_not_measured_and_never_prints_a_zero_spread():
    single = runs_table({("sequential", 1): [2.0], ("processes", 2): [1.0]})
    one = summary_table(st.with_case_statistics(single))
    for column in ("wall_s 95% CI", "spread", "images_per_s 95% CI", "speedup 95% CI"):
        assert (one[column] == "not measured").all()
    seven = summary_table(
        st.with_case_statistics(
            runs_table({("sequential", 1): [2.0, 2.2, 1.8, 2.1, 1.9, 2.0, 2.3], ("processes", 2): [1.0] * 7})
        )
    )
    assert list(seven["wall_s 95% CI"]) == ["1.80-2.30", "1.00-1.00"]
    assert list(seven["speedup 95% CI"]) == ["1.00-1.00", "1.80-2.30"]
    assert list(seven["spread"]) == ["25%", "0%"]


def test_committed_single_repeat_results_summarise_with_nan_intervals():
    runs = pd.read_parquet(RESULTS / "scaling-16core" / "runs.parquet")
    summary = st.case_summary(runs)
    assert len(summary) == runs["case_id"].nunique()
    assert summary[["wall_s_ci_low", "speedup_ci_high", "images_per_s_ci_low"]].isna().all().all()
    assert summary["speedup"].notna().all()


def test_the_committed_reference_has_seven_repeats_and_intervals_that_bracket_each_median():
    runs = pd.read_parquet(RESULTS / "reference" / "runs.parquet")
    assert runs.groupby("case_id")["repeat"].nunique().min() >= 7
    summary = st.case_summary(runs)
    for low, mid, high in (("wall_s_ci_low", "wall_s", "wall_s_ci_high"),
                           ("speedup_ci_low", "speedup", "speedup_ci_high")):  # fmt: skip
        assert summary[[low, high]].notna().all().all()
        assert (summary[low] <= summary[mid]).all() and (summary[mid] <= summary[high]).all()
    # as written in the committed table too, not only as recomputed here
    assert (runs["wall_s_ci_low"] <= runs["wall_s_median"]).all()
    assert (runs["wall_s_median"] <= runs["wall_s_ci_high"]).all()


def test_a_ratio_interval_combines_both_sides_and_needs_seven_values_a_side():
    slow, fast = [10, 11, 9, 10, 12, 8, 10], [5, 5.5, 4.5, 5, 6, 4, 5]
    assert st.ratio_interval(slow, fast) == (8 / 6, 12 / 4)  # min over max, max over min at n = 7
    assert all(math.isnan(x) for x in st.ratio_interval(slow[:6], fast))


def test_the_pareto_front_keeps_undominated_and_equal_points_and_leaves_out_missing_ones():
    summary = pd.DataFrame(
        {
            "case_id": ["s", "p2", "p4", "l2", "l8", "l2b", "w", "u"],
            "wall_s": [10.0, 5.0, 3.0, 6.0, 2.0, 6.0, 6.0, 1.0],
            "cost_usd": [1.0, 1.2, 2.0, 0.5, 3.0, 0.5, 0.7, math.nan],
        }
    )
    front = set(summary.loc[st.pareto(summary), "case_id"])
    # s is beaten by l2 on both; w ties l2 on time and costs more; l2 and l2b are equal: neither beats
    # the other, so both are on it; u has no cost and is not compared
    assert front == {"l2", "l2b", "p2", "p4", "l8"}
    assert not st.pareto(summary.iloc[:0]).any()


def test_the_figures_whiskers_are_the_intervals_and_absent_when_not_measured():
    from matplotlib.collections import LineCollection

    from bench.report.scaling import speedup, throughput

    manifest = {"environment": {"cpu_count": 2}, "dataset": {"name": "synthetic:12", "images": 12}}
    walls = [2.0, 2.2, 1.8, 2.1, 1.9, 2.0, 2.3]
    runs = runs_table({("sequential", 1): walls, ("processes", 2): [w / 2 for w in walls]})
    runs = st.with_case_statistics(runs)
    summary = st.case_summary(runs)

    def whiskers(plot) -> set[tuple[float, float]]:
        lines = [c for c in plot.figure.axes[0].collections if isinstance(c, LineCollection)]
        segments = [s for c in lines for s in c.get_segments() if len(s)]  # a NaN interval draws none
        return {tuple(np.round(sorted(s[:, 1]), 6)) for s in segments}

    for figure, metric in ((speedup, "speedup"), (throughput, "images_per_s")):
        plot = figure(runs, manifest)
        low, high = summary[f"{metric}_ci_low"].round(6), summary[f"{metric}_ci_high"].round(6)
        expected = set(zip(low, high, strict=True))
        assert whiskers(plot) == expected and "95% interval of the median" in plot.caption
        few = st.with_case_statistics(runs[runs["repeat"] < 5])
        plot = figure(few, manifest)
        assert whiskers(plot) == set() and "not measured" in plot.caption
