"""The path to a trained model, end to end: each step's seconds and share, and what a faster
preprocessing step buys the whole path.

The harness studies the preprocessing step, but a user waits for the model: preprocessing, then the
descriptor stage, then the classifier's fit. Once preprocessing is fast, the later steps dominate, and by
Amdahl's law a preprocessing speedup ``s`` shortens the whole path by ``T / (T - p + p / s)`` only
(``T`` the path's seconds, ``p`` the preprocessing step's). The account is what ``facebench train``
writes under ``pipeline`` in ``train/metrics.json``; these functions read it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

PREPROCESSING = "preprocessing"


def account(steps: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The steps (each with ``step``, ``seconds``, ``images``, and whatever else describes it), each
    given its seconds per image and its share of the total; and the total."""
    total = float(sum(s["seconds"] for s in steps))
    rows = [
        {
            **s,
            "seconds": float(s["seconds"]),
            "per_image_s": float(s["seconds"]) / s["images"] if s["images"] else math.nan,
            "share": float(s["seconds"]) / total if total > 0 else math.nan,
        }
        for s in steps
    ]
    return {"steps": rows, "total_s": total}


def _preprocessing(pipeline: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return next((s for s in pipeline["steps"] if s["step"] == PREPROCESSING), None)


def end_to_end_speedup(pipeline: Mapping[str, Any], preprocessing_speedup: float) -> float:
    """Amdahl: the whole path's speedup when its preprocessing step runs ``preprocessing_speedup``
    times faster than in the account and the other steps take what they took (``math.inf``: the most
    any preprocessing speedup can buy). NaN when the account has no preprocessing step."""
    step = _preprocessing(pipeline)
    if step is None or preprocessing_speedup <= 0:
        return math.nan
    total, pre = pipeline["total_s"], step["seconds"]
    rest = total - pre + pre / preprocessing_speedup
    return total / rest if rest > 0 else math.inf


def bought(pipeline: Mapping[str, Any]) -> float:
    """What the chosen case's own speedup (its ``speedup`` over the run's sequential case) bought the
    whole path: the path with the sequential preprocessing over the path as measured."""
    step = _preprocessing(pipeline)
    if step is None or not isinstance(step.get("speedup"), int | float) or math.isnan(step["speedup"]):
        return math.nan
    total = pipeline["total_s"]
    return (total - step["seconds"] + step["seconds"] * step["speedup"]) / total if total > 0 else math.nan


def summary_line(pipeline: Mapping[str, Any]) -> str:
    """One sentence: the preprocessing step's share, what its speedup bought end to end, the limit."""
    step = _preprocessing(pipeline)
    if step is None:
        return "end to end: no preprocessing step in this account (the crops did not come from a run)"
    text = f"end to end: preprocessing is {step['share']:.0%} of the {pipeline['total_s']:.1f} s path"
    gained = bought(pipeline)
    if not math.isnan(gained):
        text += (
            f"; its {step['speedup']:.2f}x over the sequential case bought {gained:.2f}x on the whole path"
        )
    limit = end_to_end_speedup(pipeline, math.inf)
    return text + f"; infinitely fast preprocessing would buy {limit:.2f}x at most"
