"""A plain loop in the client process: the reference every other case is checked and timed against."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from bench.executors.base import Executor


class SequentialExecutor(Executor):
    name = "sequential"
    in_process = True
    chunks_per_worker = 1
    can_start_warm = True  # warm: the models loaded in this process before the clock

    def start(self) -> None:
        if self.warm_load is not None:
            self.warm_load(1)

    def __init__(self, workers: int = 1) -> None:
        if workers != 1:
            raise ValueError("the sequential executor has exactly one worker")
        super().__init__(1)

    def map_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        for i, item in enumerate(items):
            try:
                yield i, fn(item)
            except Exception as exc:
                yield i, exc
