"""Cold and warm starts, measured apart (SeBS' vocabulary), the kernel under threads, and the tail."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from bench.analysis.utilisation import tail_idle_s
from bench.executors.chunking import chunk_sizes
from pipelines import kernels

FAITHFUL = kernels.get(kernels.FAITHFUL)


@pytest.fixture(scope="module")
def cold_warm_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("starts")
    done = subprocess.run(
        [sys.executable, "-m", "bench.cli", "run", "--dataset", "synthetic:8",
         "--executors", "sequential,processes,dask,lithops", "--workers", "2", "--start", "cold,warm",
         "--out", str(out), "--no-progress", "--no-train", "--repeats", "1"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "lithops cannot start warm" in done.stdout  # said, not pretended
    return Path(done.stdout.strip().splitlines()[-1])


def test_warm_cases_load_no_model_inside_the_clock_and_cold_ones_one_per_worker(cold_warm_run):
    runs = pd.read_parquet(cold_warm_run / "runs.parquet")
    tasks = pd.read_parquet(cold_warm_run / "tasks.parquet")
    warm = runs[runs["start"] == "warm"]
    assert set(warm["executor"]) == {"sequential", "processes", "dask"}  # lithops cannot
    assert (warm["cold_starts"] == 0).all() and warm["identical"].all()
    cold = runs[runs["start"] == "cold"]
    for _, row in cold.iterrows():
        mine = tasks[(tasks["case_id"] == row["case_id"]) & (tasks["repeat"] == row["repeat"])]
        # one model load per worker process that ran images, inside the clock
        assert row["cold_starts"] == mine["pid"].nunique() >= 1, row["case_id"]
    assert (tasks.loc[tasks["start"] == "warm", "model_load_s"] == 0).all()
    # a warm case's speedup is over the warm sequential case, a cold one's over the cold one
    seq = runs[runs["executor"] == "sequential"].groupby("start")["wall_s"].median()
    for _, row in runs[runs["executor"] == "processes"].iterrows():
        mine = runs.loc[runs["case_id"] == row["case_id"], "wall_s"].median()
        assert row["speedup"] == pytest.approx(seq[row["start"]] / mine)
    manifest = json.loads((cold_warm_run / "manifest.json").read_text())
    assert any("lithops cannot start warm" in n for n in manifest.get("notes", []))


def test_warm_processes_share_the_model_pages(cold_warm_run):
    runs = pd.read_parquet(cold_warm_run / "runs.parquet").set_index("case_id")
    warm = runs.loc[runs.index.str.startswith("processes") & (runs["start"] == "warm"), "worker_pss_mb"]
    cold = runs.loc[runs.index.str.startswith("processes") & (runs["start"] == "cold"), "worker_pss_mb"]
    # forked after the load, the workers share the ~100 MB predictor copy-on-write: each pays less
    assert warm.median() < cold.median()


def test_the_kernel_gives_the_same_bytes_from_many_threads(synthetic_small):
    # dlib's detector and predictor are not safe to share between threads; each image leases its own
    images = [(synthetic_small.root / k).read_bytes() for k in synthetic_small.keys[:8]]

    def digest(data: bytes) -> str:
        result = FAITHFUL.process(data)
        return result.status + hashlib.sha256(result.crop or b"").hexdigest()

    expected = [digest(d) for d in images]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            assert list(pool.map(digest, images)) == expected
    assert FAITHFUL.loaded() <= 4 + 1  # at most one set of models per thread, plus the caller's


def test_unload_makes_every_thread_pay_a_load_again():
    FAITHFUL.preload(2)
    assert FAITHFUL.loaded() >= 2
    FAITHFUL.unload()
    assert FAITHFUL.loaded() == 0


def test_guided_chunks_shrink_at_the_tail_and_cover_every_image():
    sizes = chunk_sizes(240, 30, 2, guided=True)
    assert sum(sizes) == 240 and max(sizes) == 30 and sizes[-1] == 1
    assert sizes == sorted(sizes, reverse=True)
    assert chunk_sizes(10, 3, 2, guided=False) == [3, 3, 3, 1]


def test_tail_idle_counts_the_worker_seconds_spent_waiting_for_the_last_chunk():
    tasks = pd.DataFrame(
        {
            "worker": ["a", "a", "b"],
            "t_submit": [0.0, 0.0, 0.0],
            "t_start": [0.0, 1.0, 0.0],
            "t_end": [1.0, 2.0, 5.0],
        }
    )
    assert tail_idle_s(tasks, workers=2) == pytest.approx(3.0)  # a waited from 2 to 5
    assert tail_idle_s(tasks, workers=3) == pytest.approx(3.0 + 5.0)  # a third slot never ran


@pytest.mark.parametrize("name", ["sequential", "processes", "dask"])
def test_a_warm_executor_has_the_models_in_every_worker_before_the_first_image(
    name, synthetic_small, tmp_path
):
    from functools import partial

    from bench.executors import executor_class
    from bench.run.task import CaseContext, Chunk, preload_models, run_chunk
    from bench.stores.local import LocalStore

    FAITHFUL.unload()  # the client starts cold: nothing to inherit but what warm_load loads
    workers = 1 if name == "sequential" else 2
    executor = executor_class(name)(workers)
    executor.warm_load = partial(preload_models, kernels.FAITHFUL)
    ctx = CaseContext(LocalStore(synthetic_small.root), LocalStore(tmp_path))
    chunks = [Chunk(i, (k,), 0.0) for i, k in enumerate(synthetic_small.keys[:4])]
    with executor:
        results = [r for _, r in executor.map_unordered(partial(run_chunk, ctx=ctx), chunks)]
    records = [rec for chunk in results for rec in chunk]
    assert len(records) == 4 and not any(rec["cold_start"] for rec in records)
    FAITHFUL.unload()


def test_only_a_chunk_size_the_harness_chose_is_guided(tmp_path):
    from bench.run.runner import Run, RunConfig

    def cases(chunks):
        config = RunConfig(dataset="synthetic:8", executors=["processes", "lithops"], workers=[2],
                           chunk_sizes=chunks, out=str(tmp_path), progress=False)  # fmt: skip
        run = Run(config, log=lambda _: None)
        return {(c.executor, c.chunk_size): run.guided(c) for c in run.cases()}

    # processes' default at 8 images and 2 workers is 1 image a chunk; asked for explicitly, it is kept
    assert cases([None])[("processes", 1)] is True
    assert cases([1])[("processes", 1)] is False
    assert cases([None])[("lithops", 4)] is False  # a fresh process per call: never more calls
