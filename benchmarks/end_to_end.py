"""The path to a trained model, end to end, per kernel: preprocessing, descriptors, the classifier's fit.

For each ``--kernel``, one run over the photos (``--executors``/``--workers``, one repeat: the sequential
reference and the parallel case) and ``facebench train`` on it, which writes the end-to-end account
(``train/metrics.json``'s ``pipeline``, bench/analysis/end_to_end.py). The script gathers the accounts
side by side with each kernel's held-out top-1, and states what each path's preprocessing speedup (its
case over its own sequential case) bought the whole path, beside the preprocessing step's; and the whole
path of each kernel against the faithful kernel's.

    python benchmarks/end_to_end.py --dataset ../shared/data/lfw --list ../shared/data/lfw-meta/ge10.txt \\
        --kernel optimized,chip --json results/end-to-end/ge10.json

About 15 minutes for ge10 and two kernels on two cores. Measure on a quiet machine: every run records
the other work beside it (``background_cpu``), and the result keeps it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.analysis import end_to_end
from bench.run.environment import provenance
from bench.run.runner import Run, RunConfig
from bench.train import harness
from pipelines.kernels import FAITHFUL


def one_kernel(args: argparse.Namespace, kernel: str) -> dict:
    config = RunConfig(
        dataset=args.dataset, list_file=args.list, executors=args.executors.split(","),
        workers=[args.workers], kernels=[kernel], repeats=1, out=args.out, progress=False,
    )  # fmt: skip
    run = Run(config, log=lambda line: print(f"  {line}", flush=True)).execute()
    if not run.ok:
        raise SystemExit(f"run {run.run_dir} cannot be trusted: {run.errors() or 'outputs differ'}")
    options = harness.TrainOptions(min_images=args.min_images, workers=args.workers, kernel=kernel)
    trained = harness.train(run=run.run_dir, options=options, log=lambda line: print(f"  {line}", flush=True))
    m = trained.metrics
    pipeline = m["pipeline"]
    print(harness.format_pipeline(pipeline), flush=True)
    return {
        "run_id": run.run_dir.name,
        "background_cpu_max": float(run.runs["background_cpu"].max()),
        "descriptor": (m.get("descriptor") or {}).get("variant"),
        "top1": m["top1"],
        "pairs_accuracy": (m.get("lfw_pairs") or {}).get("accuracy"),
        "pipeline": pipeline,
        "bought": end_to_end.bought(pipeline),
        "limit": end_to_end.end_to_end_speedup(pipeline, float("inf")),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--list")
    parser.add_argument(
        "--kernel", default=f"{FAITHFUL},chip", help="comma-separated kernels, faithful first"
    )
    parser.add_argument("--executors", default="sequential,processes")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--min-images", type=int, default=10)
    parser.add_argument("--out", default="results/runs")
    parser.add_argument("--json", help="write the accounts with command, commit and machine here")
    args = parser.parse_args(argv)

    paths = {}
    for kernel in args.kernel.split(","):
        print(f"kernel {kernel}:", flush=True)
        paths[kernel] = one_kernel(args, kernel)
    first = next(iter(paths))
    base = paths[first]["pipeline"]["total_s"]
    head = f"{'kernel':<12} {'preprocessing':>13} {'descriptors':>11} {'fit':>6} {'total':>8}"
    print(f"\n{head} {'vs ' + first:>10}")
    for kernel, path in paths.items():
        seconds = {s["step"]: s["seconds"] for s in path["pipeline"]["steps"]}
        path["whole_path_vs_first"] = base / path["pipeline"]["total_s"]
        print(
            f"{kernel:<12} {seconds.get('preprocessing', 0):>12.1f}s {seconds.get('descriptors', 0):>10.1f}s "
            f"{seconds.get('classifier', 0):>5.1f}s {path['pipeline']['total_s']:>7.1f}s "
            f"{path['whole_path_vs_first']:>9.2f}x"
        )
    if args.json:
        out = {
            **provenance(argv),
            "kernels": paths,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
        print(args.json)


if __name__ == "__main__":
    main()
