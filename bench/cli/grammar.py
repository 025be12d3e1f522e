"""The one grammar every command shares: the same flag means the same thing everywhere, takes a list
wherever a list makes sense, and a refused command line is one line and exit status 2.

Runs are positional everywhere (a run folder, a report folder, a folder of runs meaning the newest, or a
run id under results/runs); --run and --executor still work, with a note."""

from __future__ import annotations

import argparse
import math
import sys
from typing import NoReturn

from bench.errors import UserError
from bench.executors import BUILTIN


def int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def repeats_count(text: str) -> int | str:
    if text.strip() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a whole number, got {text!r}") from None


def chunk_list(text: str) -> list[int | None]:
    try:
        return [None if p.strip() == "auto" else int(p) for p in text.split(",") if p.strip()] or [None]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers or 'auto', got {text!r}") from None


def name_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


class Deprecated(argparse.Action):
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
        type=name_list,
        help=f"{help_}: comma-separated, from {names}, package.module:Class or an installed entry point"
        + ("; exactly one" if one else ""),
    )
    parser.add_argument(
        "--executor",
        dest="executors",
        type=name_list,
        action=Deprecated,
        new="--executors",
        help=argparse.SUPPRESS,
    )


def add_runs(parser: argparse.ArgumentParser, help_: str) -> None:
    parser.add_argument("runs", nargs="*", metavar="RUN", help=help_)
    parser.add_argument(
        "--run",
        dest="old_runs",
        action=Deprecated,
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


def coverage_share(text: str) -> float:
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
        type=coverage_share,
        default=0.9,
        help="the prediction intervals' coverage, from the model's held-out errors (default 0.9)",
    )


def one_value(values: list | None, flag: str):
    """The single value of a list-valued option where the command takes one."""
    if not values:
        return None
    if len(values) != 1:
        raise UserError(f"{flag} takes one value here, got {len(values)}")
    return values[0]


def price_book_and_machine(args: argparse.Namespace):
    """--price-book, --machine and --price-per-hour, read once: the book, and what local cases are
    priced as (None: the run's own machine)."""
    from bench.analysis.billing import choose_machine
    from bench.analysis.pricebook import load_price_book

    book = load_price_book(args.price_book)
    if not args.machine and args.price_per_hour is None:
        return book, None
    return book, choose_machine(book, name=args.machine, per_hour=args.price_per_hour)


def per_chunk(project, chunk_sizes: list[int | None], **kwargs):
    """One projected table over every --chunk-size."""
    import pandas as pd

    return pd.concat([project(chunk_size=chunk, **kwargs) for chunk in chunk_sizes], ignore_index=True)


def print_json(value) -> int:
    import json

    print(json.dumps(value))
    return 0


class Parser(argparse.ArgumentParser):
    """A command line argparse refuses is one line and exit status 2, like every other user error:
    no usage block before it (its subcommands' parsers are of this class too)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"facebench: error: {message} (see: {self.prog} --help)\n")
