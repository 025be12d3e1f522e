"""The short answer ``facebench run`` ends with: the best executor here for this data, its time and
cost with their interval where the repeats allow one, what to watch out for, and the command that
plans for more images."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from bench.analysis.statistics import MIN_REPEATS_SPEEDUP, case_summary


def _interval(table: pd.Series, column: str) -> str:
    low, high = table.get(f"{column}_ci_low"), table.get(f"{column}_ci_high")
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return "interval not measured (too few repeats)"
    return f"95% CI {low:.3g}-{high:.3g}"


def _kernel_note(summary: pd.DataFrame) -> str:
    """Across kernels the fastest may trade accuracy for speed: say that the choice is measured elsewhere."""
    if summary["kernel"].nunique() < 2:
        return ""
    return (
        " (fastest of the run's kernels, whatever their accuracy; facebench train picks by the frontier rule)"
    )


def answer_lines(runs: pd.DataFrame, run_dir: Path) -> list[str]:
    """A few lines: the fastest verified case, its cost, the caveats, the next command."""
    summary = case_summary(runs)
    ok = summary[summary["identical"].astype(bool)]
    if ok.empty:
        return ["no case produced the reference's outputs: nothing to recommend"]
    best = ok.loc[ok["wall_s"].idxmin()]
    cases = runs[runs["case_id"] == best["case_id"]].iloc[0]
    lines = [
        f"fastest here: {best['executor']} with {int(best['workers'])} worker(s), kernel {best['kernel']}"
        f"{_kernel_note(summary)} ({best['case_id']}): {best['wall_s']:.3g} s median for "
        f"{int(best['images'])} images "
        f"({_interval(cases, 'wall_s')}), speedup {best['speedup']:.2f} ({_interval(cases, 'speedup')}), "
        f"${best['cost_usd']:.2g} as priced ({str(cases.get('cost_model', '')).split(' x ')[0]})"
    ]
    idle = runs.loc[runs["case_id"] == best["case_id"], "tail_idle_s"] if "tail_idle_s" in runs else None
    if idle is not None and idle.notna().any() and int(best["workers"]) > 1:
        workers = int(best["workers"])
        lines.append(
            f"idle at its tail: {idle.median():.3g} worker-seconds (summed over its {workers} workers, so it "
            f"can exceed the wall time; of {workers * best['wall_s']:.3g} worker-seconds offered)"
        )
    if int(best["repeats"]) < 2:
        lines.append(
            f"a single repeat: its spread is not measured; use --repeats {MIN_REPEATS_SPEEDUP} or a suite "
            "before comparing"
        )
    over = summary[(summary["efficiency"] > 1.0) & (summary["workers"] > 1)]
    for _, row in over.iterrows():
        lines.append(
            f"efficiency {row['efficiency']:.2f} > 1 in {row['case_id']}: more than ideal, so the reference "
            "is the slower one here (noise between repeats, or the sequential case paid something, such "
            "as a cold page cache, that this case did not); read it as about 1"
        )
    lines.append(f"for more images: facebench plan {run_dir} --images N [--platforms local,aws_lambda]")
    return lines
