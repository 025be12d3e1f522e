"""Calibrated scaling model: fit from a run's ``tasks`` table, simulate, project, validate.

What a run measures here (one machine, a few workers) is turned into parameters:

* per-image service time, kept as the measured rows themselves (compute stages, store time and the
  harness's own per-image overhead, row by row) and resampled, so a projection keeps the real shape
  of the distribution (no-face images, slow outliers), not only its mean;
* the cold start: ``model_load_s`` of the rows that paid it (``cold_start``); the naive kernel pays
  its load in every image, so for it the load is part of the per-image service time;
* per executor, the dispatch overhead: for a worker's first chunk, the time from ``t_submit`` to the
  chunk's first ``t_start`` (a fresh process imports the kernel there); for a later chunk, the time
  from the end of the worker's previous chunk to its start; the time between a case's last ``t_end``
  and its measured wall time (gathering results);
* the store: a latency and a per-byte time, fitted by least squares of ``fetch_s`` on ``bytes_in``
  and ``put_s`` on ``bytes_out`` (reported; the simulator resamples the measured store times);
* how many cores the workers really had: the machine's ``cpu_count`` (manifest), or fewer where the
  fit cases with several workers show their per-image time stretched by sharing.

What it cannot measure comes from the price book's ``[platforms.*]`` tables, each figure with its
source: cold start, invocation rate, concurrency limit, CPU share of the function's memory.

A discrete-event simulator (:func:`schedule`) then plays a case: chunks dispatched in order to the
first free slot of a heap, at most ``slots`` at once (the concurrency cap), invocations limited to a
count per window (the platform's rate limit), new containers limited likewise (AWS's scaling rate),
a platform cold start when a call opens a new container, the kernel's model load once per worker
process (local pools) or once per call (Lithops and serverless: every call is a fresh process).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench import tables
from bench.analysis import pricing as costs
from bench.executors import Billing, Traits, traits_of
from bench.executors.chunking import chunk_size_for

__all__ = [
    "PLATFORMS",
    "SERVERLESS_PLATFORMS",
    "Model",
    "Overheads",
    "Platform",
    "Schedule",
    "ServiceDist",
    "fit",
    "json_rows",
    "platform_limits",
    "predict_case",
    "project",
    "read_run",
    "schedule",
    "store_projection",
    "validate",
    "validation_summary",
]

COMPUTE_STAGES = ["decode_s", "detect_s", "landmarks_s", "warp_s", "encode_s"]
STORE_STAGES = ["fetch_s", "put_s"]
SERVERLESS_PLATFORMS = ("aws_lambda", "ibm_cloud_functions", "ibm_code_engine")
PLATFORMS = ("local", *SERVERLESS_PLATFORMS)
#: Function memory when none is asked: the smallest size that buys one full vCPU where the platform
#: publishes (or the book estimates) a CPU share; Code Engine's default 1 vCPU / 4 GB combination.
DEFAULT_MEMORY_MB = {"aws_lambda": 1769, "ibm_cloud_functions": 2048, "ibm_code_engine": 4096}
#: The object store each platform's functions would read and write, for request fees.
PLATFORM_STORE = {"aws_lambda": "s3", "ibm_cloud_functions": "ibm_cos", "ibm_code_engine": "ibm_cos"}
SEED = 0


# --- the fitted parameters ------------------------------------------------------------------------


@dataclass
class ServiceDist:
    """One kernel's measured images, row by row, at one uncontended core (seconds)."""

    kernel: str
    compute_s: np.ndarray  # decode..encode, plus the per-image model load of the naive kernel
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
    machine: costs.Machine | None = None  # what the measured machine is priced as

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
            "notes": self.notes,
        }


# --- fitting ----------------------------------------------------------------------------------------


def _case_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per measured case: its configuration and median wall time over repeats."""
    keys = ["case_id", "executor", "workers", "chunk_size", "kernel"]
    table = runs.groupby(keys, sort=False).agg(wall_s=("wall_s", "median"), images=("images", "max"))
    return table.reset_index()


def _active(workers: int, images: int, chunk_size: int) -> int:
    return max(1, min(int(workers), math.ceil(images / max(1, int(chunk_size)))))


def _prepare(tasks: pd.DataFrame) -> pd.DataFrame:
    """Per row: compute, store and unexplained overhead; per chunk: its dispatch gap."""
    t = tasks.loc[tasks["status"] != "error"].copy()
    for col in [*COMPUTE_STAGES, *STORE_STAGES, "model_load_s"]:
        t[col] = pd.to_numeric(t[col], errors="coerce").fillna(0.0)
    t["cold_start"] = t["cold_start"].fillna(False).astype(bool)
    stages = t[COMPUTE_STAGES].sum(axis=1)
    # The naive kernel loads the models in every image: that load is per-image service time.
    per_image_load = np.where(t["kernel"] == "naive", t["model_load_s"], 0.0)
    t["compute"] = stages + per_image_load
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
) -> Model:
    """Fit the model on the given cases (case_ids) of a run; all of them when ``cases`` is None."""
    manifest = manifest or {}
    case_table = _case_table(runs)
    if cases is not None:
        wanted = set(cases)
        case_table = case_table[case_table["case_id"].isin(wanted)]
        tasks = tasks[tasks["case_id"].isin(wanted)]
    if case_table.empty or tasks.empty:
        raise ValueError("no measured cases to fit the model on")
    cpu_count = int((manifest.get("environment") or {}).get("cpu_count") or 1)
    notes: list[str] = []
    t = _prepare(tasks)
    info = case_table.set_index("case_id")
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
            stretch = row["compute"] / ref if ref > 0 else 1.0
            cores_seen.append(cpu_count if stretch <= 1.05 else min(cpu_count, row["active"] / stretch))
    if cores_seen:
        # One worker's speed is the unit: sharing can slow several workers, never one.
        cores = float(max(1.0, np.median(cores_seen)))
        notes.append(f"workers had {cores:.2f} of {cpu_count} cores (per-image time in cases with >1 worker)")
    else:
        cores = float(cpu_count)
        notes.append(f"cores = cpu_count {cpu_count}: no fit case with several workers to show sharing")

    slowdown = np.maximum(1.0, t["active"].to_numpy() / cores)
    t["compute_1"] = t["compute"].to_numpy() / slowdown
    t["load_1"] = t["model_load_s"].to_numpy() / slowdown

    dists: dict[str, ServiceDist] = {}
    for kernel, rows in t.groupby("kernel"):
        cold = rows.loc[rows["cold_start"] & (rows["model_load_s"] > 0), "load_1"].to_numpy()
        if kernel != "naive" and len(cold) == 0:
            notes.append(f"{kernel}: no cold start in the fit cases; model load taken as 0")
        # medians per stage, compute stages at one uncontended core as the samples are
        share = rows["compute_1"] / rows["compute"].where(rows["compute"] > 0)
        share = share.fillna(1.0)
        stages = {c.removesuffix("_s"): float(rows[c].median()) for c in STORE_STAGES}
        stages |= {c.removesuffix("_s"): float((rows[c] * share).median()) for c in COMPUTE_STAGES}
        if kernel == "naive":
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
        fit_cases=sorted(case_table["case_id"]),
        notes=notes,
        executors=dict(manifest.get("executors") or {}),
        machine=machine_of(manifest),
    )


def machine_of(manifest: dict, book: costs.PriceBook | None = None) -> costs.Machine | None:
    """What a run's local cases were priced as: recorded in its manifest, else (a run made before
    that was recorded) the book's machine with the measured machine's vCPU count."""
    if manifest.get("machine"):
        return costs.Machine(**manifest["machine"])
    vcpus = (manifest.get("environment") or {}).get("cpu_count")
    if not vcpus:
        return None
    try:
        return costs.choose_machine(book or costs.load_price_book(None), vcpus=int(vcpus))
    except ValueError:
        return None


# --- the simulator ----------------------------------------------------------------------------------


@dataclass
class Schedule:
    """What the simulator says about one case; times in seconds from submission."""

    makespan_s: float
    start_s: np.ndarray  # per call (chunk)
    end_s: np.ndarray
    duration_s: np.ndarray  # per call, as a platform would bill it
    new_slot: np.ndarray  # bool: the call opened a new worker / container
    slots_used: int


def _per_call(value: float | np.ndarray, n: int) -> list[float]:
    arr = np.broadcast_to(np.asarray(value, dtype=float), (n,))
    return arr.tolist()


def schedule(
    work_s: Sequence[float] | np.ndarray,
    slots: int,
    *,
    first_dispatch_s: float = 0.0,
    dispatch_s: float = 0.0,
    per_call_s: float | np.ndarray = 0.0,
    new_slot_s: float | np.ndarray = 0.0,
    invocation_limit: tuple[int, float] | None = None,
    scale_limit: tuple[int, float] | None = None,
    end_gap_s: float = 0.0,
) -> Schedule:
    """Discrete-event list scheduling of calls (chunks) in submission order.

    ``work_s[i]`` is call i's own busy time. A call goes to the slot that frees first (a heap of free
    times); at most ``slots`` run at once. A call that opens a slot pays ``first_dispatch_s`` and
    ``new_slot_s[i]`` (worker start, model load, container cold start), a call on a used slot
    ``dispatch_s``; every call pays ``per_call_s[i]``. ``invocation_limit = (count, window_s)``: no more
    than count calls start in any window; ``scale_limit`` likewise for calls opening a new slot. A free
    used slot is preferred to a new one the scale limit would delay. The makespan is the last end
    plus ``end_gap_s``.
    """
    work = np.asarray(work_s, dtype=float)
    n = len(work)
    if slots < 1:
        raise ValueError("slots must be at least 1")
    if n == 0:
        empty = np.zeros(0)
        return Schedule(end_gap_s, empty, empty, empty, np.zeros(0, bool), 0)
    per_call = _per_call(per_call_s, n)
    cold = _per_call(new_slot_s, n)
    work_l = work.tolist()
    k = min(int(slots), n)
    inv_count, inv_window = invocation_limit or (0, 0.0)
    scale_count, scale_window = scale_limit or (0, 0.0)
    starts = [0.0] * n
    ends = [0.0] * n
    durations = [0.0] * n
    new = [False] * n
    opened: list[float] = []  # start times of calls that opened a slot
    heap: list[float] = []  # free times of used slots
    push, pop = heapq.heappush, heapq.heappop
    for i in range(n):
        t_new = None
        if len(opened) < k:
            j = len(opened)
            t_new = opened[j - scale_count] + scale_window if scale_count and j >= scale_count else 0.0
        if heap and (t_new is None or heap[0] <= t_new):
            t, is_new = pop(heap), False
        else:
            t, is_new = t_new, True
        if inv_count and i >= inv_count:
            t = max(t, starts[i - inv_count] + inv_window)
        if is_new:
            opened.append(t)
            d = first_dispatch_s + cold[i] + per_call[i] + work_l[i]
        else:
            d = dispatch_s + per_call[i] + work_l[i]
        starts[i], durations[i], new[i] = t, d, is_new
        ends[i] = t + d
        push(heap, ends[i])
    end_arr = np.asarray(ends)
    return Schedule(
        makespan_s=float(end_arr.max()) + end_gap_s,
        start_s=np.asarray(starts),
        end_s=end_arr,
        duration_s=np.asarray(durations),
        new_slot=np.asarray(new),
        slots_used=len(opened),
    )


# --- platforms --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Platform:
    """Where a projected case runs and the limits that apply there, with their sources."""

    name: str
    concurrency_cap: int | None = None
    invocation_limit: tuple[int, float] | None = None
    scale_limit: tuple[int, float] | None = None
    cold_start_s: float = 0.0
    cpu_share: float = 1.0  # of one core of the calibration machine, per function
    memory_mb: float | None = None
    vcpu: float | None = None
    timeout_s: float | None = None
    sources: tuple[str, ...] = ()


def _window_s(unit: str) -> float:
    unit = unit.lower()
    if "per minute" in unit:
        return 60.0
    if "per hour" in unit:
        return 3600.0
    return 1.0


def platform_limits(book: costs.PriceBook, name: str, memory_mb: float | None = None) -> Platform:
    """A serverless platform's limits from the price book's ``[platforms.<name>]`` table."""
    if name == "local":
        return Platform("local")
    entries = book.platform(name)
    values = {k: e.value for k, e in entries.items()}
    memory = float(memory_mb or DEFAULT_MEMORY_MB.get(name, 2048))
    lo, hi = values.get("memory_mb_min"), values.get("memory_mb_max")
    if (lo is not None and memory < lo) or (hi is not None and memory > hi):
        raise ValueError(f"{name} takes {lo:g} to {hi:g} MB of memory, not {memory:g}")
    if "mb_per_vcpu" in values:
        vcpu = memory / values["mb_per_vcpu"]
        if "vcpus_max" in values:
            vcpu = min(vcpu, values["vcpus_max"])
    elif "gb_per_vcpu" in values:
        vcpu = memory / 1024 / values["gb_per_vcpu"]
    else:
        vcpu = 1.0
    caps = [values[k] for k in ("concurrency_limit", "array_instances_max") if k in values]
    if "vcpu_per_project" in values:
        caps.append(values["vcpu_per_project"] / vcpu)
    if "memory_gb_per_project" in values:
        caps.append(values["memory_gb_per_project"] / (memory / 1024))
    invocation = None
    if "invocation_rate_limit" in values:
        window = _window_s(entries["invocation_rate_limit"].unit)
        invocation = (int(values["invocation_rate_limit"]), window)
    scale = None
    if "scaling_rate" in values:
        # AWS states the rule as 1,000 new executions every 10 s per function (the entry's note).
        scale = (int(values["scaling_rate"] * 10), 10.0)
    used = [
        "concurrency_limit",
        "array_instances_max",
        "vcpu_per_project",
        "memory_gb_per_project",
        "invocation_rate_limit",
        "scaling_rate",
        "cold_start_s",
        "mb_per_vcpu",
        "gb_per_vcpu",
    ]
    sources = tuple(
        f"{name}.{k} = {entries[k].value:g} {entries[k].unit} ({entries[k].source})"
        for k in used
        if k in entries
    )
    return Platform(
        name=name,
        concurrency_cap=int(min(caps)) if caps else None,
        invocation_limit=invocation,
        scale_limit=scale,
        cold_start_s=float(values.get("cold_start_s", 0.0)),
        cpu_share=float(min(1.0, vcpu)),
        memory_mb=memory,
        vcpu=float(vcpu),
        timeout_s=values.get("timeout_s_max"),
        sources=sources,
    )


# --- one projected case -----------------------------------------------------------------------------


@dataclass
class Prediction:
    executor: str
    platform: str
    kernel: str
    workers: int
    images: int
    chunk_size: int
    calls: int
    slots: int
    cpu_share: float
    predicted_wall_s: float
    predicted_cost_usd: float
    cost_model: str
    memory_mb: float | None
    notes: str
    durations_s: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    def row(self) -> dict:
        row = {k: v for k, v in vars(self).items() if k != "durations_s"}
        row["images_per_s"] = self.images / self.predicted_wall_s if self.predicted_wall_s > 0 else math.nan
        return row


def predict_case(
    model: Model,
    *,
    executor: str,
    workers: int,
    images: int,
    kernel: str,
    chunk_size: int | None = None,
    platform: Platform | None = None,
    book: costs.PriceBook | None = None,
    seed: int = SEED,
) -> Prediction:
    """Simulate one case: ``executor`` with ``workers`` on this machine (platform local) or in the cloud."""
    platform = platform or Platform("local")
    serverless = platform.name != "local"
    traits = model.traits(executor)
    if serverless and not traits.fresh_process_per_call:
        raise ValueError(
            f"on {platform.name} the executor runs a fresh process per call; {executor} does not"
        )
    if traits.in_process and workers != 1:
        raise ValueError(f"the {executor} executor has exactly one worker")
    if workers < 1 or images < 1:
        raise ValueError("workers and images must be at least 1")
    chunk = int(chunk_size or chunk_size_for(traits, images, workers))
    dist = model.dist(kernel)
    rng = np.random.default_rng(seed)
    compute, store, overhead = dist.sample(images, rng)
    n_calls = math.ceil(images / chunk)
    notes = []

    if serverless:
        slots = min(workers, platform.concurrency_cap or workers)
        if slots < workers:
            notes.append(f"{platform.name} runs at most {slots} at once")
        slow = 1.0 / platform.cpu_share
        over = model.overhead(executor)
        if not over.source.startswith("measured"):
            notes.append(f"invocation overhead {over.source}")
    else:
        slots = workers
        active = min(workers, n_calls)
        slow = max(1.0, active / model.cores)
        if slow > 1:
            notes.append(f"{active} workers share {model.cores:.3g} cores")
        over = model.overhead(executor)
        if not over.source.startswith("measured"):
            notes.append(f"overheads {over.source}")

    bounds = np.arange(0, images, chunk)
    work = (
        np.add.reduceat(compute, bounds) * slow
        + np.add.reduceat(store, bounds)
        + np.add.reduceat(overhead, bounds)
    )
    load = dist.sample_cold(n_calls, rng) * slow
    if serverless or traits.fresh_process_per_call:
        # a fresh process for every call: import and model load in every call
        sched = schedule(
            work,
            slots,
            first_dispatch_s=over.first_dispatch_s,
            dispatch_s=over.first_dispatch_s,
            per_call_s=load,
            new_slot_s=platform.cold_start_s,
            invocation_limit=platform.invocation_limit,
            scale_limit=platform.scale_limit,
            end_gap_s=over.end_gap_s,
        )
    else:
        sched = schedule(
            work,
            slots,
            first_dispatch_s=over.first_dispatch_s,
            dispatch_s=over.dispatch_s,
            new_slot_s=load,
            end_gap_s=over.end_gap_s,
        )
    if platform.timeout_s and len(sched.duration_s) and sched.duration_s.max() > platform.timeout_s:
        notes.append(f"a call runs {sched.duration_s.max():.0f} s > the {platform.timeout_s:g} s limit")

    cost, cost_model = math.nan, "unpriced: no price book"
    if book is not None:
        ok_share = float(dist.ok.mean()) if len(dist.ok) else 1.0
        common = dict(
            workers=workers,
            wall_s=sched.makespan_s,
            gets=images,
            puts=round(images * ok_share),
        )
        if serverless:
            cost, cost_model = costs.cost_of_case(
                book,
                billing=Billing("serverless", platform.name),
                durations_s=sched.duration_s.tolist(),
                store=PLATFORM_STORE.get(platform.name, "local"),
                memory_gb=(platform.memory_mb or 1024) / 1024,
                **common,
            )
        else:
            cost, cost_model = costs.cost_of_case(
                book,
                billing=Billing(),
                machine=model.machine,
                durations_s=[],
                store=model.store_fit.get("store", "local"),
                **common,
            )
    return Prediction(
        executor=executor,
        platform=platform.name,
        kernel=kernel,
        workers=workers,
        images=images,
        chunk_size=chunk,
        calls=n_calls,
        slots=sched.slots_used,
        cpu_share=round(1.0 / slow, 4),
        predicted_wall_s=sched.makespan_s,
        predicted_cost_usd=cost,
        cost_model=cost_model,
        memory_mb=platform.memory_mb,
        notes="; ".join(notes),
        durations_s=sched.duration_s,
    )


def project(
    model: Model,
    *,
    executors: Sequence[str],
    workers: Sequence[int],
    images: int,
    kernels: Sequence[str],
    platform: Platform | None = None,
    chunk_size: int | None = None,
    book: costs.PriceBook | None = None,
) -> pd.DataFrame:
    """Every executor x kernel x workers combination as one row (sequential only at one worker)."""
    rows = []
    for executor in executors:
        for kernel in kernels:
            for w in workers:
                if model.traits(executor).in_process and w != 1:
                    continue
                pred = predict_case(
                    model,
                    executor=executor,
                    workers=w,
                    images=images,
                    kernel=kernel,
                    chunk_size=chunk_size,
                    platform=platform,
                    book=book,
                )
                rows.append(pred.row())
    return pd.DataFrame(rows)


# --- validation -------------------------------------------------------------------------------------


def validate(tasks: pd.DataFrame, runs: pd.DataFrame, manifest: dict | None = None) -> pd.DataFrame:
    """Predicted against measured wall time for every case, never fit and scored on the same case.

    Two schemes: ``workers``: fit on the one-worker cases, score every case with more workers;
    ``leave-one-out``: each case scored by a model fit on all the other cases. A case whose kernel
    has no other case to fit on is listed with no prediction and the reason.
    """
    cases = _case_table(runs)
    rows = []

    def score(scheme: str, case: pd.Series, fit_ids: list[str]) -> None:
        row = {
            "scheme": scheme,
            "case_id": case["case_id"],
            "executor": case["executor"],
            "kernel": case["kernel"],
            "workers": int(case["workers"]),
            "chunk_size": int(case["chunk_size"]),
            "images": int(case["images"]),
            "measured_wall_s": float(case["wall_s"]),
            "predicted_wall_s": math.nan,
            "rel_error": math.nan,
            "fit_on": ",".join(fit_ids),
            "note": "",
        }
        fit_tasks = tasks[tasks["case_id"].isin(fit_ids)]
        if not fit_ids or case["kernel"] not in set(fit_tasks["kernel"]):
            row["note"] = f"no other {case['kernel']} case to fit on"
            rows.append(row)
            return
        model = fit(tasks, runs, manifest, cases=fit_ids)
        pred = predict_case(
            model,
            executor=case["executor"],
            workers=int(case["workers"]),
            images=int(case["images"]),
            kernel=case["kernel"],
            chunk_size=int(case["chunk_size"]),
        )
        row["predicted_wall_s"] = pred.predicted_wall_s
        row["rel_error"] = (pred.predicted_wall_s - row["measured_wall_s"]) / row["measured_wall_s"]
        row["note"] = pred.notes or model.overhead(case["executor"]).source
        rows.append(row)

    one = cases.loc[cases["workers"] == 1, "case_id"].tolist()
    for _, case in cases[cases["workers"] > 1].iterrows():
        score("workers", case, one)
    for _, case in cases.iterrows():
        score("leave-one-out", case, [c for c in cases["case_id"] if c != case["case_id"]])
    return pd.DataFrame(rows)


def validation_summary(table: pd.DataFrame) -> pd.DataFrame:
    scored = table.dropna(subset=["rel_error"]).assign(abs_error=lambda d: d["rel_error"].abs())
    return (
        scored.groupby("scheme", sort=False)
        .agg(
            cases=("case_id", "count"),
            median_abs_rel_error=("abs_error", "median"),
            mean_abs_rel_error=("abs_error", "mean"),
            max_abs_rel_error=("abs_error", "max"),
        )
        .reset_index()
    )


# --- reading a run, for the CLI ---------------------------------------------------------------------


PROJECTION_KEYS = ["executor", "platform", "kernel", "workers", "images", "chunk_size", "memory_mb"]


def read_run(run_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    tasks, runs, manifest = tables.read_run(run_dir)
    if tasks.empty or runs.empty:
        from bench.errors import UserError

        raise UserError(f"run {run_dir} has no finished case to fit the model on")
    return tasks, runs, manifest


def store_projection(run_dir: str | Path, table: pd.DataFrame) -> Path:
    """Merge into ``projection.parquet``: new rows replace earlier rows of the same projected case."""
    path = Path(run_dir) / "projection.parquet"
    table = table.assign(created_at=pd.Timestamp.now(tz="UTC").isoformat())
    if path.is_file():
        old = pd.read_parquet(path)
        if set(PROJECTION_KEYS) <= set(old.columns):

            def key(df: pd.DataFrame) -> list[str]:
                return ["|".join(map(str, values)) for values in df[PROJECTION_KEYS].itertuples(index=False)]

            old = old[[k not in set(key(table)) for k in key(old)]]
            table = pd.concat([old, table], ignore_index=True)
    tables.write_parquet(table, path)
    return path


def json_rows(table: pd.DataFrame) -> list[dict]:
    """Rows as plain JSON values: NaN becomes null, numpy scalars become Python numbers."""
    out = []
    for row in table.to_dict("records"):
        clean = {}
        for k, v in row.items():
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, float) and not math.isfinite(v):
                v = None
            clean[k] = v
        out.append(clean)
    return out
