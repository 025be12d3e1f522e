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
the mirrored margin alone, 98.04% with both (those scores were not kept).

That path, ``mirror+detect``, is one of the ``VARIANTS``, the ways a crop becomes the chip the ResNet
reads. The others spend less on finding what the alignment already fixed: ``mirror+detect-up0`` re-detects
at upsample 0; ``template`` does not detect at all, because the openface alignment puts the eye corners
and the point under the nose at known places in the crop (openface's mean face), so dlib's 5-point shape
is taken from there; ``chip`` reads a crop that already is dlib's 150 px chip (a kernel declaring the
output ``chip150``) as it is. ``benchmarks/descriptor_variants.py`` scores them. Deterministic: the same
crop bytes and variant give the same vector, in any process. Models are loaded once per process, like
the face kernel's.
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
CHIP_SIZE = 150
JITTERS = 0  # jittering draws random crops: never, so that a descriptor is a function of its crop
MARGIN = 1 / 3  # of the crop's side, mirrored on each side before detection
STAGES = ("decode", "margin", "detect", "landmarks", "describe")

#: What a kernel's crops are (its ``output`` declaration): openface's 180 px alignment, or dlib's chip.
OUTPUTS = ("openface180", "chip150")
#: variant -> (what it does, the crop outputs it can read).
VARIANTS = {
    "mirror+detect": (
        "margin mirrored, HOG re-detection at upsample 1, 5-point shape on its box, dlib's chip",
        OUTPUTS,
    ),
    "mirror+detect-up0": ("the same with the detector at upsample 0", OUTPUTS),
    "template": (
        "margin mirrored, the 5-point shape where openface's template puts it (no detection, no "
        "predictor), dlib's chip",
        ("openface180",),
    ),
    "chip": ("the crop is dlib's 150 px chip: described as it is (no detection, no shape)", ("chip150",)),
}
REFERENCE = "mirror+detect"  # the stage as it was: the variant the others are scored against
_UPSAMPLE = {"mirror+detect": 1, "mirror+detect-up0": 0}
#: dlib's 5-point shape (eye corners 45, 42, 36, 39 and 33 under the nose of the 68-point scheme) on
#: openface's mean face, normalised as the face kernel's MINMAX template is: fractions of the crop's side.
#: Points 39 and 42 are exactly where the alignment puts them; on 120 LFW crops the 5-point predictor's
#: median positions were within 1 px of these at 180 px, its mean distance 1-5 px.
TEMPLATE_5 = np.float32(
    [
        [0.788859, 0.158171],
        [0.618963, 0.172778],
        [0.194157, 0.169267],
        [0.363785, 0.177947],
        [0.494951, 0.514441],
    ]
)

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

    def describe(
        self, rgb: np.ndarray, variant: str = REFERENCE, timings: dict[str, float] | None = None
    ) -> np.ndarray:
        """The descriptor of an aligned RGB uint8 crop, made the ``variant``'s way."""
        timings = {} if timings is None else timings
        t0 = time.perf_counter()
        height, width = rgb.shape[:2]
        if variant == "chip":
            if (height, width) != (CHIP_SIZE, CHIP_SIZE):
                raise ValueError(f"a chip is {CHIP_SIZE}x{CHIP_SIZE}, this crop is {width}x{height}")
            vector = self.model.compute_face_descriptor(rgb, JITTERS)
            timings["describe"] = time.perf_counter() - t0
            return np.asarray(vector, dtype=np.float32)
        pad = round(MARGIN * max(height, width))
        image = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
        t1 = time.perf_counter()
        timings["margin"] = t1 - t0
        whole, detect_s = dlib.rectangle(pad, pad, pad + width - 1, pad + height - 1), 0.0
        if variant == "template":
            points = [dlib.point(round(pad + x * width), round(pad + y * height)) for x, y in TEMPLATE_5]
            shape = dlib.full_object_detection(whole, dlib.points(points))
        else:
            faces = self.detector(image, _UPSAMPLE[variant])
            box = max(faces, key=lambda r: r.width() * r.height()) if len(faces) else whole
            detect_s = timings["detect"] = time.perf_counter() - t1
            shape = self.predictor(image, box)
        t3 = time.perf_counter()
        timings["landmarks"] = t3 - t1 - detect_s
        vector = self.model.compute_face_descriptor(image, shape, JITTERS, CHIP_PADDING)
        timings["describe"] = time.perf_counter() - t3
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


def check_variant(variant: str, output: str = "openface180") -> None:
    """ValueError, saying why, when ``variant`` is unknown or cannot read crops of this ``output``."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown descriptor {variant!r}; choose from {', '.join(VARIANTS)}")
    if output not in VARIANTS[variant][1]:
        readable = [v for v, (_, outputs) in VARIANTS.items() if output in outputs]
        raise ValueError(
            f"descriptor {variant} reads {' or '.join(VARIANTS[variant][1])} crops, these are {output}; "
            f"for them choose from {', '.join(readable)}"
        )


def describe(data: bytes, variant: str = REFERENCE) -> DescriptorResult:
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
        vector = describer.describe(rgb, variant, timings)
    except Exception as exc:  # dlib raises RuntimeError subclasses of its own
        return DescriptorResult("error", f"{type(exc).__name__}: {exc}", timings=timings, load_s=load_s)
    return DescriptorResult("ok", vector=vector, timings=timings, load_s=load_s)
