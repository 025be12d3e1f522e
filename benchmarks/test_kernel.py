"""Each kernel stage, and the whole kernel in both variants, on one synthetic face."""

from __future__ import annotations

import cv2
import numpy as np

from pipelines import faces


def test_decode(benchmark, face_bytes):
    benchmark(faces.decode, face_bytes)


def test_detect(benchmark, aligner, located):
    _, rgb, _, _ = located
    assert len(benchmark(aligner.detector, rgb, faces.UPSAMPLE)) >= 1


def test_landmarks(benchmark, aligner, located):
    _, rgb, face, _ = located
    benchmark(aligner.predictor, rgb, face)


def test_warp(benchmark, located):
    image, _, _, points = located

    def warp():
        matrix = cv2.getAffineTransform(points, faces.IMG_DIM * faces.MINMAX_POINTS)
        return cv2.warpAffine(image, matrix, (faces.IMG_DIM, faces.IMG_DIM))

    assert benchmark(warp).shape == (180, 180, 3)


def test_encode(benchmark, located):
    image, _, _, _ = located
    crop = np.ascontiguousarray(image[:180, :180])
    benchmark(cv2.imencode, ".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, faces.JPEG_QUALITY])


def test_kernel_optimized(benchmark, face_bytes):
    assert benchmark(faces.process, face_bytes, "optimized").status == "ok"


def test_kernel_naive(benchmark, face_bytes):
    # Reloads the models for every image, as the pattern's function did: few rounds are enough.
    result = benchmark.pedantic(faces.process, args=(face_bytes, "naive"), rounds=5, iterations=1)
    assert result.status == "ok"
