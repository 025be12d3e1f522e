"""Figures 1-3, how the run scales: speedup and efficiency against workers, throughput per case.

Each is drawn from the runs table's per-case summary (median over repeats, whiskers its 95% interval,
bench/analysis/statistics.py; none where the repeats are too few for one), so that an executor keeps
one colour and the ideal line and the machine's core count are always in view.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns

from bench import tables
from bench.analysis.statistics import MIN_REPEATS, MIN_REPEATS_SPEEDUP, case_summary
from bench.errors import UserError
from bench.executors import REFERENCE, chunking, executor_class
from bench.report.data import _cores, _dataset, _repeats, _short, _spread
from bench.report.style import Plot, _colours, _empty_runs, _new_figure, _styled


def _whiskers(summary: pd.DataFrame, metric: str) -> str:
    """What a figure's whiskers are, as its caption says it: the 95% interval, or why there is none."""
    needed = MIN_REPEATS if metric in ("wall_s", "images_per_s") else MIN_REPEATS_SPEEDUP
    drawn = int(summary[f"{metric}_ci_low"].notna().sum())
    method = "order statistics"
    if needed == MIN_REPEATS_SPEEDUP:
        method += ", combined with the sequential case's (Bonferroni)"
    if not drawn:
        return f"95% intervals not measured (they need {needed} repeats per case)"
    return f"whiskers: 95% interval of the median ({method}) for {drawn} of {len(summary)} cases"


def _errors(values: pd.Series, low: pd.Series, high: pd.Series) -> np.ndarray:
    """Error-bar lengths below and above each value (NaN, no bar, where the interval is not measured)."""
    middle = values.to_numpy(float)
    return np.vstack([middle - low.to_numpy(float), high.to_numpy(float) - middle])


def _cluster_slots(manifest: dict) -> list[tuple[str, int, str]]:
    """(executor, worker threads, where) of each existing cluster the run's cases ran on, as the
    manifest recorded it: their slots, the limit of those cases, which this machine's cores are not."""
    found = []
    for name, settings in (manifest.get("executor_settings") or {}).items():
        threads = (settings or {}).get("cluster_threads")
        if not threads:
            continue
        try:
            here = executor_class(name).billing_for(str(settings.get("backend", ""))).kind == "machine"
        except UserError:  # an executor no longer installed: where it ran is not known
            here = False
        found.append((name, int(threads), "on this machine" if here else "elsewhere"))
    return found


# ---------------------------------------------------------------------------------------------------
# 1, 2. Speedup and efficiency against workers


def _against_workers(runs: pd.DataFrame, manifest: dict, metric: str) -> Plot:
    summary = case_summary(runs)
    colours = _colours(summary["executor"].unique())
    cores = _cores(manifest)
    fig = _new_figure()
    ax = fig.add_subplot()
    # The default chunk size changes with the workers: one line per executor for it, one per other size.
    summary["chunk"] = [
        "default chunks" if chunking.is_default(e, int(n), int(w), int(c)) else f"c{int(c)}"
        for e, n, w, c in summary[["executor", "images", "workers", "chunk_size"]].itertuples(index=False)
    ]
    multi_chunk = summary.groupby(["executor", "workers"])["chunk"].nunique().max() > 1
    keys = ["executor", "chunk"] if multi_chunk else ["executor"]
    n_lines = summary.groupby(keys).ngroups
    for index, (key, group) in enumerate(summary.groupby(keys, sort=False)):
        name = key[0] if isinstance(key, tuple) else key
        label = f"{name} {key[1]}" if multi_chunk and name != REFERENCE else name
        group = group.sort_values("workers")
        x, y = group["workers"].to_numpy(), group[metric].to_numpy()
        err = _errors(group[metric], group[f"{metric}_ci_low"], group[f"{metric}_ci_high"])
        # Whiskers side by side, so that executors at the same worker count stay readable.
        shift = 0.04 * (index - (n_lines - 1) / 2)
        ax.errorbar(x + shift, y, yerr=err, fmt="none", ecolor=colours[name], elinewidth=1, capsize=3)
        default = not multi_chunk or key[1] == "default chunks"
        style = dict(marker="o", ls="-") if default else dict(marker="s", ls=":", mfc="white")
        ax.plot(x, y, color=colours[name], label=label, **style)
    clusters = _cluster_slots(manifest)
    top = max(int(summary["workers"].max()), cores or 1, *(threads for _, threads, _ in clusters))
    if metric == "speedup":
        ax.plot([1, top], [1, top], ls="--", color="0.45", lw=1, label="ideal (speedup = workers)")
        ax.set_ylabel("speedup over sequential (x)")
    else:
        ax.axhline(1.0, ls="--", color="0.45", lw=1, label="ideal (efficiency = 1)")
        ax.set_ylabel("parallel efficiency (speedup / workers)")
        ax.set_ylim(bottom=0)
    if cores:
        ax.axvline(cores, ls=":", color="0.2", lw=1.2, label=f"this machine's {cores} cores")
    limits = [f"dotted: this machine's {cores or '?'} cores"]
    for name, threads, where in clusters:
        text = f"the {name} cluster's {threads} worker threads ({where})"
        ax.axvline(threads, ls="-.", color=colours.get(name, "0.2"), lw=1.2, label=text)
        limits.append(f"dash-dot: {text}, the slots its cases had")
    ax.set_xlabel("workers")
    marked = {cores} if cores else set()
    ticks = sorted(set(summary["workers"].astype(int)) | marked | {t for _, t, _ in clusters})
    ax.set_xticks(ticks)
    ax.set_xlim(0.7, top + 0.3)
    ax.legend(loc="best", fontsize="small")
    ref = summary.loc[summary["executor"] == REFERENCE, "wall_s"]
    ref_text = f"median sequential wall {ref.median():.2f} s" if len(ref) else "no sequential case"
    executors = ", ".join(dict.fromkeys(summary["executor"]))
    what = "Speedup over the sequential case" if metric == "speedup" else "Parallel efficiency"
    parallel = summary[summary["executor"] != REFERENCE]
    best = (parallel if len(parallel) else summary).loc[lambda t: t[metric].idxmax()]
    caption = (
        f"{what} ({ref_text}) against workers, one line per executor ({executors}); "
        f"{_repeats(summary)}, {_whiskers(summary, metric)}, {_spread(summary)}; "
        f"best parallel case {best[metric]:.2f} "
        f"({best['case_id']}); dashed: ideal, {', '.join(limits)}; "
        f"{_dataset(manifest, runs)}; measured on {tables.machine_label(manifest)}."
    )
    ax.set_title(what + " by workers", loc="left")
    return Plot(fig, caption)


@_styled
def speedup(runs: pd.DataFrame, manifest: dict) -> Plot:
    """Speedup against workers, one line per executor, with the ideal line and the core count."""
    return _empty_runs(runs, "Speedup") or _against_workers(runs, manifest, "speedup")


@_styled
def efficiency(runs: pd.DataFrame, manifest: dict) -> Plot:
    """Parallel efficiency (speedup / workers) against workers, one line per executor."""
    return _empty_runs(runs, "Parallel efficiency") or _against_workers(runs, manifest, "efficiency")


# ---------------------------------------------------------------------------------------------------
# 3. Throughput per executor and chunk size


@_styled
def throughput(runs: pd.DataFrame, manifest: dict) -> Plot:
    """Images per second per case (executor, workers, chunk size): bar of the median, whiskers its 95%
    interval where the repeats allow one."""
    if (absent := _empty_runs(runs, "Throughput")) is not None:
        return absent
    summary = case_summary(runs)
    summary["case"] = summary.apply(_short, axis=1)
    colours = _colours(summary["executor"].unique())
    fig = _new_figure(max(6.0, 1.0 * len(summary) + 2), 4.5)
    ax = fig.add_subplot()
    sns.barplot(
        data=summary,
        x="case",
        y="images_per_s",
        hue="executor",
        palette=colours,
        errorbar=None,
        dodge=False,
        ax=ax,
    )
    err = _errors(summary["images_per_s"], summary["images_per_s_ci_low"], summary["images_per_s_ci_high"])
    ax.errorbar(range(len(summary)), summary["images_per_s"], yerr=err, fmt="none", ecolor="0.2", capsize=4)
    ax.set_xlabel("case (executor, w = workers, c = images per task)")
    ax.set_ylabel("throughput (images / s, wall clock)")
    ax.set_title("Throughput per executor, workers and chunk size", loc="left")
    ax.legend(title="executor", fontsize="small")
    best = summary.loc[summary["images_per_s"].idxmax()]
    caption = (
        f"Throughput (images per wall-clock second) per case, executor x workers (w) x images per task "
        f"(c); {_repeats(summary)}, {_whiskers(summary, 'images_per_s')}, {_spread(summary)}; "
        f"best {best['images_per_s']:.1f} "
        f"images/s ({best['case_id']}); {_dataset(manifest, runs)}; "
        f"measured on {tables.machine_label(manifest)}."
    )
    return Plot(fig, caption)
