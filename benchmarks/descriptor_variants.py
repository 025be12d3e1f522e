"""Which way of describing an aligned crop identifies people best? Scored on the validation split only.

The face kernel's 180x180 crop ends at the outer landmarks; dlib's ResNet was trained on chips with
25% more margin. Each variant below describes every crop of a run's output differently, then a
nearest-class-mean classifier (no training, so nothing to tune) is scored on the same split that
``facebench train`` uses. ``pipelines/embeddings.py`` implements the variant chosen here
(``mirror+detect``); the test split's figure is printed too but is not for choosing.

    python benchmarks/descriptor_variants.py RUN_DIR --variants crop,detect,mirror,mirror+detect

About 4 to 7 minutes per variant for LFW's 4,324 ge10 crops on two cores.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from pathlib import Path

import cv2
import dlib
import face_recognition_models
import numpy as np

from pipelines import embeddings
from pipelines import train as tp

VARIANTS = {
    "crop": "5-point predictor on the crop's rectangle, chip padding 0.25 (margins come out black)",
    "detect": "HOG detector on the crop, 5-point predictor on its box",
    "mirror": "crop mirrored outwards by a third of its side, predictor on the crop's rectangle",
    "mirror+detect": "mirrored, then detector and predictor on the detected box (pipelines/embeddings.py)",
}
_MODELS: dict = {}


def _describe(job: tuple[str, str]) -> np.ndarray:
    path, variant = job
    if variant == "mirror+detect":  # the chosen one: the pipeline's own code, so the two cannot drift
        return embeddings.describe(Path(path).read_bytes()).vector
    if not _MODELS:
        _MODELS["detector"] = dlib.get_frontal_face_detector()
        models = face_recognition_models
        _MODELS["predictor"] = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
        _MODELS["net"] = dlib.face_recognition_model_v1(models.face_recognition_model_location())
    rgb = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
    pad = round(max(rgb.shape[:2]) / 3) if variant.startswith("mirror") else 0
    image = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REFLECT_101) if pad else rgb
    h, w = image.shape[:2]
    box = dlib.rectangle(pad, pad, w - pad - 1, h - pad - 1)
    if "detect" in variant:
        faces = _MODELS["detector"](image, 1)
        if len(faces):
            box = max(faces, key=lambda r: r.width() * r.height())
    shape = _MODELS["predictor"](image, box)
    return np.asarray(_MODELS["net"].compute_face_descriptor(image, shape, 0, 0.25), np.float32)


def nearest_class_mean_top1(vectors: dict[str, np.ndarray], split: tp.Split, name: str) -> float:
    train = np.stack([vectors[k] for k in split.train])
    labels = np.array([split.labels[k] for k in split.train])
    means = np.stack([train[labels == c].mean(axis=0) for c in split.classes])
    keys = split.keys(name)
    x = np.stack([vectors[k] for k in keys])
    nearest = ((x[:, None, :] - means[None]) ** 2).sum(-1).argmin(axis=1)
    return float(np.mean([split.classes[i] == split.labels[k] for i, k in zip(nearest, keys, strict=True)]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a run folder (its output/ holds the reference crops)")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--min-images", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=mp.cpu_count())
    args = parser.parse_args(argv)
    output = Path(args.run) / "output"
    keys = sorted(p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file())
    split = tp.split_keys(keys, [k.split("/")[0] for k in keys], args.min_images, args.seed)
    chosen = [*split.train, *split.val, *split.test]
    print(f"{len(split.classes)} identities; " + ", ".join(f"{n} {len(split.keys(n))}" for n in tp.SPLITS))
    print(f"{'variant':<14} {'val top-1':>9} {'test top-1':>10} {'seconds':>8}  what")
    for variant in args.variants.split(","):
        if variant not in VARIANTS:
            parser.error(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
        t0 = time.perf_counter()
        with mp.get_context("spawn").Pool(args.workers) as pool:
            rows = pool.map(_describe, [(str(output / k), variant) for k in chosen], chunksize=32)
        vectors = dict(zip(chosen, rows, strict=True))
        val, test = (nearest_class_mean_top1(vectors, split, n) for n in ("val", "test"))
        seconds = time.perf_counter() - t0
        print(f"{variant:<14} {val:>9.2%} {test:>10.2%} {seconds:>8.0f}  {VARIANTS[variant]}", flush=True)


if __name__ == "__main__":
    main()
