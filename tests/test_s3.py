"""The pattern's data flow through object storage, on an embedded S3 endpoint the tests start themselves.

One staged dataset runs under all four executors through the endpoint (from the command line, with a
recognisable secret planted in the environment) and is compared with a local-folder run of the same
dataset: same crop digests per key, every object accounted for, the secret nowhere.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import CREDENTIAL_VARS, EXECUTORS, TEST_BUCKET, free_port

from bench import tables
from bench.cli import main
from bench.errors import UserError
from bench.run.runner import Run, RunConfig
from bench.stores import embedded as s3server
from bench.stores import open_store
from bench.stores.s3 import CosStore

DATASET = "synthetic:12"
PREFIX = "synth12"


def _cli(args: list[str], env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def s3_run(tmp_path_factory, s3_endpoint):
    """Stage, then run every executor at 1 and 2 workers through the endpoint; plus a local reference."""
    secret = "FBSECRET" + secrets.token_hex(12)
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARS}
    env.update(AWS_ACCESS_KEY_ID="FBTESTKEYID", AWS_SECRET_ACCESS_KEY=secret)
    out = tmp_path_factory.mktemp("s3runs")
    where = ["--store", f"s3://{TEST_BUCKET}/{PREFIX}", "--endpoint", s3_endpoint]
    stage = _cli(["data", "stage", "--dataset", DATASET, "--no-progress", *where], env, timeout=120)
    assert stage.returncode == 0, stage.stderr
    executors = ",".join(EXECUTORS)
    run = _cli(
        ["run", "--dataset", DATASET, "--executors", executors, "--workers", "1,2", "--no-progress"]
        + ["--out", str(out), "--repeats", "1", *where],
        env,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    run_dir = Path(run.stdout.strip().splitlines()[-1])
    local = Run(
        RunConfig(
            dataset=DATASET,
            executors=["sequential"],
            workers=[1],
            out=str(out / "local"),
            progress=False,
            repeats=1,
        ),
        log=lambda _: None,
    ).execute()
    return {"secret": secret, "stage": stage, "run": run, "run_dir": run_dir, "local": local}


def test_outputs_identical_to_a_local_folder_run(s3_run):
    tasks, runs, _ = tables.read_run(s3_run["run_dir"])
    local = s3_run["local"].tasks.set_index("key")[["status", "output_sha256"]].sort_index()
    assert tasks["case_id"].nunique() == 7 and set(tasks["executor"]) == set(EXECUTORS)
    for case_id, case in tasks.groupby("case_id"):
        mine = case.set_index("key")[["status", "output_sha256"]].sort_index()
        assert mine.equals(local), case_id
    assert runs["identical"].all()
    assert (local["status"] == "ok").sum() > 0
    # The reference's crops, collected from the bucket, are byte for byte the local run's.
    local_out = s3_run["local"].run_dir / "output"
    collected = sorted(
        p.relative_to(s3_run["run_dir"] / "output") for p in (s3_run["run_dir"] / "output").rglob("*.jpg")
    )
    assert collected == sorted(p.relative_to(local_out) for p in local_out.rglob("*.jpg")) and collected
    for rel in collected:
        assert (s3_run["run_dir"] / "output" / rel).read_bytes() == (local_out / rel).read_bytes()


def test_every_object_accounted_for(s3_run, s3_endpoint):
    tasks, _, manifest = tables.read_run(s3_run["run_dir"])
    run_id = manifest["run_id"]
    outputs = manifest["store"]["outputs"]
    assert len(outputs) == 7
    for entry in outputs.values():
        assert entry["missing"] == entry["unexpected"] == entry["wrong_size"] == 0
        assert entry["objects"] == entry["expected"] > 0
    reference = next(e for e in outputs.values() if "collected_to" in e)
    assert reference["collected"] == reference["expected"] and reference["collect_mismatch"] == 0
    # Independently of the runner: list the bucket and find each case's crops, and nothing else.
    listing = CosStore(
        TEST_BUCKET, f"{PREFIX}/output/{run_id}", s3_endpoint, credentials=s3server.embedded_credentials()
    ).listing()
    by_case = pd.Series([k.split("/", 1)[0] for k in listing]).value_counts().to_dict()
    ok = tasks[tasks["status"] == "ok"].groupby("case_id").size().to_dict()
    assert by_case == ok
    for key, (size, _etag) in listing.items():
        case_id, image = key.split("/", 1)
        row = tasks[(tasks["case_id"] == case_id) & (tasks["key"] == image)].iloc[0]
        assert size == row["bytes_out"]
    # Inputs are untouched: still the twelve staged images under the prefix, beside the outputs.
    staged = CosStore(TEST_BUCKET, PREFIX, s3_endpoint, credentials=s3server.embedded_credentials()).keys()
    assert len([k for k in staged if not k.startswith("output/")]) == 12


def test_fetch_and_put_are_measured_in_the_worker(s3_run):
    tasks, runs, _ = tables.read_run(s3_run["run_dir"])
    ok = tasks[tasks["status"] == "ok"]
    assert (ok["fetch_s"] > 0).all() and (ok["put_s"] > 0).all()
    assert (ok["bytes_in"] > 0).all() and (ok["bytes_out"] > 0).all()
    assert set(tasks["store"]) == {"s3"} and set(runs["store"]) == {"s3"}
    assert set(s3_run["local"].runs["store"]) == {"local"}
    assert ok.groupby("executor")["pid"].nunique()["processes"] >= 2


def test_manifest_records_the_endpoint_and_no_secret(s3_run, s3_endpoint):
    _, _, manifest = tables.read_run(s3_run["run_dir"])
    store = manifest["store"]
    assert store["endpoint"] == s3_endpoint and manifest["config"]["endpoint"] == s3_endpoint
    assert (
        store["kind"] == "s3"
        and store["service"] == "minio"
        and store["url"] == f"s3://{TEST_BUCKET}/{PREFIX}"
    )
    assert store["embedded"] is True and store["latency_ms"] == 0 and store["latency_emulated"] is False
    assert "environment" in store["credentials_from"]


def test_the_secret_is_nowhere_the_run_wrote_or_said(s3_run):
    secret = s3_run["secret"].encode()
    files = [p for p in s3_run["run_dir"].rglob("*") if p.is_file()]
    assert any(p.name == "manifest.json" for p in files) and any(p.suffix == ".parquet" for p in files)
    for path in files:
        assert secret not in path.read_bytes(), path
    for proc in (s3_run["stage"], s3_run["run"]):
        assert s3_run["secret"] not in proc.stdout + proc.stderr
    assert "staged 12 objects" in s3_run["stage"].stdout


def _double(x: int) -> int:
    return 2 * x


def test_lithops_keeps_its_objects_on_the_same_endpoint_and_cleans_them(s3_endpoint, planted_secret):
    """Lithops' storage backend is the run's endpoint: its job objects are in the bucket while the job
    runs, and gone once the executor closes (cleaned synchronously, so no keys reach a temp file)."""
    from bench.executors.lithops import LithopsExecutor

    def lithops_keys() -> list[str]:
        listing = CosStore(TEST_BUCKET, "", s3_endpoint, credentials=s3server.embedded_credentials())
        return [k for k in listing.keys() if k.startswith("lithops.")]  # noqa: SIM118 - a Store, not a dict

    store = open_store(f"s3://{TEST_BUCKET}/lithops-check", s3_endpoint)
    executor = LithopsExecutor(1, store=store)
    assert executor.config["lithops"]["storage"] == "minio"
    with executor:
        assert sorted(r for _, r in executor.map_unordered(_double, [1, 2, 3])) == [2, 4, 6]
        assert lithops_keys(), "Lithops wrote nothing to the run's endpoint"
    assert lithops_keys() == []


# --- the embedded endpoint started by the run -----------------------------------------------------


def test_embedded_store_starts_stages_records_latency_and_stops(tmp_path, no_credentials):
    config = RunConfig(
        dataset=DATASET,
        executors=["sequential", "processes"],
        workers=[2],
        repeats=1,
        store="embedded-s3:latency_ms=30",
        out=str(tmp_path),
        progress=False,
    )
    run = Run(config, log=lambda _: None)
    result = run.execute()
    assert result.ok
    store = result.run_dir / "manifest.json"
    manifest = tables.read_run(result.run_dir)[2]["store"]
    assert manifest["latency_ms"] == 30 and manifest["latency_emulated"] and manifest["embedded"]
    assert manifest["endpoint"].startswith("http://127.0.0.1:")
    assert store.is_file()
    ok = result.tasks[result.tasks["status"] == "ok"]
    assert ok["fetch_s"].median() >= 0.03 and ok["put_s"].median() >= 0.03
    assert (result.run_dir / "output").is_dir()
    assert s3server.probe(manifest["endpoint"]) is None  # stopped with the run


def test_latency_is_per_request_and_overlaps(no_credentials):
    with s3server.EmbeddedS3(latency_ms=80) as server:
        assert s3server.probe(server.endpoint)["latency_ms"] == 80
        store = open_store(f"s3://{s3server.DEFAULT_BUCKET}/t", server.endpoint)
        store.put("a.jpg", b"abc")
        store.get("a.jpg")  # the client is made
        t0 = time.perf_counter()
        for _ in range(3):
            store.get("a.jpg")
        assert time.perf_counter() - t0 >= 0.24
        t0 = time.perf_counter()
        threads = [threading.Thread(target=store.get, args=("a.jpg",)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert time.perf_counter() - t0 < 0.5  # eight delays side by side, not 0.64 s in a row


# --- the store against the endpoint, and the errors a user can cause -------------------------------


def test_cos_store_round_trip(s3_endpoint, planted_secret):
    store = open_store(f"s3://{TEST_BUCKET}/rt-{secrets.token_hex(3)}", s3_endpoint, check=True)
    assert store.credentials is None  # from the environment, in each worker
    store.put("P/a.jpg", b"alpha")
    store.child("Q").put("b.jpg", b"beta")
    assert store.keys() == ["P/a.jpg", "Q/b.jpg"]
    assert store.get("Q/b.jpg") == b"beta"
    assert store.listing()["P/a.jpg"] == (5, hashlib.md5(b"alpha").hexdigest())
    copy = pickle.loads(pickle.dumps(store))
    assert copy.get("P/a.jpg") == b"alpha"
    with pytest.raises(Exception, match="NoSuchKey|Not Found|404"):
        store.get("P/absent.jpg")


def test_unreachable_endpoint_is_one_line_before_work(planted_secret):
    t0 = time.perf_counter()
    with pytest.raises(UserError, match="cannot reach the object-storage endpoint") as info:
        open_store("s3://bucket/x", f"http://127.0.0.1:{free_port()}", check=True)
    assert time.perf_counter() - t0 < 30 and "\n" not in str(info.value)
    assert planted_secret not in str(info.value)


def test_missing_bucket(s3_endpoint, planted_secret):
    with pytest.raises(UserError, match="'no-such-bucket' at .* does not exist"):
        open_store("s3://no-such-bucket/x", s3_endpoint, check=True)


def test_missing_credentials(no_credentials):
    with pytest.raises(UserError, match="no object-storage credentials"):
        open_store("s3://bucket/x", f"http://127.0.0.1:{free_port()}", check=True)


def test_the_embedded_endpoint_needs_no_credentials(s3_endpoint, no_credentials):
    store = open_store(f"s3://{TEST_BUCKET}/x", s3_endpoint, check=True)
    assert store.credentials == s3server.embedded_credentials()


def test_run_refuses_a_store_without_the_dataset_before_work(s3_endpoint, planted_secret, tmp_path):
    config = RunConfig(
        dataset=DATASET,
        executors=["sequential"],
        workers=[1],
        store=f"s3://{TEST_BUCKET}/never-staged",
        endpoint=s3_endpoint,
        out=str(tmp_path),
        progress=False,
    )
    with pytest.raises(UserError, match="12 of the 12 images .* are not in .*facebench data stage"):
        Run(config, log=lambda _: None)
    assert not any(tmp_path.iterdir())


def test_cli_store_errors_are_one_line(capsys, tmp_path, no_credentials):
    base = ["run", "--dataset", DATASET, "--executors", "sequential", "--out", str(tmp_path), "--no-progress"]
    cases = [
        (["--store", "embedded-s3", "--endpoint", "http://127.0.0.1:9"], "does not apply"),
        (["--store", "embedded-s3:latency=5"], "latency_ms=N"),
        (["--store", "s3://bucket/x", "--endpoint", "http://user:pw-secret@127.0.0.1:9"], "must not carry"),
        (["--endpoint", "http://127.0.0.1:9"], "needs --store"),
    ]
    for extra, message in cases:
        assert main(base + extra) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1 and "pw-secret" not in err
    assert not any(tmp_path.iterdir())
