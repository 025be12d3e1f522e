"""A whole run: every executor, tables in the contract's shape, every image once, outputs verified."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from conftest import EXECUTORS, ROOT, assert_every_image_once

from bench import tables
from bench.errors import UserError
from bench.run.runner import Run, RunConfig, output_digest, summary_table

CHECK_RUN = ROOT.parent / "shared" / "checks" / "check_run.py"


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, synthetic_small):
    config = RunConfig(
        dataset="synthetic:16",
        executors=EXECUTORS,
        workers=[1, 2],
        repeats=1,
        out=str(tmp_path_factory.mktemp("runs")),
        progress=False,
    )
    return Run(config, log=lambda _: None).execute()


def test_tables_keep_the_schema(full_run):
    tasks, runs, manifest = tables.read_run(full_run.run_dir)
    assert list(tasks.columns[: len(tables.TASK_COLUMNS)]) == tables.TASK_COLUMNS
    assert list(runs.columns[: len(tables.RUN_COLUMNS)]) == tables.RUN_COLUMNS
    assert set(tasks["status"]) <= set(tables.STATUSES)
    assert manifest["environment"]["cpu_count"] >= 1 and manifest["ended_at"]
    assert manifest["dataset"]["images"] == 16


def test_every_case_accounts_for_every_image_once(full_run, synthetic_small):
    tasks = full_run.tasks
    # sequential once, three executors at 1 and 2 workers
    assert tasks["case_id"].nunique() == 7
    # from the workers' own records: pid, chunk, order; the sequential case in this process only
    assert_every_image_once(tasks, synthetic_small.keys, client_pid=os.getpid())
    assert (tasks["status"] != "error").all()


def test_outputs_identical_across_executors(full_run):
    runs = full_run.runs
    assert runs["identical"].all()
    assert runs["output_digest"].nunique() == 1
    assert set(runs["executor"]) == set(EXECUTORS)
    ok = full_run.tasks.query("executor == 'sequential' and status == 'ok'")
    for key, digest in zip(ok["key"], ok["output_sha256"], strict=True):  # the bytes the record describes
        assert hashlib.sha256((full_run.run_dir / "output" / key).read_bytes()).hexdigest() == digest
    assert not (full_run.run_dir / "scratch").exists()


def test_timestamps_and_workers_are_recorded(full_run):
    tasks = full_run.tasks
    assert (tasks["t_submit"] <= tasks["t_start"] + 1e-3).all()
    assert (tasks["t_start"] <= tasks["t_end"]).all()
    two = tasks.query("executor in ['processes', 'dask'] and workers == 2")
    assert (two.groupby("case_id")["pid"].nunique() == 2).all()  # both workers took chunks
    lithops = tasks.query("executor == 'lithops'")  # every call a process of its own
    per_case = lithops.groupby("case_id")
    assert (per_case["pid"].nunique() == per_case["chunk_id"].nunique()).all()
    runs = full_run.runs.set_index("case_id")
    assert runs.loc["sequential-optimized-w1-c16", "speedup"] == pytest.approx(1.0)
    # Each clock from the workers' own timestamps: it holds every image of its case, and not much more.
    span = tasks.groupby("case_id").apply(lambda t: t["t_end"].max() - t["t_submit"].min())
    assert (runs["wall_s"] >= span.reindex(runs.index) - 0.01).all()
    assert (runs["wall_s"] <= span.reindex(runs.index) + 2.0).all()
    # Speedup and efficiency from the wall times and worker counts alone: the sequential wall over the
    # case's, over its workers (by hand, not through the runner's own columns).
    sequential = runs.loc["sequential-optimized-w1-c16", "wall_s"]
    for case_id, row in runs.iterrows():
        assert row["efficiency"] == pytest.approx(sequential / row["wall_s"] / row["workers"]), case_id
    assert (runs["cost_usd"] > 0).all() and runs["cost_model"].str.contains("pricebook").all()


def test_one_clock_for_all(full_run):
    """docs/benchmarks.md, "One clock for all": every worker process of every case, the in-process
    sequential one included, starts without the models and loads them once, on its first image and
    inside the clock; no later image pays a load, and the sequential load is the same work as a pool
    worker's."""
    tasks = full_run.tasks
    assert set(tasks["kernel"]) == {"optimized"} and set(tasks["start"]) == {"cold"}
    for (case_id, pid), rows in tasks.groupby(["case_id", "pid"]):
        rows = rows.sort_values("t_start")
        first = rows.iloc[0]
        assert rows["cold_start"].sum() == 1 and first["cold_start"], (case_id, pid)
        assert first["model_load_s"] > 0 and (rows["model_load_s"].iloc[1:] == 0).all(), (case_id, pid)
        assert first["t_submit"] <= first["t_start"] + 1e-3  # after the clock started ...
        assert first["t_end"] - first["t_start"] >= first["model_load_s"]  # ... and inside the image's time
    loads = tasks[tasks["cold_start"]].groupby("executor")["model_load_s"].median()
    assert loads["processes"] / 3 <= loads["sequential"] <= loads["processes"] * 3


def test_shared_contract_check_passes(full_run):
    if not CHECK_RUN.is_file():
        if os.environ.get("CI"):  # a CI machine must have the check: no silent pass there
            pytest.fail(f"the shared contract check {CHECK_RUN} is missing (CI is set)")
        pytest.skip("the shared contract check is not present (../shared/checks)")
    out = subprocess.run([sys.executable, CHECK_RUN, full_run.run_dir], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "contract kept" in out.stdout


def test_digest_changes_with_any_output():
    a = output_digest(["a", "b"], ["ok", "ok"], ["1", "2"])
    assert a == output_digest(["b", "a"], ["ok", "ok"], ["2", "1"])
    assert a != output_digest(["a", "b"], ["ok", "no_face"], ["1", ""])


def test_a_differing_case_is_not_identical(full_run, monkeypatch):
    """Plant a wrong crop digest for one image in a rerun and check that the case is flagged."""
    run = Run(
        RunConfig(
            dataset="synthetic:16",
            executors=["processes"],
            workers=[1],
            repeats=1,
            out=str(full_run.run_dir.parent),
            progress=False,
        ),
        log=lambda _: None,
    )
    import bench.run.runner as runner

    real = runner.run_chunk

    def corrupt(chunk, ctx):
        recs = real(chunk, ctx)
        if len(chunk.keys) == 8:  # only the second case's chunks
            recs[0]["output_sha256"] = "0" * 64
        return recs

    monkeypatch.setattr(runner, "run_chunk", corrupt)
    run.config.executors = ["sequential"]  # in-process, so the patch applies
    run.cases = lambda: [
        runner.Case("sequential", 1, 16, "optimized"),
        runner.Case("sequential", 1, 8, "optimized"),
    ]
    result = run.execute()
    assert list(result.runs["identical"]) == [True, False]
    assert not result.ok


def test_summary_table_has_one_row_per_case(full_run):
    table = summary_table(full_run.runs)
    assert len(table) == 7
    assert {"wall_s", "images_per_s", "speedup", "efficiency", "identical"} <= set(table.columns)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (RunConfig(executors=["spark"]), "unknown executor"),
        (RunConfig(workers=[0]), "--workers"),
        (RunConfig(kernels=["turbo"]), "unknown kernel"),
        (RunConfig(dataset="/nonexistent/folder"), "does not exist"),
        (RunConfig(dataset="synthetic:many"), "synthetic:N"),
    ],
)
def test_bad_configuration_is_a_user_error(config, message):
    with pytest.raises(UserError, match=message):
        Run(config, log=lambda _: None)


def test_runs_table_reads_back_as_tidy_pandas(full_run):
    runs = pd.read_parquet(full_run.run_dir / "runs.parquet")
    assert runs["identical"].dtype == bool
    assert json.loads((full_run.run_dir / "manifest.json").read_text())["run_id"] == full_run.run_dir.name


def test_naive_kernel_is_checked_against_the_optimized_reference(tmp_path):
    config = RunConfig(
        dataset="synthetic:4", executors=["sequential"], kernels=["optimized", "naive"], out=str(tmp_path),
        progress=False, repeats=1,
    )  # fmt: skip
    result = Run(config, log=lambda _: None).execute()
    runs = result.runs.set_index("kernel")
    assert (
        runs.loc["naive", "identical"]
        and runs.loc["naive", "output_digest"] == runs.loc["optimized", "output_digest"]
    )
    naive = result.tasks.query("kernel == 'naive'")
    assert (naive["model_load_s"] > 0).all()  # the pattern's baseline pays the load for every image


@pytest.mark.skipif(not os.path.exists("/proc/cpuinfo"), reason="read from /proc/cpuinfo")
def test_the_manifest_names_the_host_cpu_beyond_its_marketing_name():
    """Cloud VMs call every host "Intel(R) Xeon(R) Processor"; family and model tell hosts apart."""
    from bench.run.environment import describe

    env = describe()
    assert env["cpu_signature"].startswith("family ") and " model " in env["cpu_signature"]
    family, model = env["cpu_signature"].removeprefix("family ").split(" stepping")[0].split(" model ")
    assert f"family/model {family}/{model}" in tables.machine_label({"environment": env})
