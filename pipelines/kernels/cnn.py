"""dlib's MMOD CNN face detector (face-recognition-models' ``mmod_human_face_detector.dat``) in place
of HOG: the slow, accurate end of the frontier; it finds faces HOG misses (turned, small, partly
hidden). dlib runs it on a GPU only when built with CUDA; the dlib these registries install is not,
so here it runs on the CPU (about an order of magnitude slower than HOG), and the tables say so.

The rest is the faithful kernel's: one upsample, the largest face, the 68-point predictor (trained on
HOG's boxes, which MMOD's differ from a little: the quality table measures what that moves), the
openface crop.
"""

from __future__ import annotations

import dlib
import numpy as np

from pipelines.kernels.hog import HogKernel, Models
from pipelines.models import LANDMARKS_68, MMOD_DETECTOR, model_path


class Cnn(HogKernel):
    """MMOD CNN detection, then the faithful kernel's landmarks and crop."""

    name = "cnn"
    models = (MMOD_DETECTOR, LANDMARKS_68)

    def load(self) -> Models:
        detector = dlib.cnn_face_detection_model_v1(model_path(MMOD_DETECTOR))
        return Models(detector, dlib.shape_predictor(model_path(LANDMARKS_68)))

    def detect(self, models: Models, rgb: np.ndarray) -> list:
        return [d.rect for d in models.detector(rgb, self.upsample)]
