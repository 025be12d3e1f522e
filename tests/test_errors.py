"""Prediction intervals from the model's held-out error; the busy-core slowdown of the contention probe."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from conftest import ROOT

from bench.model import errors
from bench.model.calibration import fit, read_run
from bench.model.projection import predict_case
from bench.run import contention


def test_the_conformal_quantile_is_the_kth_error_or_the_largest_when_too_few():
    rel = np.linspace(0.01, 0.19, 19)  # 19 errors: k = ceil(20 x 0.9) = 18
    q, enough = errors.conformal_quantile(rel, 0.9)
    assert enough and q == np.sort(errors._both_ways(rel))[17]
    q, enough = errors.conformal_quantile([0.05, -0.2, 0.1, 0.02], 0.9)  # k = 5 > 4
    assert not enough and math.isclose(q, 0.25)  # -20% too fast: measured 1.25x the prediction


def _rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "platform": ["local", "local", "aws_lambda"],
            "workers": [2, 64, 100],
            "predicted_wall_s": [100.0, 10.0, 5.0],
            "predicted_wall_s_low": [99.0, 9.9, 4.0],
            "predicted_wall_s_high": [101.0, 10.1, 6.0],
            "predicted_cost_usd": [1.0, 1.0, 1.0],
            "predicted_cost_usd_low": [1.0, 1.0, 1.0],
            "predicted_cost_usd_high": [1.0, 1.0, 1.0],
        }
    )


def test_a_row_gets_an_interval_at_least_its_model_error_wide_or_none_when_not_validated():
    validation = pd.DataFrame({"scheme": ["leave-one-out"] * 5, "rel_error": [0.1, -0.1, 0.05, 0.2, -0.02]})
    matcher = errors.row_matcher(validation, None, measured_workers=2, cores=16, label="run")
    table = errors.apply_errors(_rows(), matcher, 0.9)
    local = table.iloc[0]
    assert local["model_error"] == 0.1 and local["interval_coverage"] == 0.9
    assert local["predicted_wall_s_low"] <= 100 * (1 - 0.1) and local["predicted_wall_s_high"] >= 100 * 1.1
    # 64 workers on 16 cores: no validation of that kind; the cloud row: no published jobs given
    for i in (1, 2):
        assert math.isnan(table.iloc[i]["predicted_wall_s_low"]) and math.isnan(table.iloc[i]["model_error"])
        assert table.iloc[i]["validation"] == "not validated"


def test_beyond_the_measured_workers_the_committed_validations_back_the_row():
    beyond = errors.beyond_measured()
    assert beyond is not None and beyond.n >= 19  # the 2-core and the 16-core run's 1 -> N cases
    validation = pd.DataFrame({"scheme": ["leave-one-out"], "rel_error": [0.01]})
    matcher = errors.row_matcher(validation, None, measured_workers=2, cores=16, label="run")
    assert matcher(pd.Series({"platform": "local", "workers": 8})) == beyond
    assert matcher(pd.Series({"platform": "local", "workers": 2})).n == 1


def test_a_fit_on_disturbed_cases_gets_no_interval():
    runs = pd.DataFrame(
        {"case_id": ["a", "b"], "repeat": [0, 0], "background_cpu": [0.0, 1.2], "steal_cpu": [0.0, 0.0]}
    )
    refused = errors.disturbed_refusal(runs)
    assert "b" in refused and "a" not in refused.split("(")[1].split(":")[0]
    validation = pd.DataFrame({"scheme": ["x"], "rel_error": [0.01]})
    matcher = errors.row_matcher(validation, None, measured_workers=2, cores=16, label="run")
    table = errors.apply_errors(_rows(), matcher, 0.9, refused=refused)
    assert table["predicted_wall_s_low"].isna().all() and (table["validation"] == refused).all()
    assert errors.disturbed_refusal(runs.assign(background_cpu=0.0)) == ""


def test_a_held_out_interval_never_uses_the_case_own_error():
    table = pd.DataFrame(
        {
            "scheme": ["s"] * 4,
            "case_id": list("abcd"),
            "measured_wall_s": [10.0, 10.0, 10.0, 20.0],
            "predicted_wall_s": [10.1, 9.9, 10.0, 10.0],
            "predicted_wall_s_low": [10.1, 9.9, 10.0, 10.0],
            "predicted_wall_s_high": [10.1, 9.9, 10.0, 10.0],
            "rel_error": [0.01, -0.01, 0.0, -0.5],
        }
    )
    out = errors.held_out_intervals(table, 0.9)
    assert out["inside"].tolist() == [True, True, True, False]  # d's miss is not in its own interval


def test_the_probe_slows_the_16_core_run_s_parallel_cases():
    tasks, runs, manifest = read_run(ROOT / "results" / "scaling-16core")
    assert manifest["contention"]["source"].endswith("contention-detect.json")
    seq = ["sequential-optimized-w1-c1584"]
    probed = fit(tasks, runs, manifest, cases=seq)
    bare = fit(tasks, runs, {k: v for k, v in manifest.items() if k != "contention"}, cases=seq)
    assert probed.slowdown(1) == 1.0 and probed.slowdown(2) == 1.0  # never faster than one worker
    assert math.isclose(probed.slowdown(6), (1.3319793363438432 + 1.29237427601802) / 2)
    assert bare.slowdown(16) == 1.0
    args = dict(executor="processes", workers=16, images=1584, kernel="optimized", draws=3)
    ratio = predict_case(probed, **args).predicted_wall_s / predict_case(bare, **args).predicted_wall_s
    assert 1.2 < ratio < 1.3


def test_the_probe_is_cached_per_machine(monkeypatch, tmp_path):
    monkeypatch.setenv("FACEBENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(
        contention, "probe", lambda levels: {"rows": [{"workers": w, "slowdown": 1.0} for w in levels]}
    )
    monkeypatch.setattr(contention.environment, "vcpu_count", lambda: 4)
    first = contention.cached_probe()
    assert [r["workers"] for r in first["rows"]] == [1, 2, 4]

    def measure_again(levels):
        raise AssertionError("measured again")

    monkeypatch.setattr(contention, "probe", measure_again)
    again = contention.cached_probe()
    assert (
        again["rows"] == first["rows"]
        and json.loads(Path(again["cached"]).read_text())["rows"] == first["rows"]
    )
    monkeypatch.setenv("FACEBENCH_CACHE", str(tmp_path / "other"))
    assert contention.cached_probe(measure=False) is None
