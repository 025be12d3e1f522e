"""facebench: the command line. Each subcommand is one function; errors a user can fix are one line."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from typing import NoReturn

from bench.errors import UserError
from bench.executors import BUILTIN
from pipelines.kernels import BUILTIN as KERNELS


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def _repeats(text: str) -> int | str:
    if text.strip() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a whole number, got {text!r}") from None


def _chunk_list(text: str) -> list[int | None]:
    try:
        return [None if p.strip() == "auto" else int(p) for p in text.split(",") if p.strip()] or [None]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers or 'auto', got {text!r}") from None


def _name_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


# One grammar: the same flag means the same thing in every command, and takes a list wherever a list
# makes sense. Runs are positional everywhere (a run folder, a report folder, a folder of runs meaning
# the newest, or a run id under results/runs); --run and --executor still work, with a note.


class _Deprecated(argparse.Action):
    """An old spelling: stores into the new destination and says so once, on stderr."""

    def __init__(self, option_strings, dest, new: str, append: bool = False, **kwargs):
        self.new, self.append = new, append
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"facebench: note: {option_string} is deprecated; use {self.new}", file=sys.stderr)
        if self.append:
            values = [*(getattr(namespace, self.dest, None) or []), values]
        setattr(namespace, self.dest, values)


def add_executors(parser: argparse.ArgumentParser, help_: str, one: bool = False) -> None:
    names = ",".join(BUILTIN)
    parser.add_argument(
        "--executors",
        type=_name_list,
        help=f"{help_}: comma-separated, from {names}, package.module:Class or an installed entry point"
        + ("; exactly one" if one else ""),
    )
    parser.add_argument(
        "--executor",
        dest="executors",
        type=_name_list,
        action=_Deprecated,
        new="--executors",
        help=argparse.SUPPRESS,
    )


def add_runs(parser: argparse.ArgumentParser, help_: str) -> None:
    parser.add_argument("runs", nargs="*", metavar="RUN", help=help_)
    parser.add_argument(
        "--run",
        dest="old_runs",
        action=_Deprecated,
        new="a positional RUN",
        append=True,
        help=argparse.SUPPRESS,
    )


def add_pricing(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--price-book", help="TOML price book to use instead of the packaged one")
    parser.add_argument(
        "--machine",
        help="price local cases as this price-book machine (default: the one with this many vCPUs)",
    )
    parser.add_argument(
        "--price-per-hour", type=float, metavar="USD", help="price local cases at this hourly price instead"
    )


def _coverage(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"takes a share between 0 and 1 (0.9 for 90%), not {text!r}")
    return value


def add_coverage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--coverage",
        type=_coverage,
        default=0.9,
        help="the prediction intervals' coverage, from the model's held-out errors (default 0.9)",
    )


def _one(values: list | None, flag: str):
    """The single value of a list-valued option where the command takes one."""
    if not values:
        return None
    if len(values) != 1:
        raise UserError(f"{flag} takes one value here, got {len(values)}")
    return values[0]


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


def cmd_data_stage(args: argparse.Namespace) -> int:
    from bench.stores import open_store
    from bench.stores.plan import EMBEDDED
    from bench.stores.staging import stage_dataset
    from pipelines.datasets import DatasetError, load_dataset

    if args.store.startswith(EMBEDDED):
        raise UserError(
            f"{EMBEDDED} lives for one run only; to stage into an endpoint that stays up, start "
            "`facebench s3 serve` and use --store s3://facebench/PREFIX --endpoint http://127.0.0.1:9000"
        )
    try:
        dataset = load_dataset(args.dataset, args.list)
    except DatasetError as exc:
        raise UserError(str(exc)) from None
    store = open_store(args.store, args.endpoint, check=True)
    stage_dataset(dataset, store, threads=args.threads, progress=not args.no_progress)
    return 0


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from bench.stores.fetch import fetch_archive

    folder = fetch_archive(args.source, args.to, args.sha256, progress=not args.no_progress)
    print(folder)
    return 0


def cmd_s3_serve(args: argparse.Namespace) -> int:
    from bench.stores import embedded as s3server

    buckets = args.bucket or [s3server.DEFAULT_BUCKET]

    def announce(endpoint: str) -> None:
        print(f"S3 endpoint {endpoint}, bucket(s) {', '.join(buckets)}", flush=True)
        print(f"emulated latency: {args.latency_ms:g} ms per request; objects live in memory only")
        where = f"--store s3://{buckets[0]}/synthetic --endpoint {endpoint}"
        print(f"  facebench data stage --dataset synthetic {where}")
        print(f"  facebench run --dataset synthetic {where}")
        print("Ctrl-C stops it.", flush=True)

    try:
        s3server.serve(args.port, args.latency_ms, buckets, announce)
    except KeyboardInterrupt:
        print("stopped")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bench.report.page import write_report

    run = _one(args.runs, "RUN")
    index = write_report(
        run,
        args.out,
        case_id=args.case,
        repeat=args.repeat,
        embed=args.embed,
        images=args.images,
        platforms=args.platforms,
        pattern_marks=args.pattern,
    )
    print(index)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from bench.analysis.compare import compare

    if len(args.runs) != 2:
        raise UserError(f"compare takes two runs, BASE and NEW; got {len(args.runs)}")
    return compare(args.runs[0], args.runs[1], threshold=args.threshold, across_backends=args.across_backends)


def _book(args: argparse.Namespace):
    """--price-book, --machine and --price-per-hour, read once: the book, and what local cases are
    priced as (None: the run's own machine)."""
    from bench.analysis.billing import choose_machine
    from bench.analysis.pricebook import load_price_book

    book = load_price_book(args.price_book)
    if not args.machine and args.price_per_hour is None:
        return book, None
    return book, choose_machine(book, name=args.machine, per_hour=args.price_per_hour)


def _per_chunk(project, chunk_sizes: list[int | None], **kwargs):
    """One projected table over every --chunk-size."""
    import pandas as pd

    return pd.concat([project(chunk_size=chunk, **kwargs) for chunk in chunk_sizes], ignore_index=True)


def _print_json(value) -> int:
    import json

    print(json.dumps(value))
    return 0


def cmd_project(args: argparse.Namespace) -> int:
    """Fit the scaling model on a run; project it (table + projection.parquet) or validate it."""
    from bench import tables
    from bench.analysis import plan
    from bench.model import errors, projection, validation
    from bench.model.calibration import fit, read_run
    from bench.model.platforms import PLATFORMS, platform_limits

    if args.validate_published or args.service_time is not None or args.scenario:
        return _project_published(args)
    run_dir = tables.resolve_run(_one(args.runs, "RUN"))
    tasks, runs, manifest = read_run(run_dir)
    if args.validate:
        table = errors.held_out_intervals(validation.validate(tasks, runs, manifest), args.coverage)
        summary = validation.validation_summary(table)
        if args.json:
            return _print_json(
                {"cases": projection.json_rows(table), "summary": projection.json_rows(summary)}
            )
        print(validation.format_validation(table, summary, manifest, len(runs)))
        return 0
    if args.platform not in PLATFORMS:
        raise UserError(f"--platform takes one of {', '.join(PLATFORMS)}")
    executors = projection.executors_for(args.platform, args.executors, runs, manifest)
    kernels = args.kernel or sorted(set(tasks["kernel"]))
    if min(args.workers) < 1 or (args.images is not None and args.images < 1):
        raise UserError("--workers and --images take positive integers")
    if any(c is not None and c < 1 for c in args.chunk_size):
        raise UserError("--chunk-size takes positive integers or 'auto'")
    try:
        book, machine = _book(args)
        platform = platform_limits(book, args.platform, args.memory_mb)
        model = fit(tasks, runs, manifest, machine=machine)
        for kernel in kernels:
            model.dist(kernel)
    except (OSError, KeyError, ValueError) as exc:
        raise UserError(str(exc).strip("'\"")) from None
    images = args.images or int(manifest.get("dataset", {}).get("images") or len(tasks["key"].unique()))
    table = _per_chunk(
        projection.project, args.chunk_size, model=model, executors=executors, workers=args.workers,
        images=images, kernels=kernels, platform=platform, book=book,
    )  # fmt: skip
    table = plan.prediction_intervals(
        table, model, tasks, runs, manifest, book, coverage=args.coverage, label=str(run_dir)
    )
    path = projection.store_projection(run_dir, table)
    if args.json:
        return _print_json(projection.json_rows(table))
    print(projection.format_projection(table, model, platform, run_dir))
    print(path)
    return 0


def _project_published(args: argparse.Namespace) -> int:
    """project --validate-published, --service-time S (no run) and --scenario NAME RUN."""
    from bench import tables
    from bench.analysis.pricebook import load_price_book
    from bench.model import published, scenarios, workload
    from bench.model.calibration import fit, read_run
    from bench.model.platforms import SERVERLESS_PLATFORMS, platform_limits
    from bench.model.projection import json_rows

    try:
        book = load_price_book(args.price_book)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot use the price book: {exc}") from None
    if args.validate_published:
        table = published.validate_published(book)
        summary = published.published_summary(table)
        if args.json:
            return _print_json({"jobs": json_rows(table), "summary": summary})
        print(published.format_published(table, summary))
        return 0
    if args.scenario:
        if args.scenario not in scenarios.SCENARIOS:
            raise UserError(f"--scenario takes one of {', '.join(scenarios.SCENARIOS)}")
        run_dir = tables.resolve_run(_one(args.runs, "RUN"))
        tasks, runs, manifest = read_run(run_dir)
        try:
            result = scenarios.SCENARIOS[args.scenario](fit(tasks, runs, manifest), book)
        except (KeyError, ValueError) as exc:
            raise UserError(f"{str(exc).strip(chr(34) + chr(39))}: give a run with a naive case") from None
        if args.json:
            return _print_json({"rows": json_rows(result["rows"]), "terms": result["terms"]})
        print(scenarios.format_scenario(result, run_dir))
        return 0
    if args.platform not in SERVERLESS_PLATFORMS:
        raise UserError(f"--service-time needs a serverless --platform: {', '.join(SERVERLESS_PLATFORMS)}")
    if args.images is None or args.images < 1 or min(args.workers) < 1:
        raise UserError("--service-time needs --images N and positive --workers")
    try:
        platform = platform_limits(book, args.platform, args.memory_mb)
        seconds = workload.service_times(args.service_time)
        table = _per_chunk(
            workload.project_workload, args.chunk_size, seconds=seconds, platform=platform,
            workers=args.workers, images=args.images, invocation=args.invocation, book=book,
        )  # fmt: skip
    except (OSError, ValueError) as exc:
        raise UserError(str(exc)) from None
    if args.json:
        return _print_json(json_rows(table))
    print(workload.format_workload(table, platform))
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    """Every option for N images, with time, cost, their intervals and how far to trust them."""
    from bench import tables
    from bench.analysis import plan
    from bench.model.calibration import read_run
    from bench.model.projection import json_rows

    if args.images < 1:
        raise UserError("--images takes a positive integer")
    for flag, value in (("--budget-usd", args.budget_usd), ("--deadline-s", args.deadline_s)):
        if value is not None and not value > 0:
            raise UserError(f"{flag} takes a positive number")
    run_dir = tables.resolve_run(_one(args.runs, "RUN"))
    tasks, runs, manifest = read_run(run_dir)
    question = plan.Question(args.images, args.budget_usd, args.deadline_s)
    try:
        book, machine = _book(args)
        ranked = plan.ranked_options(
            tasks, runs, manifest, book, question, platforms=args.platforms, memory_mb=args.memory_mb,
            machine=machine, coverage=args.coverage,
        )  # fmt: skip
    except (OSError, KeyError, ValueError) as exc:
        raise UserError(str(exc).strip("'\"")) from None
    if args.json:
        return _print_json({"question": question.asked, "options": json_rows(ranked[plan.JSON_COLUMNS])})
    print(plan.format_plan(ranked, question, run_dir, manifest))
    if not ranked["recommended"].any():
        print(f"\nno option fits: {question.asked}", file=sys.stderr)
        return 1
    return 0


def cmd_claim(args: argparse.Namespace) -> int:
    """The pattern's 'up to 50x', measured and projected, and its ratio as a chain of factors."""

    from bench.analysis import claim
    from bench.model.projection import json_rows

    result = claim.build_claim(
        args.runs or None, platform=args.platform, memory_mb=args.memory_mb, price_book=args.price_book
    )
    csv_path, json_path = claim.store_claim(result)
    if args.json:
        return _print_json(json_rows(result["table"]))
    print(claim.format_claim(result))
    print(f"\n{csv_path}\n{json_path}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from bench.train import harness as training

    if args.predict:
        if args.crops:
            raise UserError("--predict uses a trained model: give --run (default the newest) or --out")
        prediction = training.predict(args.predict, run=_one(args.runs, "RUN"), model_dir=args.out)
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
        executor=_one(args.executors, "--executors"),
        workers=_one(args.workers, "--workers"),
        chunk_size=_one(args.chunk_size, "--chunk-size"),
        case_id=args.case,
        pairs=args.pairs,
        descriptor=args.descriptor,
        out=args.out,
        progress=not args.no_progress,
    )
    if args.runs and args.crops:
        raise UserError("give a RUN or --crops, not both")
    result = training.train(
        _one(args.runs, "RUN"), args.crops, options, log=lambda line: print(line, flush=True)
    )
    print(training.format_metrics(result.metrics))
    print(result.train_dir)
    return 0


def add_train_parser(sub) -> None:
    train = sub.add_parser("train", help="train a face-identification model on a run's best verified output")
    add_runs(train, "a run (default: the newest under results/runs)")
    train.add_argument("--crops", help="a folder of aligned crops in LFW layout, instead of a run")
    train.add_argument("--case", help="train on this case's output (must be identical; default the fastest)")
    train.add_argument("--min-images", type=int, default=10, help="identities with at least this many crops")
    train.add_argument("--max-identities", type=int, help="only the N identities with the most crops")
    train.add_argument("--model", default="embeddings", choices=["embeddings", "cnn"])
    train.add_argument("--epochs", type=int, help="upper bound on epochs (early stopping; default per model)")
    train.add_argument("--seed", type=int, default=0, help="split and training seed (default 0)")
    add_executors(train, "the descriptor stage's executor (default processes)", one=True)
    train.add_argument("--workers", type=_int_list, help="descriptor stage workers (default: every core)")
    train.add_argument(
        "--chunk-size", type=_int_list, help="crops per descriptor task (default: per executor)"
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


class _Parser(argparse.ArgumentParser):
    """A command line argparse refuses is one line and exit status 2, like every other user error:
    no usage block before it (its subcommands' parsers are of this class too)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"facebench: error: {message} (see: {self.prog} --help)\n")


def add_run_parser(sub) -> None:
    run = sub.add_parser("run", help="run the kernel under every executor and record the tables")
    # Defaults live in RunConfig (or the suite): a flag left out is None here, so it is known not given.
    run.add_argument("--dataset", help="synthetic[:N] (default synthetic) or an LFW-layout folder")
    run.add_argument("--list", help="file of image paths relative to the dataset folder, one per line")
    add_executors(run, "executors to run (default: the four built in)")
    run.add_argument("--workers", type=_int_list, help="comma-separated worker counts (default 1..cores)")
    run.add_argument(
        "--chunk-size",
        type=_chunk_list,
        help="images per task, comma-separated; 'auto' (default) chooses per executor",
    )
    run.add_argument(
        "--suite", help="a suite file (TOML) naming the matrix; a flag given too wins over its key"
    )
    run.add_argument(
        "--repeats",
        type=_repeats,
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
        type=_name_list,
        help=f"comma-separated, from {','.join(KERNELS)} (docs/kernels.md), package.module:name or an "
        "installed entry point; default optimized, the faithful kernel",
    )
    run.add_argument(
        "--start",
        type=_name_list,
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


def add_data_parser(sub) -> None:
    data = sub.add_parser("data", help="stage a dataset into object storage; fetch LFW")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    stage = data_sub.add_parser("stage", help="upload a dataset as one object per image (idempotent)")
    stage.add_argument("--dataset", default="synthetic", help="synthetic[:N] or an LFW-layout folder")
    stage.add_argument("--list", help="file of image paths relative to the dataset folder, one per line")
    stage.add_argument("--store", required=True, help="s3://bucket/prefix (or a folder)")
    stage.add_argument("--endpoint", help="S3 endpoint URL (default AWS S3); credentials: the environment")
    stage.add_argument("--threads", type=int, default=16, help="parallel uploads (default 16)")
    stage.add_argument("--no-progress", action="store_true", help="no progress bar")
    stage.set_defaults(func=cmd_data_stage)
    fetch = data_sub.add_parser("fetch", help="download an LFW archive, check it, cache it, unpack it")
    fetch.add_argument(
        "source", help="lfw, lfw-funneled or lfw-deepfunneled, an http(s) URL, or a local .tgz file"
    )
    fetch.add_argument("--to", default="data", help="folder that receives the dataset folder (default data)")
    fetch.add_argument("--sha256", help="expected SHA-256 of the archive (known for the published ones)")
    fetch.add_argument("--no-progress", action="store_true", help="no progress bar")
    fetch.set_defaults(func=cmd_data_fetch)


def add_s3_parser(sub) -> None:
    s3 = sub.add_parser("s3", help="an S3-compatible endpoint on loopback (moto), for offline runs")
    s3_sub = s3.add_subparsers(dest="s3_command", required=True)
    serve = s3_sub.add_parser("serve", help="serve S3 on 127.0.0.1 until Ctrl-C")
    from bench.stores.embedded import add_serve_arguments

    add_serve_arguments(serve)
    serve.set_defaults(func=cmd_s3_serve)


def add_report_parser(sub) -> None:
    report = sub.add_parser("report", help="a run's figures and captions as one HTML page (PNG + SVG)")
    add_runs(report, "a run folder, a folder of runs (the newest), or a run id (default: the newest run)")
    report.add_argument("--out", help="folder that receives index.html and the figures (default RUN/report)")
    report.add_argument(
        "--case", help="case_id shown in the timeline (default: most workers, first parallel)"
    )
    report.add_argument("--repeat", type=int, default=0, help="repeat shown in the timeline (default 0)")
    report.add_argument("--embed", action="store_true", help="embed the PNGs in index.html (one file)")
    report.add_argument(
        "--images", type=int, help="draw the projection for this many images (as facebench plan)"
    )
    report.add_argument(
        "--platforms",
        type=_name_list,
        help="with --images: local, aws_lambda, ibm_cloud_functions, ibm_code_engine (default local)",
    )
    report.add_argument(
        "--pattern",
        action="store_true",
        help="mark the pattern's published 2,200 s / 35 s / 50x on the projection",
    )
    report.set_defaults(func=cmd_report)


def add_compare_parser(sub) -> None:
    compare = sub.add_parser(
        "compare", help="per case wall time of NEW against BASE, with a noise-aware verdict"
    )
    add_runs(compare, "BASE, the run compared against, then NEW, the run under test")
    compare.add_argument(
        "--threshold", type=float, default=0.10, help="slowdown tolerated, as a fraction (default 0.10)"
    )
    compare.add_argument(
        "--across-backends",
        action="store_true",
        help="also match cases run on different kinds of backend (this machine, a remote cluster, a cloud)",
    )
    compare.set_defaults(func=cmd_compare)


def add_project_parser(sub) -> None:
    project = sub.add_parser(
        "project", help="calibrated scaling model: project a run to N workers, or validate"
    )
    add_runs(project, "the run to fit on (default: the newest run)")
    add_executors(
        project,
        "executors to project (default: the run's; on a serverless platform, those with "
        "a fresh process per call)",
    )
    project.add_argument(
        "--workers", type=_int_list, default=[1, 2, 4, 8, 16, 64, 256, 1000], help="comma-separated"
    )
    project.add_argument("--images", type=int, help="images to project (default: the run's)")
    project.add_argument(
        "--platform", default="local", help="local, aws_lambda, ibm_cloud_functions, ibm_code_engine"
    )
    project.add_argument(
        "--chunk-size",
        type=_chunk_list,
        default=[None],
        help="images per call, comma-separated; 'auto' (default) as facebench run chooses",
    )
    project.add_argument("--kernel", type=_name_list, help="comma-separated kernels (default: the run's)")
    project.add_argument("--memory-mb", type=float, help="function memory (default: one full vCPU's worth)")
    add_pricing(project)
    project.add_argument(
        "--validate", action="store_true", help="predicted vs measured, fit and scored apart"
    )
    project.add_argument(
        "--service-time",
        help="a workload by its service time, no run: seconds a task takes on one full vCPU, or a CSV "
        "file with a 'seconds' column (resampled)",
    )
    project.add_argument(
        "--invocation",
        choices=["lithops", "direct"],
        default="lithops",
        help="with --service-time: a Lithops map job (default) or synchronous HTTP calls",
    )
    project.add_argument(
        "--validate-published",
        action="store_true",
        help="predicted vs published end-to-end time of the serverless jobs in results/published/",
    )
    project.add_argument("--scenario", help="a named scenario on RUN: pattern-2019")
    add_coverage(project)
    project.add_argument("--json", action="store_true", help="print only a JSON list on stdout")
    project.set_defaults(func=cmd_project)


def add_plan_parser(sub) -> None:
    plan_ = sub.add_parser("plan", help="every option for N images: time, cost, how sure, one recommendation")
    add_runs(plan_, "the run to fit on (default: the newest run)")
    plan_.add_argument("--images", type=int, required=True, help="how many images to plan for")
    plan_.add_argument(
        "--platforms",
        type=_name_list,
        help="comma-separated: local, aws_lambda, ibm_cloud_functions, ibm_code_engine (default: all)",
    )
    plan_.add_argument("--budget-usd", type=float, help="recommend the fastest option under this cost")
    plan_.add_argument("--deadline-s", type=float, help="recommend the cheapest option within this time")
    plan_.add_argument("--memory-mb", type=float, help="function memory (default: one full vCPU's worth)")
    add_pricing(plan_)
    add_coverage(plan_)
    plan_.add_argument("--json", action="store_true", help="print only JSON on stdout")
    plan_.set_defaults(func=cmd_plan)


def add_claim_parser(sub) -> None:
    claim = sub.add_parser("claim", help="the pattern's 'up to 50x' on the seed subset, explained")
    add_runs(
        claim,
        "a run with the optimized kernel and one with the naive kernel (a missing kernel is taken from "
        "the newest run beside the first on the same dataset)",
    )
    claim.add_argument("--platform", default="ibm_cloud_functions", help="serverless platform projected")
    claim.add_argument("--memory-mb", type=float, help="function memory (default: one full vCPU's worth)")
    claim.add_argument("--price-book", help="TOML price book to use instead of the packaged one")
    claim.add_argument("--json", action="store_true", help="print only the table as a JSON list")
    claim.set_defaults(func=cmd_claim)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="facebench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (add_run_parser, add_data_parser, add_s3_parser, add_report_parser, add_compare_parser):
        add(sub)
    for add in (add_project_parser, add_plan_parser, add_claim_parser, add_train_parser):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "old_runs", None):  # --run, before positional runs: merged in the order given
        args.runs = [*args.old_runs, *args.runs]
    from bench.run.resume import install_signal_handlers

    install_signal_handlers()  # SIGTERM ends a run as Ctrl-C does
    try:
        return args.func(args)
    except UserError as exc:
        print(f"facebench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        run_dir = getattr(exc, "run_dir", None)
        where = f"; finish it with: facebench run --resume {run_dir}" if run_dir else ""
        print(f"facebench: interrupted; finished cases are in the run folder{where}", file=sys.stderr)
        return getattr(exc, "exit_status", 130)


if __name__ == "__main__":
    sys.exit(main())
