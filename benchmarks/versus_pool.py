"""Side by side on one machine: the Pool-per-image baseline against facebench's local executors.

    python benchmarks/versus_pool.py [--dataset PATH --list FILE] [--workers 2] [--out results/runs]

Prints images/s for each and the ratio to the baseline; facebench's figures come from a normal run
folder (printed), so they can be inspected like any other.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pool_baseline  # noqa: E402

from bench.run.runner import Run, RunConfig  # noqa: E402
from pipelines.datasets import load_dataset  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="synthetic:480")
    parser.add_argument("--list")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-sizes", default="1,8,32,auto", help="facebench chunk sizes to try")
    parser.add_argument("--out", default="results/runs")
    args = parser.parse_args()

    dataset = load_dataset(args.dataset, args.list)
    with tempfile.TemporaryDirectory() as tmp:
        wall, statuses = pool_baseline.run(dataset.root, list(dataset.keys), Path(tmp), args.workers)
    base = len(dataset) / wall
    print(f"{'approach':<44} {'images/s':>9} {'ratio':>6}")
    print(f"{f'Pool.apply_async per image, {args.workers} workers':<44} {base:9.1f} {1.0:6.2f}")
    config = RunConfig(
        dataset=args.dataset, list_file=args.list, executors=["processes", "dask"], workers=[args.workers],
        chunk_sizes=[None if c == "auto" else int(c) for c in args.chunk_sizes.split(",")], out=args.out,
        progress=False,
    )  # fmt: skip
    result = Run(config, log=lambda _: None).execute()
    for row in result.runs.query("executor != 'sequential'").itertuples():
        label = f"facebench {row.executor}, {row.workers} workers, chunk {row.chunk_size}"
        ratio = row.images_per_s / base
        print(f"{label:<44} {row.images_per_s:9.1f} {ratio:6.2f}  efficiency {row.efficiency:.2f}")
    print(f"  (run folder: {result.run_dir}; all outputs identical: {result.ok})")
    print(f"baseline statuses: { {s: list(statuses.values()).count(s) for s in set(statuses.values())} }")


if __name__ == "__main__":
    main()
