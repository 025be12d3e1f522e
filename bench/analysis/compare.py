"""``facebench compare BASE NEW``: did a change make any case slower, beyond the noise?

Cases are matched by ``case_id`` (executor, kernel, workers, chunk size). Per case the wall time of
NEW over BASE is the ratio of their medians over repeats. A ratio beyond the threshold is only a
regression when the change is also beyond the noise the repeats show: the wider of the two runs'
relative spreads, (max - min) / median. A 25% slowdown between runs whose repeats differ by 40% among
themselves is not evidence of anything.

With a single repeat on either side the noise cannot be measured: the threshold alone decides, and the
verdict says so. A case whose outputs were identical to the sequential reference in BASE and are not in
NEW is a regression too, whatever its time. Exit status: 1 when any case regressed, 0 otherwise, 2 on
a user error (a missing run, no case in common, a bad threshold).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from bench import tables
from bench.errors import UserError

SLOWER = "REGRESSION: slower beyond threshold and noise"
SLOWER_SINGLE = "REGRESSION: slower beyond threshold (1 repeat: noise not measured)"
SLOWER_NOISE = "slower, but within the noise"
FASTER = "faster"
FASTER_SINGLE = "faster (1 repeat: noise not measured)"
FASTER_NOISE = "faster, but within the noise"
SAME = "same (within threshold)"
OUTPUTS = "REGRESSION: outputs no longer identical"


@dataclass(frozen=True)
class Side:
    """One run's wall times for one case."""

    n: int
    median: float
    low: float
    high: float
    identical: bool
    digest: str

    @property
    def spread(self) -> float:
        """(max - min) / median; 0 with a single repeat."""
        return (self.high - self.low) / self.median if self.n > 1 and self.median > 0 else 0.0


def _sides(runs: pd.DataFrame) -> dict[str, Side]:
    out = {}
    for case_id, group in runs.groupby("case_id", sort=False):
        walls = group["wall_s"].astype(float)
        digests = group["output_digest"].dropna().astype(str).unique()
        out[str(case_id)] = Side(
            n=len(walls),
            median=float(walls.median()),
            low=float(walls.min()),
            high=float(walls.max()),
            identical=bool(group["identical"].fillna(False).astype(bool).all()),
            digest=digests[0] if len(digests) == 1 else "",
        )
    return out


def verdict(base: Side, new: Side, threshold: float) -> tuple[str, bool]:
    """The verdict on one case's time and whether it is a regression."""
    ratio = new.median / base.median if base.median > 0 else math.inf
    if min(base.n, new.n) < 2:
        if ratio > 1 + threshold:
            return SLOWER_SINGLE, True
        return (FASTER_SINGLE if ratio < 1 - threshold else SAME), False
    noise = max(base.spread, new.spread)
    if ratio > 1 + threshold:
        return (SLOWER, True) if ratio - 1 > noise else (SLOWER_NOISE, False)
    if ratio < 1 - threshold:
        return (FASTER, False) if 1 - ratio > noise else (FASTER_NOISE, False)
    return SAME, False


def compare_tables(base_runs: pd.DataFrame, new_runs: pd.DataFrame, threshold: float = 0.10) -> pd.DataFrame:
    """One row per case found in both runs: medians, ratio, noise, verdict, identical, regression."""
    if not threshold >= 0:
        raise UserError(f"--threshold must be a non-negative fraction such as 0.10, got {threshold}")
    base, new = _sides(base_runs), _sides(new_runs)
    rows = []
    for case_id in [c for c in new if c in base]:
        b, n = base[case_id], new[case_id]
        text, regressed = verdict(b, n, threshold)
        if b.identical and not n.identical:
            text, regressed = OUTPUTS, True
        rows.append(
            {
                "case_id": case_id,
                "base_repeats": b.n,
                "base_wall_s": b.median,
                "base_min": b.low,
                "base_max": b.high,
                "new_repeats": n.n,
                "new_wall_s": n.median,
                "new_min": n.low,
                "new_max": n.high,
                "ratio": n.median / b.median if b.median > 0 else math.inf,
                "noise": max(b.spread, n.spread) if min(b.n, n.n) > 1 else math.nan,
                "identical": n.identical,
                "same_output": bool(b.digest) and b.digest == n.digest,
                "verdict": text,
                "regression": regressed,
            }
        )
    return pd.DataFrame(rows)


def _context(label: str, manifest: dict, path) -> str:
    data = manifest.get("dataset") or {}
    return (
        f"{label}: run {manifest.get('run_id', '?')} ({path}), {data.get('images', '?')} images of "
        f"{data.get('name', '?')}, on {tables.machine_label(manifest)}"
    )


def _warnings(base: dict, new: dict) -> list[str]:
    out = []
    bd, nd = base.get("dataset") or {}, new.get("dataset") or {}
    if (bd.get("name"), bd.get("images")) != (nd.get("name"), nd.get("images")):
        out.append("the runs used different datasets: times are not comparable case by case")
    benv, nenv = base.get("environment") or {}, new.get("environment") or {}
    if (benv.get("cpu_model"), benv.get("cpu_count")) != (nenv.get("cpu_model"), nenv.get("cpu_count")):
        out.append("the runs were measured on different machines: a ratio says as much about them")
    return out


def format_table(table: pd.DataFrame) -> str:
    def side(row, prefix: str) -> str:
        n = int(row[f"{prefix}_repeats"])
        spread = f" [{row[f'{prefix}_min']:.2f}-{row[f'{prefix}_max']:.2f}]" if n > 1 else ""
        return f"{row[f'{prefix}_wall_s']:.3f}{spread} n={n}"

    shown = pd.DataFrame(
        {
            "case": table["case_id"],
            "base s": table.apply(side, axis=1, prefix="base"),
            "new s": table.apply(side, axis=1, prefix="new"),
            "ratio": table["ratio"].map(lambda v: f"{v:.2f}x"),
            "noise": table["noise"].map(lambda v: "-" if math.isnan(v) else f"{v:.0%}"),
            "identical": table["identical"].map({True: "yes", False: "NO"}),
            "verdict": table["verdict"],
        }
    )
    for column in shown.columns:  # left-aligned text columns
        width = max(len(column), int(shown[column].str.len().max()))
        shown[column] = shown[column].str.ljust(width)
    return shown.to_string(index=False, justify="left")


def compare(base: str, new: str, threshold: float = 0.10, out: Callable[[str], None] = print) -> int:
    """Print the comparison of two run folders; return the exit status (1 on a regression)."""
    base_dir, new_dir = tables.resolve_run(base), tables.resolve_run(new)
    _, base_runs, base_manifest = tables.read_run(base_dir)
    _, new_runs, new_manifest = tables.read_run(new_dir)
    table = compare_tables(base_runs, new_runs, threshold)
    only_base = sorted(set(base_runs["case_id"]) - set(new_runs["case_id"]))
    only_new = sorted(set(new_runs["case_id"]) - set(base_runs["case_id"]))
    if table.empty:
        raise UserError(
            f"no case in common between {base_dir} and {new_dir}; cases are matched by case_id "
            "(executor-kernel-wWORKERS-cCHUNK)"
        )
    out(_context("base", base_manifest, base_dir))
    out(_context("new ", new_manifest, new_dir))
    for warning in _warnings(base_manifest, new_manifest):
        out(f"warning: {warning}")
    out(f"threshold {threshold:.0%}; noise = wider (max-min)/median of the two runs' repeats")
    out("")
    out(format_table(table))
    if only_base:
        out(f"\nonly in base (not compared): {', '.join(only_base)}")
    if only_new:
        out(f"only in new (not compared): {', '.join(only_new)}")
    if (table[["base_repeats", "new_repeats"]].min(axis=1) < 2).any():
        out("\nnote: cases with a single repeat cannot separate a change from noise; rerun with --repeats 3")
    regressed = table[table["regression"]]
    if len(regressed):
        out(f"\n{len(regressed)} regression(s): {', '.join(regressed['case_id'])}")
        return 1
    out(f"\nno regression beyond {threshold:.0%} and the noise in {len(table)} matched case(s)")
    return 0
