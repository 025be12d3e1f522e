"""How close a parallel case comes to the kernel-bound limit: the sequential case's total kernel time
divided by the cores (issue 15's definition), from a run's own tables.

    python benchmarks/kernel_bound.py RUN [RUN ...] [--json results/kernel-bound/NAME.json]

With several runs (the rounds of ``benchmarks/versus_pool.py`` are one run each), each case's ratios
are summarised over them: the median with its 95% order-statistic interval (6 runs at least).

Kernel time is the sum over the sequential case's images of the kernel's stages (decode, detect,
landmarks, warp, encode); the service-time bound adds what else an image costs in a worker (fetch,
put, bookkeeping), the model load excepted. A case at the bound wastes nothing on dispatch, idle
slots or start-up; below 1.0 means it ran faster than the sequential case's per-image times predict
(the client process that runs the sequential case is not a free core either).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

from bench import tables
from bench.analysis.statistics import median_interval
from bench.run.environment import provenance

KERNEL = ["decode_s", "detect_s", "landmarks_s", "warp_s", "encode_s"]


def bounds(run_dir: Path) -> dict:
    tasks, runs, manifest = tables.read_run(run_dir)
    seq = tasks[(tasks["executor"] == "sequential") & (tasks["repeat"] == 0)]
    cores = int(manifest["environment"]["cpu_count"])
    kernel_s = float(seq[KERNEL].sum().sum())
    service_s = float((seq["t_end"] - seq["t_start"]).sum() - seq["model_load_s"].fillna(0).sum())
    rows = []
    for case_id, group in runs[runs["executor"] != "sequential"].groupby("case_id"):
        workers = int(group["workers"].iloc[0])
        limit = kernel_s / min(workers, cores)
        wall = float(group["wall_s"].median())
        rows.append(
            {
                "case_id": case_id,
                "wall_s_median": wall,
                "repeats": len(group),
                "kernel_bound_s": limit,
                "wall_over_kernel_bound": wall / limit,
                "wall_over_service_bound": wall / (service_s / min(workers, cores)),
            }
        )
    return {
        "run": str(run_dir),
        "images": int(len(seq)),
        "cores": cores,
        "sequential_kernel_s": kernel_s,
        "sequential_service_s": service_s,
        "cases": rows,
        "machine": tables.machine_label(manifest),
        "run_commit": (manifest.get("environment") or {}).get("git_commit"),
    }


def over_runs(results: list[dict]) -> list[dict]:
    """Per case, its ratios over the runs: median, and the 95% interval where 6+ runs allow one."""
    ratios: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for result in results:
        for case in result["cases"]:
            for name in ("wall_over_kernel_bound", "wall_over_service_bound"):
                ratios[case["case_id"]][name].append(case[name])
    rows = []
    for case_id, by_name in ratios.items():
        row: dict = {"case_id": case_id, "runs": len(by_name["wall_over_kernel_bound"])}
        for name, values in by_name.items():
            low, high = median_interval(values)
            row |= {name: statistics.median(values), f"{name}_ci_low": low, f"{name}_ci_high": high}
        rows.append({k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", metavar="RUN")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    results = [bounds(tables.resolve_run(run)) for run in args.runs]
    result = {**provenance(), "cases": over_runs(results), "runs": results}
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
