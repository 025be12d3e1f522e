"""facebench: the command line. Each subcommand is one function; errors a user can fix are one line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bench.errors import UserError
from bench.executors import EXECUTORS


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def _name_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def cmd_run(args: argparse.Namespace) -> int:
    from bench.runner import Run, RunConfig, summary_table

    config = RunConfig(
        dataset=args.dataset,
        list_file=args.list,
        executors=args.executors or list(EXECUTORS),
        kernel=args.kernel,
        chunk_size=args.chunk_size,
        repeats=args.repeats,
        out=args.out,
        dask_scheduler=args.dask_scheduler,
        lithops_config=args.lithops_config,
        keep_outputs=args.keep_outputs,
        price_book=args.price_book,
        progress=not args.no_progress,
    )
    if args.workers:
        config.workers = args.workers
    result = Run(config, log=lambda line: print(line, flush=True)).execute()
    print()
    print(summary_table(result.runs).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    statuses = result.tasks.groupby("status").size().to_dict()
    print(f"\nstatuses over all cases: {statuses}")
    if not result.ok:
        bad = result.runs.loc[~result.runs["identical"].astype(bool), "case_id"].unique()
        print(f"outputs differ from the sequential reference in: {', '.join(bad)}", file=sys.stderr)
    print(result.run_dir)
    return 0 if result.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facebench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the kernel under every executor and record the tables")
    run.add_argument("--dataset", default="synthetic", help="synthetic[:N] or an LFW-layout folder")
    run.add_argument("--list", help="file of image paths relative to the dataset folder, one per line")
    run.add_argument("--executors", type=_name_list, help=f"comma-separated, from {','.join(EXECUTORS)}")
    run.add_argument("--workers", type=_int_list, help="comma-separated worker counts (default 1..cores)")
    run.add_argument("--chunk-size", type=int, help="images per task (default: chosen per executor)")
    run.add_argument("--repeats", type=int, default=1)
    run.add_argument("--kernel", default="optimized", help="optimized (default) or naive")
    run.add_argument("--out", default="results/runs", help="folder that receives the run folder")
    run.add_argument("--dask-scheduler", help="address of an existing Dask scheduler, e.g. tcp://host:8786")
    run.add_argument("--lithops-config", help="Lithops YAML config (backend, storage); default localhost")
    run.add_argument(
        "--keep-outputs", action="store_true", help="keep every case's crops, not only the reference's"
    )
    run.add_argument("--price-book", help="TOML price book to use instead of the packaged one")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.set_defaults(func=cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"facebench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("facebench: interrupted; finished cases are in the run folder", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
