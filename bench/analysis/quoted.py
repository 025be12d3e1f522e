"""The figures the docs quote, rendered from the committed results they come from (docs/figures.toml).

A doc that quotes a number says where it came from once, in the registry; ``tests/test_figures.py``
renders every entry from its source and fails when the doc's text disagrees, so an edited result or an
edited doc cannot drift apart silently. The registry's header says how to write an entry.

``python -m bench.analysis.quoted`` prints each entry as rendered, and where it disagrees.
"""

from __future__ import annotations

import importlib
import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = ROOT / "docs" / "figures.toml"
AGGREGATES: dict[str, Callable[[pd.Series], object]] = {
    "one": lambda s: _one(s),
    "median": pd.Series.median,
    "min": pd.Series.min,
    "max": pd.Series.max,
    "mean": pd.Series.mean,
    "sum": pd.Series.sum,
    "count": pd.Series.count,
}
SAFE_BUILTINS = {"abs": abs, "round": round, "max": max, "min": min}  # what a figure's format may call
_TABLE_QUERY = re.compile(r"^(?:(?P<agg>\w+)\((?P<col>\w+)\)|(?P<bare>\w+))(?:\s+where\s+(?P<where>.+))?$")


@dataclass
class Figure:
    """One quoted figure: the exact text, the docs it appears in, and how to render it from its source."""

    text: str
    docs: list[str]
    source: str
    format: str
    values: dict[str, str] = field(default_factory=dict)

    def render(self, root: Path = ROOT) -> str:
        loaded = load_source(self.source, root)
        names = {name: query(loaded, q) for name, q in self.values.items()}
        return eval(f"f{self.format!r}", {"__builtins__": SAFE_BUILTINS}, names)  # noqa: S307


def load_registry(path: Path = REGISTRY) -> tuple[list[Figure], list[str]]:
    """The registry's figures and its ``not_results`` (texts in the findings that are no results)."""
    doc = tomllib.loads(path.read_text())
    return [Figure(**entry) for entry in doc.get("figure", [])], list(doc.get("not_results", []))


def load_source(source: str, root: Path = ROOT):
    """A committed result file (json, csv, parquet) or a Python module under the repository."""
    path = root / source
    if source.endswith(".py"):
        return importlib.import_module(source.removesuffix(".py").replace("/", "."))
    if source.endswith(".json"):
        return json.loads(path.read_text())
    if source.endswith(".csv"):
        return pd.read_csv(path)
    if source.endswith(".parquet"):
        return pd.read_parquet(path)
    raise ValueError(f"{source}: a figure's source is a .json, .csv, .parquet or .py file")


def query(loaded, text: str):
    """One value from a loaded source: ``module:function`` (called with the source), a table query
    ``agg(column) where <pandas query>`` (or ``column where ...``: exactly one distinct value), or
    a dotted path into JSON or a module (``rows.0.predicted_wall_s``, ``PATTERN.serverless_s``)."""
    if ":" in text and " " not in text:
        module, name = text.split(":")
        return getattr(importlib.import_module(module), name)(loaded)
    if isinstance(loaded, pd.DataFrame):
        match = _TABLE_QUERY.match(text.strip())
        if not match:
            raise ValueError(f"{text!r}: a table query is 'agg(column) where <pandas query>'")
        rows = loaded.query(match["where"], engine="python") if match["where"] else loaded
        if rows.empty:
            raise ValueError(f"{text!r} selects no row")
        return AGGREGATES[match["agg"] or "one"](rows[match["col"] or match["bare"]])
    value = loaded
    for part in text.split("."):
        if isinstance(value, list):
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value[part]
        else:
            value = getattr(value, part)
    return value


def _one(series: pd.Series):
    values = series.unique()
    if len(values) != 1:
        raise ValueError(f"{series.name}: {len(values)} distinct values where one was expected")
    return values[0]


def problems(root: Path = ROOT, path: Path = REGISTRY) -> list[str]:
    """Every entry whose rendering differs from its text or whose text is missing from a doc it names."""
    found = []
    for figure in load_registry(path)[0]:
        try:
            rendered = figure.render(root)
        except Exception as exc:  # any broken source or query is a finding, named with its entry
            found.append(f"{figure.text!r}: cannot render from {figure.source}: {exc!r}")
            continue
        if rendered != figure.text:
            found.append(f"{figure.text!r}: {figure.source} renders {rendered!r}")
        for doc in figure.docs:
            if figure.text not in flatten((root / doc).read_text()):
                found.append(f"{figure.text!r} is not in {doc}")
    return found


def flatten(markdown: str) -> str:
    """A doc's text with line breaks as spaces, so that a quoted phrase may wrap."""
    return re.sub(r"\s*\n\s*", " ", markdown)


if __name__ == "__main__":
    for figure in load_registry()[0]:
        try:
            print(f"{figure.render()!r:50} {figure.source}")
        except Exception as exc:  # the problems below name it; go on with the others
            print(f"{'(cannot render: ' + str(exc) + ')':50} {figure.source}")
    for problem in problems():
        print("DISAGREES:", problem)
