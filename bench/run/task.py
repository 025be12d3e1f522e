"""The one function every executor runs: a chunk of image keys through the kernel, store to store.

It runs inside the worker, so it measures there: fetch, the kernel's stages, put, and who did the work.
The client's side of a chunk is here too: cutting keys into chunks, gathering their records, and the
record of a key whose chunk never came back; the descriptor stage shares both.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import resource
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.run import faults
from bench.stores import retry
from bench.stores.base import Store
from pipelines import faces, kernels

if TYPE_CHECKING:
    from pipelines.kernels.base import Kernel


@dataclass(frozen=True)
class CaseContext:
    """What every chunk of one case shares."""

    inputs: Store
    outputs: Store
    kernel: str = kernels.FAITHFUL  # as asked for: a name or package.module:name
    task_timeout: float | None = None  # seconds per image; None: no deadline (bench/faults.py)
    client_pid: int = 0  # the client's pid: a worker other than it may be ended by the watchdog


@dataclass(frozen=True)
class Chunk:
    chunk_id: int
    keys: tuple[str, ...]
    t_submit: float


def _rss_mb() -> float:
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    scale = 1024 * 1024 if os.uname().sysname == "Darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def run_chunk(chunk: Chunk, ctx: CaseContext) -> list[dict]:
    """One record per key, whatever happens to that key: a failure is a status, never an exception."""
    host, pid = socket.gethostname(), os.getpid()
    kernel = kernels.get(ctx.kernel)
    hard_exit = ctx.client_pid not in (0, pid)
    records = []
    breaker = faults.store_breaker(ctx.outputs.url)  # a store that is down is not asked again and again
    with faults.Watchdog(ctx.task_timeout, hard_exit=hard_exit) as watchdog:
        for n, key in enumerate(chunk.keys):
            t_start, cpu0 = time.time(), time.thread_time()
            rec = {"key": key, "chunk_id": chunk.chunk_id, "t_submit": chunk.t_submit, "t_start": t_start}
            rec.update(
                host=host, pid=pid, worker=f"{host}:{pid}", bytes_in=0, bytes_out=0, fetch_s=0.0, put_s=0.0
            )
            rec.update(output_sha256="", error="", cold_start=False, model_load_s=0.0)
            rec.update({f"{s}_s": 0.0 for s in faces.STAGES})
            rec.update(dict.fromkeys(_BOX + _EYES, float("nan")), landmarks="")
            retries0 = retry.count()
            if n == 0 and ctx.task_timeout and not kernel.loads_per_image:
                _preload(rec, kernel)  # a cold start is not a hang: the models load outside the deadline
            if not breaker.allow():
                rec.update(status="error", error=breaker.reason())
                rec.update(store_retries=0, t_end=time.time(), cpu_s=0.0, worker_rss_mb=_rss_mb())
                records.append(rec)
                continue
            unreachable = False
            try:
                with watchdog.image():
                    if ctx.client_pid:  # a measured case: a no-op unless a test set FACEBENCH_INJECT_FAULTS
                        faults.inject(key, hard_exit, ctx.outputs.url)
                    unreachable = _one_image(key, ctx, kernel, rec)
            except faults.TaskTimeout:
                rec.update(status="error", error=f"timed out after {ctx.task_timeout:g} s")
                rec.update(output_sha256="", bytes_out=0)
            except Exception as exc:  # only an injected fault gets here: _one_image records its own
                rec.update(status="error", error=faults.describe(exc), output_sha256="", bytes_out=0)
            rec["store_retries"] = retry.count() - retries0  # transient store errors retried
            breaker.record(unreachable, rec["error"])
            rec["t_end"] = time.time()
            rec["cpu_s"] = time.thread_time() - cpu0
            rec["worker_rss_mb"] = _rss_mb()
            records.append(rec)
    pss = _pss_mb()
    for rec in records:
        rec["worker_pss_mb"] = pss
    return records


def _pss_mb() -> float:
    """This process's proportional set size (Linux; NaN where the OS does not report it)."""
    try:
        import psutil

        return psutil.Process().memory_full_info().pss / 2**20
    except (AttributeError, OSError, ImportError):
        return float("nan")


def _one_image(key: str, ctx: CaseContext, kernel: Kernel, rec: dict) -> bool:
    """Fetch, kernel, put: fills ``rec`` in place, turning every failure into a status.

    True where the store failed in a way that says it is unreachable or down (5xx, timeouts, resets:
    bench/retry.py), as opposed to this one object being missing or refused.
    """
    try:
        t0 = time.perf_counter()
        data = ctx.inputs.get(key)
        rec["fetch_s"], rec["bytes_in"] = time.perf_counter() - t0, len(data)
    except Exception as exc:
        rec.update(status="error", error=f"fetch failed: {type(exc).__name__}: {exc}")
        return retry.transient_http(exc)
    result = kernel.process(data)
    rec.update(status=result.status, error=result.error)
    rec.update({f"{s}_s": result.timings.get(s, 0.0) for s in faces.STAGES})
    rec.update(_face_columns(result))
    if result.load_s > 0 or not rec["cold_start"]:  # not when _preload has recorded the load already
        rec.update(cold_start=result.load_s > 0 and not kernel.loads_per_image, model_load_s=result.load_s)
    if result.crop is not None:
        try:
            t0 = time.perf_counter()
            ctx.outputs.put(key, result.crop)
            rec["put_s"] = time.perf_counter() - t0
            rec["bytes_out"] = len(result.crop)
            rec["output_sha256"] = hashlib.sha256(result.crop).hexdigest()
        except Exception as exc:
            rec.update(status="error", error=f"put failed: {type(exc).__name__}: {exc}")
            return retry.transient_http(exc)
    return False


# bench/tables.py's FACE_COLUMNS (not imported: a worker does without pandas)
_BOX = ("box_x0", "box_y0", "box_x1", "box_y1")
_EYES = ("eye_left_x", "eye_left_y", "eye_right_x", "eye_right_y")


def _face_columns(result: faces.FaceResult) -> dict:
    """Where the kernel found the face and what it aligned on (tables.FACE_COLUMNS), for quality."""
    out: dict = {}
    if result.box is not None:
        out |= dict(zip(_BOX, map(float, result.box), strict=True))
    if result.eyes is not None:
        out |= dict(zip(_EYES, (v for eye in result.eyes for v in eye), strict=True))
    if result.landmarks is not None:
        out["landmarks"] = json.dumps([[x, y] for x, y in result.landmarks])
    return out


def _preload(rec: dict, kernel: Kernel) -> None:
    """Load this process's models now, recording the load as the chunk's first image's cold start."""
    try:
        load_s = kernel.preload(1)
    except Exception:  # the kernel will meet the same failure and record it per image
        return
    rec.update(cold_start=load_s > 0, model_load_s=load_s)


def prepare_worker(*stores: Store, kernel: str = kernels.FAITHFUL) -> int:
    """In a worker, before the clock: the kernel's modules imported (its models are not loaded) and
    the stores' connections opened, as the client process already has them for the in-process
    sequential case. What is left inside the clock is the same for every executor: the model load
    (cold) or nothing (warm)."""
    kernels.get(kernel)
    for store in stores:
        store.open()
    return os.getpid()


def unload_models() -> None:
    """Make the calling process cold again (the sequential executor runs in the client process)."""
    kernels.unload_all()


def preload_models(kernel: str, count: int = 1) -> float:
    """Load ``count`` sets of a kernel's models in the calling process (one per thread that will run
    images), before the clock, for a warm start; the seconds it took."""
    return kernels.get(kernel).preload(count)


def failed_record(key: str, chunk_id: int, t_submit: float, reason: str, **fields) -> dict:
    """The record for a key whose chunk never came back (lost, raised, missing), with its reason.

    ``fields`` adds a stage's own empty columns (e.g. ``output_sha256=""``).
    """
    now = time.time()
    return {
        "key": key, "chunk_id": chunk_id, "status": "error", "error": reason, "t_submit": t_submit,
        "t_start": now, "t_end": now, "cold_start": False, "model_load_s": 0.0, "bytes_in": 0, **fields,
    }  # fmt: skip


def gather_chunks(
    map_fn: Callable[[Callable, Sequence[Chunk]], Iterable[tuple[int, Any]]],
    fn: Callable[[Chunk], list[dict]],
    keys: Sequence[str],
    chunk_size: int,
    blank: dict,
    progress: Any = None,
    sizes: Sequence[int] | None = None,
) -> tuple[list[dict], float, float]:
    """Every key's records from ``map_fn(fn, chunks)``, timed: ``(records, t0_wall, wall_s)``.

    The clock runs from cutting the chunks (each stamped with its submit time) to the last result. A
    chunk that comes back as an exception gives each of its keys a failed record with the reason;
    ``blank`` holds the stage's empty columns. ``progress`` (a tqdm bar) is advanced per chunk.
    ``sizes`` cuts the keys into chunks of those sizes instead of equal ones of ``chunk_size``.
    """
    t0_wall, t0 = time.time(), time.perf_counter()
    sizes = list(sizes) if sizes is not None else [chunk_size] * math.ceil(len(keys) / chunk_size)
    bounds = [0, *itertools.accumulate(sizes)]
    chunks = [Chunk(i, tuple(keys[a:b]), t0_wall) for i, (a, b) in enumerate(itertools.pairwise(bounds))]
    gathered: list[dict] = []
    for i, result in map_fn(fn, chunks):
        if isinstance(result, BaseException):
            reason = f"chunk failed: {type(result).__name__}: {result}"
            result = [failed_record(k, i, t0_wall, reason, **blank) for k in chunks[i].keys]
        gathered.extend(result)
        if progress is not None:
            progress.update(len(chunks[i].keys))
    return gathered, t0_wall, time.perf_counter() - t0
