"""Calibrated scaling model: fit from a run's ``tasks`` table, simulate, project, validate.

One name for callers (``from bench.analysis import model as scaling``) over the modules that hold
each part: :mod:`~bench.analysis.calibration` (the fit), :mod:`~bench.analysis.platforms` (limits from
the price book), :mod:`~bench.analysis.simulator` (the schedule), :mod:`~bench.analysis.projection`
(cases played forward, projection.parquet) and :mod:`~bench.analysis.validation`.
"""

from __future__ import annotations

from bench.analysis.calibration import COMPUTE_STAGES, Model, Overheads, ServiceDist, fit, read_run
from bench.analysis.platforms import PLATFORMS, SERVERLESS_PLATFORMS, Platform, platform_limits
from bench.analysis.projection import Prediction, json_rows, predict_case, project, store_projection
from bench.analysis.simulator import Schedule, schedule
from bench.analysis.validation import validate, validation_summary

__all__ = [
    "COMPUTE_STAGES",
    "PLATFORMS",
    "SERVERLESS_PLATFORMS",
    "Model",
    "Overheads",
    "Platform",
    "Prediction",
    "Schedule",
    "ServiceDist",
    "fit",
    "json_rows",
    "platform_limits",
    "predict_case",
    "project",
    "read_run",
    "schedule",
    "store_projection",
    "validate",
    "validation_summary",
]
