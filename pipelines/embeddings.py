"""The descriptor kernel: an aligned crop in, dlib's 128-d face descriptor out.

The crops are the face kernel's output (180x180, aligned on openface's template), which ends at the
outer landmarks, while the 150x150 chip dlib's ResNet (``dlib_face_recognition_resnet_model_v1``,
shipped by face-recognition-models) was trained on has 25% more margin around them. So the crop is
first mirrored outwards by a third of its side (``cv2.BORDER_REFLECT_101``), which fills that margin
with face-like texture instead of black; dlib's HOG detector finds the face in it, giving the 5-point
shape predictor the kind of box it was trained on (the crop's own rectangle when it finds none); and
the ResNet describes the chip cut around those points (padding 0.25, no jitter).

Chosen on the validation split of LFW's identities with at least 10 images (docs/training.md): nearest
class mean, validation top-1 97.14% with the crop as it is, 97.29% with detection alone, 97.59% with
the mirrored margin alone, 98.04% with both. Deterministic: the same crop bytes give the same vector,
in any process. Models are loaded once per process, like the face kernel's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import dlib
import numpy as np

from pipelines.models import DESCRIPTOR, LANDMARKS_5, model_path

DIM = 128
#: dlib's own defaults for this model: the chip it was trained on.
CHIP_PADDING = 0.25
JITTERS = 0  # jittering draws random crops: never, so that a descriptor is a function of its crop
MARGIN = 1 / 3  # of the crop's side, mirrored on each side before detection
UPSAMPLE = 1  # as the face kernel's detector
STAGES = ("decode", "detect", "landmarks", "describe")

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
    """The detector, the 5-point predictor and the ResNet, loaded once; ``describe`` is the per-crop work."""

    def __init__(self) -> None:
        start = time.perf_counter()
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(model_path(LANDMARKS_5))
        self.model = dlib.face_recognition_model_v1(model_path(DESCRIPTOR))
        self.load_s = time.perf_counter() - start

    def describe(self, rgb: np.ndarray, timings: dict[str, float] | None = None) -> np.ndarray:
        """The descriptor of an aligned RGB uint8 crop."""
        timings = {} if timings is None else timings
        t0 = time.perf_counter()
        height, width = rgb.shape[:2]
        pad = round(MARGIN * max(height, width))
        image = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
        faces = self.detector(image, UPSAMPLE)
        box = (
            max(faces, key=lambda r: r.width() * r.height())
            if len(faces)
            else dlib.rectangle(pad, pad, pad + width - 1, pad + height - 1)
        )
        t1 = time.perf_counter()
        shape = self.predictor(image, box)
        t2 = time.perf_counter()
        vector = self.model.compute_face_descriptor(image, shape, JITTERS, CHIP_PADDING)
        timings["detect"] = t1 - t0
        timings["landmarks"] = t2 - t1
        timings["describe"] = time.perf_counter() - t2
        return np.asarray(vector, dtype=np.float32)


_DESCRIBER: Describer | None = None


def unload() -> None:
    """Forget this process's models, so that the next crop pays the load as a fresh worker would."""
    global _DESCRIBER
    _DESCRIBER = None


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
