"""A run's figures, together: read a run folder (``load_run``), list (``FIGURES``) and draw every figure
(``all_figures``), in the report's order.

Each figure lives in its own module beside this one, one function per figure returning
``Plot(figure, caption)`` from a run's tables: ``scaling`` (1-3: ``speedup``, ``efficiency``,
``throughput``), ``stages`` (4 and 6: ``stages``, ``stage_breakdown``, ``service_time``), ``timeline``
(5), ``cost`` (7, against time, with the Pareto front), ``projection`` (8, against the pattern's claim;
``pattern_table``) and ``training`` (9: the held-out metrics; 10: ``pipeline``, where the time of the
whole path to the model goes) and ``frontier`` (11: speed and cost against accuracy per kernel x
executor, with the Pareto front); ``data`` holds ``RunData``, the stage list and the caption
helpers (``describe``), ``style`` the ``Plot`` and the "absent" figures. Where a figure needs what the
run does not hold (cost, a projection, training), it still returns a small figure and a caption that
says plainly what is absent. The notebooks import these functions; nothing is copied there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bench import tables
from bench.analysis.frontier import load_downstream
from bench.errors import UserError
from bench.report.cost import cost
from bench.report.data import RunData
from bench.report.frontier import frontier
from bench.report.projection import projection
from bench.report.scaling import efficiency, speedup, throughput
from bench.report.stages import service_time, stages
from bench.report.style import Plot
from bench.report.timeline import timeline
from bench.report.training import pipeline, training


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
    quality = pd.read_parquet(run / "quality.parquet") if (run / "quality.parquet").is_file() else None
    return RunData(run, tasks, runs, manifest, projected, metrics, quality, load_downstream())


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
    "frontier",
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
        "frontier": frontier(r, m, data.training, data.quality, data.downstream),
    }
