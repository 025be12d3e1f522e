"""Re-price a saved run's local cases as the machine that ran them (issue 13: runs made before the
harness chose the machine by vCPU count were all priced as the 2-vCPU one).

    python benchmarks/reprice.py results/reference results/scaling-16core [--machine NAME]

Each row billed as a machine gets ``cost_usd`` = its store request fees (unchanged) + the chosen
machine's hourly price x wall time, and a ``cost_model`` that says so; serverless rows are left as
they are. The manifest records the machine and that the run was re-priced, with this commit. The
tables are rewritten atomically; the measurements are not touched.
"""

from __future__ import annotations

import argparse
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from bench import tables
from bench.analysis.billing import Machine, choose_machine, cost_of_case, machine_cost
from bench.analysis.pricebook import load_price_book
from bench.analysis.statistics import with_case_statistics
from bench.executors import Billing


def reprice(run_dir: Path, machine_name: str | None = None) -> Machine:
    tasks, runs, manifest = tables.read_run(run_dir)
    book = load_price_book(None)
    vcpus = int(manifest["environment"]["cpu_count"])
    machine = choose_machine(book, vcpus=vcpus, name=machine_name)
    billed_as_machine = runs["cost_model"].str.contains(r"/h x wall time", regex=True)
    for i in runs.index[billed_as_machine]:
        old_machine = runs.at[i, "cost_model"].split(" $", 1)[0].split(" x ")[-1]
        wall = float(runs.at[i, "wall_s"])
        old_compute = machine_cost(book, old_machine, wall, apply_minimum=False)
        store = str(runs.at[i, "store"])
        requests = 0.0 if store == "local" else float(runs.at[i, "cost_usd"]) - old_compute  # unchanged
        cost, model = cost_of_case(
            book, billing=Billing(), machine=machine, workers=int(runs.at[i, "workers"]),
            wall_s=wall, durations_s=[], store="local", gets=0, puts=0,
        )  # fmt: skip
        if store != "local":
            model = model.replace("; pricebook", f" + {store} requests; pricebook")
        runs.at[i, "cost_usd"] = cost + max(requests, 0.0)
        runs.at[i, "cost_model"] = model
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout
    manifest["machine"] = machine.to_json()
    manifest["repriced"] = {
        "at": datetime.now(UTC).isoformat(),
        "by": "benchmarks/reprice.py",
        "commit": commit.strip(),
        "price_book": book.version,
    }
    tables.write_parquet(with_case_statistics(runs), run_dir / "runs.parquet")
    tables.write_json(manifest, run_dir / "manifest.json")
    return machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--machine", help="a price-book machine instead of the one chosen by vCPU count")
    args = parser.parse_args()
    for run_dir in args.runs:
        machine = reprice(run_dir, args.machine)
        print(f"{run_dir}: local cases priced as {machine.name} ${machine.per_hour:g}/h ({machine.reason})")


if __name__ == "__main__":
    main()
