"""Suite files: a benchmark matrix in TOML, expanded into one RunConfig per dataset.

Keys: name, datasets (list of dataset specs), list (optional list file), executors, workers (a list or
"cores" for 1..the machine's cores), chunk_sizes (integers or "auto"), kernels, stores (optional), repeats,
and any number of [[exclude]] tables whose fields (executor, workers, chunk_size, kernel; a value or a
list of values) remove matching cases. Relative paths are relative to the current folder, as on the
command line.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.run.runner import RunConfig

KNOWN_KEYS = {"name", "datasets", "list", "executors", "workers", "chunk_sizes", "kernels", "stores"}
KNOWN_KEYS |= {"repeats", "exclude"}
EXCLUDE_FIELDS = {"executor", "workers", "chunk_size", "kernel"}


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def load_suite(path: str | Path, out: str = "results/runs") -> list[RunConfig]:
    """One RunConfig per dataset and store, each carrying the suite's case matrix."""
    try:
        spec = tomllib.loads(Path(path).read_text())
    except OSError as exc:
        raise UserError(f"cannot read the suite file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"the suite file {path} is not valid TOML: {exc}") from None
    unknown = set(spec) - KNOWN_KEYS
    if unknown:
        raise UserError(
            f"the suite file {path} has unknown key(s) {sorted(unknown)}; known: {sorted(KNOWN_KEYS)}"
        )
    workers = spec.get("workers", "cores")
    if workers == "cores":
        workers = list(range(1, (os.cpu_count() or 1) + 1))
    try:
        chunk_sizes = [None if c == "auto" else int(c) for c in _as_list(spec.get("chunk_sizes", ["auto"]))]
        workers = [int(w) for w in _as_list(workers)]
        repeats = int(spec.get("repeats", 1))
    except (TypeError, ValueError):
        raise UserError(f"the suite file {path}: workers, chunk_sizes and repeats take integers") from None
    excludes = [dict(e) for e in spec.get("exclude", [])]
    for e in excludes:
        if not set(e) <= EXCLUDE_FIELDS:
            raise UserError(f"the suite file {path}: [[exclude]] takes only {sorted(EXCLUDE_FIELDS)}")
    configs = []
    for dataset in _as_list(spec.get("datasets", ["synthetic"])):
        for store in _as_list(spec.get("stores", [None])):
            config = RunConfig(
                dataset=dataset,
                list_file=spec.get("list"),
                executors=_as_list(spec.get("executors", RunConfig().executors)),
                workers=workers,
                chunk_sizes=chunk_sizes,
                kernels=_as_list(spec.get("kernels", ["optimized"])),
                exclude=excludes,
                repeats=repeats,
                store=store,
                out=out,
                suite=str(spec.get("name", Path(path).stem)),
            )
            config.validate()
            configs.append(config)
    return configs
