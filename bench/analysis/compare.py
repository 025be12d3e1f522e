"""``facebench compare BASE NEW``: did a change make any case slower, beyond the noise?

Cases are matched as a user means "the same case": executor, workers, kernel, store, start, and the
chunk size, or "default chunking" where the harness chose it (so a rerun on another number of images
still matches), on the same kind of backend (this machine, a remote cluster, a cloud platform; cases
on different kinds are not matched unless asked). Differences in dataset, commit, package versions
and machine are warned about. Per case, a test valid for a
handful of repeats decides whether NEW's wall times differ from BASE's: the Mann-Whitney U test, exact
and two-sided at 5% (as asv's ``asv/statistics.py`` does for small samples; here the exact
distribution is enumerated over the pooled ranks, so that ties are handled exactly too, and scipy is
not needed). The effect size is the ratio of the medians, NEW / BASE, with a 95% interval obtained by
inverting the same test (Hodges-Lehmann: the interval of the shift between the two samples' log wall
times). It is exact, needs no seed, and agrees with the verdict by construction: the interval
excludes 1 exactly when the test is significant. It assumes that a change scales a case's wall times
rather than changing their shape, which is the model of a slowdown between two runs of one case.

Verdict per case: a regression is a significant slowdown whose ratio exceeds 1 + threshold; a
significant change inside the threshold, or a faster case, is reported and tolerated; otherwise "no
significant difference". With too few repeats for the test ever to reach 5% (1 vs 1, 2 vs 2, 3 vs 3:
it needs e.g. 4 vs 4) the case's time is not judged, and the verdict says so. A case whose outputs
were identical to the sequential reference in BASE and are not in NEW is a regression whatever its
time. Cases whose runs met different load (other work or steal, ``load_differences``) are named in
a note: their difference may be the machine's. Exit status: 1 when any case regressed, 0 otherwise,
2 on a user error (a missing run, no case in common, a bad threshold).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench import tables
from bench.analysis.statistics import CONFIDENCE, DISTURBED_CORES, LOAD_COLUMNS
from bench.errors import UserError
from bench.executors import executor_class
from bench.executors.chunking import is_default

ALPHA = round(1 - CONFIDENCE, 9)
SLOWER = "REGRESSION: significantly slower, beyond threshold"
SLOWER_SMALL = "slower (significant), within threshold"
FASTER = "faster (significant)"
SAME = "no significant difference"
TOO_FEW = "not judged: too few repeats for the test to reach 5%"
OUTPUTS = "REGRESSION: outputs no longer identical"


@dataclass(frozen=True)
class Side:
    """One run's wall times for one case."""

    walls: tuple[float, ...]
    identical: bool
    digest: str

    @property
    def n(self) -> int:
        return len(self.walls)

    @property
    def median(self) -> float:
        return float(np.median(self.walls))


def backend_kind(executor: str, backend: str) -> str:
    """Where a case ran, in the words a comparison needs: this machine, a remote cluster, a cloud."""
    try:
        kind = executor_class(executor).billing_for(str(backend)).kind
    except UserError:  # an executor no longer installed: its run was local, as far as anyone can tell
        return "local"
    return {"remote": "remote cluster", "serverless": "cloud", "unpriced": "elsewhere"}.get(kind, "local")


def match_keys(runs: pd.DataFrame, manifest: dict | None = None) -> dict[str, tuple]:
    """Per case_id, what makes it 'the same case' for a user (see the module docstring)."""
    manifest = manifest or {}
    recorded = manifest.get("executors") or {}
    images = int((manifest.get("dataset") or {}).get("images") or runs["images"].max())
    keys = {}
    for case_id, group in runs.groupby("case_id", sort=False):
        row = group.iloc[0]
        chunk = int(row["chunk_size"])
        if "chunking" in row and pd.notna(row["chunking"]):  # recorded by the runner
            default = row["chunking"] == "auto"
        else:  # a run made before it was recorded: the size the harness would have chosen
            default = is_default(str(row["executor"]), images, int(row["workers"]), chunk, recorded)
        keys[str(case_id)] = (
            str(row["executor"]),
            int(row["workers"]),
            str(row["kernel"]),
            str(row.get("store", "local")),
            str(row.get("start", "cold") if pd.notna(row.get("start", "cold")) else "cold"),
            "default chunking" if default else f"chunk {chunk}",
            backend_kind(str(row["executor"]), str(row.get("backend", ""))),
        )
    return keys


#: The parts of a match key (``match_keys``), in order, as a sentence names them.
KEY_PARTS = ("executor", "workers", "kernel", "store", "start", "chunking", "backend kind")


def why_unmatched(
    base_keys: dict[str, tuple], new_keys: dict[str, tuple], only_base: list[str], only_new: list[str]
) -> list[str]:
    """Why a case left unmatched has a near twin on the other side: the same case_id, or every part
    of the key but the backend kind. One line per such pair, naming what differs."""
    lines = []
    for base_id in only_base:
        bk = base_keys[base_id]
        for new_id in only_new:
            nk = new_keys[new_id]
            if new_id != base_id and bk[:-1] != nk[:-1]:
                continue
            differ = [
                f"{part} differs: {b} vs {n}" for part, b, n in zip(KEY_PARTS, bk, nk, strict=True) if b != n
            ]
            if differ == [f"backend kind differs: {bk[-1]} vs {nk[-1]}"]:
                differ[0] += "; --across-backends matches them"
            names = base_id if base_id == new_id else f"{base_id} (base) and {new_id} (new)"
            lines.append(f"  {names}: {'; '.join(differ)}")
    return lines


def _sides(runs: pd.DataFrame) -> dict[str, Side]:
    out = {}
    for case_id, group in runs.groupby("case_id", sort=False):
        digests = group["output_digest"].dropna().astype(str).unique()
        out[str(case_id)] = Side(
            walls=tuple(group["wall_s"].astype(float)),
            identical=bool(group["identical"].fillna(False).astype(bool).all()),
            digest=digests[0] if len(digests) == 1 else "",
        )
    return out


def _rank_sum_counts(ranks2: np.ndarray, n: int) -> np.ndarray:
    """How many n-subsets of the pooled (doubled, integer) ranks have each doubled rank sum."""
    counts = np.zeros((n + 1, int(ranks2.sum()) + 1))
    counts[0, 0] = 1
    for r in ranks2:
        counts[1:, r:] = counts[1:, r:] + counts[:-1, : counts.shape[1] - r]
    return counts[n]


def reachable(n: int, m: int, alpha: float = ALPHA) -> bool:
    """Whether the exact two-sided test of n against m samples can ever reach ``alpha``: its
    smallest p-value, both samples fully separated, is 2 / C(n + m, n)."""
    return n > 0 and m > 0 and 2 / math.comb(n + m, n) <= alpha


def mann_whitney(base, new) -> float:
    """The exact two-sided p-value of the Mann-Whitney U test of ``new`` against ``base``: over every
    split of the pooled values into groups of their sizes, the share whose rank sum lies at least
    as far from its mean as the observed one (ties take their mid-rank)."""
    pooled = np.concatenate([np.asarray(base, float), np.asarray(new, float)])
    ranks2 = (2 * pd.Series(pooled).rank(method="average")).round().astype(int).to_numpy()
    n, total = len(new), len(pooled)
    counts = _rank_sum_counts(ranks2, n)
    sums = np.arange(len(counts))
    mean2 = n * (total + 1)
    observed = abs(int(ranks2[len(base) :].sum()) - mean2)
    return float(min(1.0, counts[np.abs(sums - mean2) >= observed].sum() / math.comb(total, n)))


def ratio_interval(base, new, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The interval of the ratio NEW / BASE that inverts the exact test (Hodges-Lehmann, on log
    wall times): the c+1-th smallest to c+1-th largest of the n x m pairwise ratios, c the largest U
    the test rejects at 1 - ``confidence``; (nan, nan) when no U is rejected (too few repeats)."""
    n, m = len(base), len(new)
    counts = _rank_sum_counts(2 * np.arange(1, n + m + 1), m)  # no ties: U = rank sum - m(m+1)/2
    u_counts = counts[m * (m + 1) :: 2][: n * m + 1]
    tail = np.cumsum(u_counts) / math.comb(n + m, m)
    rejected = np.flatnonzero(tail <= (1 - confidence) / 2)
    if not len(rejected):
        return math.nan, math.nan
    c = int(rejected[-1])
    ratios = np.sort(np.divide.outer(np.asarray(new, float), np.asarray(base, float)).ravel())
    return float(ratios[c]), float(ratios[n * m - 1 - c])


def verdict(base: Side, new: Side, threshold: float) -> tuple[str, bool]:
    """The verdict on one case's time and whether it is a regression."""
    if not reachable(base.n, new.n):
        return TOO_FEW, False
    if mann_whitney(base.walls, new.walls) > ALPHA:
        return SAME, False
    ratio = new.median / base.median if base.median > 0 else math.inf
    if ratio < 1:
        return FASTER, False
    return (SLOWER, True) if ratio > 1 + threshold else (SLOWER_SMALL, False)


def pairs(
    base_runs: pd.DataFrame,
    new_runs: pd.DataFrame,
    base_manifest: dict | None = None,
    new_manifest: dict | None = None,
    across_backends: bool = False,
) -> list[tuple[str, str]]:
    """(base case_id, new case_id) of the cases a user means as the same; ``across_backends`` also
    matches a case with its twin on another kind of backend (local against a remote cluster, say)."""
    base_keys = match_keys(base_runs, base_manifest)
    new_keys = match_keys(new_runs, new_manifest)

    def key(k: tuple) -> tuple:
        return k[:-1] if across_backends else k

    by_key = {key(k): case for case, k in base_keys.items()}
    return [(by_key[key(k)], case) for case, k in new_keys.items() if key(k) in by_key]


def compare_tables(
    base_runs: pd.DataFrame,
    new_runs: pd.DataFrame,
    threshold: float = 0.10,
    matched: list[tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """One row per matched case (``pairs``; by case_id when not given): medians, ratio and its
    interval, p-value, verdict, identical, regression."""
    if not threshold >= 0:
        raise UserError(f"--threshold must be a non-negative fraction such as 0.10, got {threshold}")
    base, new = _sides(base_runs), _sides(new_runs)
    if matched is None:
        matched = [(c, c) for c in new if c in base]
    rows = []
    for base_id, case_id in matched:
        b, n = base[base_id], new[case_id]
        text, regressed = verdict(b, n, threshold)
        if b.identical and not n.identical:
            text, regressed = OUTPUTS, True
        low, high = ratio_interval(b.walls, n.walls)
        rows.append(
            {
                "case_id": case_id,
                "base_case_id": base_id,
                "base_repeats": b.n,
                "base_wall_s": b.median,
                "new_repeats": n.n,
                "new_wall_s": n.median,
                "ratio": n.median / b.median if b.median > 0 else math.inf,
                "ratio_ci_low": low,
                "ratio_ci_high": high,
                "p_value": mann_whitney(b.walls, n.walls) if reachable(b.n, n.n) else math.nan,
                "identical": n.identical,
                "same_output": bool(b.digest) and b.digest == n.digest,
                "verdict": text,
                "regression": regressed,
            }
        )
    return pd.DataFrame(rows)


def load_differences(
    base_runs: pd.DataFrame, new_runs: pd.DataFrame, matched: list[tuple[str, str]]
) -> pd.DataFrame:
    """The matched cases whose runs met different load: the medians over repeats of other work plus
    steal (cores, bench/run/load.py) differ by more than ``DISTURBED_CORES``. A difference in their
    times may be the machine's, so it is no finding. Runs made before the load was recorded: none."""
    columns = ["case_id", "base_case_id", "base_load", "new_load"]
    if not (set(LOAD_COLUMNS) <= set(base_runs.columns) and set(LOAD_COLUMNS) <= set(new_runs.columns)):
        return pd.DataFrame(columns=columns)

    def load(runs: pd.DataFrame) -> pd.Series:
        return runs[LOAD_COLUMNS].astype(float).sum(axis=1, min_count=1).groupby(runs["case_id"]).median()

    base, new = load(base_runs), load(new_runs)
    rows = [
        (case_id, base_id, base[base_id], new[case_id])
        for base_id, case_id in matched
        if abs(new[case_id] - base[base_id]) > DISTURBED_CORES
    ]
    return pd.DataFrame(rows, columns=columns)


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
    if benv.get("git_commit") != nenv.get("git_commit"):
        out.append(f"the code changed: commit {benv.get('git_commit')} vs {nenv.get('git_commit')}")
    bp, np_ = benv.get("packages") or {}, nenv.get("packages") or {}
    changed = sorted(p for p in set(bp) | set(np_) if bp.get(p) != np_.get(p))
    if changed:
        shown = ", ".join(f"{p} {bp.get(p)} -> {np_.get(p)}" for p in changed[:4])
        out.append(f"package versions differ: {shown}" + (" ..." if len(changed) > 4 else ""))
    return out


def _interval(low: float, high: float) -> str:
    return "not measured" if math.isnan(low) else f"{low:.2f}-{high:.2f}x"


def format_table(table: pd.DataFrame) -> str:
    """The comparison as printed: one line per case."""

    def side(prefix: str) -> list[str]:
        pairs = zip(table[f"{prefix}_wall_s"], table[f"{prefix}_repeats"], strict=True)
        return [f"{v:.3f} n={n}" for v, n in pairs]

    shown = pd.DataFrame(
        {
            "case": [
                new if base == new else f"{new} (base {base})"
                for base, new in zip(table["base_case_id"], table["case_id"], strict=True)
            ],
            "base s": side("base"),
            "new s": side("new"),
            "ratio": table["ratio"].map(lambda v: f"{v:.2f}x"),
            "95% CI": list(map(_interval, table["ratio_ci_low"], table["ratio_ci_high"])),
            "p": table["p_value"].map(lambda v: "-" if math.isnan(v) else f"{v:.3f}"),
            "identical": table["identical"].map({True: "yes", False: "NO"}),
            "verdict": table["verdict"],
        }
    )
    for column in shown.columns:  # left-aligned text columns
        width = max(len(column), int(shown[column].str.len().max()))
        shown[column] = shown[column].str.ljust(width)
    return shown.to_string(index=False, justify="left")


def compare(
    base: str,
    new: str,
    threshold: float = 0.10,
    out: Callable[[str], None] = print,
    across_backends: bool = False,
) -> int:
    """Print the comparison of two run folders; return the exit status (1 on a regression)."""
    base_dir, new_dir = tables.resolve_run(base), tables.resolve_run(new)
    _, base_runs, base_manifest = tables.read_run(base_dir)
    _, new_runs, new_manifest = tables.read_run(new_dir)
    matched = pairs(base_runs, new_runs, base_manifest, new_manifest, across_backends)
    table = compare_tables(base_runs, new_runs, threshold, matched)
    only_base = sorted(set(base_runs["case_id"]) - {b for b, _ in matched})
    only_new = sorted(set(new_runs["case_id"]) - {n for _, n in matched})
    base_keys, new_keys = match_keys(base_runs, base_manifest), match_keys(new_runs, new_manifest)
    if table.empty:
        kinds = {k[-1] for k in base_keys.values()}
        other = {k[-1] for k in new_keys.values()}
        why = (
            f"; base ran on {', '.join(sorted(kinds))}, new on {', '.join(sorted(other))}: "
            "give --across-backends to compare them anyway"
            if kinds != other
            else ""
        )
        raise UserError(
            f"no case in common between {base_dir} and {new_dir}; cases are matched by executor, workers, "
            f"kernel, store, start and chunking{why}"
        )
    out(_context("base", base_manifest, base_dir))
    out(_context("new ", new_manifest, new_dir))
    for warning in _warnings(base_manifest, new_manifest):
        out(f"warning: {warning}")
    out(
        f"ratio = new / base median wall time, 95% CI by the inverted test; p: Mann-Whitney U, exact, "
        f"two-sided; a regression is significant at {ALPHA:.0%} and slower than the {threshold:.0%} threshold"
    )
    out("")
    out(format_table(table))
    if only_base:
        out(f"\nonly in base (not compared): {', '.join(only_base)}")
    if only_new:
        out(f"only in new (not compared): {', '.join(only_new)}")
    reasons = why_unmatched(base_keys, new_keys, only_base, only_new)
    if reasons:
        out("why not matched:")
        for line in reasons:
            out(line)
    untested = table[table["verdict"] == TOO_FEW]
    if len(untested):
        out(
            f"\nnote: {', '.join(untested['case_id'])}: with {_sizes(untested)} repeats no difference can "
            f"be significant at {ALPHA:.0%}, whatever the times; their time is not judged. Rerun with "
            "--repeats 5 (4 a side is the least the test can use)."
        )
    loaded = load_differences(base_runs, new_runs, matched)
    if len(loaded):
        shown = zip(loaded["case_id"], loaded["base_load"], loaded["new_load"], strict=True)
        out(
            f"\nnote: different load: {', '.join(f'{c} ({b:.2f} vs {n:.2f} cores)' for c, b, n in shown)} "
            "ran while other work or steal took different shares of this machine (base vs new): a "
            "difference in their time may be the machine's, not the change's; rerun both on a quiet machine"
        )
    out("\n" + last_line(table, threshold))
    return 1 if table["regression"].any() else 0


def last_line(table: pd.DataFrame, threshold: float) -> str:
    """The verdict over all matched cases; it names the cases whose time went unjudged, so that too
    few repeats never read as an all-clear."""
    regressed = table[table["regression"]]
    untested = table[table["verdict"] == TOO_FEW]
    judged = len(table) - len(untested)
    if len(regressed):
        line = f"{len(regressed)} regression(s): {', '.join(regressed['case_id'])}"
    elif judged:
        line = f"no significant slowdown beyond {threshold:.0%} in {judged} judged case(s)"
    else:
        line = "no case's time was judged"
    if len(untested):
        line += (
            f"; {len(untested)} matched case(s) not judged: too few repeats ({_sizes(untested)}; "
            "4 a side is the least the test can use)"
        )
    return line


def _sizes(table: pd.DataFrame) -> str:
    pairs = zip(table["base_repeats"], table["new_repeats"], strict=True)
    return ", ".join(dict.fromkeys(f"{b} vs {n}" for b, n in pairs))
