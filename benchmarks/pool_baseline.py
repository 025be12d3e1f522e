"""The approach people copy today, as a baseline: a multiprocessing.Pool with one apply_async per image.

This is the shape of the widely used facenet tutorial's preprocess script: the aligner is built once in
the parent and inherited by forked workers, every image is its own task, files in and files out. It
runs the same kernel as facebench, so the two differ only in how the work is dispatched.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from dataclasses import dataclass
from pathlib import Path

from pipelines import kernels

#: The faithful kernel, as on facebench's side of the comparison.
KERNEL = kernels.get(kernels.FAITHFUL)


@dataclass(frozen=True)
class BaselineResult:
    wall_s: float  # the model load plus every image, from the first submit to the last result
    load_s: float  # the parent's model load, inside wall_s
    pool_start_s: float  # forking the pool, outside wall_s (facebench starts its workers before its clock)
    statuses: dict[str, str]  # each key's status


def _align_file(src: str, dst: str) -> str:
    result = KERNEL.process(Path(src).read_bytes())
    if result.crop is not None:
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        Path(dst).write_bytes(result.crop)
    return result.status


def run(root: Path, keys: list[str], out: Path, workers: int, warm: bool = False) -> BaselineResult:
    """The whole job, on facebench's clock (docs/benchmarks.md, "One clock for all"): the model load
    inside it, the pool's start outside it, the clock stopped when the last result is in.

    The tutorial's script loads the models once, in the parent, then forks its pool: so the clock
    runs over that load, pauses while the pool forks, and runs again from the first submit. Models
    this process loaded earlier (a previous run, facebench's in-process sequential case) are
    forgotten first, so that every run pays the load. ``warm``: the load is outside the clock, as the
    tutorial's own timing has it (the aligner is built at import), and as facebench's warm start.
    """
    KERNEL.unload()
    t0 = time.perf_counter()
    KERNEL.preload(1)  # built in the parent, inherited warm by the forked workers, as in the tutorial
    load_s = 0.0 if warm else time.perf_counter() - t0
    t1 = time.perf_counter()
    pool = mp.get_context("fork").Pool(processes=workers)
    pool_start_s = time.perf_counter() - t1
    try:
        t2 = time.perf_counter()
        pending = {key: pool.apply_async(_align_file, (str(root / key), str(out / key))) for key in keys}
        statuses = {key: result.get() for key, result in pending.items()}
        wall_s = load_s + time.perf_counter() - t2
    finally:
        pool.close()
        pool.join()
    return BaselineResult(wall_s, load_s, pool_start_s, statuses)
