"""Inputs for the micro-benchmarks: one synthetic face, decoded and located, reused by every stage."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipelines import faces, kernels
from pipelines.datasets import load_dataset


@pytest.fixture(scope="session")
def face_bytes() -> bytes:
    dataset = load_dataset("synthetic:12")
    return (dataset.root / dataset.keys[0]).read_bytes()


#: The faithful kernel, whose stages are measured one by one.
FAITHFUL = kernels.get(kernels.FAITHFUL)


@pytest.fixture(scope="session")
def aligner():
    """The faithful kernel's models: its detector and 68-point predictor."""
    return FAITHFUL.load()


@pytest.fixture(scope="session")
def located(face_bytes, aligner):
    """The decoded image, its RGB copy, the largest face and the three landmarks."""
    image = faces.decode(face_bytes)
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    face = max(aligner.detector(rgb, FAITHFUL.upsample), key=lambda r: r.width() * r.height())
    shape = aligner.predictor(rgb, face)
    points = np.float32([(shape.part(i).x, shape.part(i).y) for i in FAITHFUL.points])
    return image, rgb, face, points
