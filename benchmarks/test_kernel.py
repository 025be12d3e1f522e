"""Each kernel stage, and the whole kernel in both variants, on one synthetic face."""

from __future__ import annotations

import cv2
import numpy as np

from pipelines import faces, kernels


def test_decode(benchmark, face_bytes):
    benchmark(faces.decode, face_bytes)


def test_detect(benchmark, aligner, located):
    _, rgb, _, _ = located
    assert len(benchmark(aligner.detector, rgb, kernels.get(kernels.FAITHFUL).upsample)) >= 1


def test_landmarks(benchmark, aligner, located):
    _, rgb, face, _ = located
    benchmark(aligner.predictor, rgb, face)


def test_warp(benchmark, located):
    image, _, _, points = located

    def warp():
        return faces.openface_warp(image, points, kernels.get(kernels.FAITHFUL).points)

    assert benchmark(warp).shape == (180, 180, 3)


def test_encode(benchmark, located):
    image, _, _, _ = located
    crop = np.ascontiguousarray(image[:180, :180])
    benchmark(cv2.imencode, ".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, faces.JPEG_QUALITY])


def test_kernel_optimized(benchmark, face_bytes):
    assert benchmark(kernels.process, face_bytes, "optimized").status == "ok"


def test_kernel_naive(benchmark, face_bytes):
    # Reloads the models for every image, as the pattern's function did: few rounds are enough.
    result = benchmark.pedantic(kernels.process, args=(face_bytes, "naive"), rounds=5, iterations=1)
    assert result.status == "ok"
