"""The executor interface, and what an executor declares about itself.

An executor starts workers, runs one function over many items and yields results as they land. Like
joblib's parallel backends (``effective_n_jobs``, ``compute_batch_size``), it also says what the rest
of the harness needs to know about it, so that chunking, pricing, the scaling model and the figures
ask the executor and never a table of names. An executor that declares nothing gets the defaults
below: four chunks per worker, every worker a process of its own that loads the models once, as
many slots as workers, priced as the local machine, cold starts only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Billing:
    """How a case is billed: ``machine`` (this machine's hourly price for the wall time),
    ``remote`` (machines elsewhere, e.g. a Dask cluster: priced only as the machine the user names),
    ``serverless`` (one bill line per call on a price-book ``platform``) or ``unpriced``."""

    kind: str = "machine"
    platform: str | None = None  # the price book's serverless platform, for kind "serverless"
    bills_requests: bool = True  # whether the platform's per-request fee applies to these calls
    memory_mb: float | None = None  # the memory the functions were configured with (serverless)
    vcpu: float | None = None  # the vCPU they were configured with, where the platform bills it

    def __post_init__(self) -> None:
        if self.kind not in ("machine", "remote", "serverless", "unpriced"):
            raise ValueError(
                f"billing kind must be machine, remote, serverless or unpriced, not {self.kind!r}"
            )


@dataclass(frozen=True)
class Traits:
    """What one executor is, as recorded in a run's manifest and read back by the analysis."""

    name: str
    cls: str  # module:Class
    chunks_per_worker: int = 4
    fresh_process_per_call: bool = False
    in_process: bool = False
    can_start_warm: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Traits:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


class Executor(ABC):
    """``workers`` parallel slots; used as a context manager so that pools and clusters are cleaned up.

    ``start`` brings the workers up (outside the timed region); ``map_unordered`` yields
    ``(index, result)`` pairs in completion order, where a failed item's result is the exception.
    """

    name: ClassVar[str]
    #: Default chunking: the images are cut into about ``workers x chunks_per_worker`` tasks.
    chunks_per_worker: ClassVar[int] = 4
    #: Every call runs in a fresh process, so every call pays the model load (serverless functions).
    fresh_process_per_call: ClassVar[bool] = False
    #: Runs the function in the client process (so the client's loaded state is the worker's).
    in_process: ClassVar[bool] = False
    #: Whether workers can have the models loaded before the clock starts (``warm_load``). False by
    #: default: an executor that does not load them would be labelled warm while it ran cold.
    can_start_warm: ClassVar[bool] = False
    #: A worker's death takes only its own chunk (no pool to rebuild), so retries can stay parallel.
    isolates_failures: ClassVar[bool] = False

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        #: Set by the runner before ``start`` for a warm case: ``warm_load(n)`` loads n sets of
        #: models in the calling process. ``start`` must then leave every worker with them loaded.
        self.warm_load: Callable[[int], Any] | None = None
        #: Set by the runner before ``start``: run once in every worker process before the clock
        #: (imports, connections), so that workers start where the in-process case starts.
        self.worker_setup: Callable[[], Any] | None = None

    @classmethod
    def from_settings(cls, workers: int, settings: Mapping[str, Any]) -> Executor:
        """Build from a run's settings (``dask_scheduler``, ``lithops_config``, ``store``, ...); each
        executor takes what concerns it. The default takes nothing."""
        return cls(workers)

    @property
    def backend(self) -> str:
        """Where the work runs, for the tables (e.g. 'spawn', 'LocalCluster', 'localhost')."""
        return "local"

    @property
    def slots(self) -> int:
        """How many tasks can really run at once on what this executor was given."""
        return self.workers

    @classmethod
    def billing_for(cls, backend: str) -> Billing:
        """How a case on ``backend`` is billed; the default: as the machine it ran on."""
        return Billing()

    @property
    def billing(self) -> Billing:
        return type(self).billing_for(self.backend)

    def billed_durations_s(self) -> list[float] | None:
        """The durations the platform bills for every call this executor made (a case's retried
        chunks included: each attempt is billed), where it knows them (a serverless platform's own
        accounting); None: the runner uses the chunks' spans from the workers' clocks."""
        return None

    @classmethod
    def traits(cls) -> Traits:
        return Traits(
            name=cls.name,
            cls=f"{cls.__module__}:{cls.__qualname__}",
            chunks_per_worker=cls.chunks_per_worker,
            fresh_process_per_call=cls.fresh_process_per_call,
            in_process=cls.in_process,
            can_start_warm=cls.can_start_warm,
        )

    def describe(self) -> dict[str, Any]:
        """What the manifest records of this executor's configuration (never credentials)."""
        return {"backend": self.backend, "slots": self.slots}

    def run_on_workers(self, fn: Callable[[], Any]) -> None:  # noqa: B027 - optional hook
        """Run ``fn`` in every worker process before the clock starts, where workers outlive a case (an
        existing cluster); the default starts fresh workers for every case, so there is nothing to do."""

    def preflight(self) -> None:  # noqa: B027 - optional hook
        """Check configuration that can be checked before any work starts; raise UserError."""

    def start(self) -> None:  # noqa: B027 - optional hook
        """Bring workers up; the default has nothing to start."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release workers; the default has nothing to release."""

    @abstractmethod
    def map_unordered(
        self, fn: Callable[[Any], Any], items: Sequence[Any]
    ) -> Iterator[tuple[int, Any | BaseException]]: ...

    def __enter__(self) -> Executor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
