"""The descriptor stage: aligned crops through dlib's ResNet, chunked over the same executors as the run.

Like ``bench.run.task.run_chunk`` for the face kernel, ``embed_chunk`` runs inside the worker and measures
there; ``run_embed_stage`` dispatches chunks through ``executor_class(name)(workers).map_unordered`` and
gathers one row per crop into a tidy table (``embed_tasks.parquet``) and one summary row per stage
(``embed_runs.parquet``), so that the stage's speedup over the sequential executor can be reported.
Stages of different executors and worker counts over the same crops accumulate in those tables (run
``facebench train --executor sequential``, then ``--executor processes --workers N``, for a speedup).

The way a crop becomes a descriptor (``pipelines.embeddings.VARIANTS``) is a measured choice: the default
for a kernel's output is the fastest variant whose LFW pairs accuracy is within ``PAIRS_TOLERANCE``
(``bench.analysis.frontier``: the kernels' tolerance too) of the reference's, by ``choose_descriptor``
over the scores ``benchmarks/descriptor_variants.py`` commits.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from bench import tables
from bench.analysis.frontier import PAIRS_TOLERANCE
from bench.errors import UserError
from bench.executors import executor_class
from bench.executors.chunking import chunk_size_for
from bench.run.task import Chunk, _rss_mb, failed_record, gather_chunks
from bench.stores.base import Store
from pipelines import embeddings

_NO_VECTOR = {"descriptor_sha256": "", "vector": None}
EMBED_TASK_COLUMNS = [
    "stage_id",
    "executor",
    "backend",
    "workers",
    "chunk_size",
    "descriptor",
    "key",
    "label",
    "status",
    "error",
    "worker",
    "pid",
    "host",
    "chunk_id",
    "cold_start",
    "model_load_s",
    "t_submit",
    "t_start",
    "t_end",
    "fetch_s",
    "decode_s",
    "margin_s",
    "detect_s",
    "landmarks_s",
    "describe_s",
    "embed_s",
    "cpu_s",
    "worker_rss_mb",
    "bytes_in",
    "descriptor_sha256",
]
EMBED_RUN_COLUMNS = [
    "stage_id",
    "executor",
    "backend",
    "workers",
    "chunk_size",
    "descriptor",
    "images",
    "keys_digest",
    "ok",
    "wall_s",
    "images_per_s",
    "speedup",
    "efficiency",
    "cpu_s",
    "cold_starts",
    "model_load_s",
    "peak_rss_mb",
    "descriptor_digest",
    "identical",
    "created_at",
]


#: The descriptor used when none is asked for, per crop output, and why. Until the variants' scores are
#: committed (results/descriptor-variants/, benchmarks/descriptor_variants.py), openface crops keep the
#: reference; tests/test_train.py checks that this agrees with ``choose_descriptor`` on what is committed.
DEFAULTS = {
    "openface180": (
        embeddings.REFERENCE,
        "the reference path: on openface crops only it was scored on ge10 and the full pairs "
        "protocol (results/descriptor-variants/ge10-pairs/optimized.json); template was not",
    ),
    "chip150": (
        "chip",
        "the crop already is dlib's 150 px chip (padding 0.25): nothing left to detect or align; "
        "within 0.06 points of the other variants on LFW pairs (results/descriptor-variants/ge10-pairs/)",
    ),
}


def crop_output(manifest: dict, kernel: str) -> str:
    """What a run's kernel declared its crops to be (``manifest["kernels"][kernel]["output"]``);
    openface's 180 px alignment when it declared nothing, as every kernel did before the declaration."""
    declared = ((manifest.get("kernels") or {}).get(kernel) or {}).get("output")
    return str(declared or "openface180")


def resolve_descriptor(asked: str | None, output: str) -> tuple[str, str]:
    """The variant for crops of ``output`` and why: the asked one (checked), else the default."""
    if asked is None:
        if output not in DEFAULTS:
            raise UserError(f"crops declared as {output!r}: no descriptor reads them ({', '.join(DEFAULTS)})")
        return DEFAULTS[output]
    try:
        embeddings.check_variant(asked, output)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return asked, "asked for (--descriptor)"


def choose_descriptor(scores: Sequence[dict], tolerance: float = PAIRS_TOLERANCE) -> str:
    """The fastest variant (``per_crop_s``) whose ``pairs_accuracy`` is within ``tolerance`` of the
    reference's; the reference itself when none is (or when it was not scored, it must be)."""
    by_name = {row["variant"]: row for row in scores}
    if embeddings.REFERENCE not in by_name:
        raise ValueError(f"the reference {embeddings.REFERENCE} must be among the scored variants")
    floor = by_name[embeddings.REFERENCE]["pairs_accuracy"] - tolerance
    fit = [row for row in scores if row["pairs_accuracy"] >= floor - 1e-12]
    return min(fit, key=lambda row: (row["per_crop_s"], row["variant"]))["variant"]


@dataclass(frozen=True)
class EmbedContext:
    crops: Store
    descriptor: str = embeddings.REFERENCE


def embed_chunk(chunk: Chunk, ctx: EmbedContext) -> list[dict]:
    """One record per key (the descriptor as float32 bytes under ``vector``); failures are statuses."""
    host, pid = socket.gethostname(), os.getpid()
    out = []
    for key in chunk.keys:
        t_start, cpu0 = time.time(), time.process_time()
        rec = {"key": key, "chunk_id": chunk.chunk_id, "t_submit": chunk.t_submit, "t_start": t_start}
        rec.update(host=host, pid=pid, worker=f"{host}:{pid}", bytes_in=0, fetch_s=0.0, error="")
        rec.update(cold_start=False, model_load_s=0.0, vector=None, descriptor_sha256="")
        rec.update({f"{s}_s": 0.0 for s in embeddings.STAGES})
        try:
            t0 = time.perf_counter()
            data = ctx.crops.get(key)
            rec["fetch_s"], rec["bytes_in"] = time.perf_counter() - t0, len(data)
        except Exception as exc:
            rec.update(status="error", error=f"fetch failed: {type(exc).__name__}: {exc}")
        else:
            result = embeddings.describe(data, ctx.descriptor)
            rec.update(status=result.status, error=result.error)
            rec.update({f"{s}_s": result.timings.get(s, 0.0) for s in embeddings.STAGES})
            rec.update(cold_start=result.load_s > 0, model_load_s=result.load_s)
            if result.vector is not None:
                raw = result.vector.astype("<f4").tobytes()
                rec.update(vector=raw, descriptor_sha256=hashlib.sha256(raw).hexdigest())
        rec["embed_s"] = sum(rec[f"{s}_s"] for s in embeddings.STAGES)
        rec["t_end"] = time.time()
        rec["cpu_s"] = time.process_time() - cpu0
        rec["worker_rss_mb"] = _rss_mb()
        out.append(rec)
    return out


def descriptor_digest(keys: Sequence[str], statuses: Sequence[str], digests: Sequence[str]) -> str:
    """One digest over every crop's status and descriptor, in key order."""
    h = hashlib.sha256()
    for key, status, digest in sorted(zip(keys, statuses, digests, strict=True)):
        h.update(f"{key}\t{status}\t{digest}\n".encode())
    return h.hexdigest()


@dataclass
class EmbedStage:
    vectors: dict[str, np.ndarray]  # key -> descriptor, for the crops whose status is ok
    tasks: pd.DataFrame  # one row per crop
    summary: dict  # the stage's row of embed_runs


def run_embed_stage(
    crops: Store,
    keys: Sequence[str],
    executor: str = "sequential",
    workers: int = 1,
    chunk_size: int | None = None,
    labels: dict[str, str] | None = None,
    options: dict | None = None,
    progress: bool = False,
    log: Callable[[str], None] = print,
    descriptor: str = embeddings.REFERENCE,
) -> EmbedStage:
    """Descriptors of ``keys`` in ``crops`` made the ``descriptor`` variant's way; the executor is
    started before the clock starts."""
    keys = sorted(set(keys))
    size = chunk_size_for(executor, len(keys), workers, chunk_size)
    stage_id = f"{executor}-w{workers}-c{size}-{descriptor}"
    if executor_class(executor).in_process:
        embeddings.unload()  # start cold, as a fresh worker would (the run's rule, docs/benchmarks.md)
    with executor_class(executor)(workers, **(options or {})) as pool:
        fn = partial(embed_chunk, ctx=EmbedContext(crops, descriptor))
        with tqdm(
            total=len(keys), desc=f"embed {stage_id}", unit="crop", disable=not progress, leave=False
        ) as bar:
            gathered, t0_wall, wall_s = gather_chunks(pool.map_unordered, fn, keys, size, _NO_VECTOR, bar)
        backend = pool.backend
    by_key: dict[str, dict] = {}
    for rec in gathered:
        by_key.setdefault(rec["key"], rec)
    rows = [
        by_key.get(k) or failed_record(k, -1, t0_wall, "no record came back for this crop", **_NO_VECTOR)
        for k in keys
    ]
    vectors = {r["key"]: np.frombuffer(r["vector"], "<f4").copy() for r in rows if r["status"] == "ok"}
    labels = labels or {}
    for r in rows:
        r.pop("vector", None)
        r.update(stage_id=stage_id, executor=executor, backend=backend, workers=workers, chunk_size=size)
        r["descriptor"] = descriptor
        r["label"] = labels.get(r["key"], r["key"].split("/")[0] if "/" in r["key"] else "")
    tasks = tables._ordered(pd.DataFrame.from_records(rows), EMBED_TASK_COLUMNS)
    summary = {
        "stage_id": stage_id,
        "executor": executor,
        "backend": backend,
        "workers": workers,
        "chunk_size": size,
        "descriptor": descriptor,
        "images": len(keys),
        "keys_digest": hashlib.sha256("\n".join(keys).encode()).hexdigest(),
        "ok": len(vectors),
        "wall_s": wall_s,
        "images_per_s": len(keys) / wall_s if wall_s > 0 else float("nan"),
        "speedup": float("nan"),
        "efficiency": float("nan"),
        "cpu_s": float(tasks["cpu_s"].sum()),
        "cold_starts": int(tasks["cold_start"].astype(bool).sum()),
        "model_load_s": float(tasks["model_load_s"].sum()),
        "peak_rss_mb": float(tasks["worker_rss_mb"].max()) if len(tasks) else float("nan"),
        "descriptor_digest": descriptor_digest(
            list(tasks["key"]), list(tasks["status"]), list(tasks["descriptor_sha256"])
        ),
        "identical": None,
        "created_at": datetime.now(UTC).isoformat(),
    }
    log(
        f"embeddings {stage_id}: {len(vectors)}/{len(keys)} crops in {wall_s:.2f} s "
        f"({summary['images_per_s']:.1f} crops/s, {summary['cold_starts']} cold start(s))"
    )
    return EmbedStage(vectors, tasks, summary)


def store_stage(train_dir: str | Path, stage: EmbedStage) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Merge the stage into ``embed_tasks.parquet`` and ``embed_runs.parquet`` under ``train_dir``.

    The tables describe stages over one set of crops: rows of the same stage_id are replaced, and rows
    over other crops (an earlier training on other identities) are dropped. Speedup is against the
    sequential stage of the same descriptor variant, when one is recorded; ``identical`` says whether
    the stage's descriptors match that reference bit for bit.
    """
    folder = Path(train_dir)
    folder.mkdir(parents=True, exist_ok=True)
    tasks_path, runs_path = folder / "embed_tasks.parquet", folder / "embed_runs.parquet"
    tasks, runs = stage.tasks, pd.DataFrame([stage.summary])
    mine = stage.summary["stage_id"]
    if runs_path.is_file() and tasks_path.is_file():
        old_runs = pd.read_parquet(runs_path)
        same_crops = old_runs["keys_digest"] == stage.summary["keys_digest"]
        old_runs = old_runs[same_crops & (old_runs["stage_id"] != mine)]
        old_tasks = pd.read_parquet(tasks_path)
        old_tasks = old_tasks[old_tasks["stage_id"].isin(set(old_runs["stage_id"]))]
        runs = pd.concat([old_runs, runs], ignore_index=True)
        tasks = pd.concat([old_tasks, tasks], ignore_index=True)
    runs = _with_speedup(tables._ordered(runs, EMBED_RUN_COLUMNS))
    tasks = tables._ordered(tasks, EMBED_TASK_COLUMNS)
    tables.write_parquet(tasks, tasks_path)
    tables.write_parquet(runs, runs_path)
    row = runs[runs["stage_id"] == mine].iloc[-1]
    stage.summary.update(speedup=row["speedup"], efficiency=row["efficiency"], identical=row["identical"])
    return tasks, runs


def _with_speedup(runs: pd.DataFrame) -> pd.DataFrame:
    runs = runs.copy()
    runs["identical"] = runs["identical"].astype("object")
    for i, row in runs.iterrows():
        same = (runs["keys_digest"] == row["keys_digest"]) & (runs["descriptor"] == row["descriptor"])
        ref = runs[(runs["executor"] == "sequential") & same]
        if ref.empty:
            runs.at[i, "speedup"] = float("nan")
            runs.at[i, "efficiency"] = float("nan")
            runs.at[i, "identical"] = None
            continue
        ref = ref.iloc[-1]
        runs.at[i, "speedup"] = ref["wall_s"] / row["wall_s"] if row["wall_s"] > 0 else float("nan")
        runs.at[i, "efficiency"] = runs.at[i, "speedup"] / row["workers"]
        runs.at[i, "identical"] = bool(ref["descriptor_digest"] == row["descriptor_digest"])
    runs["identical"] = runs["identical"].astype("boolean")
    return runs
