"""How much slower one worker's kernel runs when N run at once on this machine: the probe, cached per
machine, that the scaling model turns into a per-busy-core slowdown of service time.

Workers on one machine share caches, memory bandwidth and, on a VM, the physical cores behind the
vCPUs: on the 16-vCPU VM of results/scaling-16core, dlib's detector ran 1.25-1.33x slower with 4-16
busy workers. N spawned processes each run the same images through the detector (about nine tenths
of the kernel), released together by a barrier once their models and images are loaded: no
dispatch, no store, no cold start inside the clock. ``benchmarks/core_contention.py`` is the longer
form of the same measurement.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import tables
from bench.analysis.statistics import DISTURBED_CORES
from bench.run import environment, load
from pipelines import faces, kernels
from pipelines.datasets import cache_dir, load_dataset

__all__ = ["PROBE_IMAGES", "cached_probe", "levels_for", "per_image_s", "probe"]

#: Images each probe worker runs: a short probe (about 0.5 s of detection per level), paid once per
#: machine; benchmarks/core_contention.py's 48 images and 2 repeats agree within a few percent.
PROBE_IMAGES = 12
PROBE_DATASET = "synthetic:12"


def _worker(stage: str, blobs: list[bytes], barrier, results) -> None:
    if stage == "kernel":
        kernel = kernels.get(kernels.FAITHFUL)
        kernel.preload(1)
        items, work = blobs, kernel.process
    else:  # detect: the images decoded and converted outside the clock, only the detector inside
        import cv2
        import dlib

        detector = dlib.get_frontal_face_detector()
        items = [cv2.cvtColor(faces.decode(b), cv2.COLOR_BGR2RGB) for b in blobs]
        upsample = kernels.get(kernels.FAITHFUL).upsample

        def work(rgb):
            return detector(rgb, upsample)

    work(items[0])  # page in the code and the model
    barrier.wait()
    start = time.perf_counter()
    for item in items:
        work(item)
    results.put((time.perf_counter() - start) / len(items))


def per_image_s(stage: str, blobs: list[bytes], workers: int) -> list[float]:
    """Each worker's mean seconds per image, all workers running at once."""
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(workers), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(stage, blobs, barrier, results)) for _ in range(workers)]
    for p in procs:
        p.start()
    times = [results.get() for _ in procs]
    for p in procs:
        p.join()
    return times


def levels_for(cores: int) -> list[int]:
    """1, 2, 4, ... busy cores up to the machine's, and the machine's own count."""
    levels, w = [], 1
    while w < cores:
        levels.append(w)
        w *= 2
    return [*levels, cores]


def probe(
    levels: list[int], *, stage: str = "detect", dataset: str = PROBE_DATASET, repeats: int = 1
) -> dict:
    """The slowdown of one worker's per-image time with N workers busy, per level (1 is the unit)."""
    data = load_dataset(dataset)
    blobs = [(data.root / key).read_bytes() for key in data.keys]
    rows, base = [], None
    for workers in levels:
        runs = [statistics.mean(per_image_s(stage, blobs, workers)) for _ in range(repeats)]
        ms = 1000 * statistics.median(runs)
        base = base or ms
        rows.append({"workers": workers, "ms_per_image": ms, "slowdown": ms / base})
    return {
        "stage": stage,
        "dataset": dataset,
        "images_per_worker": len(blobs),
        "repeats": repeats,
        "rows": rows,
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {k: environment.describe()[k] for k in ("cpu_model", "cpu_count", "hostname")},
    }


def _cache_path() -> Path:
    """One file per machine: its CPU model, vCPU count and host name."""
    env = environment.describe()
    key = f"{env['cpu_model']}|{env['cpu_count']}|{env['hostname']}"
    return cache_dir() / "contention" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def cached_probe(measure: bool = True) -> dict | None:
    """This machine's probe: from the cache, else measured now (``measure``) and cached; None when a
    single core leaves nothing to probe or ``measure`` is off and nothing is cached.

    A probe taken while other work used more than ``DISTURBED_CORES`` of the machine measures that work
    as much as the cores: it is returned marked ``disturbed`` (with its ``background_cpu``), never
    cached, and the runner leaves it out of the model, so the next quiet run measures it again."""
    path = _cache_path()
    if path.is_file():
        result = json.loads(path.read_text())
        result["cached"] = str(path)
        return result
    cores = environment.vcpu_count()
    if cores < 2 or not measure:
        return None
    before = load.sample()
    result = probe(levels_for(cores))
    result |= load.between(before, load.sample())
    result["disturbed"] = bool(result["background_cpu"] > DISTURBED_CORES)  # NaN (not Linux): unknown
    if result["disturbed"]:
        return result
    path.parent.mkdir(parents=True, exist_ok=True)
    tables.write_json(result, path)
    result["cached"] = str(path)
    return result
