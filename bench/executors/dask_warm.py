"""The Dask worker plugin of a warm case, apart from dask.py so that reading what the Dask executor
declares (the analysis of a saved run does) does not import distributed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

#: Its name, for unregistering it from an existing cluster afterwards.
WARM_PLUGIN = "facebench-warm-models"


class WarmModels(WorkerPlugin):
    """Loads one set of models per worker thread when a worker starts (a worker the nanny restarts
    included), so that a warm case's workers have them before the clock, locally and remotely alike."""

    name = WARM_PLUGIN

    def __init__(self, load: Callable[[int], Any]) -> None:
        self.load = load

    def setup(self, worker: Any) -> None:
        self.load(worker.state.nthreads)
