"""A projected median and its interval as text, rounded to what the interval supports: every table of
predictions that facebench prints (project, plan, the scenarios, --service-time) writes them so. A
median without an interval (no validation of its kind, bench/model/errors.py) says so."""

from __future__ import annotations

import math

import pandas as pd


def format_interval(median: float, low: float, high: float, unit: str = "") -> str:
    """``median [low-high]`` rounded to what the interval and the draws support: one significant digit
    of the interval's width, or of a tenth of the median where the interval is narrower (the median of
    ``projection.DRAWS`` draws itself moves by up to 5% between seeds)."""
    if not math.isfinite(median):
        return "n/a"
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{median:,.3g}{unit} (not validated)"
    width = max(high - low, abs(median) * 1e-1, 1e-12)
    digits = max(0, -math.floor(math.log10(width)))

    def fmt(v: float) -> str:
        return f"{v:,.{digits}f}"

    return f"{fmt(median)}{unit} [{fmt(low)}-{fmt(high)}]"


def interval_text(table: pd.DataFrame, column: str = "predicted_wall_s") -> list[str]:
    """``format_interval`` for every row of a projected table, from ``column`` and its ``_low``/``_high``."""
    return [
        format_interval(m, lo, hi)
        for m, lo, hi in zip(table[column], table[f"{column}_low"], table[f"{column}_high"], strict=True)
    ]
