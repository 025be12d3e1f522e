"""dask.distributed: a LocalCluster of single-threaded worker processes, or an existing cluster.

On an existing cluster every worker thread is a slot (``dask worker`` starts one thread per core by
default); the kernel keeps one set of models per thread (pipelines/faces.py), so a multi-threaded
worker is safe. No more than ``workers`` chunks are ever in flight: the client submits the next chunk
only when one has come back, and leaves the choice of worker to the scheduler, so a worker that dies
and comes back at a new address (its nanny restarts it) gets work again instead of leaving tasks
pinned to an address that is gone. Every case starts cold: before the clock, the runner has each
worker process of an existing cluster forget its models (``run_on_workers``), as the in-process
sequential case does.

When a worker process dies, its nanny starts a new one. The LocalCluster's scheduler is told to give up
on a task at the first worker death (``allowed-failures`` 0): the task comes back as ``KilledWorker``
and the harness resubmits it within its own ``--retries`` budget, which the runs table counts
(bench/faults.py). An existing cluster keeps its own setting (Dask's default reruns a task on another
worker up to 3 times, silently) and the harness's retries come on top of it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from bench.errors import UserError
from bench.executors.base import Billing, Executor

#: Where a LocalCluster listens: this machine's loopback, never every interface.
LOOPBACK = "127.0.0.1"
#: Worker deaths a LocalCluster's scheduler absorbs before it fails a task (KilledWorker).
ALLOWED_FAILURES = 0


def on_loopback(address: str) -> bool:
    """Whether a scheduler address (tcp://127.0.0.1:8786, localhost:8786, tcp://[::1]:8786) is this
    machine's loopback."""
    host = urlsplit(address if "://" in address else f"tcp://{address}").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class DaskExecutor(Executor):
    """With ``scheduler`` set, runs on that cluster's worker threads, at most ``workers`` at once."""

    name = "dask"
    can_start_warm = True  # warm: every worker process loads the models when it starts, before the clock

    def __init__(self, workers: int, scheduler: str | None = None, connect_timeout_s: float = 10.0) -> None:
        super().__init__(workers)
        self.scheduler = scheduler
        self.connect_timeout_s = connect_timeout_s
        self._cluster = None
        self._client = None
        self._cluster_threads: int | None = None  # an existing cluster's worker threads, once connected

    @classmethod
    def from_settings(cls, workers: int, settings: Mapping[str, Any]) -> DaskExecutor:
        return cls(workers, scheduler=settings.get("dask_scheduler"))

    @property
    def backend(self) -> str:
        return self.scheduler or "LocalCluster"

    @classmethod
    def billing_for(cls, backend: str) -> Billing:
        """A LocalCluster, or a cluster whose scheduler is on loopback, is this machine, priced as such;
        any other cluster runs on machines elsewhere (priced only as the machine the user names)."""
        return Billing() if backend == "LocalCluster" or on_loopback(backend) else Billing("remote")

    def describe(self) -> dict[str, Any]:
        """The manifest's record; on an existing cluster, its worker threads (its slots in all)."""
        described = super().describe()
        if self._cluster_threads is not None:
            described["cluster_threads"] = self._cluster_threads
        return described

    def preflight(self) -> None:
        """An existing cluster is reachable and has the worker threads asked for, before any work."""
        if self.scheduler is not None:
            client = self._connect()
            try:
                self._check_threads(client)
            finally:
                client.close()

    def _check_threads(self, client) -> None:
        threads = sum(
            info.get("nthreads", 1) for info in client.scheduler_info(n_workers=-1)["workers"].values()
        )
        self._cluster_threads = threads
        if threads < self.workers:
            raise UserError(
                f"the Dask cluster at {self.scheduler} has {threads} worker thread(s), "
                f"fewer than the {self.workers} asked for"
            )

    def _connect(self):
        from distributed import Client

        try:
            return Client(self.scheduler, timeout=f"{self.connect_timeout_s}s")
        except OSError as exc:
            raise UserError(
                f"cannot reach the Dask scheduler at {self.scheduler} ({exc}); is `dask scheduler` running?"
            ) from None

    def start(self) -> None:
        from distributed import Client, LocalCluster

        if self.scheduler is None:
            import dask

            with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
                self._cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    # this machine only: the scheduler, the workers and their dashboards on loopback
                    # (None still binds port 8787; a free port binds nothing fixed)
                    host=LOOPBACK,
                    dashboard_address=f"{LOOPBACK}:0",
                    silence_logs=logging.ERROR,
                )
            self._client = Client(self._cluster)
            self._warm_up()
            return
        self._client = self._connect()
        try:
            self._check_threads(self._client)
        except UserError:
            self.close()
            raise
        self._warm_up()

    def _warm_up(self) -> None:
        if self.worker_setup is not None:
            self._client.run(self.worker_setup)
        if self.warm_load is not None:
            from bench.executors.dask_warm import WarmModels  # distributed's import only when used

            self._client.register_plugin(WarmModels(self.warm_load))

    def run_on_workers(self, fn: Callable[[], Any]) -> None:
        """An existing cluster's worker processes outlive a case: run ``fn`` in each of them."""
        if self.scheduler is not None:
            self._client.run(fn)

    def close(self) -> None:
        if self._client is not None and self.warm_load is not None and self.scheduler is not None:
            from bench.executors.dask_warm import WARM_PLUGIN

            with contextlib.suppress(Exception):  # leave an existing cluster as it was found
                self._client.unregister_worker_plugin(WARM_PLUGIN)
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def map_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed

        pending = iter(enumerate(items))
        index: dict[str, int] = {}

        def submit_next(window) -> None:
            for i, item in pending:
                future = self._client.submit(fn, item, pure=False)
                index[future.key] = i
                window.add(future)
                return

        window = as_completed()
        for _ in range(self.workers):  # at most `workers` chunks in flight, whatever the cluster's size
            submit_next(window)
        for future in window:
            exc = future.exception()
            yield index.pop(future.key), exc if exc is not None else future.result()
            future.release()
            submit_next(window)
