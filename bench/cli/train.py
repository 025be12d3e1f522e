"""facebench train: a face-identification model on a run's best verified output."""

from __future__ import annotations

import argparse

from bench.cli.grammar import (
    add_executors,
    add_runs,
    int_list,
    one_value,
)
from bench.errors import UserError


def add_train_parser(sub) -> None:
    train = sub.add_parser("train", help="train a face-identification model on a run's best verified output")
    add_runs(train, "a run (default: the newest under results/runs)")
    train.add_argument("--crops", help="a folder of aligned crops in LFW layout, instead of a run")
    train.add_argument(
        "--case", help="train on this case's output (must be identical; default: the rule, docs/training.md)"
    )
    train.add_argument(
        "--kernel",
        help="train on this kernel's fastest verified case (default: the fastest whose kernel is within 0.3 "
        "points of the faithful kernel's LFW pairs accuracy)",
    )
    train.add_argument("--min-images", type=int, default=10, help="identities with at least this many crops")
    train.add_argument("--max-identities", type=int, help="only the N identities with the most crops")
    train.add_argument("--model", default="embeddings", choices=["embeddings", "cnn"])
    train.add_argument("--epochs", type=int, help="upper bound on epochs (early stopping; default per model)")
    train.add_argument("--seed", type=int, default=0, help="split and training seed (default 0)")
    add_executors(train, "the descriptor stage's executor (default processes)", one=True)
    train.add_argument("--workers", type=int_list, help="descriptor stage workers (default: every core)")
    train.add_argument(
        "--chunk-size", type=int_list, help="crops per descriptor task (default: per executor)"
    )
    train.add_argument("--pairs", help="LFW pairs.txt for verification (default: beside the dataset; none)")
    train.add_argument(
        "--descriptor",
        metavar="VARIANT",
        help="how a crop becomes its descriptor: mirror+detect, mirror+detect-up0, template, chip "
        "(default per the crops' kind, docs/training.md)",
    )
    train.add_argument("--out", help="training folder (default RUN/train, or CROPS-train)")
    train.add_argument("--predict", metavar="IMAGE", help="name the person in IMAGE with the trained model")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from bench.train import harness as training

    if args.predict:
        if args.crops:
            raise UserError("--predict uses a trained model: give --run (default the newest) or --out")
        prediction = training.predict(args.predict, run=one_value(args.runs, "RUN"), model_dir=args.out)
        print(f"{prediction.name}  probability {prediction.probability:.3f}")
        for name, p in prediction.top[1:]:
            print(f"  next: {name} {p:.3f}")
        return 0
    options = training.TrainOptions(
        model=args.model,
        min_images=args.min_images,
        max_identities=args.max_identities,
        epochs=args.epochs,
        seed=args.seed,
        executor=one_value(args.executors, "--executors"),
        workers=one_value(args.workers, "--workers"),
        chunk_size=one_value(args.chunk_size, "--chunk-size"),
        case_id=args.case,
        kernel=args.kernel,
        pairs=args.pairs,
        descriptor=args.descriptor,
        out=args.out,
        progress=not args.no_progress,
    )
    if args.runs and args.crops:
        raise UserError("give a RUN or --crops, not both")
    result = training.train(
        one_value(args.runs, "RUN"), args.crops, options, log=lambda line: print(line, flush=True)
    )
    print(training.format_metrics(result.metrics))
    print(result.train_dir)
    return 0
