"""The tables' schemas (DESIGN.md) and their parquet I/O. Extra columns may follow the contract's."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

TASK_COLUMNS = [
    "run_id",
    "case_id",
    "repeat",
    "executor",
    "backend",
    "workers",
    "chunk_size",
    "kernel",
    "store",
    "key",
    "label",
    "status",
    "error",
    "worker",
    "pid",
    "host",
    "chunk_id",
    "cold_start",
    "t_submit",
    "t_start",
    "t_end",
    "fetch_s",
    "decode_s",
    "detect_s",
    "landmarks_s",
    "warp_s",
    "encode_s",
    "put_s",
    "bytes_in",
    "bytes_out",
    "output_sha256",
]
# Measured beside the contract's columns: model load paid by this image (cold start), its CPU time
# (its own thread's), the worker's peak resident memory when it finished, and the worker's
# proportional set size at the end of its chunk (pages shared copy-on-write counted by share: what a
# warm pool of forked workers really costs in memory).
# Where the kernel found the face, for quality across kernels (bench/analysis/quality.py): the chosen
# face's box (left, top, right, bottom), its eye centres (each the midpoint of the eye's two corners;
# "left" is the smaller x, as the synthetic generator's truth), and ``landmarks``, the points the
# kernel aligned on as JSON [[x, y], ...] in the order its manifest entry's ``points`` names (68-point
# indices). In input pixels; NaN and "" where no face was found.
FACE_COLUMNS = [
    "box_x0",
    "box_y0",
    "box_x1",
    "box_y1",
    "eye_left_x",
    "eye_left_y",
    "eye_right_x",
    "eye_right_y",
]
TASK_EXTRA_COLUMNS = ["model_load_s", "cpu_s", "worker_rss_mb", "worker_pss_mb", *FACE_COLUMNS, "landmarks"]
RUN_COLUMNS = [
    "run_id",
    "case_id",
    "repeat",
    "executor",
    "backend",
    "workers",
    "chunk_size",
    "kernel",
    "store",
    "images",
    "ok",
    "wall_s",
    "images_per_s",
    "speedup",
    "efficiency",
    "cost_usd",
    "cost_model",
    "cpu_s",
    "peak_rss_mb",
    "output_digest",
    "identical",
]
# The runner adds measured extras to runs (docs/architecture.md), among them the load during the case
# (bench/run/load.py): background_cpu, the CPU everything outside the run's process tree took, and
# steal_cpu, the VM's steal time, both in cores over the case's wall time.
STATUSES = ("ok", "no_face", "bad_input", "error")
STAGE_COLUMNS = ["fetch_s", "decode_s", "detect_s", "landmarks_s", "warp_s", "encode_s", "put_s"]

_FLOAT_COLUMNS = {c for c in TASK_COLUMNS + RUN_COLUMNS + TASK_EXTRA_COLUMNS if c.endswith("_s")} | {
    *FACE_COLUMNS,
    "t_submit",
    "t_start",
    "t_end",
    "images_per_s",
    "speedup",
    "efficiency",
    "cost_usd",
    "peak_rss_mb",
    "worker_rss_mb",
    "worker_pss_mb",
}


def _ordered(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    for column in columns:
        if column not in df.columns:
            df[column] = float("nan") if column in _FLOAT_COLUMNS else None
    extra = [c for c in df.columns if c not in columns]
    return df[columns + extra]


def tasks_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    return _ordered(pd.DataFrame.from_records(records), TASK_COLUMNS + TASK_EXTRA_COLUMNS)


def runs_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    df = _ordered(pd.DataFrame.from_records(records), RUN_COLUMNS)
    df["cost_usd"] = df["cost_usd"].astype("float64")
    df["cost_model"] = df["cost_model"].astype("string")
    return df


def write_atomic(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Atomically, zstd level 9, dictionary-encoding only the text columns: a float timing rarely
    repeats, so a dictionary page for it only adds bytes, and reference results are committed."""
    tmp = path.with_name(f".{path.name}.tmp")
    text = [str(c) for c in df.columns if df[c].dtype == object]
    df.to_parquet(tmp, index=False, compression="zstd", compression_level=9, use_dictionary=text)
    os.replace(tmp, path)


def write_json(obj: Any, path: Path) -> None:
    write_atomic(path, (json.dumps(obj, indent=2, default=str) + "\n").encode())


def read_run(run_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The three files of a run folder."""
    run = Path(run_dir)
    return (
        pd.read_parquet(run / "tasks.parquet"),
        pd.read_parquet(run / "runs.parquet"),
        json.loads((run / "manifest.json").read_text()),
    )


# --- run folders ------------------------------------------------------------------------------------

#: Where ``facebench run`` puts run folders, and where a run id or no run at all is looked up.
DEFAULT_RUNS = Path("results/runs")
_RUN_FILES = ("tasks.parquet", "runs.parquet")


def is_run(folder: Path) -> bool:
    return all((folder / name).is_file() for name in _RUN_FILES)


def _started(folder: Path) -> str:
    """When a run started, for 'the newest': the manifest's start time, else its id (ids sort by time)."""
    try:
        return json.loads((folder / "manifest.json").read_text()).get("started_at") or folder.name
    except (OSError, ValueError):
        return folder.name


def newest_run(folder: str | Path, where: Callable[[Path], bool] | None = None) -> Path | None:
    """The newest run folder directly under ``folder`` (by start time) that ``where`` accepts, if any:
    the one meaning of "the newest run", for ``resolve_run`` and for a command that searches."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    runs = sorted(
        (p for p in folder.iterdir() if p.is_dir() and is_run(p)),
        key=lambda p: (_started(p), p.name),
        reverse=True,
    )
    return next((p for p in runs if where is None or where(p)), None)


def resolve_run(text: str | Path | None, root: str | Path = DEFAULT_RUNS) -> Path:
    """The one rule every command uses to find a run.

    A run folder (tasks.parquet and runs.parquet in it); a report folder inside a run (its run); a
    folder of runs (the newest by start time); a run id under ``root``; or nothing (the newest run
    under ``root``). Anything else is a ``UserError`` that says what was expected.
    """
    from bench.errors import UserError

    candidates = [Path(root)] if text is None else [Path(text), Path(root) / str(text)]
    for candidate in candidates:
        if is_run(candidate):
            return candidate
        if (candidate / "index.html").is_file() and is_run(candidate.parent):
            return candidate.parent
        newest = newest_run(candidate)
        if newest is not None:
            return newest
    if text is None:
        raise UserError(f"no run under {root}; run `facebench run` first, or name a run folder")
    if not Path(text).exists():
        raise UserError(f"no run folder at {text} (nor a run id under {root})")
    raise UserError(
        f"{text} is not a run folder (expected tasks.parquet and runs.parquet in it, in its parent "
        "for a report folder, or in one of its subfolders)"
    )


def output_folder(run_dir: str | Path, kernel: str) -> Path:
    """Where a run keeps a kernel's reference crops: ``output/`` for the run's first kernel (the only
    one of most runs), ``output-<kernel>/`` for each other kernel of a run with several."""
    run = Path(run_dir)
    try:
        names = list(json.loads((run / "manifest.json").read_text()).get("kernels") or {})
    except (OSError, ValueError):
        names = []
    return run / ("output" if not names or kernel == names[0] else f"output-{kernel}")


def machine_label(manifest: dict) -> str:
    """The machine a run was measured on, as captions and summaries name it."""
    env = manifest.get("environment") or {}
    cpu = env.get("cpu_model") or "an unrecorded CPU"
    cores = env.get("cpu_count")
    memory = env.get("memory_gb")
    signature = env.get("cpu_signature") or ""  # "family 6 model 167 stepping 1; ..." where recorded
    model = signature.split(";")[0].split(" stepping")[0].removeprefix("family ").replace(" model ", "/")
    parts = [
        f"family/model {model}" if model else None,
        f"{cores} logical CPUs" if cores else None,
        f"{memory:g} GB" if memory else None,
    ]
    detail = ", ".join(p for p in parts if p)
    return f"{cpu} ({detail})" if detail else cpu
