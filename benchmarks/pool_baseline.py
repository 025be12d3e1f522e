"""The approach people copy today, as a baseline: a multiprocessing.Pool with one apply_async per image.

This is the shape of the widely used facenet tutorial's preprocess script: the aligner is built once in
the parent and inherited by forked workers, every image is its own task, files in and files out. It
runs the same kernel as facebench, so the two differ only in how the work is dispatched.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

from pipelines import faces


def _align_file(src: str, dst: str) -> str:
    result = faces.process(Path(src).read_bytes())
    if result.crop is not None:
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        Path(dst).write_bytes(result.crop)
    return result.status


def run(root: Path, keys: list[str], out: Path, workers: int) -> tuple[float, dict[str, str]]:
    """Wall seconds for the whole job (model load, pool, every image) and each key's status.

    The clock includes the parent's model load, as facebench's includes each worker's: the tutorial's
    script pays it at import, before its pool exists.
    """
    start = time.perf_counter()
    faces.shared_aligner()  # built in the parent, inherited warm by the forked workers, as in the tutorial
    pool = mp.get_context("fork").Pool(processes=workers)
    pending = {key: pool.apply_async(_align_file, (str(root / key), str(out / key))) for key in keys}
    pool.close()
    pool.join()
    wall = time.perf_counter() - start
    return wall, {key: result.get() for key, result in pending.items()}
