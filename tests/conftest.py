"""Shared resources for the tests: data locations, small datasets, clusters. Each starts what it needs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXECUTORS = ["sequential", "processes", "dask", "lithops"]
NO_PHOTOS = "the LFW photos are absent (set FACEBENCH_DATA or provide ../shared/data)"


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
        pytest.skip(f"real-data test not run: {NO_PHOTOS}")
    return data


@pytest.fixture(scope="session", autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Generated datasets go to a per-session cache, never the user's home."""
    os.environ.setdefault("FACEBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def synthetic_small():
    from pipelines.datasets import load_dataset

    return load_dataset("synthetic:16")


#: Every service the tests start listens here only, never on all interfaces (test_loopback.py).
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


@contextmanager
def dask_cluster(logs: Path, workers: int, threads: int) -> Iterator[tuple[str, list[subprocess.Popen]]]:
    """A real Dask cluster on loopback: `dask scheduler` and `workers` `dask worker` processes of
    `threads` threads each (each under its nanny, which restarts a worker that dies)."""
    port = free_port()
    address = f"tcp://{LOOPBACK}:{port}"
    bindir = Path(sys.executable).parent
    common = {"cwd": logs, "stderr": subprocess.STDOUT}
    procs = [
        subprocess.Popen(
            # --no-dashboard still binds 0.0.0.0:8787; a dashboard on a free loopback port binds nothing else
            [bindir / "dask", "scheduler", "--host", LOOPBACK, "--port", str(port)]
            + ["--dashboard-address", f"{LOOPBACK}:0"],
            stdout=open(logs / "scheduler.log", "w"),  # noqa: SIM115 - the process owns it
            **common,
        )
    ]
    for i in range(workers):
        procs.append(
            subprocess.Popen(
                [
                    bindir / "dask",
                    "worker",
                    address,
                    "--nthreads",
                    str(threads),
                    "--nworkers",
                    "1",
                    "--host",
                    LOOPBACK,
                    "--dashboard-address",  # --no-dashboard still binds one on 0.0.0.0
                    f"{LOOPBACK}:0",
                ],
                stdout=open(logs / f"worker{i}.log", "w"),  # noqa: SIM115
                **common,
            )
        )
    try:
        from distributed import Client

        deadline = time.time() + 60
        with Client(address, timeout="30s") as client:
            while len(client.scheduler_info()["workers"]) < workers:
                if time.time() > deadline:
                    pytest.fail(f"the {workers} dask worker(s) did not join the scheduler within 60 s")
                time.sleep(0.2)
        yield address, procs[1:]
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def dask_scheduler(tmp_path_factory: pytest.TempPathFactory):
    """Two single-threaded `dask worker` processes."""
    with dask_cluster(tmp_path_factory.mktemp("dask"), workers=2, threads=1) as (address, _):
        yield address


@pytest.fixture
def dask_threaded_cluster(tmp_path_factory: pytest.TempPathFactory):
    """One `dask worker` with 4 threads, `dask worker`'s usual shape; yields (address, nanny process)."""
    with dask_cluster(tmp_path_factory.mktemp("dask4"), workers=1, threads=4) as (address, procs):
        yield address, procs[0]


CREDENTIAL_VARS = (
    "COS_HMAC_ACCESS_KEY_ID",
    "COS_HMAC_SECRET_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "IBM_API_KEY_ID",
    "IBM_SERVICE_INSTANCE_ID",
    "IBM_AUTH_ENDPOINT",
    "FACEBENCH_S3_CREDENTIALS",
    "FACEBENCH_S3_PROFILE",
    "FACEBENCH_S3_SHIP_CREDENTIALS",
)
#: The bucket the session's endpoint holds for tests, beside the embedded default "facebench".
TEST_BUCKET = "fb-test"


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    """An embedded S3 endpoint (moto on loopback, in a child process) for the whole session."""
    from bench.stores.embedded import DEFAULT_BUCKET, EmbeddedS3

    with EmbeddedS3(buckets=(DEFAULT_BUCKET, TEST_BUCKET)) as server:
        yield server.endpoint


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No object-storage credentials in the environment, whatever the machine has."""
    for name in CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def planted_secret(monkeypatch: pytest.MonkeyPatch, no_credentials) -> str:
    """HMAC keys in the environment with a recognisable secret, to grep for in whatever a run writes."""
    import secrets

    secret = "FBSECRET" + secrets.token_hex(12)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "FBTESTKEYID")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    return secret


# --- Figures, report, compare and notebooks ------------------------------------------------------------

os.environ.setdefault("MPLBACKEND", "Agg")  # headless figures, whatever the machine's default


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small real run folder shared by the report, compare and notebook tests (about 10 s).

    8 synthetic images; sequential, and processes at 1 and 2 workers; 2 repeats. Treat it as read-only:
    a test that alters a table works on a copy (``copy_run``).
    """
    from bench.run.runner import Run, RunConfig

    config = RunConfig(
        dataset="synthetic:8",
        executors=["sequential", "processes"],
        workers=[1, 2],
        repeats=2,
        out=str(tmp_path_factory.mktemp("small-run")),
        progress=False,
    )
    return Run(config, log=lambda _: None).execute().run_dir


def copy_run(run: Path, to: Path) -> Path:
    """A run folder's tables and manifest (not its images) in a new folder, for tests that alter them."""
    import shutil

    to.mkdir(parents=True, exist_ok=True)
    for name in ("tasks.parquet", "runs.parquet", "manifest.json"):
        shutil.copy2(run / name, to / name)
    return to


# --- Every image exactly once, from the workers' own records --------------------------------------------


def assert_every_image_once(tasks, keys, client_pid: int | None = None) -> None:
    """One record per key in every case and repeat, and each record of an image a worker handled is
    that worker's own: a real pid, the chunk that held the key, one process per chunk, the chunk's
    images contiguous in key order (chunks are cut that way) and run one after another.

    The runner pads a key that never came back with an error record (chunk_id -1, no pid), so a key
    count alone holds by construction; these checks do not. Error records made by the client for a
    chunk that failed as a whole (no pid) must say so. ``client_pid``: the in-process sequential
    case must have run there and every other case elsewhere.
    """
    order = {key: i for i, key in enumerate(keys)}
    for (case, repeat), rows in tasks.groupby(["case_id", "repeat"]):
        where = f"{case} r{repeat}"
        assert sorted(rows["key"]) == sorted(keys), f"{where} lost or repeated images"
        assert (rows["chunk_id"] >= 0).all(), f"{where}: a record the runner padded in (no worker sent it)"
        unworked = rows[rows["pid"].isna()]
        assert (unworked["status"] == "error").all(), where
        assert unworked["error"].str.startswith("chunk failed").all(), where
        worked = rows[rows["pid"].notna()].assign(pos=lambda df: df["key"].map(order)).sort_values("pos")
        for chunk_id, chunk in worked.groupby("chunk_id"):
            assert chunk["pid"].nunique() == 1, f"{where} chunk {chunk_id}: records from several processes"
            assert list(chunk["pos"]) == list(range(chunk["pos"].min(), chunk["pos"].max() + 1)), where
            assert (chunk["t_start"].to_numpy()[1:] >= chunk["t_end"].to_numpy()[:-1] - 1e-6).all(), where
        firsts = rows.assign(pos=rows["key"].map(order)).groupby("chunk_id")["pos"].min()
        assert firsts.is_monotonic_increasing, f"{where}: chunk ids do not follow the cut"
        if client_pid is not None:
            in_client = worked["pid"] == client_pid
            sequential = worked["executor"] == "sequential"
            assert (in_client == sequential).all(), f"{where}: ran in the wrong process"


# --- Asked for slow tests, ran none: a failure, or said plainly ---------------------------------------

_CALLED: list[str] = []  # tests whose body ran to the end (passed or failed, not skipped), this session


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and not report.skipped:
        _CALLED.append(report.nodeid)


def _asked(session: pytest.Session) -> list[str]:
    expr = session.config.getoption("markexpr") or ""
    return [m for m in ("slow", "lfw") if m in expr and f"not {m}" not in expr]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """What a green `-m slow` (or `-m lfw`) means. With the LFW photos here: the slow checks ran, since
    a session that ran none of them (none selected, or every one skipped) fails. Without the photos:
    nothing was checked on real data; every real-data test is skipped, the session exits 0 as any run
    without the photos does, and its last line says that no slow check ran and why."""
    asked = _asked(session)
    if not asked or _CALLED or exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if shared_data() is None:
        if reporter is not None:
            reporter.write_line(
                f"-m {'/'.join(asked)}: no slow check ran: {NO_PHOTOS}; this green run checked nothing "
                "on real data",
                yellow=True,
            )
        return
    if reporter is not None:
        reporter.write_line(f"-m {'/'.join(asked)} asked for {'/'.join(asked)} tests and none ran", red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
