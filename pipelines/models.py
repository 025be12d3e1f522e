"""Where dlib's model files are: the face-recognition-models package, found without importing it.

Its ``__init__`` imports ``pkg_resources`` only to build the paths, and a py-spy profile of the seed
subset (``benchmarks/profile.sh``) put that at a third of a spawned worker's import time; on Lithops and
serverless every call is a fresh process and pays it. The files sit in the package's ``models/`` folder.
"""

from __future__ import annotations

import importlib.util
import os

PACKAGE = "face_recognition_models"
LANDMARKS_68 = "shape_predictor_68_face_landmarks.dat"
LANDMARKS_5 = "shape_predictor_5_face_landmarks.dat"
DESCRIPTOR = "dlib_face_recognition_resnet_model_v1.dat"
MMOD_DETECTOR = "mmod_human_face_detector.dat"
#: dlib's HOG frontal face detector: built into dlib, no file to load.
HOG_DETECTOR = "dlib frontal face detector (HOG, built in)"


def model_path(name: str) -> str:
    """The path of one of the package's model files; FileNotFoundError names the missing piece."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"{PACKAGE} is not installed (pip install face-recognition-models)")
    path = os.path.join(list(spec.submodule_search_locations)[0], "models", name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{PACKAGE} has no models/{name}")
    return path
