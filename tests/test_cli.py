"""The command line as a user meets it: the summary, the run folder last, one-line errors with status 2."""

from __future__ import annotations

import subprocess
import sys
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
        "--out", str(tmp_path), "--no-progress",
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
        "--dask-scheduler", dask_scheduler, "--out", str(tmp_path), "--no-progress",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    run_dir = Path(out.stdout.strip().splitlines()[-1])
    tasks = pd.read_parquet(run_dir / "tasks.parquet")
    dask_rows = tasks.query("executor == 'dask'")
    assert (dask_rows["backend"] == dask_scheduler).all()
    assert dask_rows["pid"].nunique() == 2  # both worker processes took chunks
    assert pd.read_parquet(run_dir / "runs.parquet")["identical"].all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--executors", "spark"], "unknown executor 'spark'"),
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
