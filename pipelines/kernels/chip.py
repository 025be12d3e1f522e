"""The chip family: the 150 px face chip dlib's ResNet descriptor model was trained on (issue 26).

HOG detection on the photo at one upsample, the face nearest the image centre (the one LFW labels),
dlib's 5-point shape, ``dlib.get_face_chip(image, shape, size=150, padding=0.25)``, JPEG out. Its
output is ``chip150``, not openface's 180 px affine crop: the descriptor stage reads that from the
run's manifest and describes such a chip as it is, without detecting and aligning it again.

``chip-hog0`` detects as ``hog0`` does: upsample 0, upsample 1 only where it finds no face;
``chip-hog0-roi`` as ``hog0-roi`` does: that, in the central window first.
"""

from __future__ import annotations

from typing import Any

import dlib
import numpy as np

from pipelines.kernels.hog import HogKernel
from pipelines.models import HOG_DETECTOR, LANDMARKS_5

#: dlib's own defaults for its descriptor model: the chip it was trained on.
CHIP_SIZE = 150
CHIP_PADDING = 0.25


class Chip(HogKernel):
    """The descriptor model's own input: the 5-point chip of the centre face."""

    name = "chip"
    models = (HOG_DETECTOR, LANDMARKS_5)
    output = "chip150"
    points = (45, 42, 36, 39, 33)  # get_face_chip aligns on all five
    rule = "center"

    def warp(self, image: np.ndarray, shape: Any, points: np.ndarray) -> np.ndarray:
        # Interpolation is per channel, so the BGR image gives the BGR chip that cv2 encodes.
        return dlib.get_face_chip(image, shape, size=CHIP_SIZE, padding=CHIP_PADDING)


class ChipHog0(Chip):
    """``chip`` with ``hog0``'s detection."""

    name = "chip-hog0"
    upsample = 0
    fallback_upsample = 1


class ChipHog0Roi(ChipHog0):
    """``chip`` with ``hog0-roi``'s detection: the fastest path to the descriptor model's input."""

    name = "chip-hog0-roi"
    window = 0.6
