"""Where a projected case runs, and the limits there that a run on one machine cannot measure.

They come from the price book's ``[platforms.*]`` tables, each figure with its source: cold start,
invocation rate, concurrency limit, CPU share of the function's memory, and what a Lithops map job
pays around every call (the client's invocation thread pool, start latency, object-storage round
trips, result polling), calibrated on published jobs (:mod:`bench.model.published`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.analysis.pricebook import PriceBook

__all__ = [
    "DEFAULT_MEMORY_MB",
    "JOB_TERMS",
    "PLATFORMS",
    "PLATFORM_STORE",
    "RUNTIMES",
    "SERVERLESS_PLATFORMS",
    "Platform",
    "platform_limits",
]

SERVERLESS_PLATFORMS = ("aws_lambda", "ibm_cloud_functions", "ibm_code_engine")
PLATFORMS = ("local", *SERVERLESS_PLATFORMS)
#: Function memory when none is asked: the smallest size that buys one full vCPU where the platform
#: publishes (or the book estimates) a CPU share; Code Engine's default 1 vCPU / 4 GB combination.
DEFAULT_MEMORY_MB = {"aws_lambda": 1769, "ibm_cloud_functions": 2048, "ibm_code_engine": 4096}
#: The object store each platform's functions would read and write, for request fees.
PLATFORM_STORE = {"aws_lambda": "s3", "ibm_cloud_functions": "ibm_cos", "ibm_code_engine": "ibm_cos"}
#: A function's runtime, for its cold start: the provider's own (a language runtime the platform keeps
#: ready) or a custom container image (pulled and started for a new container).
RUNTIMES = ("native", "container")


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
    estimates: tuple[str, ...] = ()  # the parameters used that the price book marks as ESTIMATE
    cpu_share_idle: float | None = None  # share on an idle host, where the share is a weight (OpenWhisk)
    host_memory_mb: float | None = None  # memory one host gives functions, where the share is a weight
    runtime: str = "native"  # the runtime whose cold start ``cold_start_s`` is (RUNTIMES)
    # What a Lithops map job pays around its calls (0 where the book has no figure):
    job_setup_s: float = 0.0  # client: serialise and upload the function and the data
    invoke_threads: int = 0  # client: the invocation thread pool ...
    invoke_latency_s: float = 0.0  # ... and one invocation request's time in it
    start_latency_s: float = 0.0  # invocation to the function's start, warm container
    storage_in_s: float = 0.0  # per call: function and data download
    storage_out_s: float = 0.0  # per call: status and result upload
    storage_mb_per_s: float | None = None  # one function's object-store bandwidth
    poll_interval_s: float = 0.0  # the client checks the calls' status this often ...
    status_check_s: float = 0.0  # ... and a check takes this long
    result_fetch_s: float = 0.0  # client: download the results once all are done

    def share_at(self, concurrency: int) -> float:
        """The CPU share of one function while ``concurrency`` of the job's calls run at once.

        A hard quota (Lambda) is the same at any concurrency. A weight (OpenWhisk's docker cpu-shares)
        is a floor: the host's idle share goes to the containers that are busy. OpenWhisk's balancer
        fills a host's memory before the next (ShardingContainerPoolBalancer), so the job's calls share
        a host of ``host_memory_mb`` (its cores: that memory over the MB per vCPU) as they arrive, and
        each gets those cores over the calls on it, at most a whole core, at least its weight."""
        if not self.host_memory_mb or not self.memory_mb or self.cpu_share_idle is None:
            return self.cpu_share
        on_host = max(1, min(concurrency, math.floor(self.host_memory_mb / self.memory_mb)))
        host_cores = self.host_memory_mb * self.cpu_share / self.memory_mb
        return float(min(self.cpu_share_idle, max(self.cpu_share, host_cores / on_host)))

    @property
    def client_limit(self) -> tuple[int, float] | None:
        """The client's invocation thread pool as a start limit: ``threads`` per request time."""
        if self.invoke_threads and self.invoke_latency_s > 0:
            return (self.invoke_threads, self.invoke_latency_s)
        return None


#: The price book's per-job and per-call terms of a Lithops map job (seconds, or MB/s).
JOB_TERMS = (
    "job_setup_s",
    "invoke_latency_s",
    "start_latency_s",
    "storage_in_s",
    "storage_out_s",
    "storage_mb_per_s",
    "poll_interval_s",
    "status_check_s",
    "result_fetch_s",
)


def _window_s(unit: str) -> float:
    unit = unit.lower()
    if "per minute" in unit:
        return 60.0
    if "per hour" in unit:
        return 3600.0
    return 1.0


def lithops_runtime(values: dict[str, float]) -> str:
    """The runtime Lithops deploys by default on the platform (the book's ``lithops_runtime_container``)."""
    return "container" if values.get("lithops_runtime_container", 0) else "native"


def platform_limits(
    book: PriceBook, name: str, memory_mb: float | None = None, runtime: str | None = None
) -> Platform:
    """A serverless platform's limits from the price book's ``[platforms.<name>]`` table.

    ``runtime`` (native or container; default: what Lithops deploys there) picks the cold start:
    ``cold_start_s`` is that of Lithops' default runtime, ``cold_start_<runtime>_s`` the other's."""
    if name == "local":
        return Platform("local")
    entries = book.platform(name)
    values = {k: e.value for k, e in entries.items()}
    default = lithops_runtime(values)
    runtime = runtime or default
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime takes one of {', '.join(RUNTIMES)}, not {runtime!r}")
    cold_key = "cold_start_s" if runtime == default else f"cold_start_{runtime}_s"
    if cold_key not in values and runtime != default:
        raise ValueError(f"the price book has no cold start for a {runtime} runtime on {name}")
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
        cold_key,
        "lithops_runtime_container",
        "mb_per_vcpu",
        "gb_per_vcpu",
        *JOB_TERMS,
        "invoke_threads",
        "cpu_share_idle",
        "host_memory_mb",
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
        cold_start_s=float(values.get(cold_key, 0.0)),
        runtime=runtime,
        cpu_share=float(min(1.0, vcpu)),
        memory_mb=memory,
        vcpu=float(vcpu),
        timeout_s=values.get("timeout_s_max"),
        sources=sources,
        estimates=tuple(
            f"{name}.{k}" for k in used if k in entries and "ESTIMATE" in (entries[k].note or "").upper()
        ),
        cpu_share_idle=values.get("cpu_share_idle"),
        host_memory_mb=values.get("host_memory_mb"),
        invoke_threads=int(values.get("invoke_threads", 0)),
        storage_mb_per_s=values.get("storage_mb_per_s"),
        **{k: float(values.get(k, 0.0)) for k in JOB_TERMS if k != "storage_mb_per_s"},
    )
