"""The command line as a user meets it: the summary, the run folder last, one-line errors with status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest


def facebench(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True, timeout=600, env=env
    )


def test_run_prints_a_summary_and_the_run_folder_last(tmp_path):
    out = facebench(
        "run", "--dataset", "synthetic:8", "--executors", "sequential,processes", "--workers", "2",
        "--out", str(tmp_path), "--no-progress", "--repeats", "1",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    run_dir = Path(lines[-1])
    assert run_dir.parent == tmp_path and (run_dir / "tasks.parquet").is_file()
    assert "speedup" in out.stdout and "efficiency" in out.stdout and "identical" in out.stdout
    runs = pd.read_parquet(run_dir / "runs.parquet")
    assert sorted(runs["case_id"]) == ["processes-optimized-w2-c1", "sequential-optimized-w1-c8"]


def test_remote_dask_cluster(dask_scheduler, tmp_path):
    out = facebench(
        "run", "--dataset", "synthetic:8", "--executors", "dask", "--workers", "2",
        "--dask-scheduler", dask_scheduler, "--out", str(tmp_path), "--no-progress", "--repeats", "1",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    run_dir = Path(out.stdout.strip().splitlines()[-1])
    tasks = pd.read_parquet(run_dir / "tasks.parquet")
    dask_rows = tasks.query("executor == 'dask'")
    assert (dask_rows["backend"] == dask_scheduler).all()
    assert dask_rows["pid"].nunique() == 2  # both worker processes took chunks
    runs = pd.read_parquet(run_dir / "runs.parquet")
    assert runs["identical"].all()
    # a cluster on loopback is this machine: priced as it, never "unpriced: remote machines"
    dask_run = runs[runs["executor"] == "dask"].iloc[0]
    assert dask_run["cost_usd"] > 0 and "x wall time" in dask_run["cost_model"], dask_run["cost_model"]
    settings = json.loads((run_dir / "manifest.json").read_text())["executor_settings"]["dask"]
    assert settings["cluster_threads"] == 2  # two single-threaded `dask worker`s: the cluster's slots


def test_a_multithreaded_remote_worker_runs_safely_within_the_asked_concurrency(
    dask_threaded_cluster, tmp_path
):
    # `dask worker`'s default shape (several threads) crashed the kernel and then hung the run; now
    # the kernel keeps models per thread and no more than --workers chunks are ever in flight.
    address, _ = dask_threaded_cluster
    out = facebench(
        "run", "--dataset", "synthetic:24", "--executors", "sequential,dask", "--dask-scheduler", address,
        "--workers", "2", "--chunk-size", "3", "--out", str(tmp_path), "--no-progress", "--no-train",
        "--repeats", "1",
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    run_dir = Path(out.stdout.strip().splitlines()[-1])
    runs = pd.read_parquet(run_dir / "runs.parquet")
    tasks = pd.read_parquet(run_dir / "tasks.parquet")
    dask_runs = runs[runs["executor"] == "dask"]
    assert dask_runs["identical"].all()
    assert dask_runs["max_in_flight"].max() == 2  # the concurrency asked for, no more, no less
    dask_tasks = tasks[tasks["executor"] == "dask"]
    assert dask_tasks["cold_start"].any()  # the case started cold, as the sequential reference did


@pytest.mark.timeout(300)
def test_a_remote_worker_that_dies_costs_a_retry_not_a_hang(dask_threaded_cluster, tmp_path):
    import psutil

    address, nanny = dask_threaded_cluster
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.cli", "run", "--dataset", "synthetic:96",
         "--executors", "sequential,dask",
         "--dask-scheduler", address, "--workers", "2", "--chunk-size", "2", "--out", str(tmp_path),
         "--no-progress", "--no-train", "--no-warmup", "--repeats", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    # wait until the dask case is under way (its first crops are in its scratch folder), then kill
    # the worker process; its nanny restarts it
    deadline = time.time() + 200
    while time.time() < deadline and len(list(tmp_path.glob("*/scratch/dask-*/**/*.jpg"))) < 4:
        time.sleep(0.05)
    workers = psutil.Process(nanny.pid).children(recursive=True)
    victim = max(workers, key=lambda p: p.memory_info().rss)  # the worker, not the resource tracker
    victim.kill()
    stdout, stderr = proc.communicate(timeout=240)
    run_dir = Path(stdout.strip().splitlines()[-1])
    runs = pd.read_parquet(run_dir / "runs.parquet")
    dask_run = runs[runs["executor"] == "dask"].iloc[0]
    assert bool(dask_run["identical"]), stderr  # every image accounted for, after a retry
    dask_tasks = pd.read_parquet(run_dir / "tasks.parquet").query("executor == 'dask'")
    assert dask_tasks["pid"].nunique() >= 2  # the kill landed during the case: a new worker finished it
    assert proc.returncode == 0, stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--executors", "spark"], "unknown executor 'spark'"),
        (["run", "--kernel", "optimized,turbo"], "unknown kernel 'turbo'"),
        (["run", "--dataset", "/no/such/folder"], "does not exist"),
        (["run", "--dataset", "synthetic:8", "--executors", "dask", "--dask-scheduler", "tcp://127.0.0.1:9"],
         "cannot reach the Dask scheduler"),
        (["run", "--dataset", "synthetic:8", "--executors", "dask", "--workers", "2", "--dask-scheduler",
          "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler"),
        (["run", "--lithops-config", "/no/such.yaml", "--dataset", "synthetic:8", "--executors", "lithops"],
         "cannot read the Lithops config"),
    ],
)  # fmt: skip
def test_user_errors_are_one_line_with_status_2(args, message, tmp_path):
    out = facebench(*args, "--out", str(tmp_path), "--no-progress")
    assert out.returncode == 2, out.stdout + out.stderr
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_lithops_backend_that_does_not_exist_is_refused_before_work(tmp_path):
    config = tmp_path / "lithops.yaml"
    config.write_text("lithops:\n  backend: nosuch\n  storage: localhost\n")
    out = facebench(
        "run", "--lithops-config", str(config), "--dataset", "synthetic:8", "--out", str(tmp_path)
    )
    assert out.returncode == 2 and "backend 'nosuch'" in out.stderr
    assert not any(tmp_path.glob("2*"))  # no run folder: nothing started


def test_empty_dataset_folder_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    out = facebench("run", "--dataset", str(tmp_path / "empty"), "--out", str(tmp_path), "--no-progress")
    assert out.returncode == 2 and "holds no images" in out.stderr


def test_an_empty_list_file_says_the_list_is_empty(tmp_path):
    (tmp_path / "data" / "Person").mkdir(parents=True)
    (tmp_path / "list.txt").write_text("\n\n")
    out = facebench(
        "run", "--dataset", str(tmp_path / "data"), "--list", str(tmp_path / "list.txt"),
        "--out", str(tmp_path / "runs"), "--no-progress",
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"facebench: error: list file {tmp_path / 'list.txt'} is empty: it names no images"
    ]


def test_a_bad_flag_value_is_one_line_not_the_usage(tmp_path):
    out = facebench("run", "--workers", "two", "--out", str(tmp_path))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "facebench: error: argument --workers: expected comma-separated integers, got 'two' "
        "(see: facebench run --help)"
    ]
    assert not any(tmp_path.iterdir())


def test_more_workers_than_the_cluster_has_is_refused_and_leaves_no_run_folder(dask_scheduler, tmp_path):
    out = facebench(
        "run", "--dataset", "synthetic:8", "--executors", "dask", "--workers", "3",
        "--dask-scheduler", dask_scheduler, "--out", str(tmp_path / "runs"), "--no-progress",
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"facebench: error: the Dask cluster at {dask_scheduler} has 2 worker thread(s), fewer than the 3 "
        "asked for"
    ]
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


EXAMPLE_EXECUTOR = Path(__file__).resolve().parents[1] / "docs" / "examples" / "spawn_pool.py"


def test_an_executor_from_outside_the_repository_runs_end_to_end(tmp_path):
    # The docs' example, copied to a folder outside the repository, given as module:Class: it runs
    # beside the sequential case, its outputs are verified, it is priced and reported and compared.
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "spawn_pool.py").write_text(EXAMPLE_EXECUTOR.read_text())
    env = {**os.environ, "PYTHONPATH": str(outside)}
    out = facebench(
        "run", "--dataset", "synthetic:8", "--executors", "sequential,spawn_pool:SpawnPool",
        "--workers", "2", "--out", str(tmp_path / "runs"), "--no-progress", "--no-train", "--repeats", "1",
        env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    run_dir = Path(out.stdout.strip().splitlines()[-1])
    runs = pd.read_parquet(run_dir / "runs.parquet")
    mine = runs[runs["executor"] == "spawn-pool"]
    assert len(mine) == 1 and bool(mine["identical"].iloc[0])
    assert mine["chunk_size"].iloc[0] == 2  # its declared chunks_per_worker: 8 images / (2 workers x 2)
    assert mine["cost_usd"].iloc[0] > 0 and "wall time" in mine["cost_model"].iloc[0]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["executors"]["spawn-pool"]["cls"] == "spawn_pool:SpawnPool"
    report = facebench("report", str(run_dir), "--out", str(tmp_path / "report"), env=env)
    assert report.returncode == 0, report.stderr
    assert "spawn-pool" in (tmp_path / "report" / "index.html").read_text()
    compared = facebench("compare", str(run_dir), str(run_dir), env=env)
    assert compared.returncode == 0 and "spawn-pool" in compared.stdout, compared.stdout + compared.stderr


def test_an_executor_that_cannot_be_imported_is_one_line(tmp_path):
    out = facebench("run", "--executors", "no_such_package.module:Pool", "--out", str(tmp_path))
    assert out.returncode == 2 and "no_such_package" in out.stderr and "pip install" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_a_broken_environment_exits_non_zero_and_names_the_cause(tmp_path):
    # A face_recognition_models package without its model files, first on the path: every image
    # fails alike in every case, so every case is "identical" to the broken reference; the run must
    # still fail, with one line that says why.
    fake = tmp_path / "fake" / "face_recognition_models"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake.parent), os.environ.get("PYTHONPATH", "")])}
    out = facebench(
        "run", "--dataset", "synthetic:4", "--executors", "sequential,processes", "--workers", "1",
        "--out", str(tmp_path / "runs"), "--no-progress", "--no-train", "--repeats", "1", env=env,
    )  # fmt: skip
    assert out.returncode == 1, out.stdout + out.stderr
    line = [x for x in out.stderr.splitlines() if "ended as error" in x]
    assert len(line) == 1 and "8 image result(s) in 2 case(s)" in line[0]
    assert "FileNotFoundError: face_recognition_models has no models/shape_predictor_68" in line[0]


def test_a_list_entry_that_does_not_exist_is_reported_as_missing(tmp_path, synthetic_small):
    listing = tmp_path / "list.txt"
    first = synthetic_small.keys[0]
    listing.write_text(f"{first}\nA/missing.jpg\n")
    out = facebench(
        "run", "--dataset", str(synthetic_small.root), "--list", str(listing), "--out", str(tmp_path)
    )
    assert out.returncode == 2 and "missing from" in out.stderr and "A/missing.jpg" in out.stderr
    listing.write_text(f"{first}\n../outside.jpg\n")
    out = facebench(
        "run", "--dataset", str(synthetic_small.root), "--list", str(listing), "--out", str(tmp_path)
    )
    assert out.returncode == 2 and "outside" in out.stderr
