"""facebench compare: an exact test per case, an interval for the ratio, A/A runs pass, a planted
slowdown is flagged, too few repeats are never judged on time, errors exit 2."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import copy_run

from bench.analysis import compare
from bench.analysis.compare import Side, mann_whitney, ratio_interval, reachable, verdict
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
    return Side(tuple(walls), identical, "d")


def brute_force_p(base, new) -> float:
    """The two-sided permutation p-value of the rank sum, by listing every split of the pooled values."""
    pooled = np.concatenate([base, new])
    ranks = pd.Series(pooled).rank().to_numpy()
    mean = len(new) * (len(pooled) + 1) / 2
    observed = abs(ranks[len(base) :].sum() - mean)
    splits = list(itertools.combinations(range(len(pooled)), len(new)))
    return sum(abs(ranks[list(s)].sum() - mean) >= observed - 1e-9 for s in splits) / len(splits)


def test_the_exact_p_value_is_the_enumerated_permutation_distribution_ties_included():
    rng = np.random.default_rng(3)
    for n, m in [(4, 4), (5, 5), (3, 6), (6, 7), (2, 2)]:
        base, new = rng.lognormal(0, 0.2, n), rng.lognormal(0.1, 0.2, m)
        new[0] = base[0]  # a tie
        assert mann_whitney(base, new) == pytest.approx(brute_force_p(base, new))
    assert mann_whitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(2 / 252)  # asv's 5 vs 5 floor
    assert mann_whitney([1, 2, 3], [1, 2, 3]) == 1.0


def test_the_ratio_interval_excludes_1_exactly_when_the_test_is_significant():
    rng = np.random.default_rng(5)
    significant = 0
    for _ in range(400):
        n, m = rng.integers(4, 8, size=2)
        base, new = rng.lognormal(0, 0.2, n), rng.lognormal(rng.choice([0.0, 0.2, 0.5]), 0.2, m)
        low, high = ratio_interval(base, new)
        assert low <= np.median(new) / np.median(base) <= high
        assert (mann_whitney(base, new) <= compare.ALPHA) == (low > 1 or high < 1)
        significant += low > 1 or high < 1
    assert 50 < significant < 350  # both outcomes were exercised
    assert np.isnan(ratio_interval([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])).all()  # 3 vs 3 cannot reach 5%


def test_the_verdicts():
    base = side(1.0, 1.02, 0.98, 1.01, 0.99)
    assert verdict(base, side(1.3, 1.32, 1.28, 1.31, 1.29), 0.10) == (compare.SLOWER, True)
    assert verdict(base, side(1.05, 1.07, 1.03, 1.06, 1.04), 0.10) == (compare.SLOWER_SMALL, False)
    assert verdict(base, side(0.7, 0.72, 0.68, 0.71, 0.69), 0.10) == (compare.FASTER, False)
    # Much slower by the medians, but the repeats overlap: no evidence.
    assert verdict(base, side(0.97, 2.0, 2.1, 1.9, 0.995), 0.10) == (compare.SAME, False)
    # Too few repeats for the test ever to reach 5%: never a regression on time, however slow.
    for b, n in [(side(1.0), side(10.0)), (side(1.0, 1.1), side(5.0, 5.1)), (side(1, 1, 1), side(9, 9, 9))]:
        assert verdict(b, n, 0.10) == (compare.TOO_FEW, False)
    assert not reachable(3, 3) and not reachable(1, 30) and reachable(4, 4) and reachable(3, 5)


def test_a_run_compared_with_itself_has_no_regression(small_run, capsys):
    assert main(["compare", str(small_run), str(small_run)]) == 0
    out = capsys.readouterr().out
    cases = pd.read_parquet(small_run / "runs.parquet")["case_id"].nunique()
    assert out.count(compare.TOO_FEW) == cases  # the small run has 2 repeats per case
    assert "2 vs 2 repeats no difference can be significant" in out
    last = out.strip().splitlines()[-1]  # never an all-clear when nothing was judged
    assert "no significant slowdown" not in last
    assert f"{cases} matched case(s) not judged: too few repeats (2 vs 2" in last


def test_the_last_line_counts_the_unjudged_beside_the_judged(small_run, tmp_path, capsys):
    def more_repeats(runs):  # one case with 4 repeats a side (judged), the rest with 2 (not)
        four = runs[runs["case_id"] == "sequential-optimized-w1-c8"]
        four = four.assign(repeat=four["repeat"] + 2)
        return pd.concat([runs, four], ignore_index=True)

    run = altered(small_run, tmp_path / "four", more_repeats)
    assert main(["compare", run, run]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("no significant slowdown beyond 10% in 1 judged case(s); ")
    assert "matched case(s) not judged: too few repeats (2 vs 2" in last


def test_a_case_only_in_both_runs_says_why(small_run, tmp_path, capsys):
    def on(backend):
        def move(runs):  # the 2-worker case on a Dask cluster: this machine's, or a remote one
            case = runs["case_id"] == "processes-optimized-w2-c1"
            runs.loc[case, "executor"], runs.loc[case, "backend"] = "dask", backend

        return move

    base = altered(small_run, tmp_path / "local", on("LocalCluster"))
    new = altered(small_run, tmp_path / "remote", on("tcp://10.0.0.5:8786"))
    assert main(["compare", base, new]) == 0
    out = capsys.readouterr().out
    assert "only in base (not compared): processes-optimized-w2-c1" in out
    assert (
        "  processes-optimized-w2-c1: backend kind differs: local vs remote cluster; "
        "--across-backends matches them"
    ) in out.splitlines()


def test_a_tenfold_slowdown_with_two_repeats_is_reported_not_judged(small_run, tmp_path, capsys):
    def slow_down(runs):
        runs.loc[runs["case_id"] == "processes-optimized-w2-c1", "wall_s"] *= 10

    assert main(["compare", str(small_run), altered(small_run, tmp_path / "slow", slow_down)]) == 0
    lines = capsys.readouterr().out.splitlines()
    line = next(li for li in lines if li.startswith("processes-optimized-w2-c1"))
    assert "10.00x" in line and "not measured" in line and compare.TOO_FEW in line


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

        def rename(runs):  # cases a user would not call the same: other worker counts
            runs["case_id"] = "other-" + runs["case_id"]
            runs["workers"] = runs["workers"] + 10

        new = altered(small_run, tmp_path / "other", rename)
    else:
        new, extra = base, ["--threshold", "-0.1"]
    assert main(["compare", base, new, *extra]) == 2
    assert capsys.readouterr().err.startswith("facebench: error:")


def harness_run(out) -> str:
    """A real run: 8 synthetic images, sequential and processes at 2 workers, 5 interleaved repeats."""
    from bench.run.runner import Run, RunConfig

    config = RunConfig(
        dataset="synthetic:8", executors=["sequential", "processes"], workers=[2], repeats=5,
        out=str(out), progress=False,
    )  # fmt: skip
    return str(Run(config, log=lambda _: None).execute().run_dir)


@pytest.mark.timeout(600)
def test_real_runs_an_a_a_pair_passes_and_a_planted_slowdown_fails(tmp_path, capsys):
    # About 90 s on 2 cores, more when the machine is shared. Two runs of one configuration: no case
    # is significantly slower beyond the threshold.
    # A case may differ between two runs when the machine's load changes between them (docs/report.md
    # measures how often: 0% idle, 5-20% shared), so a flagged A/A pair is rerun, as the docs tell a
    # user to do, up to twice; three in a row is what a test that calls everything significant gives.
    outcomes = []
    for _ in range(3):
        base, again = harness_run(tmp_path), harness_run(tmp_path)
        status = main(["compare", base, again])
        out = capsys.readouterr().out
        aa = compare.compare_tables(*(pd.read_parquet(f"{run}/runs.parquet") for run in (base, again)))
        outcomes.append((status, int((aa["verdict"] != compare.SAME).sum())))
        if status == 0 and compare.SLOWER not in out and outcomes[-1][1] <= 1:
            break
    else:
        pytest.fail(f"three A/A pairs in a row were flagged (exit status, cases differing): {outcomes}")
    # The same configuration with two busy loops per core beside it: every image waits for a core.
    cores = os.cpu_count() or 1
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 * cores)]
    try:
        slow = harness_run(tmp_path)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    assert main(["compare", base, slow]) == 1
    table = compare.compare_tables(*(pd.read_parquet(f"{run}/runs.parquet") for run in (base, slow)))
    slower = table[table["regression"]]
    assert len(slower) and (slower["ratio"] > 1.1).all() and (slower["ratio_ci_low"] > 1).all()


def _runs(images: int, chunk: int, backend: str = "spawn", executor: str = "processes") -> pd.DataFrame:
    rows = [
        {"case_id": f"sequential-optimized-w1-c{images}", "executor": "sequential", "workers": 1,
         "chunk_size": images, "kernel": "optimized", "store": "local", "start": "cold", "backend": "local",
         "images": images},
        {"case_id": f"{executor}-optimized-w2-c{chunk}", "executor": executor, "workers": 2,
         "chunk_size": chunk, "kernel": "optimized", "store": "local", "start": "cold", "backend": backend,
         "images": images},
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_cases_match_as_a_user_means_the_same_case():
    from bench.analysis.compare import pairs

    # default chunking on 1,584 images is c198; on 240 images c30: the same case for a user
    base, new = _runs(1584, 198), _runs(240, 30)
    meta = lambda n: {"dataset": {"images": n}}  # noqa: E731
    assert pairs(base, new, meta(1584), meta(240)) == [
        ("sequential-optimized-w1-c1584", "sequential-optimized-w1-c240"),
        ("processes-optimized-w2-c198", "processes-optimized-w2-c30"),
    ]
    # a chunk size asked for is part of the case
    assert ("processes-optimized-w2-c198", "processes-optimized-w2-c7") not in pairs(
        base, _runs(240, 7), meta(1584), meta(240)
    )
    # a remote cluster's case is not this machine's, unless asked
    local, remote = _runs(240, 30, "LocalCluster", "dask"), _runs(240, 30, "tcp://10.0.0.5:8786", "dask")
    assert [p for p in pairs(local, remote, meta(240), meta(240)) if p[0].startswith("dask")] == []
    assert ("dask-optimized-w2-c30", "dask-optimized-w2-c30") in pairs(
        local, remote, meta(240), meta(240), across_backends=True
    )
