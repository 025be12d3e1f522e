"""facebench plan: the answer for N images, with intervals, trust notes and one recommendation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REFERENCE = Path(__file__).resolve().parents[1] / "results" / "reference"


def plan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench.cli", "plan", str(REFERENCE), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def fifty_thousand() -> dict:
    out = plan("--images", "50000", "--platforms", "local,aws_lambda", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_local_and_lambda_options_each_with_an_interval_and_a_trust_note(fifty_thousand):
    rows = fifty_thousand["options"]
    assert {r["platform"] for r in rows} == {"local", "aws_lambda"}
    for r in rows:
        assert r["predicted_wall_s_low"] <= r["predicted_wall_s"] <= r["predicted_wall_s_high"]
        assert r["predicted_cost_usd_low"] <= r["predicted_cost_usd"] <= r["predicted_cost_usd_high"]
        assert r["trust"]
    lam = [r for r in rows if r["platform"] == "aws_lambda"]
    assert all(
        "published aws_lambda jobs" in r["trust"] and "aws_lambda.cold_start_s" in r["trust"] for r in lam
    )
    assert all("error" in r["trust"] for r in rows if r["platform"] == "local")


def test_exactly_one_row_is_recommended_for_the_question_asked(fifty_thousand):
    rows = fifty_thousand["options"]
    assert sum(r["recommended"] for r in rows) == 1
    best = min(rows, key=lambda r: r["predicted_wall_s"] * r["predicted_cost_usd"])
    assert next(r for r in rows if r["recommended"]) == best


def test_a_budget_picks_the_fastest_option_whose_cost_interval_fits_it():
    out = plan("--images", "50000", "--platforms", "local,aws_lambda", "--budget-usd", "0.05", "--json")
    rows = json.loads(out.stdout)["options"]
    chosen = [r for r in rows if r["recommended"]]
    assert len(chosen) == 1 and chosen[0]["predicted_cost_usd_high"] <= 0.05
    fitting = [r for r in rows if r["predicted_cost_usd_high"] <= 0.05]
    assert chosen[0]["predicted_wall_s"] == min(r["predicted_wall_s"] for r in fitting)


def test_a_deadline_nothing_meets_is_said_and_exits_1():
    out = plan("--images", "50000", "--platforms", "local", "--deadline-s", "1")
    assert out.returncode == 1 and "no option fits" in out.stderr


def test_run_ends_with_the_answer_for_its_own_data(small_run):
    import pandas as pd

    from bench.analysis.answer import answer_lines

    runs = pd.read_parquet(small_run / "runs.parquet")
    lines = answer_lines(runs, small_run)
    assert lines[0].startswith("fastest here:") and "$" in lines[0]
    assert f"facebench plan {small_run} --images N" in lines[-1]
    # an efficiency above 1 is named, with its likely cause
    seq = runs["executor"] == "sequential"
    slow_reference = runs.assign(wall_s=runs["wall_s"].where(~seq, runs["wall_s"] * 10))
    from bench.analysis.statistics import with_case_statistics

    flagged = answer_lines(with_case_statistics(slow_reference), small_run)
    assert any("> 1" in line and "read it as about 1" in line for line in flagged)
    # the fastest case's idle tail, in its unit: worker-seconds, summed over its workers
    two = runs["workers"] == 2
    fast_two = runs.assign(wall_s=runs["wall_s"].where(~two, runs["wall_s"] / 10))
    lines = answer_lines(with_case_statistics(fast_two), small_run)
    idle = runs.loc[two, "tail_idle_s"].median()
    assert f"idle at its tail: {idle:.3g} worker-seconds (summed over its 2 workers, so it" in "\n".join(
        lines
    )
