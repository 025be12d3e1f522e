"""Local worker processes (concurrent.futures), spawned fresh so that no model is inherited warm."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from bench.executors.base import Executor


def _pid_after_pause() -> int:
    time.sleep(0.05)
    return os.getpid()


class ProcessesExecutor(Executor):
    name = "processes"

    @property
    def backend(self) -> str:
        return "spawn"

    def start(self) -> None:
        self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        # The pool spawns lazily; have every worker up before the clock starts.
        pids: set[int] = set()
        while len(pids) < self.workers:
            pids |= {f.result() for f in [self._pool.submit(_pid_after_pause) for _ in range(self.workers)]}

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def map_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        pending = {self._pool.submit(fn, item): i for i, item in enumerate(items)}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                i = pending.pop(future)
                exc = future.exception()
                yield i, exc if exc is not None else future.result()
