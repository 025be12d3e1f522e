"""Suite files: a benchmark matrix in TOML, expanded into one RunConfig per dataset and store.

Matrix keys: name, datasets (list of dataset specs), list (optional list file), executors, workers (a
list or "cores" for 1..the machine's cores), chunk_sizes (integers or "auto"), kernels, starts (cold,
warm), stores (optional; or store, one), repeats (a number, default 1, or "auto": rounds until every
interval is within +-5% or budget_s seconds are spent), and any number of [[exclude]] tables whose fields
(executor, workers, chunk_size, kernel, start; a value or a list of values) remove matching cases.
Settings keys, one value for every case: those of SETTINGS below, named as RunConfig names them. A flag
given to ``facebench run --suite`` wins over the suite's key (``overrides``), so that a suite meant for
one backend is pointed at another without editing it and no flag is dropped. Relative paths are
relative to the current folder, as on the command line.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.run.repeats import AUTO
from bench.run.runner import RunConfig
from pipelines.kernels import FAITHFUL

#: Settings a suite may give once for all of its cases, with the TOML types each takes.
SETTINGS: dict[str, tuple[type, ...]] = {
    "dask_scheduler": (str,),
    "lithops_config": (str,),
    "endpoint": (str,),
    "price_book": (str,),
    "machine": (str,),
    "price_per_hour": (int, float),
    "retries": (int,),
    "task_timeout": (int, float),
    "budget_s": (int, float),
    "keep_outputs": (bool,),
    "warmup": (bool,),
}
MATRIX_KEYS = {"name", "datasets", "list", "executors", "workers", "chunk_sizes", "kernels", "starts"}
KNOWN_KEYS = MATRIX_KEYS | {"stores", "store", "repeats", "exclude"} | set(SETTINGS)
EXCLUDE_FIELDS = {"executor", "workers", "chunk_size", "kernel", "start"}


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _read(path: str | Path) -> dict[str, Any]:
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
    for key, types in SETTINGS.items():
        value = spec.get(key)
        wrong = not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
        if value is not None and wrong:
            names = " or ".join(t.__name__ for t in types)
            raise UserError(f"the suite file {path}: {key} takes one {names}, got {value!r}")
    if "store" in spec and "stores" in spec:
        raise UserError(f"the suite file {path}: give store (one) or stores (a list), not both")
    return spec


def load_suite(
    path: str | Path, out: str = "results/runs", overrides: Mapping[str, Any] | None = None
) -> list[RunConfig]:
    """One RunConfig per dataset and store, each carrying the suite's case matrix and settings.

    ``overrides`` are RunConfig fields given on the command line; each replaces the suite's own key
    (``dataset`` and ``store`` replace the lists ``datasets`` and ``stores``) in every configuration.
    """
    spec = _read(path)
    overrides = dict(overrides or {})
    workers = spec.get("workers", "cores")
    if workers == "cores":
        workers = list(range(1, (os.cpu_count() or 1) + 1))
    try:
        chunk_sizes = [None if c == "auto" else int(c) for c in _as_list(spec.get("chunk_sizes", ["auto"]))]
        workers = [int(w) for w in _as_list(workers)]
        repeats = spec.get("repeats", 1)
        repeats = AUTO if repeats == AUTO else int(repeats)
    except (TypeError, ValueError):
        raise UserError(
            f'the suite file {path}: workers and chunk_sizes take integers, repeats an integer or "auto"'
        ) from None
    excludes = [dict(e) for e in spec.get("exclude", [])]
    for e in excludes:
        if not set(e) <= EXCLUDE_FIELDS:
            raise UserError(f"the suite file {path}: [[exclude]] takes only {sorted(EXCLUDE_FIELDS)}")
    common = {key: spec[key] for key in SETTINGS if key in spec}
    common.update(
        list_file=spec.get("list"),
        executors=_as_list(spec.get("executors", RunConfig().executors)),
        workers=workers,
        chunk_sizes=chunk_sizes,
        kernels=_as_list(spec.get("kernels", [FAITHFUL])),
        starts=_as_list(spec.get("starts", ["cold"])),
        exclude=excludes,
        repeats=repeats,
        out=out,
        suite=str(spec.get("name", Path(path).stem)),
    )
    datasets = _as_list(spec.get("datasets", ["synthetic"]))
    stores = _as_list(spec.get("stores", spec.get("store")))
    if "dataset" in overrides:
        datasets = [overrides.pop("dataset")]
    if "store" in overrides:
        stores = [overrides.pop("store")]
    common.update(overrides)
    configs = []
    for dataset in datasets:
        for store in stores:
            config = RunConfig(dataset=dataset, store=store, **common)
            config.validate()
            configs.append(config)
    return configs
