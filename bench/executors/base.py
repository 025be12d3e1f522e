"""The executor interface: start workers, run one function over many items, yield results as they land."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar


class Executor(ABC):
    """``workers`` parallel slots; used as a context manager so that pools and clusters are cleaned up.

    ``start`` brings the workers up (outside the timed region); ``map_unordered`` yields
    ``(index, result)`` pairs in completion order, where a failed item's result is the exception.
    """

    name: ClassVar[str]
    #: Runs the function in the client process (so the client's loaded state is the worker's).
    in_process: ClassVar[bool] = False

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers

    @property
    def backend(self) -> str:
        """Where the work runs, for the tables (e.g. 'spawn', 'LocalCluster', 'localhost')."""
        return "local"

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
