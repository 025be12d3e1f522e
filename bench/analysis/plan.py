"""The answer a user came for: for N images, every option (executor x workers or functions x platform)
with predicted time and cost, each with its interval and how far to trust it, ranked, and one
recommendation for the question asked.

The question decides the recommendation: with a budget, the fastest option under it; with a
deadline, the cheapest that meets it; with both, the fastest under the budget that meets the
deadline; with neither, the best time x cost. Trust is stated per row: which platform parameters the
price book marks as estimates, and the model's measured error for that kind of case (its validation
on this run's local cases, or of the platform model on published serverless jobs it was not fitted
on), or "not validated" where nothing measured backs it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench import tables
from bench.analysis import frontier
from bench.analysis.billing import Machine
from bench.analysis.pricebook import PriceBook
from bench.executors import display_order
from bench.model.calibration import Model, fit
from bench.model.errors import COVERAGE, apply_errors, disturbed_refusal, row_matcher
from bench.model.intervals import interval_text
from bench.model.platforms import SERVERLESS_PLATFORMS, platform_limits
from bench.model.projection import project
from bench.model.published import validate_published
from bench.model.validation import validate

#: Functions tried on a serverless platform when the user names none.
DEFAULT_FUNCTIONS = (10, 100, 1000)
#: What ``facebench plan --json`` gives per option.
JSON_COLUMNS = ["kernel", "executor", "platform", "workers", "images", "chunk_size", "memory_mb"]
JSON_COLUMNS += ["predicted_wall_s", "predicted_wall_s_low", "predicted_wall_s_high"]
JSON_COLUMNS += ["predicted_cost_usd", "predicted_cost_usd_low", "predicted_cost_usd_high"]
JSON_COLUMNS += ["model_error", "interval_coverage", "fits", "marks", "recommended", "trust", "cost_model"]
JSON_COLUMNS += ["pairs_accuracy", "acceptable", "accuracy_note"]
MARKS = ("fastest under budget", "cheapest under deadline", "best time x cost", "fastest", "cheapest")


@dataclass(frozen=True)
class Question:
    images: int
    budget_usd: float | None = None
    deadline_s: float | None = None

    @property
    def asked(self) -> str:
        if self.budget_usd is not None and self.deadline_s is not None:
            return f"fastest under ${self.budget_usd:g} that finishes within {self.deadline_s:g} s"
        if self.budget_usd is not None:
            return f"fastest under ${self.budget_usd:g}"
        if self.deadline_s is not None:
            return f"cheapest that finishes within {self.deadline_s:g} s"
        return "best time x cost"


def local_workers(cores: int) -> list[int]:
    """1, 2, 4, ... up to the measured machine's cores, and the cores themselves."""
    counts, w = [], 1
    while w < cores:
        counts.append(w)
        w *= 2
    return [*counts, cores]


def options(
    model: Model,
    book: PriceBook,
    *,
    images: int,
    platforms: Sequence[str],
    executors: Sequence[str],
    kernels: Sequence[str],
    functions: Sequence[int] = DEFAULT_FUNCTIONS,
    memory_mb: float | None = None,
) -> pd.DataFrame:
    """Every option, per kernel, as one projected row (median and the draws' 5-95% of wall time and cost;
    the plan widens them into prediction intervals, bench/model/errors.py)."""
    frames = []
    for name in platforms:
        if name == "local":
            local = list(executors)
            frames.append(
                project(
                    model,
                    executors=local,
                    workers=local_workers(int(model.cpu_count)),
                    images=images,
                    kernels=list(kernels),
                    book=book,
                ).assign(estimates="")
            )
            continue
        platform = platform_limits(book, name, memory_mb)
        serverless = [e for e in executors if model.traits(e).fresh_process_per_call] or ["lithops"]
        frames.append(
            project(
                model,
                executors=serverless,
                workers=list(functions),
                images=images,
                kernels=list(kernels),
                platform=platform,
                book=book,
            ).assign(estimates=", ".join(platform.estimates))
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def trust_note(row: pd.Series) -> str:
    """How far to trust one row, in words: the measured error behind its interval (errors.apply_errors's
    ``model_error`` and ``validation``), or why it has none."""
    parts = []
    error = row.get("model_error")
    if error is None or not math.isfinite(error):
        parts.append(f"{row['validation']}: no interval")
    elif row["platform"] == "local":
        parts.append(f"model's median error {error:.0%} on {row['validation']}")
    else:
        parts.append(
            f"platform model's median error {error:.0%} on {row['validation']} (Lithops' benchmarks at "
            "1,024 MB: CPU share and this kernel not validated)"
        )
    if row["platform"] == "local" and row["workers"] > 1 and row.get("notes"):
        parts.append(str(row["notes"]))
    if row["platform"] != "local" and row["estimates"]:
        parts.append(f"estimates: {row['estimates']}")
    return "; ".join(parts)


def rank(table: pd.DataFrame, question: Question) -> pd.DataFrame:
    """Rows ranked by predicted time, each marked with what it answers and how far to trust it;
    ``recommended`` is true on exactly one row when any option fits the question. A row fits a budget
    or deadline only where its whole prediction interval does: one without an interval (not validated)
    never shows that it fits."""
    table = table.copy()
    table["trust"] = [trust_note(row) for _, row in table.iterrows()]
    table["time_x_cost"] = table["predicted_wall_s"] * table["predicted_cost_usd"]
    priced = table["predicted_cost_usd"].notna()
    fits = priced.copy()
    # a row fits only where its whole interval does: the high end within the budget and the deadline
    if question.budget_usd is not None:
        fits &= table["predicted_cost_usd_high"] <= question.budget_usd
    if question.deadline_s is not None:
        fits &= table["predicted_wall_s_high"] <= question.deadline_s
    table["fits"] = fits
    marks: dict[int, list[str]] = {i: [] for i in table.index}

    def mark(index, label: str) -> None:
        if index is not None:
            marks[index].append(label)

    def best(column: str, mask: pd.Series):
        return table.loc[mask, column].idxmin() if mask.any() else None

    if question.budget_usd is not None:
        mark(
            best("predicted_wall_s", priced & (table["predicted_cost_usd_high"] <= question.budget_usd)),
            MARKS[0],
        )
    if question.deadline_s is not None:
        mark(
            best("predicted_cost_usd", priced & (table["predicted_wall_s_high"] <= question.deadline_s)),
            MARKS[1],
        )
    mark(best("time_x_cost", priced), MARKS[2])
    mark(best("predicted_wall_s", table["predicted_wall_s"].notna()), MARKS[3])
    mark(best("predicted_cost_usd", priced), MARKS[4])
    if question.budget_usd is not None:
        chosen = best("predicted_wall_s", fits)
    elif question.deadline_s is not None:
        chosen = best("predicted_cost_usd", fits)
    else:
        chosen = best("time_x_cost", priced)
    table["marks"] = [", ".join(marks[i]) for i in table.index]
    table["recommended"] = [i == chosen for i in table.index]
    return table.sort_values("predicted_wall_s", kind="stable").reset_index(drop=True)


def platforms_from(text: Sequence[str] | None) -> list[str]:
    names = list(text or ["local", *SERVERLESS_PLATFORMS])
    unknown = [n for n in names if n not in ("local", *SERVERLESS_PLATFORMS)]
    if unknown:
        raise ValueError(
            f"unknown platform(s) {', '.join(unknown)}; choose from local, {', '.join(SERVERLESS_PLATFORMS)}"
        )
    return names


def ranked_options(
    tasks: pd.DataFrame,
    runs: pd.DataFrame,
    manifest: dict,
    book: PriceBook,
    question: Question,
    *,
    platforms: Sequence[str] | None = None,
    memory_mb: float | None = None,
    machine: Machine | None = None,
    training: dict | None = None,
    downstream: dict | None = None,
    coverage: float = COVERAGE,
) -> pd.DataFrame:
    """Every option for the question's images, for every kernel the run measured, from the model fit on
    a run, ranked, each with how far to trust it and its kernel's accuracy: what ``facebench plan``
    prints. Only kernels acceptable by the frontier's rule (``bench.analysis.frontier``) are marked or
    recommended; the others are listed, with why."""
    names = platforms_from(platforms)
    model = fit(tasks, runs, manifest, machine=machine)
    kernels = sorted(set(tasks["kernel"]) & set(model.dists))
    table = options(
        model,
        book,
        images=question.images,
        platforms=names,
        executors=display_order(set(runs["executor"])),
        kernels=kernels,
        memory_mb=memory_mb,
    )
    verdicts = frontier.judge(kernels, manifest, frontier.accuracies(manifest, kernels, training, downstream))
    table["pairs_accuracy"] = table["kernel"].map(lambda k: verdicts[k].pairs_accuracy)
    table["acceptable"] = table["kernel"].map(lambda k: verdicts[k].acceptable)
    table["accuracy_note"] = table["kernel"].map(lambda k: verdicts[k].why)
    if len(kernels) == 1:  # nothing to choose between: the run's kernel is what it plans for
        table["acceptable"] = True
    table = prediction_intervals(table, model, tasks, runs, manifest, book, coverage=coverage)
    ranked = rank(table[table["acceptable"]], question)
    if table["acceptable"].all():
        return ranked
    others = rank(table[~table["acceptable"]], question)
    others = others.assign(fits=False, recommended=False, marks="not acceptable: " + others["accuracy_note"])
    ranked = pd.concat([ranked, others], ignore_index=True)
    return ranked.sort_values("predicted_wall_s", kind="stable").reset_index(drop=True)


def prediction_intervals(
    table: pd.DataFrame,
    model: Model,
    tasks: pd.DataFrame,
    runs: pd.DataFrame,
    manifest: dict,
    book: PriceBook,
    *,
    coverage: float = COVERAGE,
    label: str = "this run",
) -> pd.DataFrame:
    """Projected rows (``project``, ``plan``, ``report --images``) with their prediction intervals: the
    run's own validation, the committed ones beyond its worker counts, the published serverless jobs
    (bench/model/errors.py); none where the fit is on disturbed cases."""
    serverless = (table["platform"] != "local").any() if len(table) else False
    matcher = row_matcher(
        validate(tasks, runs, manifest),
        validate_published(book, draws=10) if serverless else None,
        measured_workers=int(runs["workers"].max()),
        cores=int(model.cpu_count),
        label=label,
    )
    return apply_errors(table, matcher, coverage, refused=disturbed_refusal(runs))


def _coverage(ranked: pd.DataFrame) -> str:
    shares = ranked["interval_coverage"].dropna()
    return f"{shares.iloc[0]:.0%}" if len(shares) else "no"


def format_plan(ranked: pd.DataFrame, question: Question, run_dir: Path, manifest: dict) -> str:
    """``facebench plan``'s text: the options with their intervals and marks, then the trust notes."""
    shown = ranked.assign(
        time_s=interval_text(ranked, "predicted_wall_s"),
        cost_usd=interval_text(ranked, "predicted_cost_usd"),
        pick=["<- recommended" if r else "" for r in ranked["recommended"]],
    )
    where = f"{run_dir} ({tables.machine_label(manifest)})"
    shown["accuracy"] = ["" if pd.isna(a) else f"{a:.2%}" for a in shown["pairs_accuracy"]]
    cols = ["pick", "kernel", "executor", "platform", "workers", "time_s", "cost_usd", "accuracy", "marks"]
    lines = [
        f"{question.images:,} images, from {where}; asked: {question.asked}\n",
        shown[cols].to_string(index=False),
        f"\nhow far to trust each row (time and cost: median [{_coverage(ranked)} prediction interval]: the "
        "draws' spread and the model's error on held-out cases of the row's kind, bench/model/errors.py):",
    ]
    return "\n".join(
        lines
        + [f"  {r.kernel} {r.executor}@{r.platform} x{r.workers}: {r.trust}" for r in shown.itertuples()]
    )
