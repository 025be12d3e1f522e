"""Interrupted runs: Ctrl-C and SIGTERM end a run cleanly; ``facebench run --resume RUN_DIR`` finishes it.

A run rewrites its tables atomically after every case and repeat, so whatever it finished is on disk
whatever stopped it (Ctrl-C, SIGTERM, the client killed, the power gone). Resuming reads the run
folder's manifest, rebuilds the same configuration (same dataset, executors, workers, chunk sizes,
kernel, repeats, retries, timeout) under the same run id, keeps the finished (case, repeat) rows and
runs only the missing ones (with ``--repeats auto``: finishes the round it stopped in, then goes on as
the stopping rule says, counting the budget already spent), checked against the reference already
on disk: the tables come out as an uninterrupted run's (same case ids, same output digests; timings
are the new ones' own).
"""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import pandas as pd

from bench import tables
from bench.errors import UserError
from bench.run import environment
from bench.run.repeats import AUTO
from bench.run.runner import REFERENCE, Run, RunConfig, RunResult


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM; ``exit_status`` is 128 + the signal's number (130, 143)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_status = 128 + signum


def install_signal_handlers() -> None:
    """SIGINT and SIGTERM raise :class:`Interrupted` once; a second one ends the process at once."""
    fired: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if fired:  # cleanup is taking too long for the user: stop now
            os._exit(128 + signum)
        fired.append(signum)
        raise Interrupted(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, handler)


def execute(run: Run) -> RunResult:
    """``run.execute()``; an interruption carries the run folder, for the one-line message."""
    try:
        return run.execute()
    except KeyboardInterrupt as exc:
        exc.run_dir = run.run_dir  # type: ignore[attr-defined]
        raise


def _read(run_dir: Path) -> tuple[dict, pd.DataFrame | None, pd.DataFrame | None]:
    import json

    try:
        manifest = json.loads((run_dir / "manifest.json").read_text())
    except FileNotFoundError:
        raise UserError(f"{run_dir} is not a run folder: it has no manifest.json") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {run_dir / 'manifest.json'}: {exc}") from None
    if (run_dir / "runs.parquet").is_file() and (run_dir / "tasks.parquet").is_file():
        return manifest, pd.read_parquet(run_dir / "tasks.parquet"), pd.read_parquet(run_dir / "runs.parquet")
    return manifest, None, None  # stopped before its first case finished


def resume_run(run_dir: str | Path, log: Callable[[str], None] = print, progress: bool = True) -> Run | None:
    """A Run that will finish what ``run_dir`` is missing; None where nothing is missing."""
    run_dir = Path(run_dir)
    manifest, tasks, runs = _read(run_dir)
    known = {f.name for f in dataclasses.fields(RunConfig)}
    saved = manifest.get("config") or {}
    config = RunConfig(**{k: v for k, v in saved.items() if k in known})
    config.progress = progress
    run = Run(config, log)  # validates, loads the dataset, preflights every executor
    images = manifest.get("dataset", {}).get("images")
    if images != len(run.dataset):
        raise UserError(
            f"the dataset {config.dataset} now holds {len(run.dataset)} images, the run started with "
            f"{images}: it cannot be resumed"
        )
    run.run_id, run.run_dir, run.resumed = manifest["run_id"], run_dir, True
    done: set[tuple[str, int]] = set()
    auto = config.repeats == AUTO
    if runs is not None and len(runs):
        done = {(str(c), int(r)) for c, r in zip(runs["case_id"], runs["repeat"], strict=True)}
    # auto: the rounds begun so far (the rule decides on more); else the count asked for
    rounds = (max((r for _, r in done), default=0) + 1) if auto else int(config.repeats)
    if done:
        wanted = {(c.case_id, r) for c in run.cases() for r in range(rounds)}
        if not done <= wanted:
            raise UserError(f"{run_dir} holds cases this configuration would not run: it cannot be resumed")
        pairs = pd.Series(list(zip(tasks["case_id"], tasks["repeat"].astype(int), strict=True)))
        tasks = tasks[pairs.isin(done).to_numpy()].reset_index(drop=True)
        if set(tasks["key"]) - set(run.dataset.keys):
            raise UserError(f"the dataset {config.dataset} changed since the run started: cannot resume")
        run.task_frames = [tasks]
        run.run_rows = runs.to_dict("records")
        for (kernel, repeat), ref in tasks[tasks["executor"] == REFERENCE].groupby(["kernel", "repeat"]):
            run.reference[(str(kernel), int(repeat))] = ref.reset_index(drop=True)
    run.done = done
    missing = [(c.case_id, r) for c in run.cases() for r in range(rounds) if (c.case_id, r) not in done]
    if not missing and (not auto or manifest.get("ended_at")):
        log(f"run {run.run_id} has every case already; nothing to resume")
        return None
    previous = {k: manifest[k] for k in ("started_at", "environment", "repeats") if k in manifest}
    run.manifest.update(run_id=run.run_id, **previous)
    run.manifest["resumed"] = list(manifest.get("resumed") or []) + [
        {
            "at": datetime.now(UTC).isoformat(),
            "cases_done": len(done),
            "cases_missing": len(missing),
            "environment": environment.describe(),
        }
    ]
    more = "; then rounds until every interval is within +-5% or the budget is spent" if auto else ""
    log(f"resuming run {run.run_id}: {len(done)} case(s) done, {len(missing)} to run{more}")
    return run


def finished(run_dir: str | Path) -> RunResult:
    """The tables of a run that needs nothing more."""
    tasks, runs, _ = tables.read_run(run_dir)
    return RunResult(Path(run_dir), tasks, runs)
