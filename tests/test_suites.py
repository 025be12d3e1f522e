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
    import tomllib

    repeats = tomllib.loads((ROOT / "suites" / "seed.toml").read_text())["repeats"]  # set by whoever measures
    assert seed.repeats == repeats and seed.kernels == ["optimized", "naive"]
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
        ('retries = "many"\n', "retries takes one int"),
        ("task_timeout = false\n", "task_timeout takes one int or float"),
        ('store = "a"\nstores = ["b"]\n', "not both"),
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
    # Every repeat starts cold, the in-process sequential loop included: one load per worker process.
    cold = result.tasks.groupby(["case_id", "repeat", "pid"])["cold_start"].sum()
    assert (cold == 1).all() and len(cold) == 2 * (1 + 1)
    for _, case in result.runs.groupby("case_id"):
        assert case["wall_s_min"].iloc[0] == case["wall_s"].min()
        assert case["wall_s_spread"].iloc[0] == pytest.approx(
            (case["wall_s"].max() - case["wall_s"].min()) / case["wall_s"].median()
        )
    import json

    warmups = json.loads((result.run_dir / "manifest.json").read_text())["warmups"]
    assert [w["executor"] for w in warmups] == ["sequential", "processes"]
    assert set(result.tasks["repeat"]) == {0, 1}  # warm-ups are not in the tables


# --- flags and suites: every flag applies to every case of the suite, and wins over the suite's key -----

# A suite that sets every setting to one value; each flag below gives another.
EVERY_KEY = """
name = "keys"
datasets = ["synthetic:4", "synthetic:6"]
executors = ["sequential"]
workers = [1]
stores = ["embedded-s3:latency_ms=0", "embedded-s3:latency_ms=5"]
dask_scheduler = "tcp://suite:8786"
lithops_config = "suite-lithops.yaml"
endpoint = "http://suite:9000"
price_book = "suite-book.toml"
machine = "c5.large"
price_per_hour = 1.5
retries = 5
task_timeout = 30
budget_s = 90
keep_outputs = false
warmup = true
"""

FLAGS = [  # (flag and value, RunConfig field, the value every configuration must carry)
    (["--dask-scheduler", "tcp://flag:8786"], "dask_scheduler", "tcp://flag:8786"),
    (["--lithops-config", "flag-lithops.yaml"], "lithops_config", "flag-lithops.yaml"),
    (["--store", "embedded-s3:latency_ms=50"], "store", "embedded-s3:latency_ms=50"),
    (["--endpoint", "http://flag:9000"], "endpoint", "http://flag:9000"),
    (["--price-book", "flag-book.toml"], "price_book", "flag-book.toml"),
    (["--machine", "m5.large"], "machine", "m5.large"),
    (["--price-per-hour", "0.25"], "price_per_hour", 0.25),
    (["--retries", "2"], "retries", 2),  # the old default: still a flag given, still wins
    (["--task-timeout", "7.5"], "task_timeout", 7.5),
    (["--workers", "1,3"], "workers", [1, 3]),
    (["--executors", "sequential,processes"], "executors", ["sequential", "processes"]),
    (["--chunk-size", "2,auto"], "chunk_sizes", [2, None]),
    (["--kernel", "optimized,naive"], "kernels", ["optimized", "naive"]),
    (["--start", "cold,warm"], "starts", ["cold", "warm"]),
    (["--repeats", "3"], "repeats", 3),
    (["--repeats", "auto"], "repeats", "auto"),
    (["--budget", "30"], "budget_s", 30.0),
    (["--list", "flag-list.txt"], "list_file", "flag-list.txt"),
    (["--dataset", "synthetic:9"], "dataset", "synthetic:9"),
    (["--no-warmup"], "warmup", False),
    (["--no-contention-probe"], "contention_probe", False),
    (["--keep-outputs"], "keep_outputs", True),
    (["--no-progress"], "progress", False),
    (["--out", "flag-out"], "out", "flag-out"),
]
#: Run flags that set no RunConfig field, or are another spelling of one above.
NOT_SETTINGS = {"--help", "--suite", "--resume", "--train", "--executor"}


def configs_from_the_command_line(monkeypatch, *args: str) -> list[RunConfig]:
    """The RunConfigs `facebench run ARGS` would run, every one of them, without running any."""
    import bench.run.resume as resume
    import bench.run.runner as runner
    from bench.cli import main

    seen: list[RunConfig] = []

    class Stop(Exception):
        pass

    monkeypatch.setattr(runner, "Run", lambda config, log: seen.append(config))
    monkeypatch.setattr(resume, "execute", lambda run: (_ for _ in ()).throw(Stop()))
    with pytest.raises(Stop):
        main(["run", *args])
    return seen


def test_a_suite_sets_its_settings_for_every_case(tmp_path):
    suite = tmp_path / "keys.toml"
    suite.write_text(EVERY_KEY)
    configs = load_suite(suite)
    assert len(configs) == 4  # two datasets x two stores
    expected = {
        "dask_scheduler": "tcp://suite:8786", "lithops_config": "suite-lithops.yaml",
        "endpoint": "http://suite:9000", "price_book": "suite-book.toml", "machine": "c5.large",
        "price_per_hour": 1.5, "retries": 5, "task_timeout": 30, "keep_outputs": False, "warmup": True,
        "budget_s": 90,
    }  # fmt: skip
    for config in configs:
        assert {key: getattr(config, key) for key in expected} == expected
    assert {c.store for c in configs} == {"embedded-s3:latency_ms=0", "embedded-s3:latency_ms=5"}


@pytest.mark.parametrize(("args", "field", "value"), FLAGS, ids=[f[0][0] for f in FLAGS])
def test_a_flag_given_with_a_suite_applies_to_every_case(tmp_path, monkeypatch, args, field, value):
    suite = tmp_path / "keys.toml"
    suite.write_text(EVERY_KEY)
    configs = configs_from_the_command_line(monkeypatch, "--suite", str(suite), *args)
    assert len(configs) == (2 if field in ("store", "dataset") else 4)
    for config in configs:
        assert getattr(config, field) == value, f"{args[0]} was dropped"
    # and the same flag without a suite, through the same plumbing
    (alone,) = configs_from_the_command_line(monkeypatch, *args)
    assert getattr(alone, field) == value


def test_every_run_flag_is_covered_above():
    """A new `facebench run` flag must say here what it does to a suite's cases."""
    import argparse

    from bench.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    options = {next(o for o in a.option_strings if o.startswith("--")) for a in sub.choices["run"]._actions}
    assert options == {args[0] for args, _, _ in FLAGS} | NOT_SETTINGS


def test_resume_with_a_suite_is_refused_in_one_line(tmp_path, capsys):
    from bench.cli import main

    assert main(["run", "--suite", str(tmp_path / "s.toml"), "--resume", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "takes no --suite" in err[0]


def test_a_suite_run_records_the_flags_it_was_given(tmp_path):
    """End to end: the run's manifest holds the flags' values, not the suite's."""
    import json

    from bench.cli import main

    suite = tmp_path / "s.toml"
    suite.write_text(
        'datasets = ["synthetic:4"]\nexecutors = ["sequential"]\nworkers = [1]\nretries = 4\n'
        'task_timeout = 60\nmachine = "c5.large"\n'
    )
    out = tmp_path / "runs"
    args = ["run", "--suite", str(suite), "--retries", "0", "--task-timeout", "9", "--machine", "m5.large",
            "--no-train", "--no-progress", "--no-warmup", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    (manifest,) = [json.loads(p.read_text()) for p in out.glob("*/manifest.json")]
    config = manifest["config"]
    assert (config["retries"], config["task_timeout"], config["machine"]) == (0, 9.0, "m5.large")
    assert manifest["machine"]["name"] == "m5.large" and config["suite"] == "s"
