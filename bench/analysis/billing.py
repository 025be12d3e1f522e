"""Billing rules: a case priced the way its platform actually bills, from the price book.

A run's cost is only comparable across executors if every case is priced so:

* serverless (Lithops on AWS Lambda, IBM Cloud Functions, IBM Code Engine): each invocation's
  duration is rounded up to the platform's billing granularity, times the configured memory
  (and vCPU on Code Engine), times the per-second price, plus the per-request fee;
* local executors (sequential, processes, Dask, Lithops localhost): the on-demand hourly price of
  the machine that ran them (by default the book's instance with the same vCPU count) for the wall
  time;
* plus the object store's request fees (PUT and GET per thousand).

The result goes into the ``runs`` table as ``cost_usd`` and a short ``cost_model`` string that names
the formula and the price book version, so a figure in a report can always be traced to its source.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.analysis.pricebook import Entry, PriceBook
from bench.executors.base import Billing

__all__ = [
    "DEFAULT_MACHINE",
    "Machine",
    "ServerlessBill",
    "billed_duration",
    "choose_machine",
    "cost_of_case",
    "machine_cost",
    "serverless_bill",
    "serverless_cost",
    "storage_cost",
]

#: The machine local cases are priced as when the caller names none: the 2-core "single computer"
#: of the pattern's baseline, priced as its nearest on-demand equivalent (see pricebook.toml).
DEFAULT_MACHINE = "local_2vcpu"


def billed_duration(duration_s: float, granularity_s: float, minimum_s: float = 0.0) -> float:
    """A duration as the platform bills it: rounded up to ``granularity_s``, at least ``minimum_s``.

    A duration that is a whole number of units up to float noise is not rounded up to the next
    unit: durations are differences and sums of floats, and ``ceil`` on the raw quotient would bill
    0.1 + 0.2 s (0.30000000000000004) as 400 ms at 100 ms granularity.
    """
    if duration_s < 0 or not math.isfinite(duration_s):
        raise ValueError(f"duration must be a finite number >= 0, got {duration_s!r}")
    if granularity_s <= 0:
        return max(duration_s, minimum_s)
    q = duration_s / granularity_s
    nearest = round(q)
    units = nearest if abs(q - nearest) <= 1e-9 * max(1.0, abs(q)) else math.ceil(q)
    return max(units * granularity_s, minimum_s)


@dataclass(frozen=True)
class ServerlessBill:
    """A serverless bill, line by line, as the providers' own examples show it."""

    platform: str
    invocations: int
    billed_s: float
    gb_seconds: float
    vcpu_seconds: float
    requests: int
    gb_seconds_usd: float
    vcpu_seconds_usd: float
    requests_usd: float

    @property
    def total_usd(self) -> float:
        return self.gb_seconds_usd + self.vcpu_seconds_usd + self.requests_usd


def serverless_bill(
    book: PriceBook,
    platform: str,
    memory_gb: float,
    durations_s: Sequence[float],
    requests: int | None = None,
    arch: str = "x86",
    *,
    vcpu: float | None = None,
    free_tier: bool = False,
) -> ServerlessBill:
    """Bill invocations as the platform does, line by line.

    ``durations_s`` holds one duration per function invocation (per chunk, not per image), each
    rounded up to the platform's granularity before it is multiplied by memory; that rounding is
    why many short invocations cost more on a 100 ms platform than on a 1 ms one. ``memory_gb`` is
    the configured memory in the providers' GB of 1024 MB (1536 MB = 1.5). ``requests`` defaults to
    one per invocation. Platforms that bill vCPU time (Code Engine) take ``vcpu`` per instance,
    defaulting to ``memory_gb`` divided by the platform's ``gb_per_vcpu``.

    ``free_tier`` subtracts the monthly free allowances as if this were the month's only usage.
    It is off by default: the allowance belongs to an account's month, not to one run, and a
    benchmark wants the marginal cost; it is there to reproduce the providers' worked examples.
    """
    if memory_gb <= 0:
        raise ValueError(f"memory_gb must be > 0, got {memory_gb!r}")
    prices = book.serverless(platform)
    granularity = prices["billing_granularity_s"].value
    billed_s = math.fsum(billed_duration(d, granularity) for d in durations_s)
    n_requests = len(durations_s) if requests is None else int(requests)
    if n_requests < 0:
        raise ValueError(f"requests must be >= 0, got {requests!r}")

    gb_seconds = billed_s * memory_gb
    gb_price = _gb_second_price(book, platform, prices, arch)

    vcpu_seconds = 0.0
    vcpu_price = 0.0
    if "vcpu_second" in prices:
        if vcpu is None:
            vcpu = memory_gb / _gb_per_vcpu(book, platform)
        if vcpu <= 0:
            raise ValueError(f"vcpu must be > 0, got {vcpu!r}")
        vcpu_seconds = billed_s * vcpu
        vcpu_price = prices["vcpu_second"].value

    def free(key: str) -> float:
        return prices[key].value if free_tier and key in prices else 0.0

    billable_gb_s = max(0.0, gb_seconds - free("free_gb_seconds_per_month"))
    billable_vcpu_s = max(0.0, vcpu_seconds - free("free_vcpu_seconds_per_month"))
    billable_requests = max(0.0, n_requests - free("free_requests_per_month"))
    return ServerlessBill(
        platform=platform,
        invocations=len(durations_s),
        billed_s=billed_s,
        gb_seconds=gb_seconds,
        vcpu_seconds=vcpu_seconds,
        requests=n_requests,
        gb_seconds_usd=billable_gb_s * gb_price,
        vcpu_seconds_usd=billable_vcpu_s * vcpu_price,
        requests_usd=billable_requests * prices["per_million_requests"].value / 1e6,
    )


def serverless_cost(
    book: PriceBook,
    platform: str,
    memory_gb: float,
    durations_s: Sequence[float],
    requests: int | None = None,
    arch: str = "x86",
    *,
    vcpu: float | None = None,
    free_tier: bool = False,
) -> float:
    """Total of :func:`serverless_bill`: billed memory (and vCPU) time plus request fees, in USD."""
    return serverless_bill(
        book, platform, memory_gb, durations_s, requests, arch, vcpu=vcpu, free_tier=free_tier
    ).total_usd


def _gb_second_price(book: PriceBook, platform: str, prices: Mapping[str, Entry], arch: str) -> float:
    if f"gb_second_{arch}" in prices:
        return prices[f"gb_second_{arch}"].value
    if "gb_second" in prices and arch == "x86":
        return prices["gb_second"].value
    archs = sorted(k.removeprefix("gb_second_") for k in prices if k.startswith("gb_second_")) or ["x86"]
    raise ValueError(
        f"{platform} in price book {book.version} has no {arch!r} price (has: {', '.join(archs)})"
    )


def _gb_per_vcpu(book: PriceBook, platform: str) -> float:
    try:
        return book.platform(platform)["gb_per_vcpu"].value
    except KeyError:
        raise ValueError(
            f"{platform} bills vCPU time but price book {book.version} has no"
            f" platforms.{platform}.gb_per_vcpu; pass vcpu"
        ) from None


def machine_cost(
    book: PriceBook, machine: str, wall_s: float, count: int = 1, *, apply_minimum: bool = True
) -> float:
    """On-demand hourly price of ``count`` machines for ``wall_s``, billed as the machine's entry says.

    EC2 bills Linux instances per second with a 60 s minimum per start, so a 30 s run costs a
    minute; the book's ``billing_granularity_s`` and ``minimum_billed_s`` carry that rule (absent:
    continuous, no minimum). ``apply_minimum=False`` prices pure usage, as for a machine that is
    already running anyway.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count!r}")
    entries = book.machine(machine)
    granularity = entries["billing_granularity_s"].value if "billing_granularity_s" in entries else 0.0
    minimum = entries["minimum_billed_s"].value if apply_minimum and "minimum_billed_s" in entries else 0.0
    billed = billed_duration(wall_s, granularity, minimum)
    return count * billed * entries["per_hour"].value / 3600.0


#: Stores whose requests cost nothing: a local folder.
_FREE_STORES = frozenset({"local"})
#: Other names a run may record for a priced store. ``cos`` is the pattern's store, IBM COS.
_STORE_ALIASES = {"cos": "ibm_cos", "aws_s3": "s3"}


def storage_cost(book: PriceBook, store: str, gets: int, puts: int) -> float:
    """Object store request fees: ``gets`` reads and ``puts`` writes, priced per thousand.

    ``local`` costs nothing. Storage volume and egress are left out on purpose: a run keeps a few
    MB for minutes inside one region, which is far below a cent.
    """
    if gets < 0 or puts < 0:
        raise ValueError(f"request counts must be >= 0, got gets={gets!r} puts={puts!r}")
    if store in _FREE_STORES:
        return 0.0
    entries = book.store(_STORE_ALIASES.get(store, store))
    return gets * entries["get_per_1000"].value / 1000.0 + puts * entries["put_per_1000"].value / 1000.0


# --- a whole case -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Machine:
    """The machine a local case is priced as, and why: chosen by vCPU count, named, or given."""

    name: str
    per_hour: float
    reason: str  # "same vCPU count", "nearest larger: no 12-vCPU machine", "--machine", "--price-per-hour"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "per_hour": self.per_hour, "reason": self.reason}


def choose_machine(
    book: PriceBook, *, vcpus: int | None = None, name: str | None = None, per_hour: float | None = None
) -> Machine:
    """The machine to price local cases as.

    ``per_hour`` wins (any machine the book does not list); then ``name`` from the book's machines;
    else the book's on-demand instance with ``vcpus`` vCPUs, the nearest larger where none has that
    many (the cheapest, then the first by name, among equals). Equivalents (``local_*``) are chosen
    only by name.
    """
    if per_hour is not None:
        if not (per_hour >= 0 and math.isfinite(per_hour)):
            raise ValueError(f"--price-per-hour must be a finite number >= 0, got {per_hour!r}")
        return Machine(name or "custom", float(per_hour), "--price-per-hour")
    if name is not None:
        if name not in book.names("machines"):
            raise ValueError(
                f"no machine {name!r} in the price book (one of {', '.join(book.names('machines'))})"
            )
        return Machine(name, book.machine(name)["per_hour"].value, "--machine")
    if vcpus is None or vcpus < 1:
        raise ValueError("choose_machine needs vcpus, a name or a price per hour")
    candidates = [
        (int(book.machine(m)["vcpus"].value), book.machine(m)["per_hour"].value, m)
        for m in book.names("machines")
        if not m.startswith("local_") and "vcpus" in book.machine(m)
    ]
    fitting = sorted(c for c in candidates if c[0] >= vcpus)
    if not fitting:
        biggest = max(c[0] for c in candidates) if candidates else 0
        raise ValueError(
            f"the price book has no machine with {vcpus} or more vCPUs (largest {biggest}); "
            "give --machine NAME or --price-per-hour X"
        )
    count, price, chosen = fitting[0]
    reason = "same vCPU count" if count == vcpus else f"nearest larger: no {vcpus}-vCPU machine in the book"
    return Machine(chosen, price, reason)


def cost_of_case(
    book: PriceBook,
    *,
    billing: Billing,
    workers: int,
    wall_s: float,
    durations_s: Sequence[float],
    store: str,
    gets: int,
    puts: int,
    machine: Machine | None = None,
    memory_gb: float = 2.0,
    arch: str = "x86",
    vcpu: float | None = None,
    machines: int = 1,
) -> tuple[float, str]:
    """Price one case; returns ``(cost_usd, cost_model)`` for the ``runs`` table.

    * ``billing.kind == "machine"`` (sequential, processes, Dask, Lithops on localhost, and any
      executor that declares nothing): ``machines`` x ``machine``'s hourly price for ``wall_s``.
      ``workers`` does not enter: processes on one machine share its price. A case is a slice of a
      machine that runs the whole benchmark, so no start-up minimum.
    * ``"serverless"``: one bill line per entry of ``durations_s`` (one per invocation), as
      :func:`serverless_bill` on ``billing.platform``, plus one request each where the platform
      charges requests. The client machine that waits for the functions is not charged.
    * ``"unpriced"``: ``(nan, "unpriced: ...")``, so the run still gets its row.
    * plus :func:`storage_cost` for ``gets`` and ``puts`` on ``store``.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    if wall_s < 0 or not math.isfinite(wall_s):
        raise ValueError(f"wall_s must be a finite number >= 0, got {wall_s!r}")
    stamp = f"pricebook {book.version}"
    if billing.kind == "unpriced":
        return math.nan, f"unpriced: this executor's backend has no price in the book; {stamp}"
    if billing.kind == "remote" and (
        machine is None or machine.reason not in ("--machine", "--price-per-hour")
    ):
        return math.nan, f"unpriced: runs on remote machines; give --machine or --price-per-hour; {stamp}"

    if billing.kind in ("machine", "remote"):
        machine = machine or choose_machine(book, name=DEFAULT_MACHINE)
        listed = machine.reason != "--price-per-hour" and machine.name in book.names("machines")
        entries = book.machine(machine.name) if listed else {}
        granularity = entries["billing_granularity_s"].value if "billing_granularity_s" in entries else 0.0
        compute = machines * billed_duration(wall_s, granularity, 0.0) * machine.per_hour / 3600.0
        count = f"{machines} x " if machines != 1 else ""
        formula = (
            f"{count}{machine.name} ${machine.per_hour:g}/h x wall time, no minimum "
            f"(a case is a slice of the machine's time; machine: {machine.reason})"
        )
    else:
        platform = billing.platform
        if billing.memory_mb is not None:  # as the functions were configured
            memory_gb = billing.memory_mb / 1024
        if billing.vcpu is not None:
            vcpu = billing.vcpu
        requests = len(durations_s) if billing.bills_requests else 0
        bill = serverless_bill(book, platform, memory_gb, durations_s, requests, arch, vcpu=vcpu)
        compute = bill.total_usd
        prices = book.serverless(platform)
        granularity = _format_seconds(prices["billing_granularity_s"].value)
        size = f"{memory_gb:g}GB"
        if "vcpu_second" in prices:
            per_instance = vcpu if vcpu is not None else memory_gb / _gb_per_vcpu(book, platform)
            size = f"{per_instance:g}vCPU {size}"
        arch_label = f" {arch}" if any(k.startswith("gb_second_") for k in prices) else ""
        fee = prices["per_million_requests"].value
        if not billing.bills_requests:
            request_part = " (jobs: no request fee)"
        elif fee:
            request_part = f" + ${fee:g}/1M requests"
        else:
            request_part = " (requests free)"
        formula = f"{platform}{arch_label} {size} x billed duration ({granularity}){request_part}"

    storage = storage_cost(book, store, gets, puts)
    storage_part = "" if store in _FREE_STORES else f" + {store} requests"
    return compute + storage, f"{formula}{storage_part}; {stamp}"


def _format_seconds(seconds: float) -> str:
    return f"{seconds * 1000:g} ms" if seconds < 1 else f"{seconds:g} s"
