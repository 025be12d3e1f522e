"""How many images a task gets when the user leaves the chunk size to the harness.

Each executor declares its ``chunks_per_worker``: local pools keep a few chunks per worker so that a
slow chunk does not leave a core idle; a Lithops call starts a fresh process that loads the models
again, so one call per worker keeps cold starts to one per slot. On 16 cores chunks of 8 were within
single-run noise of this default (results/scaling-16core, docs/benchmarks.md); no 2-core comparison
was kept.
"""

from __future__ import annotations

import math

from bench.executors import Traits, traits_of


def chunk_size_for(
    executor: str | Traits, images: int, workers: int, asked: int | None = None, recorded: dict | None = None
) -> int:
    """The chunk size asked for, or the executor's default for this many images and workers."""
    if asked is not None:
        return asked
    traits = executor if isinstance(executor, Traits) else traits_of(executor, recorded)
    return max(1, math.ceil(images / (workers * traits.chunks_per_worker)))


def is_default(executor: str | Traits, images: int, workers: int, chunk_size: int, recorded=None) -> bool:
    """Whether a case ran with the chunk size the harness would choose."""
    return chunk_size == chunk_size_for(executor, images, workers, recorded=recorded)


def chunk_sizes(images: int, chunk_size: int, workers: int, guided: bool) -> list[int]:
    """How the images are cut: equal chunks of ``chunk_size``, or, ``guided``, chunks that shrink
    near the end (OpenMP's guided schedule: each takes half a fair share of what remains, at most
    ``chunk_size``, at least one image), so that no worker waits alone on a long last chunk while
    the others sit idle. Not for executors whose every call pays a fresh process: more calls would
    mean more model loads."""
    sizes, remaining = [], images
    while remaining > 0:
        size = min(chunk_size, max(1, math.ceil(remaining / (2 * workers)))) if guided else chunk_size
        size = min(size, remaining)
        sizes.append(size)
        remaining -= size
    return sizes
