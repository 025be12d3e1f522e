"""Every executor runs the same chunk function and gives the same per-image outputs."""

from __future__ import annotations

import os
from functools import partial

import pytest
from conftest import EXECUTORS

from bench.errors import UserError
from bench.executors import executor_class
from bench.run.task import CaseContext, Chunk, run_chunk
from bench.stores.local import LocalStore


def _fail_on_odd(x: int) -> int:
    if x % 2:
        raise RuntimeError(f"odd {x}")
    return os.getpid()


def _workers(name: str) -> int:
    return 1 if name == "sequential" else 2


@pytest.fixture(scope="module")
def reference(synthetic_small, tmp_path_factory):
    ctx = CaseContext(LocalStore(synthetic_small.root), LocalStore(tmp_path_factory.mktemp("ref")))
    return {r["key"]: r for r in run_chunk(Chunk(0, synthetic_small.keys, 0.0), ctx)}


@pytest.mark.parametrize("name", EXECUTORS)
def test_executor_outputs_match_the_reference(name, synthetic_small, reference, tmp_path):
    keys = synthetic_small.keys
    chunks = [Chunk(i, keys[s : s + 5], 0.0) for i, s in enumerate(range(0, len(keys), 5))]
    ctx = CaseContext(LocalStore(synthetic_small.root), LocalStore(tmp_path))
    with executor_class(name)(_workers(name)) as ex:
        results = dict(ex.map_unordered(partial(run_chunk, ctx=ctx), chunks))
    assert sorted(results) == list(range(len(chunks)))
    records = [r for i in sorted(results) for r in results[i]]
    assert [r["key"] for r in records] == list(keys)
    for rec in records:
        ref = reference[rec["key"]]
        assert (rec["status"], rec["output_sha256"]) == (ref["status"], ref["output_sha256"])
        if rec["status"] == "ok":
            assert (tmp_path / rec["key"]).is_file()
    # Fresh worker processes load the models and say so (the sequential loop reuses this process's).
    assert any(r["cold_start"] for r in records) or name == "sequential"
    assert all(r["model_load_s"] > 0 for r in records if r["cold_start"])


@pytest.mark.parametrize("name", EXECUTORS)
def test_a_failing_item_is_reported_not_raised(name):
    with executor_class(name)(_workers(name)) as ex:
        results = dict(ex.map_unordered(_fail_on_odd, [0, 1, 2, 3]))
    assert isinstance(results[1], RuntimeError) and isinstance(results[3], RuntimeError)
    assert isinstance(results[0], int) and isinstance(results[2], int)


@pytest.mark.parametrize("name", ["processes", "dask"])
def test_pools_use_as_many_processes_as_workers(name):
    with executor_class(name)(2) as ex:
        pids = {pid for _, pid in ex.map_unordered(_fail_on_odd, [0, 2, 4, 6, 8, 10, 12, 14])}
    assert os.getpid() not in pids
    assert 1 <= len(pids) <= 2


def test_unknown_executor_is_a_user_error():
    with pytest.raises(UserError, match="unknown executor 'spark'"):
        executor_class("spark")
