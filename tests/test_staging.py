"""Staging a dataset into a store, fetching an LFW-style archive over HTTP on loopback, `s3 serve`."""

from __future__ import annotations

import hashlib
import http.server
import io
import secrets
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest
from conftest import TEST_BUCKET

from bench.cli import main
from bench.errors import UserError
from bench.stores import embedded as s3server
from bench.stores import fetch, open_store
from bench.stores.fetch import ARCHIVES, fetch_archive
from bench.stores.local import LocalStore
from bench.stores.plan import parse_embedded
from bench.stores.staging import stage_dataset
from pipelines.datasets import folder_dataset, load_dataset


@pytest.fixture(scope="module")
def small():
    return load_dataset("synthetic:12")


def test_stage_is_parallel_idempotent_and_repairs(small, s3_endpoint, planted_secret):
    lines: list[str] = []
    store = open_store(f"s3://{TEST_BUCKET}/stage-{secrets.token_hex(3)}", s3_endpoint, check=True)
    first = stage_dataset(small, store, threads=4, progress=False, log=lines.append)
    assert (first.uploaded, first.skipped, first.objects) == (12, 0, 12) and first.bytes_uploaded > 0
    assert store.keys() == sorted(small.keys)
    for key in small.keys:
        assert store.get(key) == (small.root / key).read_bytes()
    again = stage_dataset(small, store, progress=False, log=lines.append)
    assert (again.uploaded, again.skipped) == (0, 12)
    store.put(small.keys[3], b"damaged")  # a different object under the same key is uploaded again
    repaired = stage_dataset(small, store, progress=False, log=lines.append)
    assert (repaired.uploaded, repaired.skipped) == (1, 11)
    assert store.get(small.keys[3]) == (small.root / small.keys[3]).read_bytes()
    assert "12 uploaded" in lines[0] and "12 already there" in lines[1]
    assert not any(planted_secret in line for line in lines)


def test_stage_to_a_folder(small, tmp_path):
    store = LocalStore(tmp_path / "bucket")
    assert stage_dataset(small, store, progress=False, log=lambda _: None).uploaded == 12
    assert stage_dataset(small, store, progress=False, log=lambda _: None).skipped == 12
    assert folder_dataset(tmp_path / "bucket").keys == small.keys


def test_cli_stage(s3_endpoint, planted_secret, capfd):
    store = f"s3://{TEST_BUCKET}/cli-{secrets.token_hex(3)}"
    args = ["data", "stage", "--dataset", "synthetic:12", "--store", store, "--endpoint", s3_endpoint]
    assert main([*args, "--no-progress", "--threads", "3"]) == 0
    out, err = capfd.readouterr()
    assert f"staged 12 objects to {store}: 12 uploaded" in out
    assert planted_secret not in out + err
    assert main(["data", "stage", "--store", "embedded-s3", "--dataset", "synthetic:12"]) == 2
    assert "lives for one run only" in capfd.readouterr().err
    assert main(["data", "stage", "--store", "s3://no-such-bucket/x", "--endpoint", s3_endpoint]) == 2
    assert "does not exist" in capfd.readouterr().err


def test_parse_embedded():
    assert parse_embedded(None) is None and parse_embedded("s3://b/p") is None
    assert parse_embedded("embedded-s3") == 0.0
    assert parse_embedded("embedded-s3:latency_ms=12.5") == 12.5
    for bad in ("embedded-s3:latency_ms=-1", "embedded-s3:latency_ms=x", "embedded-s3:delay=5"):
        with pytest.raises(UserError, match="latency_ms=N"):
            parse_embedded(bad)


def test_cli_s3_serve_announces_and_stops():
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.cli", "s3", "serve", "--port", "0", "--latency-ms", "7"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("S3 endpoint http://127.0.0.1:"), line
        endpoint = line.split()[2].rstrip(",")
        assert s3server.probe(endpoint)["latency_ms"] == 7
        names = [b["Name"] for b in s3server.client(endpoint).list_buckets()["Buckets"]]
        assert names == [s3server.DEFAULT_BUCKET]
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        proc.stdout.close()


# --- fetch ----------------------------------------------------------------------------------------


def _tgz(small, top: str = "lfw", extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for key in small.keys[:6]:
            tar.add(small.root / key, arcname=f"{top}/{key}" if top else key)
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def http_files(tmp_path):
    """An http.server on 127.0.0.1 serving a folder; counts the requests it answers."""
    root = tmp_path / "www"
    root.mkdir()
    hits: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self):  # noqa: N802 - the http.server interface
            hits.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_checks_caches_and_unpacks(small, tmp_path, http_files):
    root, base, hits = http_files
    data = _tgz(small)
    (root / "lfw-mini.tgz").write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    cache = tmp_path / "cache"
    lines: list[str] = []
    url = f"{base}/lfw-mini.tgz"
    folder = fetch_archive(url, tmp_path / "a", sha256=sha, cache=cache, progress=False, log=lines.append)
    assert folder == tmp_path / "a" / "lfw-mini"
    assert folder_dataset(folder).keys == small.keys[:6]  # LFW layout: <Person>/<Person>_NNNN.jpg
    assert (cache / "lfw-mini.tgz").read_bytes() == data and len(hits) == 1
    again = fetch_archive(url, tmp_path / "b", sha256=sha, cache=cache, progress=False, log=lines.append)
    assert len(hits) == 1 and "using the cached" in " ".join(lines)  # served from the cache
    assert folder_dataset(again).keys == small.keys[:6]
    assert (
        fetch_archive(url, tmp_path / "b", sha256=sha, cache=cache, progress=False, log=lines.append) == again
    )
    assert "already there" in lines[-1]
    assert not list(tmp_path.rglob("*.part"))


def test_fetch_refuses_a_bad_checksum(small, tmp_path, http_files):
    root, base, hits = http_files
    (root / "lfw-mini.tgz").write_bytes(_tgz(small))
    cache = tmp_path / "cache"
    with pytest.raises(UserError, match="checksum mismatch for lfw-mini.tgz: sha256 is"):
        fetch_archive(
            f"{base}/lfw-mini.tgz", tmp_path / "out", sha256="0" * 64, cache=cache, progress=False, log=print
        )
    assert len(hits) == 1
    assert not (tmp_path / "out").exists() and not any(cache.iterdir())  # nothing cached, nothing unpacked
    with pytest.raises(UserError, match="could not fetch"):
        fetch_archive(f"{base}/absent.tgz", tmp_path / "out", cache=cache, progress=False, log=print)
    with pytest.raises(UserError, match="64 hexadecimal"):
        fetch_archive(f"{base}/lfw-mini.tgz", tmp_path / "out", sha256="abc", cache=cache, progress=False)


def test_fetch_a_local_archive(small, tmp_path):
    archive = tmp_path / "people.tgz"
    archive.write_bytes(_tgz(small, top=""))  # no top folder: people at the archive's root
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    with pytest.raises(UserError, match="checksum mismatch"):
        fetch_archive(str(archive), tmp_path / "out", sha256="f" * 64, progress=False, log=lambda _: None)
    assert not (tmp_path / "out" / "people").exists()
    folder = fetch_archive(str(archive), tmp_path / "out", sha256=sha, progress=False, log=lambda _: None)
    assert folder == tmp_path / "out" / "people" and folder_dataset(folder).keys == small.keys[:6]
    with pytest.raises(UserError, match="neither a known archive"):
        fetch_archive(str(tmp_path / "absent.tgz"), tmp_path / "out", progress=False)


def test_fetch_refuses_members_that_escape(small, tmp_path):
    archive = tmp_path / "evil.tgz"
    archive.write_bytes(_tgz(small, extra={"../escaped.jpg": b"x"}))
    with pytest.raises(UserError, match="cannot unpack evil.tgz"):
        fetch_archive(str(archive), tmp_path / "out", progress=False, log=lambda _: None)
    assert not (tmp_path / "escaped.jpg").exists() and not (tmp_path / "out" / "evil").exists()
    assert not [p for p in (tmp_path / "out").iterdir()]  # the temporary folder is gone too


def test_cli_fetch(small, tmp_path, http_files, capfd):
    root, base, _ = http_files
    data = _tgz(small)
    (root / "lfw-mini.tgz").write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    args = ["data", "fetch", f"{base}/lfw-mini.tgz", "--to", str(tmp_path / "d"), "--no-progress"]
    assert main([*args, "--sha256", "1" * 64]) == 2
    assert "checksum mismatch" in capfd.readouterr().err
    assert main([*args, "--sha256", sha]) == 0
    assert capfd.readouterr().out.strip().endswith(str(tmp_path / "d" / "lfw-mini"))


def test_published_archives_have_known_checksums():
    archive, local = fetch._resolve_source("lfw", None)
    assert local is None and archive.digest.startswith("sha256:055f7d9c") and archive.folder == "lfw"
    assert ARCHIVES["lfw-deepfunneled"].digest.startswith("md5:")
    assert fetch._resolve_source("lfw-funneled", "A" * 64)[0].digest == "sha256:" + "a" * 64
    url_archive, _ = fetch._resolve_source("https://example.org/mirror/lfw.tgz", None)
    assert url_archive.digest == ARCHIVES["lfw"].digest  # a mirror of a known file is checked too
    assert Path(url_archive.urls[0]).name == "lfw.tgz"
