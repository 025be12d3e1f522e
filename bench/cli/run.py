"""facebench run: the case matrix measured into a run folder, then the summary, the answer and the
short training."""

from __future__ import annotations

import argparse
import sys

from bench.cli.grammar import (
    add_executors,
    add_pricing,
    chunk_list,
    int_list,
    name_list,
    repeats_count,
)
from bench.errors import UserError
from pipelines.kernels import BUILTIN as KERNELS


def add_run_parser(sub) -> None:
    run = sub.add_parser("run", help="run the kernel under every executor and record the tables")
    # Defaults live in RunConfig (or the suite): a flag left out is None here, so it is known not given.
    run.add_argument("--dataset", help="synthetic[:N] (default synthetic) or an LFW-layout folder")
    run.add_argument("--list", help="file of image paths relative to the dataset folder, one per line")
    add_executors(run, "executors to run (default: the four built in)")
    run.add_argument("--workers", type=int_list, help="comma-separated worker counts (default 1..cores)")
    run.add_argument(
        "--chunk-size",
        type=chunk_list,
        help="images per task, comma-separated; 'auto' (default) chooses per executor",
    )
    run.add_argument(
        "--suite", help="a suite file (TOML) naming the matrix; a flag given too wins over its key"
    )
    run.add_argument(
        "--repeats",
        type=repeats_count,
        help="interleaved rounds of every case: a number, or auto (default): until every case's 95%% "
        "interval of its median is within +-5%% of it, or --budget runs out",
    )
    run.add_argument(
        "--budget",
        type=float,
        metavar="SECONDS",
        help="with --repeats auto: seconds of measured rounds at most (default 240)",
    )
    run.add_argument(
        "--kernel",
        type=name_list,
        help=f"comma-separated, from {','.join(KERNELS)} (docs/kernels.md), package.module:name or an "
        "installed entry point; default optimized, the faithful kernel",
    )
    run.add_argument(
        "--start",
        type=name_list,
        help="cold (default: every worker loads the models inside the clock), warm (loaded before it), "
        "or both: cold,warm",
    )
    run.add_argument("--no-warmup", action="store_true", help="skip the unrecorded warm-up case per executor")
    run.add_argument(
        "--no-contention-probe",
        action="store_true",
        help="skip the per-machine probe of busy cores (a few seconds once per machine, then cached)",
    )
    run.add_argument("--out", default="results/runs", help="folder that receives the run folder")
    run.add_argument("--dask-scheduler", help="address of an existing Dask scheduler, e.g. tcp://host:8786")
    run.add_argument("--lithops-config", help="Lithops YAML config (backend, storage); default localhost")
    run.add_argument(
        "--keep-outputs", action="store_true", help="keep every case's crops, not only the reference's"
    )
    add_pricing(run)
    run.add_argument(
        "--store",
        help="where inputs are read and crops written: s3://bucket/prefix (staged first), a folder, or "
        "embedded-s3[:latency_ms=N] (an S3 endpoint on loopback for this run); default the dataset folder",
    )
    run.add_argument("--endpoint", help="S3 endpoint URL for an s3:// store (default AWS S3); no credentials")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("--retries", type=int, help="resubmissions of a chunk whose worker died (default 2)")
    run.add_argument("--task-timeout", type=float, metavar="S", help="seconds one image may take (no limit)")
    run.add_argument(
        "--resume", metavar="RUN_DIR", help="finish an interrupted run with its own configuration"
    )
    run.add_argument(
        "--train",
        action=argparse.BooleanOptionalAction,
        help="after the run, a short training on its output (default: when the dataset is synthetic)",
    )
    run.set_defaults(func=cmd_run)


#: facebench run's flags that set a RunConfig field (argparse dest -> field); None when not given, so
#: that a flag given with --suite is known to be given and wins over the suite's key.
RUN_FLAGS = {
    "dataset": "dataset",
    "list": "list_file",
    "executors": "executors",
    "workers": "workers",
    "chunk_size": "chunk_sizes",
    "kernel": "kernels",
    "start": "starts",
    "repeats": "repeats",
    "budget": "budget_s",
    "dask_scheduler": "dask_scheduler",
    "lithops_config": "lithops_config",
    "price_book": "price_book",
    "machine": "machine",
    "price_per_hour": "price_per_hour",
    "store": "store",
    "endpoint": "endpoint",
    "retries": "retries",
    "task_timeout": "task_timeout",
}

#: Switches that change a RunConfig field only when given (argparse dest -> (field, value)).
RUN_SWITCHES = {
    "no_warmup": ("warmup", False),
    "keep_outputs": ("keep_outputs", True),
    "no_contention_probe": ("contention_probe", False),
}


def run_settings(args: argparse.Namespace) -> dict:
    """The RunConfig fields given on the command line, and only those: one path for a suite and not."""
    given = {field: getattr(args, dest) for dest, field in RUN_FLAGS.items()}
    given = {field: value for field, value in given.items() if value is not None}
    given |= {field: value for dest, (field, value) in RUN_SWITCHES.items() if getattr(args, dest)}
    return given


def cmd_run(args: argparse.Namespace) -> int:
    from bench.run import resume
    from bench.run.runner import Run, RunConfig

    log = lambda line: print(line, flush=True)  # noqa: E731
    if args.resume and args.suite:
        raise UserError("--resume finishes a run with its own configuration; it takes no --suite")
    if args.resume:
        run = resume.resume_run(args.resume, log, not args.no_progress)
        return _finish_run(
            args, resume.execute(run) if run is not None else resume.finished(args.resume), log
        )
    settings = run_settings(args)  # every flag applies to every case, a suite's or not
    if args.suite:
        from bench.run.suites import load_suite

        configs = load_suite(args.suite, out=args.out, overrides=settings)
    else:
        configs = [RunConfig(out=args.out, **settings)]
    for config in configs:
        config.progress = not args.no_progress
    runs = [Run(config, log) for config in configs]  # every configuration is checked before any work
    return max(_finish_run(args, resume.execute(run), log) for run in runs)


def _finish_run(args: argparse.Namespace, result, log) -> int:
    """Summary, statuses, the short training, and the run folder printed last."""
    from bench.analysis.statistics import MIN_REPEATS, MIN_REPEATS_SPEEDUP
    from bench.run.runner import summary_table

    print()
    print(summary_table(result.runs).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    if (result.runs.groupby("case_id").size() < MIN_REPEATS_SPEEDUP).any():
        print(
            f"\ntoo few repeats for some intervals: a 95% interval of a median needs {MIN_REPEATS} repeats "
            f"per case, of a speedup {MIN_REPEATS_SPEEDUP} (of the case and of the sequential case); "
            f"rerun with --repeats {MIN_REPEATS_SPEEDUP}"
        )
    statuses = result.tasks.groupby("status").size().to_dict()
    print(f"\nstatuses over all cases: {statuses}")
    from bench.analysis.answer import answer_lines

    print("\n" + "\n".join(answer_lines(result.runs, result.run_dir)))
    if not result.identical:
        bad = result.runs.loc[~result.runs["identical"].astype(bool), "case_id"].unique()
        print(
            f"facebench: outputs differ from the sequential reference in: {', '.join(bad)}", file=sys.stderr
        )
    if result.bad_inputs():
        print(f"facebench: {result.bad_inputs()}", file=sys.stderr)
    if result.errors():
        print(f"facebench: {result.errors()}", file=sys.stderr)
    if result.ok:  # a short training on the best verified output (by default when synthetic)
        from bench.train.harness import after_run

        after_run(result.run_dir, args.train, sorted(set(result.runs["workers"])), log)
    print(result.run_dir)
    return 0 if result.ok else 1
