"""A face kernel: what it declares, and the per-image loop every kernel shares.

A kernel is a subclass of :class:`Kernel` with two methods, ``load`` (its models, once) and ``align``
(one decoded image to a result and a crop), and class attributes that declare what the harness needs
to know without running it: its name and version, the models it loads, the faithful kernel it
approximates, what its output is, whether it loads its models for every image, and which landmarks
it aligns on. The harness records these in every run's manifest and never asks for a kernel by name.

Models are kept in a pool per kernel and process: dlib's detectors and shape predictors keep scratch
state and are not safe to share between threads (a multi-threaded Dask worker crashed with SIGSEGV
when they were), so each image leases one set. A process with one thread holds one set; a worker
with N threads at most N. ``unload`` (from any thread) makes every later image pay a load again, as a
fresh worker would; ``preload`` loads them before the clock, for a warm start (or before a fork, to
share them).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np

from pipelines import faces
from pipelines.faces import STAGES, BadInput, FaceResult
from pipelines.kernels import FAITHFUL


class Kernel:
    """Image bytes in, one :class:`FaceResult` out; subclasses give ``load`` and ``align``."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    #: What ``load`` builds: model files of face-recognition-models, or a detector built into dlib.
    models: ClassVar[tuple[str, ...]] = ()
    approximates: ClassVar[str] = FAITHFUL
    #: What the crop is: "openface180" (openface's 180x180 affine crop) or "chip150" (dlib's face chip).
    output: ClassVar[str] = "openface180"
    #: The 68-point indices of the landmarks ``FaceResult.landmarks`` holds, in that order.
    points: ClassVar[tuple[int, ...]] = ()
    #: Builds its models for every image (a cold start in every image; never starts warm).
    loads_per_image: ClassVar[bool] = False
    #: Gives the kernel it approximates byte for byte (checked against that kernel's reference).
    reproduces: ClassVar[bool] = False

    def __init__(self) -> None:
        self._pool: list[Any] = []
        self._lock = threading.Lock()
        self._generation = 0

    @classmethod
    def can_start_warm(cls) -> bool:
        return not cls.loads_per_image

    @classmethod
    def declaration(cls) -> dict[str, Any]:
        """What the run's manifest records under ``kernels``: all the analysis of a saved run needs."""
        return {
            "name": cls.name,
            "version": cls.version,
            "cls": f"{cls.__module__}:{cls.__qualname__}",
            "models": list(cls.models),
            "approximates": cls.approximates,
            "output": cls.output,
            "points": list(cls.points),
            "loads_per_image": cls.loads_per_image,
            "can_start_warm": cls.can_start_warm(),
            "reproduces": cls.reproduces,
        }

    # --- what a kernel implements -------------------------------------------------------------------

    def load(self) -> Any:
        """The kernel's models, built now."""
        raise NotImplementedError

    def align(self, models: Any, image: np.ndarray, timings: dict[str, float]) -> tuple[FaceResult, Any]:
        """Detect, find landmarks, warp one decoded BGR image: the result and the crop (None if none),
        filling ``timings`` for detect, landmarks and warp."""
        raise NotImplementedError

    def read(self, data: bytes) -> np.ndarray:
        return faces.decode(data)

    def write(self, crop: np.ndarray) -> bytes:
        return faces.encode(crop)

    # --- the shared loop ----------------------------------------------------------------------------

    def process(self, data: bytes) -> FaceResult:
        """One image's bytes to its result; every failure is a status, never an exception."""
        if self.loads_per_image:
            t0 = time.perf_counter()
            models = self.load()
            return self._run(data, models, time.perf_counter() - t0)
        with self._leased() as (models, load_s):
            return self._run(data, models, load_s)

    def _run(self, data: bytes, models: Any, load_s: float) -> FaceResult:
        timings = dict.fromkeys(STAGES, 0.0)
        try:
            t0 = time.perf_counter()
            try:
                image = self.read(data)
            except BadInput as exc:
                timings["decode"] = time.perf_counter() - t0
                return FaceResult("bad_input", str(exc), timings=timings, load_s=load_s)
            timings["decode"] = time.perf_counter() - t0
            result, crop = self.align(models, image, timings)
            result.load_s = load_s
            if crop is not None:
                t3 = time.perf_counter()
                result.crop = self.write(crop)
                timings["encode"] = time.perf_counter() - t3
            return result
        except Exception as exc:  # the kernel must account for every image, whatever dlib or cv2 raise
            return FaceResult("error", f"{type(exc).__name__}: {exc}", timings=timings, load_s=load_s)

    # --- the pool -----------------------------------------------------------------------------------

    def unload(self) -> None:
        """Forget this process's models, so that the next image pays the load as a fresh worker would."""
        with self._lock:
            self._pool.clear()
            self._generation += 1

    def preload(self, count: int = 1) -> float:
        """Have ``count`` idle sets of models in this process; the seconds spent loading them."""
        with self._lock:
            missing = max(0, count - len(self._pool))
        spent, loaded = 0.0, []
        for _ in range(missing):
            t0 = time.perf_counter()
            loaded.append(self.load())
            spent += time.perf_counter() - t0
        with self._lock:
            self._pool.extend(loaded)
        return spent

    def loaded(self) -> int:
        """How many idle sets of models this process holds (0: the next image pays a load)."""
        with self._lock:
            return len(self._pool)

    @contextmanager
    def _leased(self) -> Iterator[tuple[Any, float]]:
        """A set of models for one image, and the load time paid for it now (0 when one was idle)."""
        with self._lock:
            generation = self._generation
            models = self._pool.pop() if self._pool else None
        load_s = 0.0
        if models is None:
            t0 = time.perf_counter()
            models = self.load()
            load_s = time.perf_counter() - t0
        try:
            yield models, load_s
        finally:
            with self._lock:
                if generation == self._generation:
                    self._pool.append(models)
