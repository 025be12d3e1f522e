"""The HOG family: dlib's frontal face detector, a shape predictor, openface's affine crop to 180.

``optimized`` is the faithful kernel, exactly as the seed pattern did it: the HOG detector at one
upsample, the largest face, dlib's 68-point predictor, and an affine transform taking landmarks 39,
42, 57 (inner eye corners, bottom lip) onto openface's MINMAX template scaled to 180. The variants
each change one documented choice (docs/kernels.md says why each is worth measuring):

- ``naive``: the pattern's own baseline; builds the models again for every image and round-trips the
  input and the crop through temporary files; the same bytes as ``optimized``.
- ``hog0``: upsample 0 (a quarter of the pixels to scan), upsample 1 only when nothing is found, so a
  small face costs both passes and shows up as a slower image, not a lost one.
- ``roi``: first the central window (60% of each side: LFW's photos centre the labelled face), the
  whole image on a miss.
- ``center``: the face nearest the image centre instead of the largest (LFW labels the centre face).
- ``hog0-center``: both.
- ``hog0-roi``: ``hog0`` in ``roi``'s window first (a ninth of the faithful kernel's pixels to scan).
- ``landmarks5``: dlib's 5-point predictor instead of the 68-point one, aligning the inner eye
  corners (39, 42) and the bottom of the nose (33) onto the same template's points.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import cv2
import dlib
import numpy as np

from pipelines.faces import JPEG_QUALITY, BadInput, FaceResult, check_size, openface_warp
from pipelines.kernels.base import Kernel
from pipelines.models import HOG_DETECTOR, LANDMARKS_5, LANDMARKS_68, model_path

#: The 68-point index of each part of a predictor's shape, in the predictor's order.
SHAPE_POINTS = {LANDMARKS_68: tuple(range(68)), LANDMARKS_5: (45, 42, 36, 39, 33)}
#: Each eye's two corners (68-point indices): an eye's centre is their midpoint, for every predictor.
EYE_CORNERS = ((36, 39), (42, 45))


@dataclass
class Models:
    detector: Any
    predictor: Any


def choose_face(faces: list, height: int, width: int, rule: str) -> Any:
    """The face a kernel aligns: the largest (the pattern's rule), or the nearest the image centre.

    Ties go to the detector's first, so the choice is a function of the image alone."""
    if rule == "largest":
        return max(faces, key=lambda r: r.width() * r.height())
    cx, cy = (width - 1) / 2, (height - 1) / 2
    return min(
        faces, key=lambda r: ((r.left() + r.right()) / 2 - cx) ** 2 + ((r.top() + r.bottom()) / 2 - cy) ** 2
    )


class HogKernel(Kernel):
    """HOG detection, a shape predictor, a warp; the class attributes below are the choices."""

    models = (HOG_DETECTOR, LANDMARKS_68)
    points = (39, 42, 57)
    upsample: ClassVar[int] = 1
    #: Upsample to try again with when nothing is found (None: no second pass).
    fallback_upsample: ClassVar[int | None] = None
    #: Share of each side of the central window searched first (None: the whole image only).
    window: ClassVar[float | None] = None
    rule: ClassVar[str] = "largest"

    def load(self) -> Models:
        return Models(dlib.get_frontal_face_detector(), dlib.shape_predictor(model_path(self.models[-1])))

    def detect(self, models: Models, rgb: np.ndarray) -> list:
        """The faces to choose from, in input pixels."""
        if self.window is not None:
            height, width = rgb.shape[:2]
            x0, y0 = round(width * (1 - self.window) / 2), round(height * (1 - self.window) / 2)
            inner = np.ascontiguousarray(rgb[y0 : height - y0, x0 : width - x0])
            found = models.detector(inner, self.upsample)
            if len(found):
                return [dlib.translate_rect(r, dlib.point(x0, y0)) for r in found]
        found = models.detector(rgb, self.upsample)
        if not len(found) and self.fallback_upsample is not None:
            found = models.detector(rgb, self.fallback_upsample)
        return list(found)

    def warp(self, image: np.ndarray, shape: Any, points: np.ndarray) -> np.ndarray:
        return openface_warp(image, points, self.points)

    def align(self, models: Models, image: np.ndarray, timings: dict[str, float]) -> tuple[FaceResult, Any]:
        t0 = time.perf_counter()
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        found = self.detect(models, rgb)
        t1 = time.perf_counter()
        timings["detect"] = t1 - t0
        if not found:
            return FaceResult("no_face", "no face detected", timings=timings), None
        face = choose_face(found, rgb.shape[0], rgb.shape[1], self.rule)
        shape = models.predictor(rgb, face)
        order = SHAPE_POINTS[self.models[-1]]
        part = {i: (float(shape.part(n).x), float(shape.part(n).y)) for n, i in enumerate(order)}
        points = np.float32([part[i] for i in self.points])
        eyes = sorted(tuple((np.add(part[a], part[b]) / 2).tolist()) for a, b in EYE_CORNERS)
        t2 = time.perf_counter()
        timings["landmarks"] = t2 - t1
        crop = self.warp(image, shape, points)
        timings["warp"] = time.perf_counter() - t2
        return FaceResult(
            "ok",
            box=(face.left(), face.top(), face.right(), face.bottom()),
            landmarks=tuple((float(x), float(y)) for x, y in points),
            eyes=(eyes[0], eyes[1]),
            timings=timings,
        ), crop


class Optimized(HogKernel):
    """The faithful kernel: models loaded once per process, everything in memory."""

    name = "optimized"


class Naive(Optimized):
    """The pattern's baseline: the models built for every image, input and crop through temp files."""

    name = "naive"
    loads_per_image = True
    reproduces = True

    def read(self, data: bytes) -> np.ndarray:
        check_size(data)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "input")
            with open(path, "wb") as f:
                f.write(data)
            image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise BadInput("not a decodable image")
        return image

    def write(self, crop: np.ndarray) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "crop.jpg")
            if not cv2.imwrite(path, crop, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
                raise RuntimeError("JPEG encoding failed")
            with open(path, "rb") as f:
                return f.read()


class Hog0(HogKernel):
    """Upsample 0 first, upsample 1 only where it finds none: 2.40x [2.24-2.60] the faithful kernel's
    images/s on 200 seed photos (results/kernel-frontier/seed-200/), not the 4x of its pixels, since
    later stages stay."""

    name = "hog0"
    upsample = 0
    fallback_upsample = 1


class Roi(HogKernel):
    """The central 60% window first (a third of the pixels), the whole image on a miss."""

    name = "roi"
    window = 0.6


class Center(HogKernel):
    """The face nearest the image centre, the one LFW labels, instead of the largest."""

    name = "center"
    rule = "center"


class Hog0Center(Hog0):
    """``hog0``'s detection with ``center``'s choice."""

    name = "hog0-center"
    rule = "center"


class Hog0Roi(Hog0):
    """``hog0`` in ``roi``'s central window first: the whole image at upsample 0, then 1, on a miss."""

    name = "hog0-roi"
    window = 0.6


class Landmarks5(HogKernel):
    """dlib's 5-point predictor (9 MB against 99 MB: a tenth to load cold), aligning eyes and nose."""

    name = "landmarks5"
    models = (HOG_DETECTOR, LANDMARKS_5)
    points = (39, 42, 33)
