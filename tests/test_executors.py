"""Every executor runs the same chunk function and gives the same per-image outputs."""

from __future__ import annotations

import os
import time
from functools import partial
from pathlib import Path

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


def _rendezvous(folder: str, _item: int) -> int:
    """This process's pid, once a second process has arrived too (or after 5 s, alone)."""
    Path(folder, str(os.getpid())).touch()
    deadline = time.monotonic() + 5
    while len(os.listdir(folder)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
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
def test_pools_use_as_many_processes_as_workers(name, tmp_path):
    # Each item waits until another process holds one too: two items finish at once only where two
    # worker processes run them side by side; one process would leave both alone, and fail here.
    with executor_class(name)(2) as ex:
        t0 = time.monotonic()
        pids = {pid for _, pid in ex.map_unordered(partial(_rendezvous, str(tmp_path)), [0, 1])}
        waited = time.monotonic() - t0
    assert os.getpid() not in pids
    assert len(pids) == 2 and waited < 5


def test_unknown_executor_is_a_user_error():
    with pytest.raises(UserError, match="unknown executor 'spark'"):
        executor_class("spark")


def test_lithops_finds_its_config_as_lithops_does(tmp_path, monkeypatch):
    from bench.errors import UserError
    from bench.executors.lithops import LithopsExecutor, find_config_file

    monkeypatch.delenv("LITHOPS_CONFIG_FILE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    path, source = find_config_file(None)
    assert path is None and "localhost" in source
    assert LithopsExecutor(1).describe()["config"] == source  # the manifest says so
    home = tmp_path / ".lithops" / "config"
    home.parent.mkdir()
    home.write_text("lithops:\n  backend: localhost\n  storage: localhost\n")
    assert find_config_file(None) == (home, "~/.lithops/config")
    named = tmp_path / "env.yaml"
    named.write_text("lithops:\n  backend: aws_lambda\n  storage: aws_s3\n")
    monkeypatch.setenv("LITHOPS_CONFIG_FILE", str(named))
    assert find_config_file(None) == (named, "LITHOPS_CONFIG_FILE")
    assert LithopsExecutor(1).backend == "aws_lambda"
    assert find_config_file(home)[1] == "--lithops-config"  # the flag wins
    monkeypatch.setenv("LITHOPS_CONFIG_FILE", str(tmp_path / "gone.yaml"))
    with pytest.raises(UserError, match="LITHOPS_CONFIG_FILE"):
        find_config_file(None)


def test_executors_declare_themselves():
    from bench.executors import Executor, traits_of

    assert traits_of("lithops").fresh_process_per_call and not traits_of("lithops").can_start_warm
    assert traits_of("lithops").chunks_per_worker == 1 and traits_of("processes").chunks_per_worker == 4
    assert traits_of("sequential").in_process
    # an executor that declares nothing gets the documented defaults: cold starts only
    bare = type("Bare", (Executor,), {"name": "bare", "map_unordered": lambda self, fn, items: iter(())})
    t = bare.traits()
    declared = (t.chunks_per_worker, t.fresh_process_per_call, t.in_process, t.can_start_warm)
    assert declared == (4, False, False, False)
    assert bare(3).slots == 3 and bare(3).billing.kind == "machine"
    # a name the harness does not know: defaults, never a KeyError after the work is done
    assert traits_of("gone", {}).chunks_per_worker == 4
