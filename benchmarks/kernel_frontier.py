"""What each kernel costs downstream: every kernel of a run trained on and scored as `facebench train` does.

For each kernel of the run (``--kernels`` to choose), ``facebench train RUN --kernel K``: the embeddings
model on the identities with at least ``--min-images`` crops (held-out top-1; ge10 when the run is over
``lfw-meta/ge10.txt``) and LFW's verification protocol on ``pairs.txt`` (10 folds; the full 6,000 pairs
when the run aligned every image they name). Each kernel's training goes to ``RUN/train-<kernel>``.
The scores go to ``--json`` with the command, commit and machine; committed as
``results/kernel-frontier/downstream.json`` they are the accuracies ``bench.analysis.frontier`` reads:
the frontier figure's x axis, the rule that picks training's output, plan's accuracy column and the
claim's kernel factor. The script prints which kernel the rule then chooses, and why.

    facebench run --dataset ../shared/data/lfw --list L --kernel optimized,hog0,chip --executors \
        sequential --repeats 1 --no-train        # L: ge10.txt plus every image pairs.txt names
    python benchmarks/kernel_frontier.py RUN --workers 2 --json results/kernel-frontier/downstream.json

About 10 minutes per kernel on two cores for ge10 and the full pairs. Where
``benchmarks/descriptor_variants.py`` has already scored each kernel's crops (it fits and scores the
same model on the same split, per descriptor variant), ``--from-variants FILE...`` takes each kernel's
row of its default descriptor (``bench.train.descriptors.DEFAULTS``) from those results instead of
training again:

    python benchmarks/kernel_frontier.py --from-variants results/descriptor-variants/*.json \
        --json results/kernel-frontier/downstream.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from bench.analysis import frontier
from bench.kernels import declared
from bench.run.environment import provenance
from bench.train import descriptors as stage
from bench.train import harness
from pipelines import kernels as kernel_registry


def score(run_dir: Path, kernel: str, args: argparse.Namespace) -> dict:
    """Train on ``kernel``'s fastest verified case and return its downstream scores."""
    options = harness.TrainOptions(
        kernel=kernel,
        min_images=args.min_images,
        seed=args.seed,
        executor="processes" if args.workers > 1 else "sequential",
        workers=args.workers,
        pairs=args.pairs,
        out=str(run_dir / f"train-{kernel}"),
    )
    result = harness.train(run_dir, options=options, log=lambda line: print(f"  {line}", flush=True))
    m = result.metrics
    pairs = m.get("lfw_pairs") or {}
    return {
        "case_id": m["source"]["case_id"],
        "descriptor": (m.get("descriptor") or {}).get("variant"),
        "identities": m["test"]["identities"],
        "top1": m["top1"],
        "test_images": m["test"]["images"],
        "pairs_accuracy": pairs.get("accuracy"),
        "pairs_accuracy_std": pairs.get("accuracy_std"),
        "pairs_covered": pairs.get("pairs_covered", 0),
        "pairs_total": pairs.get("pairs_total", 0),
        "train_dir": str(result.train_dir),
    }


def from_variants(paths: list[str]) -> tuple[dict, dict]:
    """Each kernel's scores with its default descriptor, from descriptor_variants.py results; and the
    manifest-like declarations of those kernels (as installed now)."""
    rows, declared_now = {}, {}
    for path in paths:
        result = json.loads(Path(path).read_text())
        kernel, output = result["run"]["kernel"], result["run"]["crop_output"]
        default = stage.DEFAULTS[output][0]
        row = next((r for r in result["variants"] if r["variant"] == default), None)
        if row is None:
            raise SystemExit(f"{path}: no row of {kernel}'s default descriptor {default}")
        decl = kernel_registry.get(kernel).declaration()
        declared_now[kernel] = decl
        rows[kernel] = {
            "version": str(decl.get("version", "1")),
            "output": output,
            "descriptor": default,
            "identities": None,
            "top1": row["test_top1"],
            "ge10_top1": row["test_top1"],
            "val_top1": row["val_top1"],
            "pairs_accuracy": row["pairs_accuracy"],
            "pairs_accuracy_std": row["pairs_accuracy_std"],
            "pairs_covered": row["pairs_covered"],
            "pairs_total": 6000,
            "source": f"{Path(path).as_posix()} (run {result['run']['run_id']}, commit {result['commit']})",
        }
    return rows, {"kernels": declared_now}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", nargs="?", help="a run folder with several kernels over LFW photos")
    parser.add_argument(
        "--from-variants", nargs="+", metavar="FILE", help="descriptor_variants.py results, one per kernel"
    )
    parser.add_argument("--kernels", help="comma-separated (default: every kernel of the run)")
    parser.add_argument("--min-images", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="the descriptor stage's processes")
    parser.add_argument("--pairs", help="LFW pairs.txt (default: beside the run's dataset)")
    parser.add_argument("--json", help="write the scores with command, commit and machine here")
    args = parser.parse_args(argv)

    if (args.run is None) == (args.from_variants is None):
        parser.error("give a RUN to train on, or --from-variants FILE...")
    if args.from_variants:
        rows, manifest = from_variants(args.from_variants)
        kernels, run_dir = sorted(rows), None
    else:
        run_dir = Path(args.run)
        manifest = json.loads((run_dir / "manifest.json").read_text())
        runs = pd.read_parquet(run_dir / "runs.parquet")
        present = sorted(set(runs["kernel"]))
        kernels = args.kernels.split(",") if args.kernels else present
        missing = [k for k in kernels if k not in present]
        if missing:
            parser.error(
                f"run {run_dir.name} has no kernel {', '.join(missing)}; it has {', '.join(present)}"
            )
        rows = {}
        for kernel in kernels:
            print(f"kernel {kernel}:", flush=True)
            decl = declared(manifest, kernel)
            rows[kernel] = {
                "version": str(decl.get("version", "1")),
                "output": decl.get("output"),
                **score(run_dir, kernel, args),
            }
            rows[kernel]["ge10_top1"] = rows[kernel]["top1"]
    print(f"{'kernel':<14} {'top-1':>7} {'pairs':>16} {'covered':>11}")
    for kernel, row in rows.items():
        pairs = (
            f"{row['pairs_accuracy']:.2%} ± {row['pairs_accuracy_std']:.2%}"
            if row["pairs_accuracy"] is not None
            else "not scored"
        )
        print(f"{kernel:<14} {row['top1']:>7.2%} {pairs:>16} {row['pairs_covered']:>5}/{row['pairs_total']}")
    doc = {"kernels": rows}
    found = frontier.accuracies(manifest, kernels, None, doc)
    verdicts = frontier.judge(kernels, manifest, found)
    for verdict in verdicts.values():
        print(f"{verdict.kernel}: {'acceptable' if verdict.acceptable else 'not acceptable'}, {verdict.why}")
    choice = harness.choose_best_output(run_dir, found=found) if run_dir else None
    if choice:
        print(f"training's output by the rule: case {choice.case_id} ({choice.why})")
    if args.json:
        out = {
            **provenance(argv),
            "run": {"run_id": manifest.get("run_id"), "dataset": manifest.get("dataset", {})}
            if run_dir
            else None,
            "min_images": args.min_images,
            "seed": args.seed,
            "faithful": frontier.faithful_name(kernels, manifest),
            "pairs_tolerance": frontier.PAIRS_TOLERANCE,
            "chosen": {"case_id": choice.case_id, "kernel": choice.kernel, "why": choice.why}
            if choice
            else None,
            "verdicts": {v.kernel: {"acceptable": v.acceptable, "why": v.why} for v in verdicts.values()},
            **doc,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
        print(args.json)


if __name__ == "__main__":
    main()
