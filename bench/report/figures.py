"""Figures over a run's tables: one function per figure, each returning ``Plot(figure, caption)``.

Every function takes the tables of a run folder (``tasks``, ``runs``, the manifest, and where the
figure needs them the projection or the training metrics) and returns a matplotlib ``Figure`` and
a one-line caption that says what was measured, on which machine, over how many repeats and with
what spread. Where a figure depends on something the run does not hold (cost, a projection,
training), the function still returns a small figure and a caption that says plainly what is absent.

This module is the public face the report, the tests and the notebooks use
(``from bench.report import figures as plots``): it reads a run folder (``load_run``), lists and
draws every figure (``FIGURES``, ``all_figures``) and re-exports the figures, which live one module
per figure or family beside it:

- ``data``: ``RunData``, the ``STAGES`` list, the caption helpers (``describe``);
- ``style``: ``Plot``, the blank and "absent" figures, seaborn's style, an executor's colour;
- ``scaling``: 1-3, ``speedup``, ``efficiency``, ``throughput``;
- ``stages``: 4 and 6, ``stages`` (with ``stage_breakdown``) and ``service_time``;
- ``timeline``: 5, ``timeline`` of one case (``default_case``);
- ``cost``: 7, ``cost`` against time (``pareto_front``);
- ``projection``: 8, ``projection`` against the pattern's claim (``pattern_table``);
- ``training``: 9 and 10, ``training``, the trained model's held-out metrics, and ``pipeline``, where
  the time of the whole path to that model goes.

The notebooks call these functions; nothing here is copied there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bench import tables
from bench.analysis.statistics import case_summary
from bench.errors import UserError
from bench.report.cost import cost, pareto_front
from bench.report.data import DISPATCH, OTHER_IN_WORKER, STAGES, RunData, describe
from bench.report.projection import pattern_table, projection
from bench.report.scaling import efficiency, speedup, throughput
from bench.report.stages import TAIL_IDLE, service_time, stage_breakdown, stages
from bench.report.style import Plot
from bench.report.timeline import default_case, timeline
from bench.report.training import pipeline, training

__all__ = [
    "DISPATCH",
    "TAIL_IDLE",
    "FIGURES",
    "OTHER_IN_WORKER",
    "STAGES",
    "Plot",
    "RunData",
    "all_figures",
    "case_summary",
    "cost",
    "default_case",
    "describe",
    "efficiency",
    "load_run",
    "pareto_front",
    "pattern_table",
    "pipeline",
    "projection",
    "service_time",
    "speedup",
    "stage_breakdown",
    "stages",
    "throughput",
    "timeline",
    "training",
]


def load_run(path: str | Path) -> RunData:
    """Read a run folder (or the newest run under a folder of runs) for the figures."""
    run = tables.resolve_run(path)
    try:
        tasks, runs, manifest = tables.read_run(run)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the run in {run}: {exc}") from None
    projected = None
    if (run / "projection.parquet").is_file():
        projected = pd.read_parquet(run / "projection.parquet")
    metrics = None
    if (run / "train" / "metrics.json").is_file():
        metrics = json.loads((run / "train" / "metrics.json").read_text())
    return RunData(run, tasks, runs, manifest, projected, metrics)


# ---------------------------------------------------------------------------------------------------
# All of a run's figures, in the report's order


FIGURES = [
    "speedup",
    "efficiency",
    "throughput",
    "stages",
    "timeline",
    "service-time",
    "cost",
    "projection",
    "training",
    "pipeline",
]


def all_figures(
    data: RunData,
    case_id: str | None = None,
    repeat: int = 0,
    images: int | None = None,
    pattern_marks: bool = False,
) -> dict[str, Plot]:
    """Every figure of the report, by the name its files get; the projection for ``images`` (default:
    the largest the run's projection holds), with the pattern's figures only when asked."""
    t, r, m = data.tasks, data.runs, data.manifest
    return {
        "speedup": speedup(r, m),
        "efficiency": efficiency(r, m),
        "throughput": throughput(r, m),
        "stages": stages(t, r, m),
        "timeline": timeline(t, r, m, case_id=case_id, repeat=repeat),
        "service-time": service_time(t, m),
        "cost": cost(r, m),
        "projection": projection(r, m, data.projection, images=images, pattern_marks=pattern_marks),
        "training": training(data.training, m),
        "pipeline": pipeline(data.training, m),
    }
