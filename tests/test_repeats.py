"""An interval by default: ``--repeats auto`` repeats rounds until every case's 95% interval of its
median is within +-5%, or the budget runs out (and says which cases did not get there); resumable."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from bench import tables
from bench.run.repeats import AUTO, AUTO_MIN_ROUNDS, Rounds
from bench.run.resume import resume_run
from bench.run.runner import Run, RunConfig


def rounds_of(walls: dict[str, list[float]]) -> pd.DataFrame:
    rows = [(c, r, w) for c, ws in walls.items() for r, w in enumerate(ws)]
    return pd.DataFrame(rows, columns=["case_id", "repeat", "wall_s"])


def test_the_stopping_rule():
    tight, loose = [1.0, 1.01, 0.99, 1.02, 0.98, 1.0, 1.01], [1.0, 1.3, 0.8, 1.2, 0.9, 1.1, 0.7]
    assert [Rounds(3, 60).another(r, rounds_of({})) for r in range(5)] == [True, True, True, False, False]
    rule = Rounds(AUTO, 60, {"spent_s": 6.0, "rounds": 6})
    assert rule.another(0, rounds_of({}))
    assert rule.another(6, rounds_of({"a": tight[:6]}))  # within +-5% already, but 7 give the speedup one
    assert not rule.another(7, rounds_of({"a": tight})) and rule.stopped == "converged"
    assert Rounds(AUTO, 60, {"spent_s": 7.0}).another(7, rounds_of({"a": tight, "b": loose}))
    # the next round, at the pace so far (10 s a round), would end past the budget
    rule = Rounds(AUTO, 55, {"spent_s": 50.0, "rounds": 5})
    assert not rule.another(5, rounds_of({"a": tight[:5], "b": loose[:5]})) and rule.stopped == "budget"
    assert "a (no interval yet), b (no interval yet)" in rule.note()
    rule = Rounds(AUTO, 75, {"spent_s": 70.0, "rounds": 7})
    assert not rule.another(7, rounds_of({"a": tight, "b": loose}))
    assert list(rule.unsettled) == ["b"] and "b (+-" in rule.note() and "a (" not in rule.note()


def test_run_without_repeats_gives_every_case_an_interval(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "bench.cli", "run", "--dataset", "synthetic:2", "--executors", "sequential",
         "--start", "cold,warm", "--budget", "25", "--no-train", "--no-warmup", "--no-progress",
         "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run_dir = done.stdout.strip().splitlines()[-1]
    _, runs, manifest = tables.read_run(run_dir)
    assert runs[["wall_s_ci_low", "wall_s_ci_high"]].notna().all(axis=None), runs.groupby("case_id").size()
    record = manifest["repeats"]
    assert manifest["config"]["repeats"] == AUTO and record["rounds"] == runs["repeat"].nunique()
    assert record["stopped"] in ("converged", "budget") and record["rounds"] >= AUTO_MIN_ROUNDS
    if record["stopped"] == "budget":  # a busy machine: the note names what did not settle
        assert all(case in done.stdout for case in record["unsettled"])


def test_a_budget_that_runs_out_says_which_cases_did_not_settle(tmp_path):
    lines: list[str] = []
    config = RunConfig(dataset="synthetic:2", executors=["sequential"], budget_s=0.01, warmup=False,
                       progress=False, out=str(tmp_path))  # fmt: skip
    result = Run(config, log=lines.append).execute()
    assert len(result.runs) == 1  # the first round always runs; the next would end past the budget
    (note,) = [line for line in lines if line.startswith("note: the time budget")]
    assert "sequential-optimized-w1-c2 (no interval yet)" in note and "--budget" in note


class Stop(KeyboardInterrupt):
    pass


@pytest.mark.parametrize("stop_at", [3, 4], ids=["between-rounds", "in-a-round"])
def test_an_interrupted_auto_run_resumes_and_goes_on(tmp_path, stop_at):
    config = RunConfig(dataset="synthetic:2", executors=["sequential"], starts=["cold", "warm"], budget_s=20,
                       warmup=False, progress=False, out=str(tmp_path))  # fmt: skip
    case_lines = []

    def log(line: str) -> None:
        case_lines.extend([line] if " r" in line and "img/s" in line else [])
        if len(case_lines) == stop_at:  # this case ran, but is not on disk
            raise Stop

    run = Run(config, log=log)
    with pytest.raises(Stop):
        run.execute()
    _, runs, manifest = tables.read_run(run.run_dir)
    assert len(runs) == stop_at - 1 and manifest["ended_at"] is None and manifest["repeats"]["rounds"] == 1
    if stop_at == 4:  # the budget ran out in round 1: the round is finished all the same, and no other
        manifest["repeats"]["spent_s"] = 1e6
        tables.write_json(manifest, run.run_dir / "manifest.json")
    result = resume_run(run.run_dir, log=lambda _: None, progress=False).execute()
    assert (result.runs.groupby(["case_id", "repeat"]).size() == 1).all()
    per_case = result.runs.groupby("case_id")["repeat"].nunique()
    assert per_case.nunique() == 1 and (per_case == 2).all() == (stop_at == 4)
    record = json.loads((run.run_dir / "manifest.json").read_text())["repeats"]
    assert record["rounds"] == result.runs["repeat"].nunique() >= 2 and record["stopped"]
    assert resume_run(run.run_dir, log=lambda _: None, progress=False) is None  # nothing left
