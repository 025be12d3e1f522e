"""How should the descriptor stage turn a crop into dlib's descriptor? Every variant scored and timed.

Each variant of ``pipelines.embeddings.VARIANTS`` that can read the run's crops (its kernel's declared
output) describes the same crops of a run's output: the identities with at least ``--min-images`` crops
and the crops of LFW's pairs (``pairs.txt`` beside the dataset, or ``--pairs``). Per variant: the
validation and test top-1 of the embeddings model ``facebench train`` fits (same split, same seed), LFW
pairs verification accuracy (10 folds, on the pairs covered), and the seconds per crop of each stage
(measured inside the workers) with the CPU other work took meanwhile (``background_cpu``, in cores;
above ``DISTURBED_CORES`` the script warns, and the timings are not this machine's answer). The
default descriptor is the fastest variant whose pairs accuracy is within the kernel frontier's
tolerance of the reference's (``bench.train.descriptors.choose_descriptor``); the script prints it
and writes everything, with the command, commit and machine, to ``--json``.

    python benchmarks/descriptor_variants.py RUN_DIR --workers 2 \
        --json results/descriptor-variants/ge10-pairs.json

RUN_DIR: e.g. ``facebench run --dataset ../shared/data/lfw --list L --executors sequential --no-train`` with
L = ge10.txt plus the images of pairs.txt. About 5 minutes per variant for ge10 and the pairs on two cores;
``--limit N`` keeps the first N photos (by key) to try it quickly.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.analysis.frontier import PAIRS_TOLERANCE
from bench.analysis.statistics import DISTURBED_CORES
from bench.run import load
from bench.run.environment import provenance
from bench.train import descriptors as stage
from bench.train import harness
from pipelines import embeddings
from pipelines import train as tp


def _describe(job: tuple[str, str]) -> tuple[np.ndarray | None, dict[str, float]]:
    """One crop, one variant, in a worker: the vector (None when it failed) and the stage timings."""
    path, variant = job
    result = embeddings.describe(Path(path).read_bytes(), variant)
    return result.vector, result.timings


def score(
    variant: str, paths: dict[str, Path], split: tp.Split, pairs: list[tp.Pair], workers: int, seed: int
) -> dict:
    """Describe every crop the ``variant``'s way, then fit and score as ``facebench train`` does."""
    keys = sorted(paths)
    before = load.sample()
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(workers) as pool:
        done = pool.map(_describe, [(str(paths[k]), variant) for k in keys], chunksize=16)
    wall_s = time.perf_counter() - t0
    background = load.between(before, load.sample())["background_cpu"]
    if background > DISTURBED_CORES:
        print(f"facebench: warning: other work took {background:.2f} cores while {variant} was timed")
    vectors = {k: v for k, (v, _) in zip(keys, done, strict=True) if v is not None}
    stages = {s: float(np.mean([t.get(s, 0.0) for _, t in done])) for s in embeddings.STAGES}
    # a crop without a descriptor leaves its split; every other crop stays where facebench train puts it
    split = replace(split, **{n: tuple(k for k in split.keys(n) if k in vectors) for n in tp.SPLITS})
    config = tp.TrainConfig(seed=seed, descriptor=variant)
    _, metrics, _ = tp.train_and_evaluate(split, lambda ks: np.stack([vectors[k] for k in ks]), config)
    verified = tp.lfw_pairs_verification(pairs, vectors) if pairs else {}
    return {
        "variant": variant,
        "what": embeddings.VARIANTS[variant][0],
        "crops": len(keys),
        "failed": len(keys) - len(vectors),
        "val_top1": metrics["val_top1"],
        "test_top1": metrics["top1"],
        "head": metrics["head"],
        "pairs_accuracy": verified.get("accuracy"),
        "pairs_accuracy_std": verified.get("accuracy_std"),
        "pairs_covered": verified.get("pairs_covered", 0),
        "per_crop_s": float(sum(stages.values())),
        "stage_s": stages,
        "wall_s": wall_s,
        "background_cpu": background,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a run folder (its output/ holds the reference crops)")
    parser.add_argument("--variants", help="comma-separated (default: every variant that reads the crops)")
    parser.add_argument("--min-images", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=mp.cpu_count())
    parser.add_argument("--pairs", help="LFW pairs.txt (default: beside the run's dataset)")
    parser.add_argument("--limit", type=int, help="only the first N photos, by key (a quick try)")
    parser.add_argument(
        "--json", help="write the scores, the chosen default, command, commit and machine here"
    )
    args = parser.parse_args(argv)

    run_dir = Path(args.run)
    choice = harness.choose_best_output(run_dir)
    labels = harness.verified_crops(run_dir, choice)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    output = stage.crop_output(manifest, choice.kernel)
    readable = [v for v, (_, outputs) in embeddings.VARIANTS.items() if output in outputs]
    variants = args.variants.split(",") if args.variants else readable
    for variant in variants:
        try:
            embeddings.check_variant(variant, output)
        except ValueError as exc:
            parser.error(str(exc))
    keys = sorted(labels)[: args.limit] if args.limit else sorted(labels)
    pairs_path = (
        Path(args.pairs) if args.pairs else harness.find_pairs(manifest.get("dataset", {}).get("root"))
    )
    have = set(keys)
    pairs = [p for p in tp.read_lfw_pairs(pairs_path) if p.a in have and p.b in have] if pairs_path else []
    counts: dict[str, int] = {}
    for k in keys:
        counts[labels[k]] = counts.get(labels[k], 0) + 1
    eligible = [k for k in keys if counts[labels[k]] >= args.min_images]
    split = tp.split_keys(eligible, [labels[k] for k in eligible], args.min_images, args.seed)
    wanted = set(eligible) | set(tp.lfw_pairs_keys(pairs))
    paths = {k: run_dir / "output" / k for k in wanted}
    sizes = ", ".join(f"{n} {len(split.keys(n))}" for n in tp.SPLITS)
    print(
        f"run {run_dir.name}, kernel {choice.kernel} ({output} crops): {len(split.classes)} identities "
        f"({sizes}); {len(pairs)} LFW pairs covered; {len(paths)} crops described per variant"
    )
    print(
        f"{'variant':<18} {'val top-1':>9} {'test top-1':>10} {'pairs':>15} "
        f"{'ms/crop':>8} {'detect':>7} {'landm.':>7} {'descr.':>7} {'failed':>6}"
    )
    rows = []
    for variant in variants:
        row = score(variant, paths, split, pairs, args.workers, args.seed)
        rows.append(row)
        pairs_text = (
            f"{row['pairs_accuracy']:.2%} ± {row['pairs_accuracy_std']:.2%}"
            if row["pairs_accuracy"] is not None
            else "not scored"
        )
        ms = {s: row["stage_s"][s] * 1000 for s in embeddings.STAGES}
        print(
            f"{variant:<18} {row['val_top1']:>9.2%} {row['test_top1']:>10.2%} {pairs_text:>15} "
            f"{row['per_crop_s'] * 1000:>8.1f} {ms['detect']:>7.1f} {ms['landmarks']:>7.1f} "
            f"{ms['describe']:>7.1f} {row['failed']:>6}",
            flush=True,
        )
    scored = all(r["pairs_accuracy"] is not None for r in rows)
    chosen = stage.choose_descriptor(rows) if scored and embeddings.REFERENCE in variants else None
    default = stage.DEFAULTS[output][0]
    if chosen is None:
        print(
            f"no default chosen: it needs {embeddings.REFERENCE} among the variants and pairs scored for each"
        )
    else:
        print(
            f"default for {output} crops (fastest within {PAIRS_TOLERANCE * 100:.1f} points of "
            f"{embeddings.REFERENCE}'s pairs accuracy): {chosen}"
            + ("" if chosen == default else f"; bench/train/descriptors.py DEFAULTS still says {default}")
        )
    if args.json:
        out = {
            **provenance(argv),
            "run": {"run_id": choice.run_id, "kernel": choice.kernel, "crop_output": output},
            "limit": args.limit,
            "workers": args.workers,
            "seed": args.seed,
            "split": split.sizes(),
            "pairs_file": str(pairs_path) if pairs_path else None,
            "pairs_tolerance": PAIRS_TOLERANCE,
            "reference": embeddings.REFERENCE,
            "chosen": chosen,
            "variants": rows,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
        print(args.json)


if __name__ == "__main__":
    main()
