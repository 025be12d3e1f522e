"""facebench: how much faster face preprocessing gets on a process pool, a Dask cluster or serverless
functions, what it costs, and why.

The command line. Each subcommand is one function; errors a user can fix are one line.

One module per family of commands (run, data, report, model, train), each with its parser and its
command functions; grammar.py holds what they share. ``python -m bench.cli`` runs it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bench.cli.data import add_data_parser, add_s3_parser
from bench.cli.grammar import Parser
from bench.cli.model import add_claim_parser, add_plan_parser, add_project_parser
from bench.cli.report import add_compare_parser, add_report_parser
from bench.cli.run import add_run_parser
from bench.cli.train import add_train_parser
from bench.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="facebench", description=__doc__.split("\n\n")[0])
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
