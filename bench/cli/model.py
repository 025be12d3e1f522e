"""facebench project, plan and claim: the scaling model's answers. Each command parses, calls the
analysis that computes its rows, and prints the table that analysis formats."""

from __future__ import annotations

import argparse
import sys

from bench.cli.grammar import (
    add_coverage,
    add_executors,
    add_pricing,
    add_runs,
    chunk_list,
    int_list,
    name_list,
    one_value,
    per_chunk,
    price_book_and_machine,
    print_json,
)
from bench.errors import UserError


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
        "--workers", type=int_list, default=[1, 2, 4, 8, 16, 64, 256, 1000], help="comma-separated"
    )
    project.add_argument("--images", type=int, help="images to project (default: the run's)")
    project.add_argument(
        "--platform", default="local", help="local, aws_lambda, ibm_cloud_functions, ibm_code_engine"
    )
    project.add_argument(
        "--chunk-size",
        type=chunk_list,
        default=[None],
        help="images per call, comma-separated; 'auto' (default) as facebench run chooses",
    )
    project.add_argument("--kernel", type=name_list, help="comma-separated kernels (default: the run's)")
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
        type=name_list,
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
    add_coverage(claim)
    claim.set_defaults(func=cmd_claim)


def cmd_project(args: argparse.Namespace) -> int:
    """Fit the scaling model on a run; project it (table + projection.parquet) or validate it."""
    from bench import tables
    from bench.analysis import plan
    from bench.model import errors, projection, validation
    from bench.model.calibration import fit, read_run
    from bench.model.platforms import PLATFORMS, platform_limits

    if args.validate_published or args.service_time is not None or args.scenario:
        return _project_published(args)
    run_dir = tables.resolve_run(one_value(args.runs, "RUN"))
    tasks, runs, manifest = read_run(run_dir)
    if args.validate:
        table = errors.held_out_intervals(validation.validate(tasks, runs, manifest), args.coverage)
        summary = validation.validation_summary(table)
        if args.json:
            return print_json(
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
        book, machine = price_book_and_machine(args)
        platform = platform_limits(book, args.platform, args.memory_mb)
        model = fit(tasks, runs, manifest, machine=machine)
        for kernel in kernels:
            model.dist(kernel)
    except (OSError, KeyError, ValueError) as exc:
        raise UserError(str(exc).strip("'\"")) from None
    images = args.images or int(manifest.get("dataset", {}).get("images") or len(tasks["key"].unique()))
    table = per_chunk(
        projection.project, args.chunk_size, model=model, executors=executors, workers=args.workers,
        images=images, kernels=kernels, platform=platform, book=book,
    )  # fmt: skip
    table = plan.prediction_intervals(
        table, model, tasks, runs, manifest, book, coverage=args.coverage, label=str(run_dir)
    )
    path = projection.store_projection(run_dir, table)
    if args.json:
        return print_json(projection.json_rows(table))
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
        direct = published.validate_direct(book)
        direct_summary = published.direct_summary(direct)
        if args.json:
            return print_json(
                {
                    "jobs": json_rows(table),
                    "summary": summary,
                    "direct": json_rows(direct),
                    "direct_summary": direct_summary,
                }
            )
        print(published.format_published(table, summary))
        print("\n" + published.format_direct(direct, direct_summary))
        return 0
    if args.scenario:
        if args.scenario not in scenarios.SCENARIOS:
            raise UserError(f"--scenario takes one of {', '.join(scenarios.SCENARIOS)}")
        run_dir = tables.resolve_run(one_value(args.runs, "RUN"))
        tasks, runs, manifest = read_run(run_dir)
        try:
            result = scenarios.SCENARIOS[args.scenario](fit(tasks, runs, manifest), book)
        except (KeyError, ValueError) as exc:
            raise UserError(f"{str(exc).strip(chr(34) + chr(39))}: give a run with a naive case") from None
        if args.json:
            return print_json({"rows": json_rows(result["rows"]), "terms": result["terms"]})
        print(scenarios.format_scenario(result, run_dir))
        return 0
    if args.platform not in SERVERLESS_PLATFORMS:
        raise UserError(f"--service-time needs a serverless --platform: {', '.join(SERVERLESS_PLATFORMS)}")
    if args.images is None or args.images < 1 or min(args.workers) < 1:
        raise UserError("--service-time needs --images N and positive --workers")
    try:
        platform = platform_limits(book, args.platform, args.memory_mb)
        seconds = workload.service_times(args.service_time)
        table = per_chunk(
            workload.project_workload, args.chunk_size, seconds=seconds, platform=platform,
            workers=args.workers, images=args.images, invocation=args.invocation, book=book,
        )  # fmt: skip
    except (OSError, ValueError) as exc:
        raise UserError(str(exc)) from None
    if args.json:
        return print_json(json_rows(table))
    print(workload.format_workload(table, platform))
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    """Every option for N images, with time, cost, their intervals and how far to trust them."""
    import json

    from bench import tables
    from bench.analysis import plan
    from bench.analysis.frontier import load_downstream
    from bench.model.calibration import read_run
    from bench.model.projection import json_rows

    if args.images < 1:
        raise UserError("--images takes a positive integer")
    for flag, value in (("--budget-usd", args.budget_usd), ("--deadline-s", args.deadline_s)):
        if value is not None and not value > 0:
            raise UserError(f"{flag} takes a positive number")
    run_dir = tables.resolve_run(one_value(args.runs, "RUN"))
    tasks, runs, manifest = read_run(run_dir)
    question = plan.Question(args.images, args.budget_usd, args.deadline_s)
    metrics = run_dir / "train" / "metrics.json"
    training = json.loads(metrics.read_text()) if metrics.is_file() else None
    try:
        book, machine = price_book_and_machine(args)
        ranked = plan.ranked_options(
            tasks, runs, manifest, book, question, platforms=args.platforms, memory_mb=args.memory_mb,
            machine=machine, training=training, downstream=load_downstream(), coverage=args.coverage,
        )  # fmt: skip
    except (OSError, KeyError, ValueError) as exc:
        raise UserError(str(exc).strip("'\"")) from None
    if args.json:
        return print_json({"question": question.asked, "options": json_rows(ranked[plan.JSON_COLUMNS])})
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
        args.runs or None,
        platform=args.platform,
        memory_mb=args.memory_mb,
        price_book=args.price_book,
        coverage=args.coverage,
    )
    csv_path, json_path = claim.store_claim(result)
    if args.json:
        return print_json(json_rows(result["table"]))
    print(claim.format_claim(result))
    print(f"\n{csv_path}\n{json_path}")
    return 0
