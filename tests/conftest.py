"""Shared resources for the tests: data locations, small datasets, clusters. Each starts what it needs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXECUTORS = ["sequential", "processes", "dask", "lithops"]


def shared_data() -> Path | None:
    """Real LFW photos: $FACEBENCH_DATA or ../shared/data beside the repository; None when absent."""
    for candidate in (os.environ.get("FACEBENCH_DATA"), ROOT.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "lfw").is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def lfw_data() -> Path:
    data = shared_data()
    if data is None:
        pytest.skip("real LFW photos not found (set FACEBENCH_DATA or provide ../shared/data)")
    return data


@pytest.fixture(scope="session", autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Generated datasets go to a per-session cache, never the user's home."""
    os.environ.setdefault("FACEBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def synthetic_small():
    from pipelines.datasets import load_dataset

    return load_dataset("synthetic:16")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def dask_scheduler(tmp_path_factory: pytest.TempPathFactory):
    """A real Dask cluster on loopback: `dask scheduler` and two `dask worker` processes."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    bindir = Path(sys.executable).parent
    logs = tmp_path_factory.mktemp("dask")
    common = {"cwd": logs, "stderr": subprocess.STDOUT}
    procs = [
        subprocess.Popen(
            [bindir / "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=open(logs / "scheduler.log", "w"),  # noqa: SIM115 - the process owns it
            **common,
        )
    ]
    for i in range(2):
        procs.append(
            subprocess.Popen(
                [bindir / "dask", "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard"],
                stdout=open(logs / f"worker{i}.log", "w"),  # noqa: SIM115
                **common,
            )
        )
    try:
        from distributed import Client

        deadline = time.time() + 60
        with Client(address, timeout="30s") as client:
            while len(client.scheduler_info()["workers"]) < 2:
                if time.time() > deadline:
                    pytest.fail("the two dask workers did not join the scheduler within 60 s")
                time.sleep(0.2)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
