"""An executor from outside facebench: a spawn-context process pool, in about 20 lines.

Use it with `facebench run --executors sequential,spawn_pool:SpawnPool` with this file's folder on
PYTHONPATH, or register it under the `facebench.executors` entry-point group of your own package.
Everything it does not declare takes the documented defaults (docs/architecture.md).
"""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed

from bench.executors import Executor


class SpawnPool(Executor):
    name = "spawn-pool"  # what the tables, figures and compare call it
    chunks_per_worker = 2  # declared: the harness cuts the images into about workers x 2 tasks

    def start(self) -> None:
        self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def map_unordered(self, fn, items):
        futures = {self._pool.submit(fn, item): i for i, item in enumerate(items)}
        for future in as_completed(futures):
            yield futures[future], future.exception() or future.result()
