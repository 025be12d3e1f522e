"""Per-task dispatch overhead of each executor: an empty function over many items, workers already up."""

from __future__ import annotations

import pytest

from bench.executors import EXECUTORS, executor_class

ITEMS = 64


def empty(x: int) -> int:
    return x


@pytest.mark.parametrize("name", list(EXECUTORS))
def test_dispatch_overhead(benchmark, name):
    workers = 1 if name == "sequential" else 2
    with executor_class(name)(workers) as executor:

        def dispatch():
            return sorted(i for i, _ in executor.map_unordered(empty, list(range(ITEMS))))

        rounds = 3 if name == "lithops" else 10
        assert benchmark.pedantic(dispatch, rounds=rounds, iterations=1) == list(range(ITEMS))
    benchmark.extra_info["items_per_round"] = ITEMS
