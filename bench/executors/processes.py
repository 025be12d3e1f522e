"""Local worker processes (concurrent.futures).

Cold: workers are spawned fresh, so that no model is inherited, and each loads the models inside the
clock. Warm: the client loads the models once, then forks the workers, which share the model pages
copy-on-write (the tasks table's ``worker_pss_mb`` shows what each really costs); the tutorial code
people copy does the same.

A worker that dies (killed, out of memory, ended by the watchdog) breaks the whole pool: every chunk
not yet back fails with BrokenProcessPool. Those chunks are reported as failed; the next
``map_unordered`` (the retry of just those chunks, bench/faults.py) starts a fresh pool first.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from bench.executors.base import Executor


def _pid_after_pause() -> int:
    time.sleep(0.05)
    return os.getpid()


class ProcessesExecutor(Executor):
    name = "processes"
    can_start_warm = True

    @property
    def backend(self) -> str:
        return "fork" if self.warm_load is not None else "spawn"

    def start(self) -> None:
        self._broken = False
        self.restarts = 0
        self._spawn()

    def _spawn(self) -> None:
        if self.warm_load is not None:
            self.warm_load(1)  # in the client, before the fork: every worker inherits the loaded models
        self._pool = ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context(self.backend), initializer=self.worker_setup
        )
        # The pool spawns lazily; have every worker up before the clock starts.
        pids: set[int] = set()
        while len(pids) < self.workers:
            pids |= {f.result() for f in [self._pool.submit(_pid_after_pause) for _ in range(self.workers)]}

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if isinstance(exc_type, type) and issubclass(exc_type, KeyboardInterrupt):
            # Interrupted (Ctrl-C, SIGTERM): end the workers now rather than wait for their chunks.
            for process in dict(getattr(self._pool, "_processes", None) or {}).values():
                with contextlib.suppress(Exception):
                    process.terminate()
        self.close()

    def _restart(self) -> None:
        """A fresh pool in place of a broken one, with every worker up before work resumes."""
        with contextlib.suppress(Exception):
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._spawn()
        self._broken = False
        self.restarts += 1

    def map_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        if self._broken:
            self._restart()
        pending = {self._pool.submit(fn, item): i for i, item in enumerate(items)}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                i = pending.pop(future)
                exc = future.exception()
                if isinstance(exc, BrokenProcessPool):
                    self._broken = True
                yield i, exc if exc is not None else future.result()
