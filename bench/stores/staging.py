"""Data in and out of stores: staging a dataset into a bucket, fetching LFW, and a run's store plan.

- :func:`stage_dataset` (``facebench data stage``) uploads a dataset as one object per image, on 16
  threads by default (the pattern used 16 uploader processes; uploads wait on the network, so threads
  overlap them as well as processes would), skipping objects already there with the same size and MD5.
- :func:`fetch_archive` (``facebench data fetch``) downloads a published LFW archive, checks its
  checksum, caches it and unpacks it to the LFW folder layout; it also takes a local .tgz.
- :class:`RunStorage` is where one ``facebench run`` reads its inputs and writes its crops: the
  dataset's own folder, a store the user staged, or the embedded endpoint started for the run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
from tqdm import tqdm

from bench.errors import UserError
from bench.stores import embedded as s3server
from bench.stores import open_store
from bench.stores.base import Store
from bench.stores.local import LocalStore
from bench.stores.s3 import CosStore
from pipelines.datasets import IMAGE_SUFFIXES, Dataset, cache_dir

STAGE_THREADS = 16
EMBEDDED = "embedded-s3"
#: Where the runner stages a dataset on the embedded endpoint.
EMBEDDED_PREFIX = "dataset"

# --- staging ---------------------------------------------------------------------------------------


@dataclass
class StageSummary:
    store: str
    objects: int = 0
    uploaded: int = 0
    skipped: int = 0
    bytes_uploaded: int = 0
    seconds: float = 0.0
    failed: list[str] = field(default_factory=list)

    def line(self) -> str:
        rate = self.uploaded / self.seconds if self.seconds > 0 else 0.0
        return (
            f"staged {self.objects} objects to {self.store}: {self.uploaded} uploaded "
            f"({self.bytes_uploaded / 2**20:.1f} MiB, {rate:.1f} obj/s), {self.skipped} already there "
            f"(same size and MD5), {len(self.failed)} failed, in {self.seconds:.1f} s"
        )


def _existing(store: Store, keys: Iterable[str]) -> dict[str, tuple[int, str]]:
    """Size and MD5 hex of what the store already holds for these keys (one LIST for a bucket)."""
    if isinstance(store, CosStore):
        return store.listing()
    if isinstance(store, LocalStore):
        found = {}
        for key in keys:
            path = store.root / key
            if path.is_file():
                found[key] = (path.stat().st_size, hashlib.md5(path.read_bytes()).hexdigest())
        return found
    return {}


def stage_dataset(
    dataset: Dataset,
    store: Store,
    threads: int = STAGE_THREADS,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> StageSummary:
    """Upload every image of ``dataset`` under its key; idempotent (size + MD5), parallel, summarised."""
    if threads < 1:
        raise UserError("--threads must be at least 1")
    summary = StageSummary(store.url, objects=len(dataset))
    t0 = time.perf_counter()
    existing = _existing(store, dataset.keys)

    def one(key: str) -> tuple[str, int]:
        data = (dataset.root / key).read_bytes()
        if existing.get(key) == (len(data), hashlib.md5(data).hexdigest()):
            return "skipped", 0
        store.put(key, data)
        return "uploaded", len(data)

    bar = tqdm(total=len(dataset), desc=f"stage {store.url}", unit="obj", disable=not progress, leave=False)
    with ThreadPoolExecutor(threads, thread_name_prefix="stage") as pool:
        futures = {pool.submit(one, key): key for key in dataset.keys}
        for future in as_completed(futures):
            try:
                what, size = future.result()
            except Exception as exc:
                summary.failed.append(f"{futures[future]}: {type(exc).__name__}: {exc}")
            else:
                if what == "skipped":
                    summary.skipped += 1
                else:
                    summary.uploaded += 1
                    summary.bytes_uploaded += size
            bar.update(1)
    bar.close()
    summary.seconds = time.perf_counter() - t0
    log(summary.line())
    if summary.failed:
        raise UserError(f"{len(summary.failed)} upload(s) failed, e.g. {summary.failed[0]}")
    return summary


def _sizes(store: Store) -> dict[str, int]:
    """Every key under the store with its size in bytes."""
    if isinstance(store, CosStore):
        return {key: size for key, (size, _) in store.listing().items()}
    names = store.keys()
    if isinstance(store, LocalStore):
        return {key: (store.root / key).stat().st_size for key in names}
    return {key: len(store.get(key)) for key in names}


def missing_keys(store: Store, keys: Iterable[str]) -> list[str]:
    """The dataset keys that the store does not hold (one LIST for a bucket)."""
    if isinstance(store, CosStore):
        held = store.listing()
        return [k for k in keys if k not in held]
    if isinstance(store, LocalStore):
        return [k for k in keys if not (store.root / k).is_file()]
    held = set(store.keys())
    return [k for k in keys if k not in held]


# --- the run's store plan ----------------------------------------------------------------------------


def parse_embedded(spec: str | None) -> float | None:
    """``embedded-s3`` or ``embedded-s3:latency_ms=N`` -> N (0 by default); None for any other store."""
    if spec is None or not (spec == EMBEDDED or spec.startswith(EMBEDDED + ":")):
        return None
    option = spec[len(EMBEDDED) :].lstrip(":")
    if not option:
        return 0.0
    name, _, value = option.partition("=")
    try:
        latency = float(value)
    except ValueError:
        latency = -1.0
    if name.strip() != "latency_ms" or latency < 0:
        raise UserError(f"bad store {spec!r}: use {EMBEDDED} or {EMBEDDED}:latency_ms=N with N >= 0")
    return latency


class RunStorage:
    """Where one run reads inputs and writes crops, and what the manifest says about it.

    - no store: the dataset's folder; the runner keeps its own output folders (``kind`` local);
    - a folder or ``s3://bucket/prefix`` (+ endpoint): opened and checked now (credentials, endpoint,
      bucket, every image of the dataset present), so that a user's mistake is one line before work;
    - ``embedded-s3[:latency_ms=N]``: an endpoint started in :meth:`start`, the dataset staged to it,
      stopped in :meth:`stop`.

    On an object store each case writes to ``<prefix>/output/<run_id>/<case>/<key>``.
    """

    def __init__(
        self,
        spec: str | None,
        endpoint: str | None,
        dataset: Dataset,
        log: Callable[[str], None] = print,
        progress: bool = True,
    ) -> None:
        self.dataset, self.log, self.progress = dataset, log, progress
        self.latency_ms = parse_embedded(spec)
        self.server: s3server.EmbeddedS3 | None = None
        self.inputs: Store
        self.manifest: dict = {"store": spec or str(dataset.root), "kind": "local", "endpoint": None}
        self.manifest.update(latency_ms=0.0, latency_emulated=False, embedded=False)
        if self.latency_ms is not None:
            if endpoint:
                raise UserError(f"--endpoint does not apply to --store {EMBEDDED}: the run starts its own")
            self.manifest.update(kind="s3", embedded=True, latency_ms=self.latency_ms)
            self.manifest["latency_emulated"] = self.latency_ms > 0
            self.inputs = LocalStore(dataset.root)  # until start(): nothing runs before it
            return
        if spec is None:
            if endpoint:
                raise UserError("--endpoint needs --store s3://bucket/prefix")
            self.inputs = LocalStore(dataset.root)
            return
        self.inputs = open_store(spec, endpoint, check=True)
        missing = missing_keys(self.inputs, dataset.keys)
        if missing:
            raise UserError(
                f"{len(missing)} of the {len(dataset)} images of {dataset.name} are not in "
                f"{self.inputs.url}, e.g. {missing[0]}; stage them first: "
                f"facebench data stage --dataset ... --store {self.inputs.url}"
            )
        if isinstance(self.inputs, CosStore):
            self.manifest.update(self.inputs.describe(), kind="s3")
            info = s3server.probe(self.inputs.endpoint)
            if info is not None:  # the embedded endpoint, started by `facebench s3 serve`
                self.manifest.update(embedded=True, latency_ms=float(info.get("latency_ms", 0.0)))
                self.manifest["latency_emulated"] = self.manifest["latency_ms"] > 0
        else:
            self.manifest["url"] = self.inputs.url

    @property
    def kind(self) -> str:
        return self.inputs.kind

    @property
    def is_object_store(self) -> bool:
        return isinstance(self.inputs, CosStore)

    def start(self) -> Store:
        if self.latency_ms is None or self.server is not None:
            return self.inputs
        self.server = s3server.EmbeddedS3(latency_ms=self.latency_ms).start()
        store = CosStore(
            s3server.DEFAULT_BUCKET,
            EMBEDDED_PREFIX,
            self.server.endpoint,
            credentials=s3server.embedded_credentials(),
        )
        store.client()  # built before the first case, as check() does for a user's store
        self.log(f"embedded S3 endpoint {self.server.endpoint} (emulated latency {self.latency_ms:g} ms)")
        # Staged without the emulated delay's effect on the tables: staging is not part of any case.
        stage_dataset(self.dataset, store, progress=self.progress, log=lambda line: self.log("  " + line))
        self.inputs = store
        self.manifest.update(store.describe(), kind="s3")
        return store

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def __enter__(self) -> Store:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def outputs(self, run_id: str, case_dir: str) -> Store | None:
        """Where a case writes on an object store; None where the runner keeps local folders."""
        if not self.is_object_store:
            return None
        return self.inputs.child(f"output/{run_id}/{case_dir}")

    def settle(self, outputs: Store, tasks: pd.DataFrame, collect_to: Path | None = None) -> list[str]:
        """After a case on an object store: every object accounted for, the reference collected.

        The case's prefix must hold exactly the crops its records list, each of the recorded size; with
        ``collect_to``, the client downloads each crop there (as the pattern's client collected its
        results) and checks it against the SHA-256 the worker recorded. The counts go to the manifest;
        the problems come back as lines for the log.
        """
        wrote = tasks[tasks["output_sha256"].astype(str) != ""]
        expected = dict(zip(wrote["key"], wrote["bytes_out"].astype(int), strict=True))
        held = _sizes(outputs)
        missing = sorted(set(expected) - set(held))
        unexpected = sorted(set(held) - set(expected))
        wrong_size = sorted(k for k in set(expected) & set(held) if held[k] != expected[k])
        entry = {"objects": len(held), "expected": len(expected), "missing": len(missing)}
        entry.update(unexpected=len(unexpected), wrong_size=len(wrong_size))
        problems = [
            f"{len(keys)} {what} object(s) in {outputs.url}, e.g. {keys[0]}"
            for what, keys in (("missing", missing), ("unexpected", unexpected), ("wrong-size", wrong_size))
            if keys
        ]
        if collect_to is not None:
            digests = dict(zip(wrote["key"], wrote["output_sha256"], strict=True))
            bad = self.collect(outputs, {k: digests[k] for k in digests if k in held}, collect_to)
            entry.update(
                collected_to=str(collect_to), collected=len(digests) - len(bad), collect_mismatch=len(bad)
            )
            if bad:
                problems.append(
                    f"{len(bad)} collected crop(s) differ from what the worker wrote, e.g. {bad[0]}"
                )
        self.manifest.setdefault("outputs", {})[outputs.url] = entry
        return problems

    @staticmethod
    def collect(
        outputs: Store, expected: dict[str, str], dest: Path, threads: int = STAGE_THREADS
    ) -> list[str]:
        """Download each crop into ``dest`` if its SHA-256 is as expected; return the keys that differ."""
        local = LocalStore(dest)

        def one(key: str) -> str | None:
            data = outputs.get(key)
            if hashlib.sha256(data).hexdigest() != expected[key]:
                return key
            local.put(key, data)
            return None

        with ThreadPoolExecutor(threads, thread_name_prefix="collect") as pool:
            return [k for k in pool.map(one, sorted(expected)) if k is not None]


# --- fetching LFW ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Archive:
    """A published archive: where to get it, the digest it must have, and the folder it unpacks to."""

    filename: str
    urls: tuple[str, ...]
    digest: str | None  # "sha256:<hex>" or "md5:<hex>"; None: unknown (the user may give --sha256)
    folder: str


# Digests: scikit-learn's (sklearn/datasets/_lfw.py, SHA-256, figshare mirrors of the UMass files) and,
# for deep funneled, TensorFlow Datasets' MD5 of the UMass file.
ARCHIVES = {
    "lfw": Archive(
        "lfw.tgz",
        ("https://ndownloader.figshare.com/files/5976018", "http://vis-www.cs.umass.edu/lfw/lfw.tgz"),
        "sha256:055f7d9c632d7370e6fb4afc7468d40f970c34a80d4c6f50ffec63f5a8d536c0",
        "lfw",
    ),
    "lfw-funneled": Archive(
        "lfw-funneled.tgz",
        (
            "https://ndownloader.figshare.com/files/5976015",
            "http://vis-www.cs.umass.edu/lfw/lfw-funneled.tgz",
        ),
        "sha256:b47c8422c8cded889dc5a13418c4bc2abbda121092b3533a83306f90d900100a",
        "lfw-funneled",
    ),
    "lfw-deepfunneled": Archive(
        "lfw-deepfunneled.tgz",
        ("http://vis-www.cs.umass.edu/lfw/lfw-deepfunneled.tgz",),
        "md5:68331da3eb755a505a502b5aacb3c201",
        "lfw-deepfunneled",
    ),
}
DOWNLOAD_TIMEOUT_S = 60


def _digest_of(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _normalise_digest(sha256: str | None, fallback: str | None) -> str | None:
    if sha256:
        value = sha256.strip().lower().removeprefix("sha256:")
        if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
            raise UserError("--sha256 takes 64 hexadecimal digits")
        return f"sha256:{value}"
    return fallback


def _verify(path: Path, digest: str | None) -> str:
    """Check ``path`` against ``digest``; return its SHA-256 (for the user to pin)."""
    sha = _digest_of(path, "sha256")
    if digest is None:
        return sha
    algo, _, want = digest.partition(":")
    got = sha if algo == "sha256" else _digest_of(path, algo)
    if got != want:
        raise UserError(f"checksum mismatch for {path.name}: {algo} is {got}, expected {want}")
    return sha


def _download(url: str, dest: Path, progress: bool) -> None:
    part = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    request = urllib.request.Request(url, headers={"User-Agent": "facebench"})
    try:
        with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as resp, part.open("wb") as out:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                for block in iter(lambda: resp.read(1 << 16), b""):
                    out.write(block)
                    bar.update(len(block))
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)


def _resolve_source(source: str, sha256: str | None) -> tuple[Archive, Path | None]:
    """A known name, an http(s) URL, or a local .tgz -> (archive description, local path or None)."""
    if source in ARCHIVES:
        known = ARCHIVES[source]
        return Archive(
            known.filename, known.urls, _normalise_digest(sha256, known.digest), known.folder
        ), None
    parts = urlsplit(source)
    if parts.scheme in ("http", "https"):
        filename = Path(parts.path).name or "archive.tgz"
        known = next((a for a in ARCHIVES.values() if a.filename == filename), None)
        folder = known.folder if known else _stem(filename)
        digest = _normalise_digest(sha256, known.digest if known else None)
        return Archive(filename, (source,), digest, folder), None
    path = Path(source.removeprefix("file://")).expanduser()
    if not path.is_file():
        choices = ", ".join(ARCHIVES)
        raise UserError(f"{source!r} is neither a known archive ({choices}), an http(s) URL nor a file")
    known = next((a for a in ARCHIVES.values() if a.filename == path.name), None)
    digest = _normalise_digest(sha256, known.digest if known else None)
    return Archive(path.name, (), digest, known.folder if known else _stem(path.name)), path


def _stem(filename: str) -> str:
    for suffix in (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar"):
        if filename.endswith(suffix):
            return filename[: -len(suffix)] or "dataset"
    return Path(filename).stem or "dataset"


def unpack(archive: Path, dest: Path) -> int:
    """Unpack to ``dest`` in LFW layout (<Person>/<image>), atomically; returns the image count.

    Members that would land outside the folder, links and devices are refused (tarfile's data filter).
    A single top-level folder of person folders (``lfw/``) is the dataset folder itself.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise UserError(f"cannot unpack {archive.name}: {type(exc).__name__}: {exc}") from None
        entries = [p for p in tmp.iterdir() if not p.name.startswith(".")]
        # One folder of person folders (lfw/<Person>/...) is the dataset; one person's folder is not.
        single = entries[0] if len(entries) == 1 and entries[0].is_dir() else None
        root = single if single is not None and any(p.is_dir() for p in single.iterdir()) else tmp
        images = [p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if not images:
            raise UserError(f"{archive.name} holds no images")
        os.replace(root, dest)
        return len(images)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fetch_archive(
    source: str,
    to: str | Path = "data",
    sha256: str | None = None,
    cache: Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> Path:
    """Download (or take) an archive, check its checksum, cache it, unpack it; return the folder."""
    archive, local = _resolve_source(source, sha256)
    dest = Path(to).expanduser() / archive.folder
    if dest.is_dir() and any(dest.iterdir()):
        log(f"{dest} is already there; nothing to do (remove it to unpack again)")
        return dest
    if local is None:
        cache = cache or cache_dir() / "downloads"
        cache.mkdir(parents=True, exist_ok=True)
        cached = cache / archive.filename
        if cached.is_file():
            try:
                _verify(cached, archive.digest)
                log(f"using the cached {cached}")
                local = cached
            except UserError:
                cached.unlink()  # a stale or damaged download: fetch it again
        errors: list[str] = []
        for url in archive.urls if local is None else ():
            try:
                log(f"downloading {url}")
                _download(url, cached, progress)
                _verify(cached, archive.digest)
                local = cached
                break
            except UserError as exc:
                cached.unlink(missing_ok=True)
                errors.append(str(exc))
            except (OSError, urllib.error.URLError) as exc:
                errors.append(f"{url}: {getattr(exc, 'reason', None) or exc}")
        if local is None:
            raise UserError(f"could not fetch {archive.filename}: {'; '.join(errors)}")
    else:
        _verify(local, archive.digest)
    sha = _digest_of(local, "sha256")
    if archive.digest is None:
        log(
            f"warning: no checksum to check {archive.filename} against; "
            f"its sha256 is {sha} (pin it with --sha256)"
        )
    count = unpack(local, dest)
    log(f"unpacked {count} images from {archive.filename} (sha256 {sha[:16]}...) into {dest}")
    return dest
