"""facebench report and facebench compare: a run's page, and two runs side by side."""

from __future__ import annotations

import argparse

from bench.cli.grammar import (
    add_runs,
    name_list,
    one_value,
)
from bench.errors import UserError


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
        type=name_list,
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


def cmd_report(args: argparse.Namespace) -> int:
    from bench.report.page import write_report

    run = one_value(args.runs, "RUN")
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
