"""The price book: one dated set of figures every case is priced from.

``pricebook.toml`` (versioned, each figure with its unit, date and source) is read and checked
whole when loaded, so a missing or mistyped figure is reported then, naming the file and the entry,
not as a KeyError halfway through a run; :mod:`bench.analysis.billing` prices cases from it.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date as _date
from pathlib import Path
from typing import Any

__all__ = ["PACKAGED_BOOK", "Entry", "PriceBook", "load_price_book"]

PACKAGED_BOOK = Path(__file__).with_name("pricebook.toml")

_SECTIONS = ("serverless", "machines", "storage", "platforms")
_ENTRY_FIELDS = ("value", "unit", "date", "source")
# Keys a user's book must provide for each named item of a section, so that a missing figure is
# reported when the book is loaded rather than as a KeyError halfway through a run.
_REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "serverless": ("per_million_requests", "billing_granularity_s"),
    "machines": ("per_hour",),
    "storage": ("put_per_1000", "get_per_1000"),
    "platforms": (),
}


@dataclass(frozen=True)
class Entry:
    """One figure of the price book, with what is needed to cite it."""

    value: float
    unit: str
    date: str
    source: str
    note: str = ""


class PriceBook:
    """A loaded, validated price book.

    Sections are ``serverless``, ``machines``, ``storage`` and ``platforms``; each maps an item name
    (``aws_lambda``, ``c5.large``, ``s3``) to its entries (``gb_second_x86``, ``per_hour``, ...).
    """

    def __init__(self, version: str, date: str, path: str, sections: Mapping[str, Mapping[str, Any]]):
        self.version = version
        self.date = date
        self.path = path
        self._sections: dict[str, dict[str, dict[str, Entry]]] = {
            name: {item: dict(entries) for item, entries in sections.get(name, {}).items()}
            for name in _SECTIONS
        }

    def __repr__(self) -> str:
        return f"PriceBook(version={self.version!r}, path={self.path!r})"

    def names(self, section: str) -> list[str]:
        """The item names of a section, e.g. ``names("machines")``."""
        return sorted(self._section(section))

    def items(self, section: str, name: str) -> dict[str, Entry]:
        """All entries of one item, e.g. ``items("serverless", "aws_lambda")``."""
        sec = self._section(section)
        if name not in sec:
            known = ", ".join(sorted(sec)) or "none"
            raise KeyError(f"price book {self.version} has no {section} entry {name!r} (known: {known})")
        return dict(sec[name])

    def entry(self, section: str, name: str, key: str) -> Entry:
        """One entry, e.g. ``entry("storage", "s3", "put_per_1000")``."""
        entries = self.items(section, name)
        if key not in entries:
            raise KeyError(f"price book {self.version} has no {section}.{name}.{key}")
        return entries[key]

    def price(self, section: str, name: str, key: str) -> float:
        """The value of one entry."""
        return float(self.entry(section, name, key).value)

    def serverless(self, name: str) -> dict[str, Entry]:
        return self.items("serverless", name)

    def machine(self, name: str) -> dict[str, Entry]:
        return self.items("machines", name)

    def store(self, name: str) -> dict[str, Entry]:
        return self.items("storage", name)

    def platform(self, name: str) -> dict[str, Entry]:
        """Platform parameters that cannot be measured here (cold start, limits, CPU share).

        Each value is an :class:`Entry`, so the scaling model can cite its source; use
        :meth:`platform_values` for the bare numbers.
        """
        return self.items("platforms", name)

    def platform_values(self, name: str) -> dict[str, float]:
        return {key: e.value for key, e in self.platform(name).items()}

    def rows(self) -> list[dict[str, Any]]:
        """Every entry as a flat record (for a table of figures and sources in a report)."""
        return [
            {"section": section, "name": name, "key": key, **vars(entry)}
            for section, items in self._sections.items()
            for name, entries in items.items()
            for key, entry in entries.items()
        ]

    def _section(self, section: str) -> dict[str, dict[str, Entry]]:
        if section not in self._sections:
            raise KeyError(f"unknown price book section {section!r} (one of {', '.join(_SECTIONS)})")
        return self._sections[section]


def load_price_book(path: str | Path | None = None) -> PriceBook:
    """Load and validate a price book; the packaged one when ``path`` is None.

    A user's book has the packaged book's shape and replaces it wholesale: a partial book would mix
    figures of different dates under one version string. Any missing or mistyped field raises a
    ``ValueError`` whose one-line message names the file and the entry.
    """
    book_path = PACKAGED_BOOK if path is None else Path(path)
    where = str(book_path)
    try:
        with open(book_path, "rb") as f:
            raw = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{where}: not valid TOML ({exc})") from None

    for field in ("version", "date"):
        if field not in raw:
            raise ValueError(f"{where}: price book lacks top-level {field!r}")
    version = _as_text(raw["version"], where, "version")
    book_date = _as_text(raw["date"], where, "date")

    sections: dict[str, dict[str, dict[str, Entry]]] = {}
    for section in _SECTIONS:
        items = raw.get(section, {})
        if not isinstance(items, dict):
            raise ValueError(f"{where}: [{section}] must be a table of named items")
        sections[section] = {}
        for name, entries in items.items():
            label = f"{section}.{name}"
            if not isinstance(entries, dict):
                raise ValueError(f"{where}: {label} must be a table of entries")
            parsed = {key: _parse_entry(val, where, f"{label}.{key}") for key, val in entries.items()}
            for key in _REQUIRED_KEYS[section]:
                if key not in parsed:
                    raise ValueError(f"{where}: {label} lacks required entry {key!r}")
            if section == "serverless" and not any(k.startswith("gb_second") for k in parsed):
                raise ValueError(f"{where}: {label} lacks a 'gb_second' (or 'gb_second_<arch>') entry")
            sections[section][name] = parsed
    return PriceBook(version, book_date, where, sections)


def _parse_entry(raw: Any, where: str, label: str) -> Entry:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: entry {label} must be a table with {', '.join(_ENTRY_FIELDS)}")
    for field in _ENTRY_FIELDS:
        if field not in raw:
            raise ValueError(f"{where}: entry {label} lacks {field!r}")
    value = raw["value"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where}: entry {label} has a non-numeric value {value!r}")
    if value < 0:
        raise ValueError(f"{where}: entry {label} has a negative value {value!r}")
    note = raw.get("note", "")
    return Entry(
        value=value,
        unit=_as_text(raw["unit"], where, f"{label}.unit"),
        date=_as_text(raw["date"], where, f"{label}.date"),
        source=_as_text(raw["source"], where, f"{label}.source"),
        note=_as_text(note, where, f"{label}.note"),
    )


def _as_text(value: Any, where: str, label: str) -> str:
    # TOML turns a bare 2024-08-14 into a date; accept it, as a writer of a book would expect.
    if isinstance(value, _date):
        return value.isoformat()
    if not isinstance(value, str):
        raise ValueError(f"{where}: {label} must be a string, got {value!r}")
    return value
