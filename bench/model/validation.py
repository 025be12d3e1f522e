"""How far the model's predictions are from measurements it was not fit on."""

from __future__ import annotations

import math

import pandas as pd

from bench.model.calibration import case_table, fit
from bench.model.errors import held_out_summary
from bench.model.intervals import interval_text
from bench.model.projection import predict_case

__all__ = ["format_validation", "validate", "validation_summary"]


def validate(tasks: pd.DataFrame, runs: pd.DataFrame, manifest: dict | None = None) -> pd.DataFrame:
    """Predicted against measured wall time for every case, never fit and scored on the same case.

    Two schemes: ``workers``: fit on the one-worker cases, score every case with more workers;
    ``leave-one-out``: each case scored by a model fit on all the other cases. A case whose kernel
    has no other case to fit on is listed with no prediction and the reason.
    """
    cases = case_table(runs)
    rows = []

    def score(scheme: str, case: pd.Series, fit_ids: list[str]) -> None:
        row = {
            "scheme": scheme,
            "case_id": case["case_id"],
            "executor": case["executor"],
            "kernel": case["kernel"],
            "workers": int(case["workers"]),
            "chunk_size": int(case["chunk_size"]),
            "images": int(case["images"]),
            "measured_wall_s": float(case["wall_s"]),
            "predicted_wall_s": math.nan,
            "predicted_wall_s_low": math.nan,  # the draws' spread; errors.held_out_intervals widens it
            "predicted_wall_s_high": math.nan,
            "rel_error": math.nan,
            "fit_on": ",".join(fit_ids),
            "note": "",
        }
        fit_tasks = tasks[tasks["case_id"].isin(fit_ids)]
        if not fit_ids or case["kernel"] not in set(fit_tasks["kernel"]):
            row["note"] = f"no other {case['kernel']} case to fit on"
            rows.append(row)
            return
        model = fit(tasks, runs, manifest, cases=fit_ids)
        pred = predict_case(
            model,
            executor=case["executor"],
            workers=int(case["workers"]),
            images=int(case["images"]),
            kernel=case["kernel"],
            chunk_size=int(case["chunk_size"]),
        )
        row["predicted_wall_s"] = pred.predicted_wall_s
        row["predicted_wall_s_low"] = pred.predicted_wall_s_low
        row["predicted_wall_s_high"] = pred.predicted_wall_s_high
        row["rel_error"] = (pred.predicted_wall_s - row["measured_wall_s"]) / row["measured_wall_s"]
        row["note"] = pred.notes or model.overhead(case["executor"]).source
        rows.append(row)

    one = cases.loc[cases["workers"] == 1, "case_id"].tolist()
    for _, case in cases[cases["workers"] > 1].iterrows():
        score("workers", case, one)
    for _, case in cases.iterrows():
        score("leave-one-out", case, [c for c in cases["case_id"] if c != case["case_id"]])
    return pd.DataFrame(rows)


def validation_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per scheme: the cases scored and their absolute error; with held-out intervals
    (:func:`bench.model.errors.held_out_intervals`), the share of measured times inside them."""
    scored = table.dropna(subset=["rel_error"]).assign(abs_error=lambda d: d["rel_error"].abs())
    summary = (
        scored.groupby("scheme", sort=False)
        .agg(
            cases=("case_id", "count"),
            median_abs_rel_error=("abs_error", "median"),
            mean_abs_rel_error=("abs_error", "mean"),
            max_abs_rel_error=("abs_error", "max"),
        )
        .reset_index()
    )
    if "inside" in table.columns:
        summary = summary.merge(held_out_summary(table), on="scheme", how="left")
    return summary


def format_validation(table: pd.DataFrame, summary: pd.DataFrame, manifest: dict, measured_cases: int) -> str:
    """``facebench project --validate``'s text: every scored case, then the error per scheme."""
    error = table["rel_error"].map(lambda v: "" if pd.isna(v) else f"{v:+.1%}")
    shown = table.drop(columns=["fit_on", "predicted_wall_s_low", "predicted_wall_s_high"], errors="ignore")
    shown = shown.drop(columns=["interval_coverage"], errors="ignore").assign(rel_error=error)
    if "inside" in table.columns:
        inside = table["inside"].map({True: "yes", False: "NO"}).fillna("")
        shown = shown.drop(columns=["inside"]).assign(interval=interval_text(table), inside=inside)
    lines = [shown.to_string(index=False, float_format=lambda v: f"{v:.3f}")]
    if summary.empty:
        lines.append("\nno case could be scored: every case needs another case of its kernel to fit on")
    else:
        lines.append("\n" + summary.to_string(index=False, float_format=lambda v: f"{v:.1%}"))
        if "inside" in table.columns:
            coverage = float(table["interval_coverage"].iloc[0])
            lines.append(
                f"interval: median [{coverage:.0%} prediction interval], each from the errors of the other "
                "cases of its scheme and the draws' spread (bench/model/errors.py); inside_share: the "
                "measured times that fell in theirs"
            )
    cpu = manifest.get("environment", {}).get("cpu_model")
    lines.append(f"\nmachine: {cpu}, {measured_cases} measured case(s)")
    return "\n".join(lines)
