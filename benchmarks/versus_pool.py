"""Side by side on one machine: the Pool-per-image baseline against facebench's local executors.

    python benchmarks/versus_pool.py [--dataset PATH --list FILE] [--workers 2] [--rounds 7] [--out DIR]
        [--kernel hog0]

Both sides run on one clock, the one facebench gives every case (docs/benchmarks.md, "One clock for
all"): worker pools are started before it (the baseline's fork is timed apart and printed), every model
load is inside it (the baseline's one load in the parent, inherited by its forked workers; facebench's
one per worker process), and the kernel's modules are imported before it on both sides (this script
imports them, and facebench's spawned workers import this script). Both are warmed before anything is
measured: every input file is read once (the page cache) and the baseline runs once untimed on a few
images; facebench runs its own unrecorded warm-up case per executor. Rounds alternate which side goes
first, so that a shared machine's drift favours neither. The baseline always runs the faithful kernel
(the code people copy); ``--kernel`` chooses facebench's, so that a faster kernel is compared with
what a user would otherwise run. Prints images/s for each round and the median
over rounds with its ratio to the baseline's and that ratio's 95% interval (each side's median gets a
97.5% order-statistic interval, as a case's speedup does, ``bench/analysis/statistics.py``; it needs 7
rounds). Every round records the CPU other work took beside it (``background_cpu``, in cores) and
warns above ``DISTURBED_CORES``; facebench's figures come from normal run folders (printed), so they
can be inspected like any other.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pool_baseline  # noqa: E402

from bench.analysis.statistics import DISTURBED_CORES, ratio_interval  # noqa: E402
from bench.run import load  # noqa: E402
from bench.run.environment import provenance  # noqa: E402
from bench.run.runner import WARMUP_IMAGES, Run, RunConfig  # noqa: E402
from pipelines.datasets import Dataset, load_dataset  # noqa: E402
from pipelines.kernels import FAITHFUL  # noqa: E402

BASELINE = "Pool.apply_async per image"


def baseline_round(dataset: Dataset, workers: int, starts: list[str]) -> dict[str, tuple[float, float]]:
    """Per approach: (images/s, background_cpu)."""
    rates = {}
    for start in starts:
        with tempfile.TemporaryDirectory() as tmp:
            before = load.sample()
            result = pool_baseline.run(dataset.root, list(dataset.keys), Path(tmp), workers, start == "warm")
            background = load.between(before, load.sample())["background_cpu"]
        print(
            f"  baseline {start}: {result.wall_s:.2f} s (model load {result.load_s:.2f} s inside; "
            f"pool start {result.pool_start_s:.2f} s outside; other work {background:.2f} cores)"
        )
        rates[f"{BASELINE}, {workers} workers, {start}"] = (len(dataset) / result.wall_s, background)
    return rates


def facebench_round(config: RunConfig) -> dict[str, tuple[float, float]]:
    """Per approach: (images/s, background_cpu)."""
    result = Run(config, log=lambda _: None).execute()
    print(f"  facebench: {result.run_dir} (all outputs identical: {result.ok})")
    rows = result.runs.query("executor != 'sequential'")
    label = "facebench {0.executor}, {0.kernel}, {0.workers} workers, chunk {0.chunk_size}, {0.start}"
    return {label.format(r): (r.images_per_s, r.background_cpu) for r in rows.itertuples()}


def _number(x: float) -> float | None:
    return None if math.isnan(x) else x


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="synthetic:480")
    parser.add_argument("--list")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-sizes", default="1,8,32,auto", help="facebench chunk sizes to try")
    parser.add_argument("--executors", default="processes,dask", help="facebench executors to try")
    parser.add_argument("--starts", default="cold,warm", help="cold, warm or both (each side alike)")
    parser.add_argument(
        "--kernel", default=FAITHFUL, help="facebench's kernel (the baseline runs the faithful one)"
    )
    parser.add_argument("--json", help="also write the medians and ratios to this JSON file")
    parser.add_argument(
        "--rounds", type=int, default=7, help="rounds, alternating sides (7: the fewest for a 95%% interval)"
    )
    parser.add_argument("--out", default="results/runs")
    args = parser.parse_args()

    dataset = load_dataset(args.dataset, args.list)
    config = RunConfig(
        dataset=args.dataset, list_file=args.list, executors=args.executors.split(","),
        workers=[args.workers], starts=args.starts.split(","), kernels=[args.kernel],
        chunk_sizes=[None if c == "auto" else int(c) for c in args.chunk_sizes.split(",")], out=args.out,
        progress=False, repeats=1,
    )  # fmt: skip
    for key in dataset.keys:  # warm the page cache for both sides alike
        (dataset.root / key).read_bytes()
    with tempfile.TemporaryDirectory() as tmp:  # the baseline's warm-up, as facebench has its own
        pool_baseline.run(dataset.root, list(dataset.keys[:WARMUP_IMAGES]), Path(tmp), args.workers)
    starts = args.starts.split(",")
    rates: dict[str, list[float]] = defaultdict(list)
    background: dict[str, list[float]] = defaultdict(list)
    for n in range(args.rounds):
        sides = [lambda: baseline_round(dataset, args.workers, starts), lambda: facebench_round(config)]
        print(f"round {n + 1}: {'baseline' if n % 2 == 0 else 'facebench'} first")
        for side in sides if n % 2 == 0 else sides[::-1]:
            for label, (rate, other) in side().items():
                rates[label].append(rate)
                background[label].append(other)
    rows = []
    title = f"approach (median over {args.rounds} rounds)"
    print(f"\n{title:<58} {'images/s':>9} {'vs baseline':>11} {'95% interval':>14}")
    for label, values in rates.items():
        start = label.rsplit(", ", 1)[1]  # each side against the baseline with the same start
        base = rates[f"{BASELINE}, {args.workers} workers, {start}"]
        ratio = statistics.median(values) / statistics.median(base)
        low, high = ratio_interval(values, base) if values is not base else (1.0, 1.0)
        rows.append(
            {
                "approach": label,
                "images_per_s": values,
                "median": statistics.median(values),
                "ratio": ratio,
                "ratio_ci_low": _number(low),
                "ratio_ci_high": _number(high),
                "background_cpu": background[label],
            }
        )
        shown = "not measured" if math.isnan(low) else f"{low:.3f}-{high:.3f}"
        print(f"{label:<58} {statistics.median(values):9.1f} {ratio:11.3f} {shown:>14}")
    busiest = max(max(v) for v in background.values())
    if busiest > DISTURBED_CORES:
        print(f"facebench: warning: other work took up to {busiest:.2f} cores beside a round: "
              "these timings are not this machine's answer", file=sys.stderr)  # fmt: skip
    if args.json:
        out = {**provenance(), "rounds": args.rounds, "background_cpu_max": busiest, "rows": rows}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
