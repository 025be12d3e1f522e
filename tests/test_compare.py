"""facebench compare: a planted slowdown is a regression, a rerun and noise are not, errors exit 2."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import copy_run

from bench.analysis import compare
from bench.analysis.compare import Side, verdict
from bench.cli import main


def altered(small_run, to, change) -> str:
    """A copy of the small run whose runs table went through ``change`` (in place, or returned)."""
    run = copy_run(small_run, to)
    runs = pd.read_parquet(run / "runs.parquet")
    changed = change(runs)
    runs = runs if changed is None else changed
    runs.to_parquet(run / "runs.parquet", index=False)
    return str(run)


def side(*walls: float, identical: bool = True) -> Side:
    s = pd.Series(walls)
    return Side(len(walls), float(s.median()), float(s.min()), float(s.max()), identical, "d")


def test_a_run_compared_with_itself_has_no_regression(small_run, capsys):
    assert main(["compare", str(small_run), str(small_run)]) == 0
    out = capsys.readouterr().out
    assert out.count(compare.SAME) == pd.read_parquet(small_run / "runs.parquet")["case_id"].nunique()
    assert "no regression beyond 10%" in out


def test_a_planted_slowdown_is_flagged_and_exits_1(small_run, tmp_path, capsys):
    slow_case = "processes-optimized-w2-c1"

    def slow_down(runs):
        runs.loc[runs["case_id"] == slow_case, "wall_s"] *= 10

    new = altered(small_run, tmp_path / "slow", slow_down)
    assert main(["compare", str(small_run), new]) == 1
    out = capsys.readouterr().out
    flagged = [line for line in out.splitlines() if compare.SLOWER in line]
    assert len(flagged) == 1 and flagged[0].startswith(slow_case) and "10.00x" in flagged[0]
    assert f"1 regression(s): {slow_case}" in out
    # The same slowdown tolerated by a threshold above it.
    assert main(["compare", str(small_run), new, "--threshold", "20"]) == 0


def test_a_rerun_of_the_same_cases_is_accepted(small_run, tmp_path):
    def rerun(runs):  # the repeats land in the other order, and everything is 3% slower
        runs["repeat"] = 1 - runs["repeat"]
        runs["wall_s"] *= 1.03

    table = compare.compare_tables(
        pd.read_parquet(small_run / "runs.parquet"),
        pd.read_parquet(altered(small_run, tmp_path / "rerun", rerun) + "/runs.parquet"),
    )
    assert (table["verdict"] == compare.SAME).all() and not table["regression"].any()
    assert table["identical"].all() and table["same_output"].all()
    assert table["ratio"].round(6).eq(1.03).all()


def test_a_difference_inside_the_noise_is_not_a_regression():
    # 33% slower by the medians, but base's repeats differ by 67% among themselves.
    assert verdict(side(1.0, 2.0), side(1.9, 2.1), 0.10) == (compare.SLOWER_NOISE, False)
    assert verdict(side(1.0, 3.0), side(3.1, 3.2), 0.10) == (compare.SLOWER_NOISE, False)
    assert verdict(side(1.0, 1.1), side(1.0, 1.6), 0.10) == (compare.SLOWER_NOISE, False)
    # Beyond the threshold and beyond the spread: a regression.
    assert verdict(side(1.0, 1.05, 1.02), side(1.3, 1.35, 1.32), 0.10) == (compare.SLOWER, True)
    assert verdict(side(1.0, 2.9), side(6.0, 9.0), 0.10) == (compare.SLOWER, True)  # 3x > any 2-repeat spread
    assert verdict(side(1.3, 1.35), side(1.0, 1.05), 0.10) == (compare.FASTER, False)
    assert verdict(side(1.0, 2.0), side(0.9, 1.1), 0.10) == (compare.FASTER_NOISE, False)
    assert verdict(side(1.0, 1.1), side(1.05, 1.12), 0.10) == (compare.SAME, False)


def test_a_single_repeat_is_judged_by_the_threshold_alone_and_says_so(small_run, tmp_path, capsys):
    assert verdict(side(1.0), side(1.2), 0.10) == (compare.SLOWER_SINGLE, True)
    assert verdict(side(1.0), side(1.05), 0.10) == (compare.SAME, False)
    assert verdict(side(1.0, 1.01), side(0.5), 0.10) == (compare.FASTER_SINGLE, False)

    def first_repeat_only(runs):
        return runs[runs["repeat"] == 0]

    new = altered(small_run, tmp_path / "one", first_repeat_only)
    main(["compare", str(small_run), new])
    out = capsys.readouterr().out
    assert "n=1" in out and "single repeat" in out


def test_outputs_that_stopped_being_identical_are_a_regression(small_run, tmp_path, capsys):
    def break_outputs(runs):
        runs.loc[runs["executor"] == "processes", "identical"] = False

    assert main(["compare", str(small_run), altered(small_run, tmp_path / "bad", break_outputs)]) == 1
    assert compare.OUTPUTS in capsys.readouterr().out


@pytest.mark.parametrize("problem", ["missing", "nothing in common", "negative threshold"])
def test_user_errors_exit_2(small_run, tmp_path, capsys, problem):
    base, extra = str(small_run), []
    if problem == "missing":
        new = str(tmp_path / "missing")
    elif problem == "nothing in common":

        def rename(runs):
            runs["case_id"] = "other-" + runs["case_id"]

        new = altered(small_run, tmp_path / "other", rename)
    else:
        new, extra = base, ["--threshold", "-0.1"]
    assert main(["compare", base, new, *extra]) == 2
    assert capsys.readouterr().err.startswith("facebench: error:")
