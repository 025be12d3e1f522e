"""A run's store plan: where one ``facebench run`` reads its inputs and writes its crops.

:class:`RunStorage` is the dataset's own folder, a store the user staged (checked before any work), or
the embedded endpoint started for the run (``embedded-s3[:latency_ms=N]``, see :func:`parse_embedded`)
with the dataset staged to it; after each case on an object store it accounts for every crop.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from bench.errors import UserError
from bench.stores import embedded as s3server
from bench.stores import open_store
from bench.stores.base import Store
from bench.stores.local import LocalStore
from bench.stores.s3 import CosStore
from bench.stores.staging import STAGE_THREADS, missing_keys, stage_dataset
from pipelines.datasets import Dataset

EMBEDDED = "embedded-s3"
#: Where the runner stages a dataset on the embedded endpoint.
EMBEDDED_PREFIX = "dataset"


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


def _sizes(store: Store) -> dict[str, int]:
    """Every key under the store with its size in bytes."""
    if isinstance(store, CosStore):
        return {key: size for key, (size, _) in store.listing().items()}
    names = store.keys()
    if isinstance(store, LocalStore):
        return {key: (store.root / key).stat().st_size for key in names}
    return {key: len(store.get(key)) for key in names}


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
