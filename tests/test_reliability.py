"""Reliability: awkward inputs, killed workers, hung images, interrupted runs, storage faults, secrets.

Every test checks the same promise: each input image is accounted for exactly once in every case,
with a status that says what happened to it. Faults are real: workers are killed with SIGKILL, the
client with SIGTERM or SIGKILL, the object store answers 503s and resets connections. Hangs and
pauses are injected through FACEBENCH_INJECT_FAULTS (bench/faults.py), which only tests set.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import EXECUTORS, assert_every_image_once
from corpus import EXPECTED, build, face, two_faces

from bench import tables
from bench.errors import UserError
from bench.run import faults, suites
from bench.run.runner import Run, RunConfig, output_digest
from bench.run.task import CaseContext, Chunk, run_chunk
from bench.stores import retry
from bench.stores.local import LocalStore
from pipelines import kernels
from pipelines.datasets import load_dataset

POOLS = ["processes", "dask", "lithops"]  # executors whose workers are processes that can be killed
N = 8
KEY_INDEX = 3  # the image a fault is injected on: the second of chunk 1 (chunks of 2)


def quiet(_: str) -> None:
    pass


def run(tmp_path: Path, **options) -> Run:
    config = {"dataset": f"synthetic:{N}", "workers": [2], "chunk_sizes": [2], "progress": False}
    config["repeats"] = 1  # one round: the faults are what is measured
    config["warmup"] = False  # warm-ups never see injected faults; here they would only cost time
    config.update(options)
    return Run(RunConfig(out=str(tmp_path / "runs"), **config), log=quiet)


def facebench(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True, timeout=300, env=env
    )


def the_run_dir(out: Path) -> Path:
    (run_dir,) = [p for p in out.iterdir() if (p / "manifest.json").is_file()]
    return run_dir


@pytest.fixture(scope="module")
def keys() -> tuple[str, ...]:
    return load_dataset(f"synthetic:{N}").keys


@pytest.fixture
def inject(monkeypatch, tmp_path):
    """Set FACEBENCH_INJECT_FAULTS for this test: inject({key: action}) -> the folder of pid files."""

    def setup(actions: dict[str, str]) -> Path:
        folder = tmp_path / "faults"
        folder.mkdir(exist_ok=True)
        monkeypatch.setenv(faults.INJECT_VAR, json.dumps({"dir": str(folder), "keys": actions}))
        return folder

    return setup


class Killer:
    """Kills (SIGKILL) every worker that announces a pause in ``folder``, once each."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.killed, self._stop = folder, [], threading.Event()
        self._seen: set[Path] = set()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for path in self.folder.glob("pause-*.pid"):
                text = path.read_text() if path not in self._seen else ""
                if text:
                    pid = int(text)
                    assert pid != os.getpid(), "a pause in the client would kill the test"
                    os.kill(pid, signal.SIGKILL)
                    self._seen.add(path)
                    self.killed.append(pid)
            time.sleep(0.05)

    def __enter__(self) -> Killer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- bad inputs -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("corpus") / "Awkward corpus")


@pytest.fixture(scope="module")
def corpus_run(corpus, tmp_path_factory):
    config = RunConfig(
        dataset=str(corpus),
        executors=EXECUTORS,
        workers=[2],
        repeats=1,
        out=str(tmp_path_factory.mktemp("r")),
    )
    config.progress = config.warmup = False
    return Run(config, log=quiet).execute()


@pytest.mark.parametrize("executor", EXECUTORS)
def test_every_awkward_input_gets_its_status_under_every_executor(corpus, corpus_run, executor):
    tasks = corpus_run.tasks.query("executor == @executor")
    keys = load_dataset(str(corpus)).keys  # in the order the chunks were cut
    assert sorted(keys) == sorted(EXPECTED)
    assert_every_image_once(tasks, keys, client_pid=os.getpid())
    for row in tasks.itertuples():
        status, reason = EXPECTED[row.key]
        assert (row.status, reason in row.error) == (status, True), (row.key, row.status, row.error)
    (case,) = corpus_run.runs.query("executor == @executor").itertuples()
    assert case.identical and case.retries == 0
    assert case.ok == sum(status == "ok" for status, _ in EXPECTED.values())
    assert case.peak_rss_mb < 1500  # the bomb and the 48-megapixel JPEG were refused from their headers


def test_the_cli_counts_statuses_and_exits_0(corpus, tmp_path):
    out = facebench("run", "--dataset", str(corpus), "--executors", "sequential", "--out", str(tmp_path),
                    "--no-progress", "--no-warmup", "--repeats", "1")  # fmt: skip
    assert out.returncode == 0, out.stderr
    counts = {s: sum(v[0] == s for v in EXPECTED.values()) for s in ("bad_input", "no_face", "ok")}
    assert f"statuses over all cases: {counts}" in out.stdout
    assert "Traceback" not in out.stderr
    # the bad files named on stderr, each with its reason: the first five in key order, then a count
    bad = sorted(k for k, (status, _) in EXPECTED.items() if status == "bad_input")
    (line,) = [li for li in out.stderr.splitlines() if "bad_input" in li]
    assert line.startswith(f"facebench: {len(bad)} image(s) could not be read as images (bad_input): ")
    for key in bad[:5]:
        assert f"{key} (" in line and EXPECTED[key][1] in line
    assert bad[5] not in line and line.endswith(
        f"and {len(bad) - 5} more (status bad_input in tasks.parquet)"
    )


def test_bad_inputs_are_counted_once_per_image_not_per_case():
    from bench.run.runner import RunResult

    rows = [
        {"case_id": case, "key": key, "status": status, "error": reason}
        for case in ("sequential-optimized-w1-c3", "processes-optimized-w2-c1")
        for key, status, reason in [
            ("A/a.jpg", "bad_input", "truncated JPEG"),
            ("B/b.jpg", "ok", None),
            ("C/c.jpg", "bad_input", "not a decodable image\nmore detail"),
        ]
    ]
    result = RunResult(Path("."), pd.DataFrame(rows), pd.DataFrame())
    assert result.bad_inputs() == (
        "2 image(s) could not be read as images (bad_input): A/a.jpg (truncated JPEG); "
        "C/c.jpg (not a decodable image)"
    )
    assert RunResult(Path("."), pd.DataFrame(rows[1:2]), pd.DataFrame()).bad_inputs() is None


def test_odd_but_valid_formats_align_like_the_original():
    """PNG, BMP, grey, CMYK, 16-bit, RGBA and EXIF-rotated copies of one face: same face found."""
    from corpus import files

    data = files()
    reference = kernels.process(data["Formats/face.png"])
    for key in [k for k in EXPECTED if k.startswith("Formats/")]:
        result = kernels.process(data[key])
        assert result.status == "ok" and result.box == reference.box, key
    for key in ("Bad/truncated.jpg", "Formats/face_cmyk.jpg", "Formats/face_exif_rotated.jpg"):
        optimized, naive = kernels.process(data[key]), kernels.process(data[key], "naive")
        assert (optimized.status, optimized.crop) == (naive.status, naive.crop), key


def test_the_largest_of_several_faces_is_taken():
    result = kernels.process(cv2_jpeg(two_faces()))
    alone = kernels.process(cv2_jpeg(face(0)))
    assert result.status == "ok" and result.box == alone.box  # the big face on the left
    assert result.box[2] < 250


def cv2_jpeg(image) -> bytes:
    import cv2

    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()


def test_empty_dataset_and_a_folder_of_non_images_exit_2(tmp_path):
    (tmp_path / "empty" / "Person").mkdir(parents=True)
    (tmp_path / "empty" / "Person" / "notes.txt").write_text("not an image")
    out = facebench("run", "--dataset", str(tmp_path / "empty"), "--out", str(tmp_path), "--no-progress")
    assert out.returncode == 2 and "holds no images" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


# --- killed workers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("executor", POOLS)
def test_a_killed_worker_loses_no_image(executor, keys, inject, tmp_path):
    folder = inject({keys[KEY_INDEX]: "pause"})
    with Killer(folder) as killer:
        result = run(tmp_path, executors=[executor]).execute()
    assert len(killer.killed) == 1
    assert_every_image_once(result.tasks, keys, client_pid=os.getpid())
    mine = result.tasks.query("executor == @executor")
    assert (mine["status"] == "ok").all()
    assert killer.killed[0] not in set(mine["pid"])  # the lost chunk's records came from elsewhere
    (case,) = result.runs.query("executor == @executor").itertuples()
    assert case.retries >= 1 and case.identical


def test_retries_exhausted_mark_only_the_lost_chunk(keys, inject, tmp_path):
    """A worker that dies on one image every time: after one retry, its chunk's images are errors."""
    inject({keys[KEY_INDEX]: "die"})
    result = run(tmp_path, executors=POOLS, retries=1).execute()
    assert_every_image_once(result.tasks, keys, client_pid=os.getpid())
    lost_chunk = {keys[KEY_INDEX - 1], keys[KEY_INDEX]}
    for executor in POOLS:
        mine = result.tasks.query("executor == @executor")
        errors = mine[mine["status"] == "error"]
        assert set(errors["key"]) == lost_chunk, executor
        assert errors["error"].str.contains("worker lost, 2 attempts").all()
        assert (mine.loc[~mine["key"].isin(lost_chunk), "status"] == "ok").all()
        assert result.runs.set_index("executor").loc[executor, "retries"] >= 1


# --- hung images ----------------------------------------------------------------------------------------


def test_a_hung_image_is_cut_off_under_every_executor(keys, inject, tmp_path):
    inject({keys[KEY_INDEX]: "hang"})
    start = time.monotonic()
    result = run(tmp_path, executors=EXECUTORS, task_timeout=2.0).execute()
    assert time.monotonic() - start < 120
    assert_every_image_once(result.tasks, keys, client_pid=os.getpid())
    for executor in EXECUTORS:
        mine = result.tasks.query("executor == @executor").set_index("key")
        assert mine.loc[keys[KEY_INDEX], "status"] == "error"
        assert mine.loc[keys[KEY_INDEX], "error"] == "timed out after 2 s"
        assert (mine.drop(index=keys[KEY_INDEX])["status"] == "ok").all(), executor
    assert result.runs["identical"].all() and (result.runs["retries"] == 0).all()


def test_an_image_that_ignores_the_cut_off_costs_its_worker_not_the_run(keys, inject, tmp_path):
    """Stuck where no exception reaches it (as in C code): the watchdog ends the worker process."""
    inject({keys[KEY_INDEX]: "hang_hard"})
    result = run(tmp_path, executors=["processes"], task_timeout=1.0, retries=0).execute()
    assert_every_image_once(result.tasks, keys, client_pid=os.getpid())
    mine = result.tasks.query("executor == 'processes'").set_index("key")
    assert set(mine.index[mine["status"] == "error"]) == {keys[KEY_INDEX - 1], keys[KEY_INDEX]}
    assert mine.loc[keys[KEY_INDEX], "error"].startswith("chunk failed: ChunkLost: worker lost")
    reference = result.tasks.query("executor == 'sequential'").set_index("key")
    assert reference.loc[keys[KEY_INDEX], "error"] == "timed out after 1 s"  # the client is never ended


def test_watchdog_cuts_off_a_thread_that_is_not_the_main_one():
    """Dask runs chunks in worker threads: there the cut-off is an asynchronous exception."""
    outcome: list[str] = []

    def work() -> None:
        with faults.Watchdog(0.3) as watchdog:
            try:
                with watchdog.image():
                    for _ in range(300):
                        time.sleep(0.01)
                outcome.append("not cut off")
            except faults.TaskTimeout:
                outcome.append("cut off")
            with watchdog.image():
                time.sleep(0.05)
            outcome.append("next image fine")
        time.sleep(0.5)
        outcome.append("nothing raised later")

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(10)
    assert outcome == ["cut off", "next image fine", "nothing raised later"]


# --- interrupted runs -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def folder8(tmp_path_factory, keys) -> Path:
    """synthetic:8 as a plain folder (a folder dataset, so the CLI does nothing after the run)."""
    source = load_dataset(f"synthetic:{N}").root
    dest = tmp_path_factory.mktemp("folder8") / "faces"
    for key in keys:
        (dest / key).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / key, dest / key)
    return dest


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_an_interrupted_run_resumes_to_the_same_tables(sig, folder8, keys, tmp_path):
    pauses = tmp_path / "pauses"
    pauses.mkdir()
    env = dict(os.environ)
    env[faults.INJECT_VAR] = json.dumps({"dir": str(pauses), "keys": {keys[KEY_INDEX]: "pause"}})
    args = ["run", "--dataset", str(folder8), "--executors", "sequential,processes", "--workers", "1,2",
            "--chunk-size", "2", "--out", str(tmp_path / "runs"), "--no-progress", "--no-warmup",
            "--repeats", "1"]  # fmt: skip
    # Output to files, not pipes: a worker orphaned by SIGKILL would hold a pipe open.
    with open(tmp_path / "stdout", "w") as stdout, open(tmp_path / "stderr", "w") as stderr:
        client = subprocess.Popen([sys.executable, "-m", "bench.cli", *args], env=env, stdout=stdout,
                                  stderr=stderr)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not any(pauses.glob("pause-*.pid")):  # the first case is on disk, a worker holds the second
            assert client.poll() is None and time.monotonic() < deadline, (tmp_path / "stderr").read_text()
            time.sleep(0.1)
        run_dir = the_run_dir(tmp_path / "runs")
        assert len(pd.read_parquet(run_dir / "runs.parquet")) == 1
        client.send_signal(sig)
        client.wait(timeout=60)
    finally:
        client.kill()
        for path in pauses.glob("pause-*.pid"):  # the paused worker, if the client left it behind
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(path.read_text()), signal.SIGKILL)
    stderr = (tmp_path / "stderr").read_text()
    if sig == signal.SIGTERM:
        assert client.returncode == 143
        assert stderr.strip().splitlines()[-1] == (
            f"facebench: interrupted; finished cases are in the run folder; "
            f"finish it with: facebench run --resume {run_dir}"
        )
        assert "Traceback" not in stderr
    else:
        assert client.returncode == -signal.SIGKILL
    tasks, runs, manifest = tables.read_run(run_dir)  # whole files: written atomically
    assert list(runs["case_id"]) == ["sequential-optimized-w1-c2"] and len(tasks) == N
    assert manifest["ended_at"] is None

    out = facebench("run", "--resume", str(run_dir), "--no-progress")
    assert out.returncode == 0, out.stderr
    assert "resuming run" in out.stdout and "2 to run" in out.stdout
    tasks, runs, manifest = tables.read_run(run_dir)
    assert list(runs["case_id"]) == [
        "sequential-optimized-w1-c2",
        "processes-optimized-w1-c2",
        "processes-optimized-w2-c2",
    ]
    assert_every_image_once(tasks, keys)
    ctx = CaseContext(LocalStore(folder8), LocalStore(tmp_path / "again"))
    recs = run_chunk(Chunk(0, keys, 0.0), ctx)  # the same images, uninterrupted
    digest = output_digest([r["key"] for r in recs], [r["status"] for r in recs],
                           [r["output_sha256"] for r in recs])  # fmt: skip
    assert set(runs["output_digest"]) == {digest} and runs["identical"].all()
    assert manifest["ended_at"] and manifest["resumed"][0]["cases_done"] == 1
    assert (run_dir / "output" / keys[0]).is_file() and not (run_dir / "scratch").exists()
    again = facebench("run", "--resume", str(run_dir), "--no-progress")
    assert again.returncode == 0 and "nothing to resume" in again.stdout


def test_resume_refuses_a_folder_that_is_not_a_run(tmp_path):
    out = facebench("run", "--resume", str(tmp_path), "--no-progress")
    assert out.returncode == 2 and "not a run folder" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


# --- storage faults ---------------------------------------------------------------------------------------


def test_with_retries_backs_off_with_jitter_then_gives_up():
    calls, delays = [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionResetError("reset by peer")
        return "ok"

    before = retry.count()
    out = retry.with_retries(flaky, 4, 0.1, lambda n, exc, d: delays.append(d), sleep=lambda _: None)
    assert out == "ok" and len(calls) == 3 and retry.count() - before == 2
    assert 0 <= delays[0] <= 0.1 and 0 <= delays[1] <= 0.2
    with pytest.raises(TimeoutError):
        retry.with_retries(lambda: (_ for _ in ()).throw(TimeoutError("slow")), 3, 0.0, sleep=lambda _: None)
    calls.clear()
    with pytest.raises(FileNotFoundError):  # not transient: no retry
        retry.with_retries(lambda: calls.append(1) or Path("/no/such").read_bytes(), 5, 0.0, sleep=print)
    assert len(calls) == 1


class FaultyS3:
    """moto's S3 behind a middleware that fails every ``every``-th object request: 503, 500 or a
    reset connection in turn; ``every`` 1 is a store that is down."""

    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from werkzeug.serving import make_server

        from bench.stores import embedded as s3server

        self.app, self.every, self.requests, self.failed = s3server.make_app(), 0, 0, 0
        self.lock = threading.Lock()
        self.server = make_server("127.0.0.1", 0, self, threaded=True, request_handler=MotoRequestHandler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        s3server.create_buckets(self.endpoint, ["facebench"])

    def __call__(self, environ: dict, start_response):
        is_object = environ["REQUEST_METHOD"] in ("GET", "PUT") and environ["PATH_INFO"].count("/") >= 3
        with self.lock:
            self.requests += is_object
            fail = is_object and self.every and self.requests % self.every == 0
            self.failed += bool(fail)
            kind = self.failed % 3
        if not fail:
            return self.app(environ, start_response)
        if kind == 0 and "werkzeug.socket" in environ:
            environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)  # connection reset mid-request
            return []
        status = "503 Service Unavailable" if kind == 1 else "500 Internal Server Error"
        body = f"<Error><Code>{status[:3]}</Code><Message>injected</Message></Error>".encode()
        start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
        return [body]

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module")
def faulty_s3():
    server = FaultyS3()
    yield server
    server.close()


@pytest.fixture
def s3_dataset(faulty_s3, monkeypatch, keys):
    """synthetic:8 staged to the faulty endpoint under a fresh prefix, with planted credentials."""
    from bench.stores import open_store
    from bench.stores.staging import stage_dataset

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFACEBENCHTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    prefix = f"data-{time.monotonic_ns()}"
    faulty_s3.every = 0
    stage_dataset(load_dataset(f"synthetic:{N}"), open_store(f"s3://facebench/{prefix}", faulty_s3.endpoint),
                  progress=False, log=quiet)  # fmt: skip
    return f"s3://facebench/{prefix}"


SECRET = "fbSECRET-4f1c9a7e2b6d4c0e9a8b7c6d5e4f3a2b"


def test_a_flaky_store_costs_retries_not_images(faulty_s3, s3_dataset, keys, tmp_path):
    faulty_s3.every = 4  # a quarter of object requests fail: 503, 500, reset
    failed0 = faulty_s3.failed
    result = run(tmp_path, executors=["sequential", "processes"], store=s3_dataset,
                 endpoint=faulty_s3.endpoint).execute()  # fmt: skip
    assert faulty_s3.failed - failed0 >= 4
    assert_every_image_once(result.tasks, keys, client_pid=os.getpid())
    assert (result.tasks["status"] == "ok").all() and result.runs["identical"].all()
    assert 1 <= result.runs["store_retries"].sum() <= faulty_s3.failed - failed0  # recorded per image


def test_a_store_that_stays_down_fails_the_run_with_one_message(faulty_s3, s3_dataset, tmp_path, monkeypatch):
    from bench.stores import s3 as storage
    from bench.stores.s3 import CosStore

    real = CosStore._make_client
    monkeypatch.setattr(storage, "_CLIENTS", {})  # no client cached with more attempts
    monkeypatch.setattr(CosStore, "_make_client", lambda self, creds, **kw: real(self, creds, attempts=1))
    the_run = run(tmp_path, executors=["sequential"], store=s3_dataset, endpoint=faulty_s3.endpoint)
    # attempts=1: botocore tries twice per request, at most 1 s apart
    faulty_s3.every = 1  # down after the up-front check
    requests0 = faulty_s3.requests
    with pytest.raises(UserError) as info:
        the_run.execute()
    message = str(info.value)
    assert "failed for every image of the case" in message
    # it failed in the first case: nothing finished, so no run folder is left behind to point at
    assert "Finished cases are in" not in message and not the_run.run_dir.exists()
    assert "\n" not in message and SECRET not in message
    assert faulty_s3.requests - requests0 <= faults.STORE_BREAKER * 2 + 2  # stopped asking


def test_a_vanished_dataset_is_one_line_not_an_error_per_image(folder8, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(folder8, data)
    the_run = run(tmp_path, dataset=str(data), executors=["sequential"])
    shutil.rmtree(data)
    with pytest.raises(UserError, match="failed for every image of the case .fetch failed"):
        the_run.execute()


# --- secrets ----------------------------------------------------------------------------------------------


def test_no_secret_reaches_a_file_or_the_output(faulty_s3, s3_dataset, tmp_path):
    """The planted secret signs every request (and configures Lithops' storage), yet appears nowhere."""
    faulty_s3.every = 0
    from lithops.constants import LITHOPS_TEMP_DIR

    lithops_tmp = Path(LITHOPS_TEMP_DIR)  # its jobs, logs, storage and cleaner requests
    start = time.time()
    env = dict(os.environ)  # with the planted AWS_SECRET_ACCESS_KEY
    out = facebench("run", "--dataset", f"synthetic:{N}", "--store", s3_dataset, "--endpoint",
                    faulty_s3.endpoint, "--executors", "sequential,lithops", "--workers", "2",
                    "--out", str(tmp_path / "runs"), "--no-progress", "--keep-outputs", "--no-train",
                    "--no-warmup", "--repeats", "1", env=env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert SECRET not in out.stdout and SECRET not in out.stderr
    written = [p for p in (tmp_path / "runs").rglob("*") if p.is_file()]
    if lithops_tmp.is_dir():
        written += [p for p in lithops_tmp.rglob("*") if p.is_file() and p.stat().st_mtime >= start - 1]
    assert any(p.name == "manifest.json" for p in written)
    leaked = [p for p in written if SECRET.encode() in p.read_bytes()]
    tasks, _, manifest = tables.read_run(the_run_dir(tmp_path / "runs"))
    assert (tasks["status"] == "ok").all() and manifest["store"]["kind"] == "s3"
    assert [str(p) for p in leaked] == []  # Lithops' cleaner requests included (clean_jobs_now)
    from bench.stores import embedded as s3server

    listing = s3server.client(faulty_s3.endpoint).list_objects_v2(Bucket="facebench", Prefix="lithops.jobs/")
    assert [o["Key"] for o in listing.get("Contents", [])] == []  # Lithops cleaned up all the same


# --- bad configuration ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retries": -1}, "--retries"),
        ({"task_timeout": 0}, "--task-timeout"),
        ({"executors": ["spark"]}, "unknown executor"),
        ({"dataset": "/no/such/folder"}, "does not exist"),
        ({"endpoint": "http://127.0.0.1:9"}, "--endpoint needs --store"),
        ({"store": "ftp://bucket/x"}, "unsupported store"),
        ({"store": "s3://Bad_Bucket/x"}, "bad bucket name"),
        ({"lithops_config": "/no/such.yaml", "executors": ["lithops"]}, "cannot read the Lithops config"),
    ],
)
def test_bad_configuration_is_one_line(options, message, tmp_path):
    with pytest.raises(UserError, match=message) as info:
        run(tmp_path, **options)
    assert "\n" not in str(info.value)


def test_an_unusable_suite_file_is_one_line(tmp_path):
    (tmp_path / "bad.toml").write_text("executors = [\n")
    for path, message in [(tmp_path, "cannot read the suite file"), (tmp_path / "none.toml", "cannot read"),
                          (tmp_path / "bad.toml", "not valid TOML")]:  # fmt: skip
        with pytest.raises(UserError, match=message) as info:
            suites.load_suite(path)
        assert "\n" not in str(info.value)
