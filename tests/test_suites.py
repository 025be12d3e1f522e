"""Suite files and the case matrix: expansion, exclusions, interleaved repeats, warm-up, spread."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT

from bench.errors import UserError
from bench.run.runner import Case, Run, RunConfig, excluded
from bench.run.suites import load_suite


def test_shipped_suites_parse():
    for path in sorted((ROOT / "suites").glob("*.toml")):
        configs = load_suite(path)
        assert configs and all(c.suite for c in configs)
    seed = load_suite(ROOT / "suites" / "seed.toml")[0]
    assert seed.repeats == 3 and seed.kernels == ["optimized", "naive"]
    assert seed.list_file.endswith("seed-subset.txt")


def test_exclusions_match_every_named_field():
    rules = [{"kernel": "naive", "executor": ["processes", "dask"]}, {"workers": 2, "chunk_size": 1}]
    assert excluded(Case("dask", 1, 4, "naive"), rules)
    assert not excluded(Case("lithops", 1, 4, "naive"), rules)
    assert excluded(Case("processes", 2, 1, "optimized"), rules)
    assert not excluded(Case("processes", 2, 4, "optimized"), rules)


def test_matrix_expands_with_a_reference_per_kernel(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text(
        'datasets = ["synthetic:8"]\nexecutors = ["sequential", "processes"]\nworkers = [1, 2]\n'
        'chunk_sizes = [1, "auto"]\nkernels = ["optimized", "naive"]\n'
        '[[exclude]]\nkernel = "naive"\nexecutor = "processes"\n'
    )
    (config,) = load_suite(suite, out=str(tmp_path))
    ids = [c.case_id for c in Run(config, log=lambda _: None).cases()]
    assert ids == [
        "sequential-optimized-w1-c1",
        "processes-optimized-w1-c1",
        "processes-optimized-w1-c2",
        "processes-optimized-w2-c1",
        "sequential-naive-w1-c1",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("workers = [1,\n", "not valid TOML"),
        ('executors = ["spark"]\n', "unknown executor"),
        ("bogus = 1\n", "unknown key"),
        ('[[exclude]]\ncolour = "red"\n', "[[exclude]] takes only"),
        ('chunk_sizes = ["big"]\n', "take integers"),
    ],
)
def test_bad_suite_files_are_user_errors(tmp_path, text, message):
    suite = tmp_path / "bad.toml"
    suite.write_text(text)
    with pytest.raises(UserError, match=message.replace("[", r"\[")):
        load_suite(suite)


def test_unreadable_suite_file_is_a_user_error():
    with pytest.raises(UserError, match="cannot read the suite file"):
        load_suite(Path("/no/such/suite.toml"))


def test_repeats_are_interleaved_with_warmup_and_spread(tmp_path):
    config = RunConfig(
        dataset="synthetic:8", executors=["sequential", "processes"], workers=[1], repeats=2,
        out=str(tmp_path), progress=False,
    )  # fmt: skip
    result = Run(config, log=lambda _: None).execute()
    order = list(zip(result.runs["case_id"], result.runs["repeat"], strict=True))
    assert order == [
        ("sequential-optimized-w1-c8", 0),
        ("processes-optimized-w1-c2", 0),
        ("sequential-optimized-w1-c8", 1),
        ("processes-optimized-w1-c2", 1),
    ]
    # Every repeat starts cold, the in-process sequential loop included.
    cold = result.tasks.groupby(["case_id", "repeat"])["cold_start"].sum()
    assert (cold >= 1).all()
    for _, case in result.runs.groupby("case_id"):
        assert case["wall_s_min"].iloc[0] == case["wall_s"].min()
        assert case["wall_s_spread"].iloc[0] == pytest.approx(
            (case["wall_s"].max() - case["wall_s"].min()) / case["wall_s"].median()
        )
    import json

    warmups = json.loads((result.run_dir / "manifest.json").read_text())["warmups"]
    assert [w["executor"] for w in warmups] == ["sequential", "processes"]
    assert set(result.tasks["repeat"]) == {0, 1}  # warm-ups are not in the tables
