"""The calibrated model: what a run's ``tasks`` table measured (one machine, a few workers), turned
into parameters a simulation can scale.

* per-image service time, kept as the measured rows themselves (compute stages, store time and the
  harness's own per-image overhead, row by row) and resampled, so a projection keeps the real shape
  of the distribution (no-face images, slow outliers), not only its mean;
* the cold start: ``model_load_s`` of the rows that paid it (``cold_start``); a kernel that declares it
  loads its models for every image (naive) pays that load in every image, so for it the load is part
  of the per-image service time;
* per executor, the dispatch overhead: for a worker's first chunk, the time from ``t_submit`` to the
  chunk's first ``t_start`` (a fresh process imports the kernel there); for a later chunk, the time
  from the end of the worker's previous chunk to its start; the time between a case's last ``t_end``
  and its measured wall time (gathering results);
* the store: a latency and a per-byte time, fitted by least squares of ``fetch_s`` on ``bytes_in``
  and ``put_s`` on ``bytes_out`` (reported; the simulator resamples the measured store times);
* how many cores the workers really had: the machine's ``cpu_count`` (manifest), or fewer where the
  fit cases with several workers show their per-image time stretched by sharing beyond what
* the machine's contention probe (bench/run/contention.py, recorded in the manifest, or a committed
  ``contention*.json`` in the run folder) explains: each worker's service time slowed by how many
  cores are busy (caches, memory bandwidth, a VM's physical cores behind its vCPUs).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench import tables
from bench.analysis.billing import Machine, choose_machine
from bench.analysis.pricebook import PriceBook, load_price_book
from bench.errors import UserError
from bench.executors import Traits, traits_of
from bench.kernels import declared

__all__ = [
    "COMPUTE_STAGES",
    "STORE_STAGES",
    "Model",
    "Overheads",
    "ServiceDist",
    "case_table",
    "contention_of",
    "fit",
    "machine_of",
    "read_run",
    "with_contention",
]

COMPUTE_STAGES = ["decode_s", "detect_s", "landmarks_s", "warp_s", "encode_s"]
STORE_STAGES = ["fetch_s", "put_s"]


@dataclass
class ServiceDist:
    """One kernel's measured images, row by row, at one uncontended core (seconds)."""

    kernel: str
    compute_s: np.ndarray  # decode..encode, plus the model load of a kernel that loads per image
    store_s: np.ndarray  # fetch + put
    overhead_s: np.ndarray  # the harness between and around images, not explained by the stages
    ok: np.ndarray  # bool: the image produced a crop (one PUT)
    cold_start_s: np.ndarray  # model loads paid once per process (optimized kernel); may be empty
    stages: dict[str, float] = field(default_factory=dict)  # median seconds per stage, for reports

    def __len__(self) -> int:
        return len(self.compute_s)

    def sample(self, images: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``images`` rows drawn with replacement: (compute, store, overhead)."""
        idx = rng.integers(0, len(self), size=images)
        return self.compute_s[idx], self.store_s[idx], self.overhead_s[idx]

    def resampled(self, rng: np.random.Generator) -> ServiceDist:
        """A bootstrap copy (the measured images drawn with replacement, cold starts apart): what the
        fit could have been, for the projection's interval."""
        idx = rng.integers(0, len(self), size=len(self))
        cold = self.cold_start_s
        cold = cold[rng.integers(0, len(cold), size=len(cold))] if len(cold) else cold
        return ServiceDist(
            self.kernel,
            self.compute_s[idx],
            self.store_s[idx],
            self.overhead_s[idx],
            self.ok[idx],
            cold,
            self.stages,
        )

    def sample_cold(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if len(self.cold_start_s) == 0:
            return np.zeros(n)
        return self.cold_start_s[rng.integers(0, len(self.cold_start_s), size=n)]


@dataclass
class Overheads:
    """One executor's measured overheads (seconds); ``source`` says where they came from."""

    first_dispatch_s: float
    dispatch_s: float
    end_gap_s: float
    source: str


@dataclass
class Model:
    dists: dict[str, ServiceDist]
    overheads: dict[str, Overheads]
    cpu_count: int
    cores: float  # cores the workers effectively had (<= cpu_count)
    store_fit: dict[str, float]
    fit_cases: list[str]
    notes: list[str] = field(default_factory=list)
    executors: dict[str, dict] = field(default_factory=dict)  # the manifest's declared traits
    machine: Machine | None = None  # what the measured machine is priced as
    contention: list[tuple[int, float]] = field(default_factory=list)  # (busy cores, slowdown), probed

    def slowdown(self, busy: int) -> float:
        """How much slower each worker's compute runs with ``busy`` cores busy (1 with no probe)."""
        return contention_slowdown(self.contention, busy)

    def traits(self, executor: str) -> Traits:
        """What the executor declared (chunking, a fresh process per call, in-process)."""
        return traits_of(executor, self.executors)

    def dist(self, kernel: str) -> ServiceDist:
        if kernel not in self.dists:
            have = ", ".join(sorted(self.dists)) or "none"
            raise KeyError(f"no {kernel!r} kernel cases to fit (have: {have})")
        return self.dists[kernel]

    def overhead(self, executor: str) -> Overheads:
        if executor in self.overheads:
            return self.overheads[executor]
        return _fallback_overheads(self.overheads, executor, self.traits)

    def summary(self) -> dict:
        """The parameters as plain numbers, for printing and JSON."""
        return {
            "fit_cases": self.fit_cases,
            "cpu_count": self.cpu_count,
            "cores": round(self.cores, 3),
            "kernels": {
                k: {
                    "images": len(d),
                    "compute_s_median": float(np.median(d.compute_s)),
                    "compute_s_p95": float(np.percentile(d.compute_s, 95)),
                    "cold_start_s_median": float(np.median(d.cold_start_s)) if len(d.cold_start_s) else None,
                    "stages_median_s": d.stages,
                }
                for k, d in self.dists.items()
            },
            "executors": {e: vars(o) for e, o in self.overheads.items()},
            "store": self.store_fit,
            "contention": [{"busy_cores": b, "slowdown": s} for b, s in self.contention],
            "notes": self.notes,
        }


def contention_of(manifest: dict) -> list[tuple[int, float]]:
    """The probe's (busy cores, slowdown) rows from a manifest; one worker's speed is the unit, so no
    level is faster than it. Empty when the run has no probe."""
    rows = (manifest.get("contention") or {}).get("rows") or []
    return sorted((int(r["workers"]), max(1.0, float(r["slowdown"]))) for r in rows)


def contention_slowdown(rows: list[tuple[int, float]], busy: int | np.ndarray) -> float | np.ndarray:
    """The slowdown at ``busy`` cores: interpolated between probed levels, flat beyond them."""
    if not rows:
        return np.ones_like(busy, dtype=float) if isinstance(busy, np.ndarray) else 1.0
    xs, ys = zip(*rows, strict=True)
    value = np.interp(busy, xs, ys)
    return value if isinstance(busy, np.ndarray) else float(value)


def case_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per measured case: its configuration and median wall time over repeats."""
    keys = ["case_id", "executor", "workers", "chunk_size", "kernel"]
    table = runs.groupby(keys, sort=False).agg(wall_s=("wall_s", "median"), images=("images", "max"))
    return table.reset_index()


def _active(workers: int, images: int, chunk_size: int) -> int:
    return max(1, min(int(workers), math.ceil(images / max(1, int(chunk_size)))))


def _prepare(tasks: pd.DataFrame, per_image_load: set[str]) -> pd.DataFrame:
    """Per row: compute, store and unexplained overhead; per chunk: its dispatch gap.
    ``per_image_load``: the kernels that load their models for every image."""
    t = tasks.loc[tasks["status"] != "error"].copy()
    for col in [*COMPUTE_STAGES, *STORE_STAGES, "model_load_s"]:
        t[col] = pd.to_numeric(t[col], errors="coerce").fillna(0.0)
    t["cold_start"] = t["cold_start"].fillna(False).astype(bool)
    stages = t[COMPUTE_STAGES].sum(axis=1)
    # A kernel that loads the models in every image: that load is per-image service time.
    t["compute"] = stages + np.where(t["kernel"].isin(per_image_load), t["model_load_s"], 0.0)
    t["store"] = t[STORE_STAGES].sum(axis=1)
    explained = t["compute"] + t["store"] + np.where(t["cold_start"], t["model_load_s"], 0.0)
    t = t.sort_values(["case_id", "repeat", "chunk_id", "t_start"])
    nxt = t.groupby(["case_id", "repeat", "chunk_id"])["t_start"].shift(-1)
    gap_after = (nxt - t["t_end"]).fillna(0.0).clip(lower=0.0)
    t["overhead"] = ((t["t_end"] - t["t_start"]) - explained).clip(lower=0.0) + gap_after
    return t


def _dispatch_gaps(t: pd.DataFrame) -> pd.DataFrame:
    """Per chunk: the idle time before it started on its worker, and whether it was the worker's first."""
    chunks = (
        t.groupby(["executor", "case_id", "repeat", "chunk_id"])
        .agg(worker=("worker", "first"), submit=("t_submit", "min"), start=("t_start", "min"))
        .join(t.groupby(["executor", "case_id", "repeat", "chunk_id"])["t_end"].max().rename("end"))
        .reset_index()
        .sort_values(["case_id", "repeat", "worker", "start"])
    )
    prev_end = chunks.groupby(["case_id", "repeat", "worker"])["end"].shift(1)
    chunks["first"] = prev_end.isna()
    chunks["gap"] = (chunks["start"] - prev_end.fillna(chunks["submit"])).clip(lower=0.0)
    return chunks


def _end_gaps(t: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per case and repeat: measured wall time minus the span from submission to the last ``t_end``."""
    span = t.groupby(["executor", "case_id", "repeat"]).agg(submit=("t_submit", "min"), end=("t_end", "max"))
    span = span.reset_index().merge(runs[["case_id", "repeat", "wall_s"]], on=["case_id", "repeat"])
    span["end_gap"] = (span["wall_s"] - (span["end"] - span["submit"])).clip(lower=0.0)
    return span


def _fallback_overheads(
    known: dict[str, Overheads], executor: str, traits: Callable[[str], Traits]
) -> Overheads:
    """An executor not measured in the fit: the closest measured one, one of the same kind (a fresh
    process per call, or not) first; an in-process loop says nothing of dispatch.

    An in-process executor runs in the client process, already imported: nothing to dispatch.
    """
    mine = traits(executor)
    if mine.in_process:
        return Overheads(0.0, 0.0, 0.0, "not measured: in-process, assumed 0")
    others = [n for n in sorted(known) if n != executor and not traits(n).in_process]
    others.sort(key=lambda n: traits(n).fresh_process_per_call != mine.fresh_process_per_call)
    for name in others:
        o = known[name]
        return Overheads(o.first_dispatch_s, o.dispatch_s, o.end_gap_s, f"not measured: as {name}")
    return Overheads(0.0, 0.0, 0.0, "not measured: assumed 0")


def _linear(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least squares y = a + b x with a, b >= 0; (median, 0) when x does not vary."""
    if len(x) == 0:
        return 0.0, 0.0
    if len(x) < 3 or np.ptp(x) == 0:
        return float(np.median(y)), 0.0
    b, a = np.polyfit(x.astype(float), y.astype(float), 1)
    if b < 0:
        return float(np.median(y)), 0.0
    if a < 0:
        return 0.0, float(np.sum(x * y) / np.sum(x * x))
    return float(a), float(b)


def fit(
    tasks: pd.DataFrame,
    runs: pd.DataFrame,
    manifest: dict | None = None,
    cases: Iterable[str] | None = None,
    machine: Machine | None = None,
) -> Model:
    """Fit the model on the given cases (case_ids) of a run; all of them when ``cases`` is None.
    ``machine``: what local cases are priced as (``--machine``, ``--price-per-hour``); by default the
    run's own (``machine_of``)."""
    manifest = manifest or {}
    measured = case_table(runs)
    if cases is not None:
        wanted = set(cases)
        measured = measured[measured["case_id"].isin(wanted)]
        tasks = tasks[tasks["case_id"].isin(wanted)]
    if measured.empty or tasks.empty:
        raise ValueError("no measured cases to fit the model on")
    cpu_count = int((manifest.get("environment") or {}).get("cpu_count") or 1)
    contention = contention_of(manifest)
    notes: list[str] = []
    if contention:
        worst = max(contention, key=lambda r: r[1])
        notes.append(
            f"contention probe: compute {worst[1]:.2f}x slower with {worst[0]} cores busy "
            f"({manifest['contention'].get('source') or manifest['contention'].get('cached') or 'manifest'})"
        )
    per_image_load = {k for k in set(tasks["kernel"]) if declared(manifest, k).get("loads_per_image")}
    t = _prepare(tasks, per_image_load)
    info = measured.set_index("case_id")
    t["active"] = [
        _active(info.at[c, "workers"], info.at[c, "images"], info.at[c, "chunk_size"]) for c in t["case_id"]
    ]

    # Cores the workers had: per-image compute in cases with several workers against one worker.
    warm = t[~t["cold_start"]]
    per_case = warm.groupby(["case_id", "kernel", "active"])["compute"].median().reset_index()
    cores_seen = []
    for _, group in per_case.groupby("kernel"):
        base = group.loc[group["active"] == 1, "compute"]
        if base.empty:
            continue
        ref = float(base.median())
        for _, row in group[group["active"] > 1].iterrows():
            busy = min(int(row["active"]), cpu_count)
            stretch = row["compute"] / ref / contention_slowdown(contention, busy) if ref > 0 else 1.0
            cores_seen.append(cpu_count if stretch <= 1.05 else min(cpu_count, row["active"] / stretch))
    if cores_seen:
        # One worker's speed is the unit: sharing can slow several workers, never one. The workers had
        # at least the cores that any fit case showed them using at once: a case slowed beyond the
        # probe by other work (or by its executor's own client) must not take cores from the others.
        cores = float(max(1.0, max(cores_seen)))
        notes.append(f"workers had {cores:.2f} of {cpu_count} cores (per-image time in cases with >1 worker)")
    else:
        cores = float(cpu_count)
        notes.append(f"cores = cpu_count {cpu_count}: no fit case with several workers to show sharing")

    active = t["active"].to_numpy()
    contended = contention_slowdown(contention, np.minimum(active, cpu_count))
    slowdown = np.maximum(1.0, active / cores) * contended
    # the probe slows the whole service time of a busy core, the harness's own per-image work too
    t["store"] = t["store"].to_numpy() / contended
    t["overhead"] = t["overhead"].to_numpy() / contended
    t["compute_1"] = t["compute"].to_numpy() / slowdown
    t["load_1"] = t["model_load_s"].to_numpy() / slowdown

    dists: dict[str, ServiceDist] = {}
    for kernel, rows in t.groupby("kernel"):
        cold = rows.loc[rows["cold_start"] & (rows["model_load_s"] > 0), "load_1"].to_numpy()
        if kernel not in per_image_load and len(cold) == 0:
            notes.append(f"{kernel}: no cold start in the fit cases; model load taken as 0")
        # medians per stage, compute stages at one uncontended core as the samples are
        share = rows["compute_1"] / rows["compute"].where(rows["compute"] > 0)
        share = share.fillna(1.0)
        stages = {c.removesuffix("_s"): float(rows[c].median()) for c in STORE_STAGES}
        stages |= {c.removesuffix("_s"): float((rows[c] * share).median()) for c in COMPUTE_STAGES}
        if kernel in per_image_load:
            stages["model_load"] = float((rows["model_load_s"] * share).median())
        dists[str(kernel)] = ServiceDist(
            kernel=str(kernel),
            compute_s=rows["compute_1"].to_numpy(float),
            store_s=rows["store"].to_numpy(float),
            overhead_s=rows["overhead"].to_numpy(float),
            ok=(rows["status"] == "ok").to_numpy(),
            cold_start_s=cold.astype(float),
            stages=stages,
        )

    chunks = _dispatch_gaps(t)
    ends = _end_gaps(t, runs)
    overheads: dict[str, Overheads] = {}
    for executor, group in chunks.groupby("executor"):
        first = group.loc[group["first"], "gap"]
        later = group.loc[~group["first"], "gap"]
        end = ends.loc[ends["executor"] == executor, "end_gap"]
        overheads[str(executor)] = Overheads(
            first_dispatch_s=float(first.median()) if len(first) else 0.0,
            dispatch_s=float(later.median()) if len(later) else float(first.median()),
            end_gap_s=float(end.median()) if len(end) else 0.0,
            source=f"measured: {executor} ({group['case_id'].nunique()} case(s))",
        )

    fetch = _linear(t["bytes_in"].to_numpy(float), t["fetch_s"].to_numpy(float))
    put_rows = t[t["bytes_out"] > 0]
    put = _linear(put_rows["bytes_out"].to_numpy(float), put_rows["put_s"].to_numpy(float))
    store_fit = {
        "store": str(tasks["store"].iloc[0]),
        "fetch_latency_s": fetch[0],
        "fetch_s_per_mb": fetch[1] * 1e6,
        "put_latency_s": put[0],
        "put_s_per_mb": put[1] * 1e6,
    }
    return Model(
        dists=dists,
        overheads=overheads,
        cpu_count=cpu_count,
        cores=cores,
        store_fit=store_fit,
        fit_cases=sorted(measured["case_id"]),
        notes=notes,
        executors=dict(manifest.get("executors") or {}),
        machine=machine or machine_of(manifest),
        contention=contention,
    )


def machine_of(manifest: dict, book: PriceBook | None = None) -> Machine | None:
    """What a run's local cases were priced as: recorded in its manifest, else (a run made before
    that was recorded) the book's machine with the measured machine's vCPU count."""
    if manifest.get("machine"):
        return Machine(**manifest["machine"])
    vcpus = (manifest.get("environment") or {}).get("cpu_count")
    if not vcpus:
        return None
    try:
        return choose_machine(book or load_price_book(None), vcpus=int(vcpus))
    except ValueError:
        return None


def read_run(run_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """A run's ``tasks``, ``runs`` and manifest, refused where no case finished: nothing to fit."""
    tasks, runs, manifest = tables.read_run(run_dir)
    if tasks.empty or runs.empty:
        raise UserError(f"run {run_dir} has no finished case to fit the model on")
    return tasks, runs, with_contention(manifest, run_dir)


def with_contention(manifest: dict, run_dir: str | Path) -> dict:
    """The manifest with the machine's contention probe: its own, or, for a run measured before the
    probe was recorded, a ``contention*.json`` committed in its folder (benchmarks/core_contention.py)."""
    if "contention" not in manifest:
        for path in sorted(Path(run_dir).glob("contention*.json")):
            return manifest | {"contention": json.loads(path.read_text()) | {"source": str(path)}}
    return manifest
