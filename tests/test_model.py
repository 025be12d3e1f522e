"""The scaling model: the simulator on known answers, the fit on tables with known parameters, the CLI."""

from __future__ import annotations

import heapq
import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import copy_run

from bench import tables
from bench.analysis import claim
from bench.analysis.pricebook import load_price_book
from bench.cli import main
from bench.model.calibration import COMPUTE_STAGES, Model, fit
from bench.model.platforms import platform_limits
from bench.model.projection import predict_case
from bench.model.simulator import schedule
from bench.model.validation import validate

# --- the simulator ------------------------------------------------------------------------------------


def test_one_worker_is_the_sum_of_service_times_plus_overheads():
    work = np.array([0.5, 1.0, 0.25, 2.0])
    s = schedule(work, 1, first_dispatch_s=0.3, dispatch_s=0.01, new_slot_s=0.8, end_gap_s=0.02)
    assert s.makespan_s == pytest.approx(0.3 + 0.8 + work.sum() + 3 * 0.01 + 0.02)
    assert s.slots_used == 1 and s.new_slot.tolist() == [True, False, False, False]


def test_infinite_workers_is_the_slowest_task_plus_overheads():
    rng = np.random.default_rng(1)
    work = rng.exponential(1.0, size=500)
    s = schedule(work, 10_000, first_dispatch_s=0.3, per_call_s=0.1, new_slot_s=0.8, end_gap_s=0.02)
    assert s.makespan_s == pytest.approx(0.3 + 0.1 + 0.8 + work.max() + 0.02)
    assert s.slots_used == 500


def _max_concurrent(start: np.ndarray, end: np.ndarray) -> int:
    events = sorted([(t, 1) for t in start] + [(t, -1) for t in end], key=lambda e: (e[0], e[1]))
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def test_concurrency_cap_is_honoured():
    work = np.full(1000, 2.0)
    s = schedule(work, 64)
    assert _max_concurrent(s.start_s, s.end_s) == 64
    assert s.makespan_s == pytest.approx(math.ceil(1000 / 64) * 2.0)
    # a platform cap below the workers asked for
    book = load_price_book()
    engine = platform_limits(book, "ibm_code_engine")
    assert engine.concurrency_cap == 64  # 64 vCPU per project at 1 vCPU per instance
    model = _fitted_model()
    p = predict_case(
        model, executor="lithops", workers=1000, images=5000, kernel="optimized", platform=engine
    )
    assert p.slots == 64


def test_invocation_rate_limit_is_honoured():
    n, limit, window = 1000, 100, 1.0
    s = schedule(np.zeros(n), 10_000, invocation_limit=(limit, window))
    starts = np.sort(s.start_s)
    # no window of length `window` holds more than `limit` starts
    counts = np.searchsorted(starts, starts + window - 1e-9) - np.arange(n)
    assert counts.max() <= limit
    assert s.makespan_s == pytest.approx((n - 1) // limit * window)
    # IBM Cloud Functions: 5,000 per minute, so 20,000 one-image calls need at least 3 minutes
    book = load_price_book()
    cf = platform_limits(book, "ibm_cloud_functions")
    assert cf.invocation_limit == (5000, 60.0)
    p = predict_case(
        _fitted_model(),
        executor="lithops",
        workers=1000,
        images=20_000,
        kernel="optimized",
        chunk_size=1,
        platform=cf,
    )
    assert p.predicted_wall_s >= 180


def test_scale_limit_delays_new_slots_but_reuses_free_ones():
    s = schedule(np.full(300, 0.5), 300, scale_limit=(100, 10.0))
    new_starts = np.sort(s.start_s[s.new_slot])
    assert (new_starts[100:] - new_starts[:-100] >= 10.0 - 1e-9).all()
    # free warm slots are used rather than waiting 10 s for new ones
    assert s.slots_used == 100 and s.makespan_s == pytest.approx(1.5)


def test_a_million_images_on_a_thousand_functions_takes_seconds():
    model = _fitted_model()
    book = load_price_book()
    aws = platform_limits(book, "aws_lambda")
    t0 = time.perf_counter()
    p = predict_case(
        model, executor="lithops", workers=1000, images=1_000_000, kernel="optimized", platform=aws, book=book
    )
    local = predict_case(model, executor="processes", workers=1000, images=1_000_000, kernel="optimized")
    assert time.perf_counter() - t0 < 10
    assert p.slots == 1000 and p.predicted_cost_usd > 0
    # 1,000 workers on this machine's cores share them: far slower than 1,000 functions
    assert local.cpu_share < 0.01 and local.predicted_wall_s > 10 * p.predicted_wall_s
    assert "share" in local.notes


# --- the fit on synthetic tables with known parameters -----------------------------------------------

KNOWN = {
    "first_dispatch_s": 0.3,
    "dispatch_s": 0.01,
    "end_gap_s": 0.02,
    "cold_start_s": 0.8,
    "fetch_latency_s": 0.001,
    "fetch_s_per_byte": 1e-8,
    "put_latency_s": 0.0005,
    "put_s_per_byte": 2e-8,
    "per_image_overhead_s": 0.0005,
}


def synthetic_case(executor: str, workers: int, chunk_size: int, images: int, seed: int) -> tuple[list, dict]:
    """A case played by hand with the KNOWN parameters: task rows and its runs row."""
    rng = np.random.default_rng(seed)
    k = KNOWN
    submit = 1_000_000.0
    case_id = f"{executor}-optimized-w{workers}-c{chunk_size}"
    free = [(submit, w, True) for w in range(workers)]  # (free time, worker, fresh)
    heapq.heapify(free)
    rows, last_end = [], submit
    for chunk_id, first in enumerate(range(0, images, chunk_size)):
        t, w, fresh = heapq.heappop(free)
        t += k["first_dispatch_s"] if fresh else k["dispatch_s"]
        for i in range(first, min(first + chunk_size, images)):
            bytes_in, bytes_out = int(rng.integers(10_000, 40_000)), int(rng.integers(5_000, 10_000))
            stages = {
                "fetch_s": k["fetch_latency_s"] + bytes_in * k["fetch_s_per_byte"],
                "decode_s": 0.002,
                "detect_s": float(rng.uniform(0.03, 0.07)),
                "landmarks_s": 0.002,
                "warp_s": 0.0005,
                "encode_s": 0.0005,
                "put_s": k["put_latency_s"] + bytes_out * k["put_s_per_byte"],
            }
            cold = fresh and i == first
            load = k["cold_start_s"] if cold else 0.0
            end = t + sum(stages.values()) + load + k["per_image_overhead_s"]
            rows.append(
                {
                    "run_id": "synthetic",
                    "case_id": case_id,
                    "repeat": 0,
                    "executor": executor,
                    "workers": workers,
                    "chunk_size": chunk_size,
                    "kernel": "optimized",
                    "store": "local",
                    "key": f"img{i:04d}.jpg",
                    "status": "ok",
                    "worker": f"host:{w}",
                    "pid": w,
                    "chunk_id": chunk_id,
                    "cold_start": cold,
                    "model_load_s": load,
                    "t_submit": submit,
                    "t_start": t,
                    "t_end": end,
                    "bytes_in": bytes_in,
                    "bytes_out": bytes_out,
                    **stages,
                }
            )
            t = end + 0.0001
            last_end = max(last_end, end)
        heapq.heappush(free, (t - 0.0001, w, False))
    wall = last_end - submit + k["end_gap_s"]
    run = {
        "run_id": "synthetic",
        "case_id": case_id,
        "repeat": 0,
        "executor": executor,
        "workers": workers,
        "chunk_size": chunk_size,
        "kernel": "optimized",
        "images": images,
        "wall_s": wall,
    }
    return rows, run


def synthetic_run() -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    rows, runs = [], []
    for seed, (executor, workers, chunk) in enumerate([("processes", 1, 10), ("processes", 2, 10)]):
        r, run = synthetic_case(executor, workers, chunk, 200, seed)
        rows += r
        runs.append(run)
    return pd.DataFrame(rows), pd.DataFrame(runs), {"environment": {"cpu_count": 2}}


def _fitted_model() -> Model:
    return fit(*synthetic_run())


def test_fit_recovers_known_parameters():
    tasks, runs, manifest = synthetic_run()
    model = fit(tasks, runs, manifest)
    over = model.overheads["processes"]
    assert over.first_dispatch_s == pytest.approx(KNOWN["first_dispatch_s"], abs=1e-3)
    assert over.dispatch_s == pytest.approx(KNOWN["dispatch_s"], abs=1e-3)
    assert over.end_gap_s == pytest.approx(KNOWN["end_gap_s"], abs=1e-3)
    dist = model.dist("optimized")
    assert dist.cold_start_s == pytest.approx(np.full(3, KNOWN["cold_start_s"]))  # one per worker start
    # compute: 0.005 s of fixed stages + detect uniform on [0.03, 0.07]
    assert np.median(dist.compute_s) == pytest.approx(0.055, abs=0.004)
    assert dist.compute_s.min() >= 0.035 - 1e-9 and dist.compute_s.max() <= 0.075 + 1e-9
    assert np.median(dist.overhead_s) == pytest.approx(KNOWN["per_image_overhead_s"] + 0.0001, abs=1e-5)
    store = model.store_fit
    assert store["fetch_latency_s"] == pytest.approx(KNOWN["fetch_latency_s"], rel=1e-3)
    assert store["fetch_s_per_mb"] == pytest.approx(KNOWN["fetch_s_per_byte"] * 1e6, rel=1e-3)
    assert store["put_latency_s"] == pytest.approx(KNOWN["put_latency_s"], rel=1e-3)
    assert store["put_s_per_mb"] == pytest.approx(KNOWN["put_s_per_byte"] * 1e6, rel=1e-3)
    assert model.cores == 2  # two workers, no stretch in their per-image time


def test_fit_sees_workers_sharing_cores():
    tasks, runs, manifest = synthetic_run()
    two = tasks["workers"] == 2
    for col in COMPUTE_STAGES:
        tasks.loc[two, col] *= 2.0  # as if two workers had one core between them
    model = fit(tasks, runs, manifest)
    assert model.cores == pytest.approx(1.0, rel=0.1)
    assert np.median(model.dist("optimized").compute_s) == pytest.approx(0.055, abs=0.005)


def test_model_fit_on_one_case_predicts_another():
    tasks, runs, manifest = synthetic_run()
    model = fit(tasks, runs, manifest, cases=["processes-optimized-w1-c10"])
    p = predict_case(model, executor="processes", workers=2, images=200, kernel="optimized", chunk_size=10)
    measured = runs.set_index("case_id").at["processes-optimized-w2-c10", "wall_s"]
    assert p.predicted_wall_s == pytest.approx(measured, rel=0.1)
    table = validate(tasks, runs, manifest)
    assert set(table["scheme"]) == {"workers", "leave-one-out"}
    # never fit and scored on the same case
    assert all(row.case_id not in row.fit_on.split(",") for row in table.itertuples())
    assert table["rel_error"].abs().max() < 0.1


# --- the CLI on small real runs -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("model-runs")
    common = ["--out", str(out), "--no-progress", "--repeats", "1"]
    assert (
        main(
            [
                "run",
                "--dataset",
                "synthetic:16",
                "--executors",
                "sequential,processes",
                "--workers",
                "1,2",
                *common,
            ]
        )
        == 0
    )
    optimized = max(out.iterdir())
    assert (
        main(["run", "--dataset", "synthetic:6", "--kernel", "naive", "--executors", "sequential", *common])
        == 0
    )
    naive = max(p for p in out.iterdir() if p != optimized)
    return optimized, naive


def test_project_json_shape(real_runs, capsys):
    optimized, _ = real_runs
    capsys.readouterr()
    argv = ["project", "--run", str(optimized), "--workers", "1,2,1000", "--images", "13233", "--json"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"executor", "workers", "images", "predicted_wall_s"} <= set(rows[0])
    assert {r["executor"] for r in rows} == {"sequential", "processes"}
    assert all(r["images"] == 13233 and r["predicted_wall_s"] > 0 for r in rows)
    assert len(rows) == 1 + 3  # sequential at one worker, processes at three counts
    assert (
        main(["project", "--run", str(optimized), "--platform", "aws_lambda", "--workers", "1000", "--json"])
        == 0
    )
    cloud = json.loads(capsys.readouterr().out)
    assert cloud[0]["executor"] == "lithops" and cloud[0]["platform"] == "aws_lambda"
    stored = pd.read_parquet(optimized / "projection.parquet")
    assert len(stored) == 5
    expected = [
        "executor",
        "platform",
        "workers",
        "images",
        "chunk_size",
        "predicted_wall_s",
        "predicted_cost_usd",
    ]
    assert set(expected) <= set(stored.columns)


def test_project_validate_and_user_errors(real_runs, capsys):
    optimized, _ = real_runs
    assert main(["project", "--run", str(optimized), "--validate", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    scored = [c for c in doc["cases"] if c["rel_error"] is not None]
    assert {c["scheme"] for c in scored} == {"workers", "leave-one-out"}
    assert all(c["case_id"] not in c["fit_on"].split(",") for c in doc["cases"])
    assert main(["project", "--run", str(optimized), "--platform", "mars"]) == 2
    assert main(["project", "--run", str(optimized), "--platform", "aws_lambda", "--executor", "dask"]) == 2
    assert main(["project", "--run", str(optimized / "nope")]) == 2
    assert "error:" in capsys.readouterr().err


def claim_times(optimized, naive, images: int = 1584) -> dict[str, float]:
    """The times the claim's factors come from, recomputed from the runs' own tables, per image scaled."""
    oruns, nruns = pd.read_parquet(optimized / "runs.parquet"), pd.read_parquet(naive / "runs.parquet")
    ntasks = pd.read_parquet(naive / "tasks.parquet")
    ok = ntasks[ntasks["status"] != "error"]
    stages = ["decode_s", "detect_s", "landmarks_s", "warp_s", "encode_s", "model_load_s"]
    parallel = oruns[oruns["executor"] != "sequential"].groupby("case_id")["wall_s"].median()
    return {
        "naive": nruns.loc[nruns["executor"] == "sequential", "wall_s"].median()
        * images
        / nruns["images"].max(),
        "optimized": oruns.loc[oruns["executor"] == "sequential", "wall_s"].median()
        * images
        / oruns["images"].max(),
        "best local": parallel.min() * images / oruns["images"].max(),
        "slowest naive image": ok[stages].sum(axis=1).max(),  # the naive kernel loads its models per image
    }


def test_claim_on_small_real_runs(real_runs, capsys):
    optimized, naive = real_runs
    capsys.readouterr()
    assert main(["claim", "--run", str(optimized), "--run", str(naive)]) == 0
    out = capsys.readouterr().out
    assert "scaled per image" in out and "2,200" in out and "accounting identity" in out
    table = pd.read_csv(optimized / "claim.csv")
    assert set(table["section"]) == {"claimed", "measured", "projected", "factor"}
    what = table.set_index("what")
    t = claim_times(optimized, naive)
    assert what.at["naive sequential", "time_s"] == pytest.approx(t["naive"])
    assert what.at["optimized sequential", "time_s"] == pytest.approx(t["optimized"])
    assert what.at["best local parallel", "time_s"] == pytest.approx(t["best local"])
    assert what.at["naive sequential", "speedup"] == pytest.approx(1.0)
    assert what.at["claimed: single computer / serverless", "speedup"] == pytest.approx(2200 / 35)

    # each factor of the chain against the times it comes from, and its basis
    assert main(["project", str(naive), "--scenario", "pattern-2019", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]  # the scenario as `facebench project` gives it
    busy, idle = (r["predicted_wall_s"] for r in rows)
    assert rows[0]["cpu_share"] < rows[1]["cpu_share"] == 1
    chain = claim.chain_rows(table)
    chain = chain.set_index(chain["what"].str.split(":").str[0])
    expected = {
        "machine": (2200 / t["naive"], "residual"),
        "x parallelism, ideal": (t["naive"] / t["slowest naive image"], "measured"),
        "x platform overheads": (t["slowest naive image"] / idle, "model: price book, CALIBRATED"),
        "x CPU share": (idle / busy, "price book: ESTIMATE"),
        "x unexplained": (busy / 35, "residual"),
    }
    assert list(chain.index) == list(expected)
    for name, (value, basis) in expected.items():
        assert chain.at[name, "speedup"] == pytest.approx(value, rel=1e-9), name
        assert chain.at[name, "basis"] == basis, name
    # intervals where the times have one: the scenario's draws; the naive run's one repeat has none
    low, high = rows[0]["predicted_wall_s_low"], rows[0]["predicted_wall_s_high"]
    assert chain.loc["x unexplained", ["speedup_low", "speedup_high"]].tolist() == pytest.approx(
        [low / 35, high / 35]
    )
    assert chain.loc[["machine", "x parallelism, ideal", "x CPU share"], "speedup_low"].isna().all()
    kernel_waste = what.at["kernel waste: naive / optimized, both sequential", "speedup"]
    assert kernel_waste == pytest.approx(t["naive"] / t["optimized"])
    fair_local = what.at["fair: optimized sequential / best local parallel", "speedup"]
    assert fair_local == pytest.approx(t["optimized"] / t["best local"])

    # the printed chain: its rounded factors multiply to the ratio it states, within 1%
    text = claim.chain_text(table)
    assert text in out
    stated, factors = text.split("x = ")
    product = np.prod([float(f.replace(",", "")) for f in factors.split(" x ")])
    assert product == pytest.approx(float(stated), rel=0.01)

    pattern = table[table["what"].str.contains("one function per image") & (table["section"] == "projected")]
    assert (pattern["workers"] == 1584).all() and (pattern["chunk_size"] == 1).all()
    doc = json.loads((optimized / "claim.json").read_text())
    assert doc["images"] == 1584 and doc["runs"]["naive"] == str(naive)
    # one --run: the naive run is found beside it only on the same dataset
    assert main(["claim", "--run", str(optimized)]) == 2
    assert "naive" in capsys.readouterr().err


def test_a_factor_carries_the_interval_of_the_naive_time(real_runs, tmp_path, capsys):
    """With 7 repeats of the naive sequential case, its 95% interval (min-max at 7) reaches the factors."""
    optimized, naive = real_runs
    seven = copy_run(naive, tmp_path / naive.name)
    runs = pd.read_parquet(seven / "runs.parquet")
    walls = runs["wall_s"].iloc[0] * np.array([0.9, 0.95, 0.98, 1.0, 1.02, 1.05, 1.1])
    pd.concat([runs] * 7, ignore_index=True).assign(repeat=range(7), wall_s=walls).to_parquet(
        seven / "runs.parquet"
    )
    assert main(["claim", str(optimized), str(seven)]) == 0
    table = pd.read_csv(optimized / "claim.csv").set_index("what")
    naive_s = table.at["naive sequential", "time_s"]
    scale = naive_s / np.median(walls)
    assert table.loc["naive sequential", ["time_s_low", "time_s_high"]].tolist() == pytest.approx(
        [walls.min() * scale, walls.max() * scale]
    )
    machine = table.loc["machine: published single computer / naive sequential here"]
    assert [machine["speedup_low"], machine["speedup_high"]] == pytest.approx(
        [2200 / (walls.max() * scale), 2200 / (walls.min() * scale)]
    )
    assert machine["speedup_low"] < machine["speedup"] < machine["speedup_high"]
    assert "[" in capsys.readouterr().out.split("machine ")[-1].splitlines()[0]


def test_claim_finds_the_other_kernel_beside_the_run(tmp_path):
    def fake(name: str, kernel: str, images: int) -> None:
        d = tmp_path / name
        d.mkdir()
        pd.DataFrame({"executor": ["sequential"], "kernel": [kernel]}).to_parquet(d / "runs.parquet")
        pd.DataFrame({"key": []}).to_parquet(d / "tasks.parquet")
        (d / "manifest.json").write_text(json.dumps({"dataset": {"name": "seed", "images": images}}))

    fake("20260101-000000-aaaa", "optimized", 1584)
    fake("20260101-000001-bbbb", "naive", 1584)
    fake("20260101-000002-cccc", "naive", 24)  # newer, other dataset
    picked = claim.pick_runs([str(tmp_path / "20260101-000000-aaaa")], root=tmp_path)
    assert picked["naive"].name == "20260101-000001-bbbb"
    assert claim.pick_runs(None, root=tmp_path) == picked


def test_claim_finds_the_newest_run_by_the_one_rule_every_command_uses(tmp_path):
    """The newest is the newest by start time (tables.newest_run), as resolve_run has it, not by name."""
    for name, kernel, started in (
        ("b-naive-older", "naive", "2026-01-01T00:00:00"),
        ("a-naive-newer", "naive", "2026-01-02T00:00:00"),
        ("c-optimized", "optimized", "2026-01-01T00:00:00"),
    ):
        d = tmp_path / name
        d.mkdir()
        pd.DataFrame({"executor": ["sequential"], "kernel": [kernel]}).to_parquet(d / "runs.parquet")
        pd.DataFrame({"key": []}).to_parquet(d / "tasks.parquet")
        manifest = {"started_at": started, "dataset": {"name": "seed", "images": 24}}
        (d / "manifest.json").write_text(json.dumps(manifest))
    assert claim.pick_runs(None, root=tmp_path)["naive"].name == "a-naive-newer"
    assert tables.resolve_run(None, root=tmp_path).name == "a-naive-newer"


def test_claim_projected_rows_carry_prediction_intervals_or_none(tmp_path, capsys):
    """Projected on Cloud Functions (published jobs held out): an interval at least the model's error
    wide on each side; on Code Engine (none published): no interval, "not validated"."""
    root = Path(__file__).resolve().parents[1] / "results"
    optimized = copy_run(root / "reference", tmp_path / "reference")
    naive = copy_run(root / "pattern-2019" / "naive-run", tmp_path / "naive-run")
    assert main(["claim", str(optimized), str(naive)]) == 0
    table = pd.read_csv(optimized / "claim.csv")
    projected = table[table["section"] == "projected"]
    assert (projected["interval_coverage"] == 0.9).all()
    for row in projected.itertuples():
        assert row.time_s_low <= row.time_s * (1 - row.model_error)
        assert row.time_s_high >= row.time_s * (1 + row.model_error)
    assert main(["claim", str(optimized), str(naive), "--platform", "ibm_code_engine"]) == 0
    engine = pd.read_csv(optimized / "claim.csv")
    engine = engine[engine["section"] == "projected"]
    assert engine["time_s_low"].isna().all() and engine["model_error"].isna().all()
    assert engine["note"].str.contains("not validated").all()
    capsys.readouterr()
