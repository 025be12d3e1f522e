"""``facebench data fetch``: a published LFW archive downloaded, checked, cached and unpacked.

:func:`fetch_archive` downloads a known archive (``ARCHIVES``) or a URL, checks its checksum, caches
it and unpacks it to the LFW folder layout; it also takes a local .tgz.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tqdm import tqdm

from bench.errors import UserError
from pipelines.datasets import IMAGE_SUFFIXES, cache_dir


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
