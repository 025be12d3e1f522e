"""Kernels as a second axis: every built-in one deterministic across executors, declared in the
manifest, a kernel from outside the repository end to end, and quality measured across kernels."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from bench import tables
from bench.analysis.quality import QUALITY_COLUMNS, quality
from bench.run.runner import Run, RunConfig
from pipelines import kernels
from pipelines.kernels.hog import Hog0

EXAMPLE_KERNEL = Path(__file__).resolve().parents[1] / "docs" / "examples" / "upsample0.py"
CROP_SIDE = {"openface180": 180, "chip150": 150}


@pytest.mark.parametrize("name", list(kernels.BUILTIN))
def test_every_builtin_kernel_gives_the_same_bytes_under_every_executor(name, tmp_path):
    config = RunConfig(
        dataset="synthetic:4", executors=["sequential", "processes"], workers=[2], kernels=[name],
        out=str(tmp_path), warmup=False, progress=False, repeats=1,
    )  # fmt: skip
    result = Run(config, log=lambda _: None).execute()
    assert list(result.runs["executor"]) == ["sequential", "processes"]
    assert result.runs["identical"].all()
    tasks = result.tasks
    assert len(tasks) == 8 and set(tasks["status"]) <= {"ok", "no_face"} and tasks["error"].eq("").all()
    found = tasks[tasks["status"] == "ok"]
    assert len(found) >= 6  # the synthetic faces are drawn for HOG; every variant finds most of them
    declared = json.loads((result.run_dir / "manifest.json").read_text())["kernels"][name]
    assert declared["approximates"] == kernels.FAITHFUL and declared["models"]
    # what the tasks table records: the box, the eye centres and one point per declared point
    assert found[["box_x0", "box_y1", "eye_left_x", "eye_right_y"]].notna().all().all()
    assert (found["eye_left_x"] < found["eye_right_x"]).all()
    assert found["landmarks"].map(lambda t: len(json.loads(t))).eq(len(declared["points"])).all()
    crop = next((result.run_dir / "output").rglob("*.jpg")).read_bytes()
    side = CROP_SIDE[declared["output"]]
    assert cv2.imdecode(np.frombuffer(crop, np.uint8), cv2.IMREAD_COLOR).shape == (side, side, 3)


def test_a_kernel_from_outside_the_repository_runs_end_to_end(tmp_path):
    # The docs' example, copied outside the repository, given as module:name beside the faithful
    # kernel: verified under a second executor, recorded in the manifest, measured for quality.
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "upsample0.py").write_text(EXAMPLE_KERNEL.read_text())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(outside), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-m", "bench.cli", "run", "--dataset", "synthetic:6", "--executors",
         "sequential,processes", "--workers", "2", "--kernel", "optimized,upsample0:Upsample0",
         "--out", str(tmp_path / "runs"), "--no-progress", "--no-train", "--no-warmup", "--repeats", "1"],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    run_dir = Path(out.stdout.strip().splitlines()[-1])
    runs = pd.read_parquet(run_dir / "runs.parquet")
    mine = runs[runs["kernel"] == "upsample0"]
    assert len(mine) == 2 and mine["identical"].all()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["kernels"]["upsample0"]["cls"] == "upsample0:Upsample0"
    table = pd.read_parquet(run_dir / "quality.parquet").set_index("kernel")
    assert table.loc["upsample0", "images"] == 6


@pytest.fixture(scope="module")
def two_kernel_run(tmp_path_factory) -> Path:
    config = RunConfig(
        dataset="synthetic:8", executors=["sequential"], kernels=["hog0", "optimized"],
        out=str(tmp_path_factory.mktemp("quality")), warmup=False, progress=False, repeats=1,
    )  # fmt: skip
    return Run(config, log=lambda _: None).execute().run_dir


def test_a_run_with_two_kernels_writes_sane_quality(two_kernel_run):
    table = pd.read_parquet(two_kernel_run / "quality.parquet")
    assert list(table.columns) == QUALITY_COLUMNS
    table = table.set_index("kernel")
    assert set(table.index) == {"optimized", "hog0"} and (table["images"] == 8).all()
    faithful, hog0 = table.loc["optimized"], table.loc["hog0"]
    assert faithful["agreement"] == 1.0 and faithful["landmark_dev_p95"] == 0.0
    assert 0.0 <= hog0["agreement"] <= 1.0 and hog0["compared"] == "points 39,42,57"
    assert 0.0 <= hog0["landmark_dev_median"] <= hog0["landmark_dev_p95"] < 0.25
    # against where the generator drew the eyes: a few percent of the inter-ocular distance
    assert (table["truth_eye_dev_median"] < 0.1).all()


def test_each_kernel_keeps_its_own_reference_crops(two_kernel_run):
    # output/ for the run's first kernel (hog0 here), output-<kernel>/ for each other: never mixed
    tasks = pd.read_parquet(two_kernel_run / "tasks.parquet").query("status == 'ok'")
    for kernel, folder in (("hog0", "output"), ("optimized", "output-optimized")):
        assert tables.output_folder(two_kernel_run, kernel) == two_kernel_run / folder
        for row in tasks[tasks["kernel"] == kernel].itertuples():
            digest = hashlib.sha256((two_kernel_run / folder / row.key).read_bytes()).hexdigest()
            assert digest == row.output_sha256, (kernel, row.key)


def _tasks(kernel: str, points: list, eyes: list, status: str = "ok") -> dict:
    return {
        "executor": "sequential", "repeat": 0, "kernel": kernel, "key": "k", "status": status,
        "landmarks": json.dumps(points), "eye_left_x": eyes[0][0], "eye_left_y": eyes[0][1],
        "eye_right_x": eyes[1][0], "eye_right_y": eyes[1][1],
    }  # fmt: skip


def test_landmark_deviation_is_the_largest_shared_point_shift_over_the_interocular_distance():
    eyes = [(100.0, 100.0), (140.0, 100.0)]  # 40 px apart
    rows = [
        _tasks("optimized", [[110, 100], [130, 100], [120, 150]], eyes),
        _tasks("landmarks5", [[110, 104], [133, 100], [120, 130]], eyes),  # 39 moved 4 px, 42 3 px
        _tasks("eyes", [[0, 0]], [(100.0, 110.0), (140.0, 100.0)]),  # shares no point: eye centres
    ]
    manifest = {
        "kernels": {
            "optimized": {"approximates": "optimized", "points": [39, 42, 57]},
            "landmarks5": {"approximates": "optimized", "points": [39, 42, 33]},
            "eyes": {"approximates": "optimized", "points": [1]},
        }
    }
    truth = pd.DataFrame(
        [{"key": "k", "left_eye_x": 100.0, "left_eye_y": 100.0, "right_eye_x": 140.0, "right_eye_y": 108.0}]
    )
    table = quality(pd.DataFrame(rows), manifest, truth).set_index("kernel")
    assert table.loc["landmarks5", "compared"] == "points 39,42"
    assert table.loc["landmarks5", "landmark_dev_median"] == pytest.approx(4 / 40)
    assert table.loc["eyes", "compared"] == "eye centres"
    assert table.loc["eyes", "landmark_dev_median"] == pytest.approx(10 / 40)
    assert table.loc["optimized", "truth_eye_dev_median"] == pytest.approx(8 / np.hypot(40, 8))


class Pretender(Hog0):
    """Declares it reproduces the faithful kernel's bytes, but detects as hog0 does."""

    name = "pretender"
    reproduces = True


def test_a_kernel_that_reproduces_another_is_checked_against_its_reference_whatever_the_order(tmp_path):
    kernels_asked = ["naive", f"{__name__}:Pretender", "optimized"]
    config = RunConfig(
        dataset="synthetic:3", executors=["sequential"], kernels=kernels_asked, out=str(tmp_path),
        warmup=False, progress=False, repeats=1,
    )  # fmt: skip
    run = Run(config, log=lambda _: None)
    assert [c.kernel for c in run.cases()] == ["optimized", "naive", "pretender"]  # its reference first
    result = run.execute()
    runs = result.runs.set_index("kernel")
    assert runs.loc["naive", "identical"]
    assert runs.loc["naive", "output_digest"] == runs.loc["optimized", "output_digest"]
    assert not runs.loc["pretender", "identical"]  # checked against optimized's bytes, not its own
    naive = result.tasks.query("kernel == 'naive'")
    assert not naive["cold_start"].any()  # its load is per image (service time), not a cold start
