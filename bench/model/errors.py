"""The model's measured error, kept per kind of case, and the prediction interval it gives a projection.

A projection's draws only say how much the model's own sampling moves it (+-0.2% on a local row);
what a user bets on is how far its predictions have landed from measurements it was not fit on. Each
projected row is matched to the validations of its kind:

* ``local`` within the run's measured worker counts: the run's own validation (fit on some cases,
  scored on another: leave-one-out and 1 -> N workers, :mod:`bench.model.validation`);
* ``local`` beyond them, up to the machine's cores: the committed validations that predict more workers
  than were fit on (``results/model-error/*.json``, scheme ``workers``: 2 cores and 16);
* a serverless platform: the published jobs of that platform the price book was not calibrated on
  (:mod:`bench.model.published`);
* anything else (more workers than cores, a platform without published jobs) is not validated and gets
  no interval, never a narrow one. A fit on disturbed cases (other work on the machine,
  :func:`bench.analysis.statistics.disturbed_cases`) gets none either: its error is not the model's.

The interval is split-conformal: the k-th smallest of n held-out relative errors, k = ceil((n + 1) x
coverage), each error taken the larger way round (predicted over measured or measured over predicted),
so the interval holds whichever way the model missed; combined with the draws' own spread (root sum of
squares, per side). Where n is too small for the coverage asked (k > n) the largest error is used and
the row says so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.analysis.statistics import disturbed_cases

__all__ = [
    "COMMITTED",
    "COVERAGE",
    "Residuals",
    "apply_errors",
    "beyond_measured",
    "disturbed_refusal",
    "held_out_intervals",
    "held_out_summary",
    "published_residuals",
    "row_matcher",
    "run_residuals",
]

COVERAGE = 0.90
COMMITTED = Path(__file__).resolve().parents[2] / "results" / "model-error"
#: The committed validations that extrapolate in workers (fit on one worker, scored on more).
BEYOND_SCHEME = "workers"


@dataclass(frozen=True)
class Residuals:
    """Held-out relative errors ``(predicted - measured) / measured`` of one kind of case."""

    kind: str
    rel_errors: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.rel_errors)

    @property
    def model_error(self) -> float:
        """The median absolute relative error: what the trust notes and ``model_error`` quote."""
        return float(np.median(np.abs(self.rel_errors))) if self.n else math.nan

    def half_width(self, coverage: float = COVERAGE) -> tuple[float, bool]:
        """The conformal quantile of the errors (relative to the prediction), and whether n sufficed."""
        return conformal_quantile(self.rel_errors, coverage)


def _both_ways(rel: np.ndarray) -> np.ndarray:
    """|predicted/measured - 1| or |measured/predicted - 1|, the larger: an interval of that half-width
    around the prediction holds the measurement whichever way the model missed."""
    rel = np.asarray(rel, dtype=float)
    return np.maximum(np.abs(rel), np.abs(rel / (1.0 + rel)))


def conformal_quantile(rel_errors, coverage: float = COVERAGE) -> tuple[float, bool]:
    """The k-th smallest error, k = ceil((n + 1) x coverage); the largest (False) where k > n."""
    errors = np.sort(_both_ways(np.asarray(rel_errors, dtype=float)))
    if len(errors) == 0:
        return math.nan, False
    k = math.ceil((len(errors) + 1) * coverage)
    if k > len(errors):
        return float(errors[-1]), False
    return float(errors[k - 1]), True


def run_residuals(validation: pd.DataFrame, label: str) -> Residuals | None:
    """The run's own held-out errors (every scheme): local rows within its measured worker counts."""
    scored = validation["rel_error"].dropna()
    if scored.empty:
        return None
    return Residuals(f"{label}'s own cases, fit apart ({len(scored)})", tuple(scored))


def beyond_measured(folder: Path = COMMITTED) -> Residuals | None:
    """The committed validations that predict more workers than their fit saw."""
    errors, names = [], []
    for path in sorted(p for p in folder.glob("*.json") if not p.name.startswith("coverage-")):
        data = json.loads(path.read_text())
        cases = [c for c in data.get("cases", []) if c.get("scheme") == BEYOND_SCHEME]
        scored = [c["rel_error"] for c in cases if c.get("rel_error") is not None]
        if scored:
            errors += scored
            names.append(path.stem)
    if not errors:
        return None
    return Residuals(
        f"committed 1 -> N worker validations ({', '.join(names)}: {len(errors)})", tuple(errors)
    )


def published_residuals(table: pd.DataFrame) -> dict[str, Residuals]:
    """Per serverless platform, the published jobs the price book was not calibrated on."""
    held_out = table[table["role"] == "validation"]
    return {
        str(platform): Residuals(
            f"published {platform} jobs not calibrated on ({len(g)})", tuple(g["rel_error"])
        )
        for platform, g in held_out.groupby("platform")
    }


def row_matcher(
    validation: pd.DataFrame,
    published: pd.DataFrame | None,
    *,
    measured_workers: int,
    cores: int,
    label: str,
) -> Callable[[pd.Series], Residuals | None]:
    """The residuals that back a projected row, by its kind (the module's docstring); None: none do."""
    own = run_residuals(validation, label)
    beyond = beyond_measured()
    cloud = published_residuals(published) if published is not None else {}

    def residuals_for(row: pd.Series) -> Residuals | None:
        if row["platform"] != "local":
            return cloud.get(row["platform"])
        if row["workers"] <= measured_workers:
            return own
        return beyond if row["workers"] <= cores else None

    return residuals_for


def disturbed_refusal(runs: pd.DataFrame) -> str:
    """Why a fit on this run gets no interval: the cases other work or steal disturbed (empty: none)."""
    table = disturbed_cases(runs)
    if table.empty:
        return ""
    return (
        f"fit on disturbed cases ({', '.join(table['case_id'])}: other work or steal during the "
        "measurement): no interval; measure again on a quiet machine"
    )


def _combine(median: float, low: float, high: float, q: float) -> tuple[float, float]:
    """The draws' spread and the model's error, per side, as a root sum of squares."""
    if not (math.isfinite(median) and median > 0):
        return math.nan, math.nan
    down = math.hypot((median - low) / median if math.isfinite(low) else 0.0, q)
    up = math.hypot((high - median) / median if math.isfinite(high) else 0.0, q)
    return max(0.0, median * (1.0 - down)), median * (1.0 + up)


def apply_errors(
    table: pd.DataFrame,
    residuals_for,
    coverage: float = COVERAGE,
    refused: str = "",
) -> pd.DataFrame:
    """Every projected row's time and cost interval re-made from its kind's measured error.

    ``residuals_for(row)`` gives the row's :class:`Residuals` or None (not validated); ``refused``, when
    set, is why no row gets an interval (a fit on disturbed cases). Adds ``model_error``,
    ``interval_coverage`` and ``validation`` (the kind of case, or why none)."""
    table = table.copy()
    cols = {c: [] for c in ("model_error", "interval_coverage", "validation")}
    bounds = {c: [] for c in ("wall_low", "wall_high", "cost_low", "cost_high")}
    for _, row in table.iterrows():
        res = None if refused else residuals_for(row)
        if res is None or res.n == 0:
            cols["model_error"].append(math.nan)
            cols["interval_coverage"].append(math.nan)
            cols["validation"].append(refused or "not validated")
            for c in bounds:
                bounds[c].append(math.nan)
            continue
        q, enough = res.half_width(coverage)
        cols["model_error"].append(res.model_error)
        cols["interval_coverage"].append(coverage)
        note = res.kind if enough else f"{res.kind}; too few for {coverage:.0%}: the largest error"
        cols["validation"].append(note)
        for kind in ("wall", "cost"):
            column = "predicted_wall_s" if kind == "wall" else "predicted_cost_usd"
            low, high = _combine(row[column], row[f"{column}_low"], row[f"{column}_high"], q)
            bounds[f"{kind}_low"].append(low)
            bounds[f"{kind}_high"].append(high)
    for c, values in cols.items():
        table[c] = values
    table["predicted_wall_s_low"], table["predicted_wall_s_high"] = bounds["wall_low"], bounds["wall_high"]
    table["predicted_cost_usd_low"], table["predicted_cost_usd_high"] = (
        bounds["cost_low"],
        bounds["cost_high"],
    )
    return table


def held_out_intervals(validation: pd.DataFrame, coverage: float = COVERAGE) -> pd.DataFrame:
    """Each validated case's printed interval, from the errors of the *other* cases of its scheme (so
    never from its own), with its draws' spread; ``inside``: the measurement fell in it."""
    table = validation.copy()
    low, high = [], []
    for i, row in table.iterrows():
        others = table.loc[(table["scheme"] == row["scheme"]) & (table.index != i), "rel_error"].dropna()
        if math.isnan(row["predicted_wall_s"]) or others.empty:
            low.append(math.nan)
            high.append(math.nan)
            continue
        q, _ = conformal_quantile(others.to_numpy(), coverage)
        lo, hi = _combine(
            row["predicted_wall_s"], row["predicted_wall_s_low"], row["predicted_wall_s_high"], q
        )
        low.append(lo)
        high.append(hi)
    table["predicted_wall_s_low"], table["predicted_wall_s_high"] = low, high
    table["interval_coverage"] = coverage
    inside = (table["measured_wall_s"] >= table["predicted_wall_s_low"]) & (
        table["measured_wall_s"] <= table["predicted_wall_s_high"]
    )
    table["inside"] = inside.astype(object).where(table["predicted_wall_s_low"].notna(), None)
    return table


def held_out_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per scheme, the share of measured times inside their held-out intervals."""
    scored = table[table["predicted_wall_s_low"].notna()]
    return (
        scored.assign(inside=scored["inside"].astype(bool))
        .groupby("scheme", sort=False)
        .agg(intervals=("inside", "size"), inside_share=("inside", "mean"))
        .reset_index()
    )
