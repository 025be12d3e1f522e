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
JSON_COLUMNS += ["fits", "marks", "recommended", "trust", "cost_model"]
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
    """Every option, per kernel, as one projected row (median and 5-95% interval of wall time and cost)."""
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


def local_errors(validation: pd.DataFrame) -> dict[str, float]:
    """Per executor, the model's median absolute leave-one-out error on the run's own cases."""
    scored = validation.dropna(subset=["rel_error"]).query("scheme == 'leave-one-out'")
    return scored.assign(e=scored["rel_error"].abs()).groupby("executor")["e"].median().to_dict()


def published_errors(book: PriceBook) -> dict[str, tuple[float, int]]:
    """Per serverless platform, the model's median absolute error on the published jobs it was not
    calibrated on (results/published, bench/model/published.py), and how many there are."""
    table = validate_published(book, draws=10)
    held_out = table[table["role"] == "validation"]
    errors = held_out.assign(e=held_out["rel_error"].abs()).groupby("platform")["e"]
    return {p: (float(m), int(n)) for (p, m), n in zip(errors.median().items(), errors.size(), strict=True)}


def trust_note(
    row: pd.Series, local_error: dict[str, float], cloud_error: dict[str, tuple[float, int]] | None = None
) -> str:
    """How far to trust one row, in words."""
    parts = []
    if row["platform"] == "local":
        error = local_error.get(row["executor"])
        if error is None or not math.isfinite(error):
            parts.append("model not validated for this executor here")
        else:
            parts.append(f"model's median error on this run's measured {row['executor']} cases {error:.0%}")
        if row["workers"] > 1 and row.get("notes"):
            parts.append(str(row["notes"]))
    else:
        error = (cloud_error or {}).get(row["platform"])
        if error is None:
            parts.append("not validated: no published measurement checks this platform's model")
        else:
            parts.append(
                f"platform model's median error {error[0]:.0%} on {error[1]} published "
                f"{row['platform']} jobs (Lithops' storage benchmarks at 1,024 MB: "
                "CPU share and this kernel not validated)"
            )
        if row["estimates"]:
            parts.append(f"estimates: {row['estimates']}")
    return "; ".join(parts)


def rank(
    table: pd.DataFrame,
    question: Question,
    local_error: dict[str, float],
    cloud_error: dict[str, tuple[float, int]] | None = None,
) -> pd.DataFrame:
    """Rows ranked by predicted time, each marked with what it answers and how far to trust it;
    ``recommended`` is true on exactly one row when any option fits the question."""
    table = table.copy()
    table["trust"] = [trust_note(row, local_error, cloud_error) for _, row in table.iterrows()]
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
    local_error = local_errors(validate(tasks, runs, manifest))
    cloud_error = published_errors(book)
    ranked = rank(table[table["acceptable"]], question, local_error, cloud_error)
    if table["acceptable"].all():
        return ranked
    others = rank(table[~table["acceptable"]], question, local_error, cloud_error)
    others = others.assign(fits=False, recommended=False, marks="not acceptable: " + others["accuracy_note"])
    ranked = pd.concat([ranked, others], ignore_index=True)
    return ranked.sort_values("predicted_wall_s", kind="stable").reset_index(drop=True)


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
        "\nhow far to trust each row (time and cost: median [5-95%] of the model's draws):",
    ]
    return "\n".join(
        lines
        + [f"  {r.kernel} {r.executor}@{r.platform} x{r.workers}: {r.trust}" for r in shown.itertuples()]
    )
