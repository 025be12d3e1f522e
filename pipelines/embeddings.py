"""The descriptor kernel: an aligned crop in, dlib's 128-d face descriptor out.

The crops are the face kernel's output (180x180, aligned on openface's template), so no detection is
needed: dlib's 5-point shape predictor runs on the rectangle of the whole crop, and dlib's ResNet
(``dlib_face_recognition_resnet_model_v1``, shipped by face-recognition-models) describes the 150x150
chip it cuts around those points (padding 0.25, no jitter). Deterministic: the same crop bytes give the
same vector, in any process. Models are loaded once per process, like the face kernel's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import dlib
import face_recognition_models
import numpy as np

DIM = 128
#: dlib's own defaults for this model: the chip it was trained on.
CHIP_PADDING = 0.25
JITTERS = 0  # jittering draws random crops: never, so that a descriptor is a function of its crop
STAGES = ("decode", "landmarks", "describe")

cv2.setNumThreads(1)


@dataclass
class DescriptorResult:
    """One crop's descriptor (float32, shape (128,)) or the reason there is none."""

    status: str  # ok | bad_input | error
    error: str = ""
    vector: np.ndarray | None = None
    timings: dict[str, float] = field(default_factory=dict)
    load_s: float = 0.0  # model load paid by this call (cold start)


class Describer:
    """The 5-point predictor and the ResNet, loaded once; ``describe`` is the per-crop work."""

    def __init__(self) -> None:
        start = time.perf_counter()
        self.predictor = dlib.shape_predictor(
            face_recognition_models.pose_predictor_five_point_model_location()
        )
        self.model = dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())
        self.load_s = time.perf_counter() - start

    def describe(self, rgb: np.ndarray, timings: dict[str, float] | None = None) -> np.ndarray:
        """The descriptor of an aligned RGB uint8 crop."""
        timings = {} if timings is None else timings
        t0 = time.perf_counter()
        height, width = rgb.shape[:2]
        shape = self.predictor(rgb, dlib.rectangle(0, 0, width - 1, height - 1))
        t1 = time.perf_counter()
        vector = self.model.compute_face_descriptor(rgb, shape, JITTERS, CHIP_PADDING)
        timings["landmarks"] = t1 - t0
        timings["describe"] = time.perf_counter() - t1
        return np.asarray(vector, dtype=np.float32)


_DESCRIBER: Describer | None = None


def shared_describer() -> tuple[Describer, float]:
    """This process's describer and the load time paid now (0 when it was already loaded)."""
    global _DESCRIBER
    if _DESCRIBER is None:
        _DESCRIBER = Describer()
        return _DESCRIBER, _DESCRIBER.load_s
    return _DESCRIBER, 0.0


def decode_crop(data: bytes) -> np.ndarray:
    """JPEG (or any cv2 format) bytes to RGB uint8; ValueError when they are not an image."""
    if not data:
        raise ValueError("empty file")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("not a decodable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def describe(data: bytes) -> DescriptorResult:
    """The kernel entry point: one crop's bytes to its descriptor; a failure is a status, never raised."""
    describer, load_s = shared_describer()
    timings = dict.fromkeys(STAGES, 0.0)
    t0 = time.perf_counter()
    try:
        rgb = decode_crop(data)
    except ValueError as exc:
        timings["decode"] = time.perf_counter() - t0
        return DescriptorResult("bad_input", str(exc), timings=timings, load_s=load_s)
    timings["decode"] = time.perf_counter() - t0
    try:
        vector = describer.describe(rgb, timings)
    except Exception as exc:  # dlib raises RuntimeError subclasses of its own
        return DescriptorResult("error", f"{type(exc).__name__}: {exc}", timings=timings, load_s=load_s)
    return DescriptorResult("ok", vector=vector, timings=timings, load_s=load_s)
