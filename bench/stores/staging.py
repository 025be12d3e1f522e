"""``facebench data stage``: a dataset into a store, one object per image, in parallel and idempotent.

:func:`stage_dataset` uploads on 16 threads by default (the pattern used 16 uploader processes; uploads
wait on the network, so threads overlap them as well as processes would), skipping objects already there
with the same size and MD5. :func:`missing_keys` says which images a store lacks before a run uses it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from tqdm import tqdm

from bench.errors import UserError
from bench.stores.base import Store
from bench.stores.local import LocalStore
from bench.stores.s3 import CosStore
from pipelines.datasets import Dataset

STAGE_THREADS = 16


@dataclass
class StageSummary:
    """What one staging did: objects seen, uploaded and skipped, bytes, time, and what failed."""

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


def missing_keys(store: Store, keys: Iterable[str]) -> list[str]:
    """The dataset keys that the store does not hold (one LIST for a bucket)."""
    if isinstance(store, CosStore):
        held = store.listing()
        return [k for k in keys if k not in held]
    if isinstance(store, LocalStore):
        return [k for k in keys if not (store.root / k).is_file()]
    held = set(store.keys())
    return [k for k in keys if k not in held]
