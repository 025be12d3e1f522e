"""The speed/accuracy frontier of face preprocessing, and the rule that picks the output training uses.

Kernels trade accuracy for speed (docs/kernels.md). What a kernel costs in accuracy is measured
downstream: LFW pairs verification of the model trained on its crops. Those accuracies come from a
committed scores file (``results/kernel-frontier/downstream.json``, written by
``benchmarks/kernel_frontier.py``: per kernel and version, held-out top-1 on LFW's identities with 10+
images and the full pairs protocol), or from the run's own training (``train/metrics.json``'s
``lfw_pairs``, for the kernel it trained on), in that order; a kernel that ``reproduces`` another byte
for byte has that kernel's accuracy.

The rule ("training proceeds on the best output"): the fastest verified case whose kernel is
acceptable. A kernel is acceptable when it is the faithful kernel, reproduces it byte for byte, or
its pairs accuracy is within ``PAIRS_TOLERANCE`` of the faithful kernel's. Without an accuracy for
both, a kernel is not acceptable: a faster kernel is never chosen on speed alone.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.analysis.statistics import case_summary, pareto, ratio_interval
from bench.kernels import declared
from pipelines.kernels import FAITHFUL

#: How far below the faithful kernel's LFW pairs accuracy a faster choice may be (0.3 points): the one
#: tolerance of the kernel frontier and of the descriptor variants (bench/train/descriptors.py).
PAIRS_TOLERANCE = 0.003
#: The committed downstream scores (benchmarks/kernel_frontier.py writes them).
DOWNSTREAM = Path(__file__).resolve().parents[2] / "results" / "kernel-frontier" / "downstream.json"
DOWNSTREAM_NAME = "results/kernel-frontier/downstream.json"
_TINY = 1e-12


@dataclass(frozen=True)
class Accuracy:
    """A kernel's measured downstream accuracy and where it comes from."""

    kernel: str
    pairs_accuracy: float
    pairs_accuracy_std: float = math.nan
    top1: float = math.nan
    source: str = ""


@dataclass(frozen=True)
class Verdict:
    """Whether a kernel's output may be trained on by the rule, and why."""

    kernel: str
    acceptable: bool
    why: str
    pairs_accuracy: float = math.nan


def load_downstream(path: str | Path | None = None) -> dict | None:
    """The committed downstream scores, or None where none are committed."""
    path = Path(path) if path is not None else DOWNSTREAM
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def accuracies(
    manifest: dict | None,
    kernels: Iterable[str],
    training: dict | None = None,
    downstream: dict | None = None,
) -> dict[str, Accuracy]:
    """kernel -> its measured pairs accuracy, for the run's ``kernels`` and the faithful one: from the
    downstream scores (same kernel version only), else the run's training (``train/metrics.json``)."""
    names = sorted(set(map(str, kernels)) | {faithful_name(kernels, manifest)})
    found: dict[str, Accuracy] = {}
    scored = (downstream or {}).get("kernels") or {}
    for name in names:
        row = scored.get(name)
        version = str(declared(manifest, name).get("version", "1"))
        if row and row.get("pairs_accuracy") is not None and str(row.get("version", "1")) == version:
            found[name] = Accuracy(
                name,
                float(row["pairs_accuracy"]),
                float(row.get("pairs_accuracy_std") or math.nan),
                float(row.get("ge10_top1") or math.nan),
                DOWNSTREAM_NAME,
            )
    trained = trained_kernel(training)
    pairs = (training or {}).get("lfw_pairs") or {}
    if trained in names and trained not in found and pairs.get("accuracy") is not None:
        found[trained] = Accuracy(
            trained,
            float(pairs["accuracy"]),
            float(pairs.get("accuracy_std") or math.nan),
            float(training.get("top1", math.nan)),
            f"the run's training ({pairs.get('pairs_covered')}/{pairs.get('pairs_total')} pairs)",
        )
    for name in names:  # a kernel that gives another's bytes has its accuracy
        decl = declared(manifest, name)
        target = str(decl.get("approximates", FAITHFUL))
        if name not in found and decl.get("reproduces") and target in found:
            source = found[target]
            found[name] = Accuracy(
                name,
                source.pairs_accuracy,
                source.pairs_accuracy_std,
                source.top1,
                f"{target}'s, reproduced byte for byte",
            )
    return found


def trained_kernel(training: dict | None) -> str | None:
    """The kernel whose crops a training used (``source.kernel``; older metrics: the path's first step)."""
    if not training:
        return None
    kernel = (training.get("source") or {}).get("kernel")
    if kernel:
        return str(kernel)
    steps = (training.get("pipeline") or {}).get("steps") or []
    return next((str(s["kernel"]) for s in steps if s.get("kernel")), None)


def faithful_name(kernels: Iterable[str], manifest: dict | None = None) -> str:
    """The kernel the run's kernels approximate (whether or not the run has it)."""
    names = sorted(set(map(str, kernels)))
    targets = Counter(str(declared(manifest, k).get("approximates", FAITHFUL)) for k in names)
    for name in names:
        if targets.get(name) and declared(manifest, name).get("approximates", FAITHFUL) == name:
            return name
    return targets.most_common(1)[0][0] if targets else FAITHFUL


def judge(
    kernels: Iterable[str],
    manifest: dict | None,
    found: dict[str, Accuracy],
    tolerance: float = PAIRS_TOLERANCE,
) -> dict[str, Verdict]:
    """Per kernel: acceptable by the rule (module docstring), and why, in words."""
    names = sorted(set(map(str, kernels)))
    faithful = faithful_name(names, manifest)
    base = found.get(faithful)
    verdicts = {}
    for name in names:
        mine = found.get(name)
        acc = mine.pairs_accuracy if mine else math.nan
        decl = declared(manifest, name)
        if name == faithful:
            verdict = Verdict(name, True, "the faithful kernel", acc)
        elif decl.get("reproduces") and decl.get("approximates", FAITHFUL) == faithful:
            verdict = Verdict(name, True, f"reproduces {faithful} byte for byte", acc)
        elif mine is None:
            verdict = Verdict(name, False, "no pairs accuracy measured", acc)
        elif base is None:
            verdict = Verdict(name, False, f"{faithful}'s pairs accuracy is not measured", acc)
        else:
            gap = base.pairs_accuracy - mine.pairs_accuracy
            within = gap <= tolerance + _TINY
            how = f"{gap * 100:.2f} points below" if gap > 0 else f"{-gap * 100:.2f} points above"
            verdict = Verdict(
                name,
                within,
                f"pairs accuracy {mine.pairs_accuracy:.2%}, {how} {faithful}'s {base.pairs_accuracy:.2%} "
                f"({'within' if within else 'beyond'} {tolerance * 100:.1f}; {mine.source})",
                acc,
            )
        verdicts[name] = verdict
    return verdicts


def tolerance_text(tolerance: float = PAIRS_TOLERANCE) -> str:
    """The rule's tolerance in words."""
    return f"within {tolerance * 100:.1f} points of the faithful kernel's LFW pairs accuracy"


# ------------------------------------------------------------------------------------------ the table


def kernel_speedups(
    runs: pd.DataFrame, executor: str = "sequential"
) -> dict[str, tuple[float, float, float]]:
    """Per kernel, its speed against the faithful kernel's under one executor: the faithful case's
    median wall time over the kernel's, with the ratio's 95% interval (nan below 7 repeats a side)."""
    cases = runs[runs["executor"] == executor]
    walls = {kernel: group["wall_s"].to_numpy() for kernel, group in cases.groupby("kernel")}
    base = walls[faithful_name(walls)]
    out = {}
    for kernel, wall in walls.items():
        low, high = ratio_interval(base, wall)
        out[kernel] = (float(pd.Series(base).median() / pd.Series(wall).median()), low, high)
    return out


FRONTIER_COLUMNS = [
    "kernel",
    "executor",
    "workers",
    "case_id",
    "images",
    "images_per_s",
    "images_per_s_ci_low",
    "images_per_s_ci_high",
    "cost_per_1000_usd",
    "identical",
    "pairs_accuracy",
    "pairs_accuracy_std",
    "accuracy_source",
    "agreement",
    "landmark_dev_median",
    "acceptable",
    "why",
    "front_speed",
    "front_cost",
]


def frontier_table(
    runs: pd.DataFrame,
    manifest: dict | None,
    found: dict[str, Accuracy],
    quality: pd.DataFrame | None = None,
    tolerance: float = PAIRS_TOLERANCE,
) -> tuple[pd.DataFrame, str | None]:
    """One row per kernel x executor: its fastest case (median images/s over repeats, with the 95%
    interval where the repeats allow one), cost per 1,000 images, the kernel's accuracy or quality, and
    whether it is on the Pareto front of speed against the axis, and of cost against it. The axis is
    ``pairs_accuracy`` where every kernel has one, else ``landmark_dev_median`` (quality.parquet) where
    the run has it, else None (and no front)."""
    summary = case_summary(runs)
    best = summary.sort_values("images_per_s", ascending=False, kind="stable")
    best = best.drop_duplicates(["kernel", "executor"]).copy()
    verdicts = judge(best["kernel"], manifest, found, tolerance)
    best["cost_per_1000_usd"] = best["cost_usd"] / best["images"] * 1000
    mine = [found.get(k) for k in best["kernel"]]
    best["pairs_accuracy"] = [a.pairs_accuracy if a else math.nan for a in mine]
    best["pairs_accuracy_std"] = [a.pairs_accuracy_std if a else math.nan for a in mine]
    best["accuracy_source"] = [a.source if a else "" for a in mine]
    by_kernel = quality.set_index("kernel") if quality is not None and len(quality) else None
    for column in ("agreement", "landmark_dev_median"):
        best[column] = (
            best["kernel"].map(by_kernel[column]).astype(float) if by_kernel is not None else math.nan
        )
    best["acceptable"] = [verdicts[k].acceptable for k in best["kernel"]]
    best["why"] = [verdicts[k].why for k in best["kernel"]]
    if best["pairs_accuracy"].notna().all():
        axis = "pairs_accuracy"
    elif best["landmark_dev_median"].notna().all() and best["kernel"].nunique() > 1:
        axis = "landmark_dev_median"
    else:
        axis = None
    if axis is not None:
        worse = -best[axis] if axis == "pairs_accuracy" else best[axis]  # pareto: lower is better
        best = best.assign(_x=worse, _speed=-best["images_per_s"])
        best["front_speed"] = pareto(best, "_x", "_speed")
        best["front_cost"] = pareto(best, "_x", "cost_per_1000_usd")
    else:
        best["front_speed"] = best["front_cost"] = False
    table = best.reindex(columns=FRONTIER_COLUMNS).sort_values(["kernel", "executor"], kind="stable")
    return table.reset_index(drop=True), axis
