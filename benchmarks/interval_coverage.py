"""Do the printed intervals hold? The share of held-out measurements inside their prediction intervals.

Every interval is made as ``facebench project`` and ``plan`` make them (bench/model/errors.py): a case's
own draws' spread and the conformal quantile of the *other* cases' errors of its kind, never its own.
Measured on the committed runs (each case scored by a model fit on others: leave-one-out and 1 -> N
workers) and on the published serverless jobs the price book was not calibrated on. With
``--save-validations`` it first rewrites the committed validations (results/model-error/<run>.json) that
the intervals beyond a run's worker counts read, with the commit and machine that computed them.

    python benchmarks/interval_coverage.py --save-validations --json results/model-error/coverage-90.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from bench.analysis.pricebook import load_price_book
from bench.model import errors, published, validation
from bench.model.calibration import read_run
from bench.model.projection import json_rows
from bench.run.environment import describe, git_commit

ROOT = Path(__file__).resolve().parents[1]
RUNS = ("results/reference", "results/scaling-16core")


def _clean() -> bool:
    status = subprocess.run(
        ["git", "status", "--porcelain", "bench", "pipelines"], capture_output=True, text=True, cwd=ROOT
    )
    return status.returncode == 0 and not status.stdout.strip()


def _machine() -> dict:
    env = describe()
    return {k: env[k] for k in ("cpu_model", "cpu_count", "python")}


def run_intervals(run: str, coverage: float) -> tuple[pd.DataFrame, dict]:
    tasks, runs, manifest = read_run(ROOT / run)
    table = errors.held_out_intervals(validation.validate(tasks, runs, manifest), coverage)
    return table, manifest


def save_validation(run: str, table: pd.DataFrame, manifest: dict) -> Path:
    """results/model-error/<run>.json: what ``facebench project RUN --validate --json`` prints, headed by
    the commit and machine that computed it and the run that measured it."""
    env = manifest.get("environment", {})
    out = {
        "command": f"facebench project {run} --validate --json",
        "generated_by": "benchmarks/interval_coverage.py --save-validations: `command`'s JSON output is "
        "everything from `cases` on; the fields before it: the commit it ran at, whether bench/ and "
        "pipelines/ were clean, the machine that computed it and the run (and machine) that measured it",
        "computed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "computed_at_commit": git_commit(ROOT),
        "code_tree_clean": _clean(),
        "computed_on": _machine(),
        "measured": {
            "run": run,
            "run_id": manifest.get("run_id"),
            "git_commit": env.get("git_commit"),
            "cpu_model": env.get("cpu_model"),
            "cpu_count": env.get("cpu_count"),
            "memory_gb": env.get("memory_gb"),
        },
        "cases": json_rows(table),
        "summary": json_rows(validation.validation_summary(table)),
    }
    path = errors.COMMITTED / f"{Path(run).name}.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    return path


def published_intervals(coverage: float) -> pd.DataFrame:
    """Each held-out published job's interval from the other held-out jobs of its platform."""
    table = published.validate_published(load_price_book(None))
    held = table[table["role"] == "validation"].rename(
        columns={
            "published_s": "measured_wall_s",
            "predicted_s": "predicted_wall_s",
            "predicted_s_low": "predicted_wall_s_low",
            "predicted_s_high": "predicted_wall_s_high",
        }
    )
    held = held.assign(scheme="published " + held["platform"], case_id=held["job_id"])
    return errors.held_out_intervals(held.reset_index(drop=True), coverage)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--coverage", type=float, default=errors.COVERAGE)
    parser.add_argument(
        "--save-validations", action="store_true", help="rewrite results/model-error/<run>.json"
    )
    parser.add_argument("--json", help="write the result here")
    args = parser.parse_args(argv)
    rows = []
    for run in RUNS:
        table, manifest = run_intervals(run, args.coverage)
        if args.save_validations:
            print(save_validation(run, table, manifest))
        rows.append(table.assign(source=run))
    rows.append(published_intervals(args.coverage).assign(source="results/published"))
    cols = ["source", "scheme", "case_id", "measured_wall_s", "predicted_wall_s"]
    cols += ["predicted_wall_s_low", "predicted_wall_s_high", "rel_error", "inside"]
    every = pd.concat([r[cols] for r in rows], ignore_index=True)
    scored = every[every["inside"].notna()]
    per = (
        scored.assign(inside=scored["inside"].astype(bool))
        .groupby(["source", "scheme"], sort=False)
        .agg(intervals=("inside", "size"), inside_share=("inside", "mean"))
        .reset_index()
    )
    result = {
        "command": " ".join(["python", "benchmarks/interval_coverage.py", *(argv or sys.argv[1:])]),
        "commit": git_commit(ROOT),
        "code_tree_clean": _clean(),
        "machine": _machine(),
        "computed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "coverage_asked": args.coverage,
        "intervals": len(scored),
        "inside_share": float(scored["inside"].astype(bool).mean()),
        "per_scheme": json_rows(per),
        # the cloud model's error on the published jobs it was not calibrated on
        "published_median_abs_rel_error": float(rows[-1]["rel_error"].abs().median()),
        "cases": json_rows(every),
    }
    print(per.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"all: {result['inside_share']:.1%} of {result['intervals']} held-out measurements inside "
          f"their {args.coverage:.0%} intervals")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
