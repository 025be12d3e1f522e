"""How many images a task gets when the user leaves the chunk size to the harness.

Local pools keep a few chunks per worker so that a slow chunk does not leave a core idle; a Lithops
call starts a fresh process that loads the models again, so one call per worker keeps cold starts to
one per slot. Measured on 2 and 16 cores (docs/benchmarks.md): chunks of 8 were no faster anywhere
and slower for Dask on 2 cores, where the scheduler shares the workers' CPUs.
"""

from __future__ import annotations

import math

CHUNKS_PER_WORKER = {"sequential": 1, "processes": 4, "dask": 4, "lithops": 1}


def chunk_size_for(executor: str, images: int, workers: int, asked: int | None = None) -> int:
    """The chunk size asked for, or the default for this executor, images and workers."""
    if asked is not None:
        return asked
    return max(1, math.ceil(images / (workers * CHUNKS_PER_WORKER.get(executor, 4))))


def is_default(executor: str, images: int, workers: int, chunk_size: int) -> bool:
    """Whether a case ran with the chunk size the harness would choose."""
    return chunk_size == chunk_size_for(executor, images, workers)
