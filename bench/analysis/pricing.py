"""Price book -> cost of a run: the book (:mod:`bench.analysis.pricebook`) and the billing rules
(:mod:`bench.analysis.billing`) under the one name callers import as ``costs``."""

from __future__ import annotations

from bench.analysis.billing import (
    DEFAULT_MACHINE,
    Machine,
    ServerlessBill,
    billed_duration,
    choose_machine,
    cost_of_case,
    machine_cost,
    serverless_bill,
    serverless_cost,
    storage_cost,
)
from bench.analysis.pricebook import PACKAGED_BOOK, Entry, PriceBook, load_price_book

__all__ = [
    "DEFAULT_MACHINE",
    "PACKAGED_BOOK",
    "Entry",
    "Machine",
    "PriceBook",
    "ServerlessBill",
    "billed_duration",
    "choose_machine",
    "cost_of_case",
    "load_price_book",
    "machine_cost",
    "serverless_bill",
    "serverless_cost",
    "storage_cost",
]
