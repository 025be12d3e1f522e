"""How often does ``facebench compare`` call a difference where there is none? A/A pairs, counted.

Each pair is two runs of the same configuration, one after the other, compared as ``facebench compare
A B`` would. Any significant case is a false positive: with the exact test at 5% and independent
repeats the rate per case is at most 5% (3.2% at 5 vs 5, the test being discrete), but two runs minutes
apart are not exchangeable (the machine drifts, neighbours come and go), and that is what this counts.
Writes a small JSON under results/aa/ (commit, machine, n, rates, each pair's verdicts).

    python benchmarks/aa_false_positives.py                         # 10 pairs of the small suite
    python benchmarks/aa_false_positives.py --pairs 6 --dataset synthetic:8 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from bench import tables
from bench.analysis.compare import ALPHA, SAME, TOO_FEW, compare_tables
from bench.run.environment import describe
from bench.run.runner import Run, RunConfig

ROOT = Path(__file__).resolve().parents[1]


def wilson(hits: int, n: int, z: float = 1.96) -> list[float]:
    """The 95% Wilson score interval of a rate: a rate over 10 or 20 comparisons is itself uncertain."""
    if n == 0:
        return [math.nan, math.nan]
    rate, shrink = hits / n, 1 + z * z / n
    centre = (rate + z * z / (2 * n)) / shrink
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / shrink
    return [round(centre - half, 4), round(centre + half, 4)]


def one_run(args: argparse.Namespace, out: Path) -> tuple[pd.DataFrame, dict]:
    config = RunConfig(
        dataset=args.dataset,
        executors=args.executors.split(","),
        workers=[int(w) for w in args.workers.split(",")],
        repeats=args.repeats,
        out=str(out),
        progress=False,
    )
    run_dir = Run(config, log=lambda _: None).execute().run_dir
    _, runs, manifest = tables.read_run(run_dir)
    return runs, manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--dataset", default="synthetic:8")
    parser.add_argument("--executors", default="sequential,processes")
    parser.add_argument("--workers", default="2")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threshold", type=float, default=0.10)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "aa")
    given = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(given)
    started = time.time()
    pairs, manifest = [], {}
    with tempfile.TemporaryDirectory(prefix="facebench-aa-") as scratch:
        for index in range(args.pairs):
            load = os.getloadavg()[0]  # other work on the machine: what makes two runs differ
            (base, manifest), (new, _) = one_run(args, Path(scratch)), one_run(args, Path(scratch))
            table = compare_tables(base, new, args.threshold)
            table = table[["case_id", "ratio", "p_value", "verdict", "regression"]].assign(load_1min=load)
            pairs.append(table.to_dict("records"))
            flagged = table[~table["verdict"].isin([SAME, TOO_FEW])]
            print(f"pair {index + 1}/{args.pairs}: {len(flagged)} of {len(table)} significant", flush=True)
    cases = pd.DataFrame([{**case, "pair": i} for i, pair in enumerate(pairs) for case in pair])
    significant = ~cases["verdict"].isin([SAME, TOO_FEW])
    exiting = cases["regression"].groupby(cases["pair"]).any()
    env = describe()
    result = {
        "commit": env["git_commit"],
        "machine": tables.machine_label(manifest),
        "command": " ".join(["python", "benchmarks/aa_false_positives.py", *given]),
        "config": {k: str(v) for k, v in vars(args).items() if k != "out"},
        "alpha": ALPHA,
        "n_pairs": args.pairs,
        "n_case_comparisons": len(cases),
        "untestable_cases": int((cases["verdict"] == TOO_FEW).sum()),
        # The share of case comparisons the test called significant, either way: the per-case rate.
        "false_positive_rate": float(significant.mean()),
        "false_positive_rate_ci95": wilson(int(significant.sum()), len(cases)),
        # The share of pairs with at least one significant case, and with an exit status of 1 on time.
        "pairs_with_any_significant": float(significant.groupby(cases["pair"]).any().mean()),
        "pairs_exiting_1": float(exiting.mean()),
        "pairs_exiting_1_ci95": wilson(int(exiting.sum()), args.pairs),
        "per_case_rate": significant.groupby(cases["case_id"]).mean().to_dict(),
        "minutes": round((time.time() - started) / 60, 1),
        "pairs": pairs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"aa-{time.strftime('%Y%m%d-%H%M%S')}-{(result['commit'] or 'nocommit')[:7]}.json"
    tables.write_json(result, path)
    summary = {k: v for k, v in result.items() if k != "pairs"}
    print(json.dumps(summary, indent=2))
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
