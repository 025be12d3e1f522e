"""Quality across kernels, from the tasks table alone: how often each kernel finds a face where the
faithful kernel does, how far its alignment points land from the faithful kernel's, and, on the
synthetic dataset, how far its eye centres land from where the generator drew the eyes.

Byte-identity is checked within a kernel (across executors); across kernels outputs differ by design,
so a run with more than one kernel measures this instead and writes ``quality.parquet``, one row per
kernel. Each kernel is read from its sequential reference case (first repeat): every other case of it
gave the same bytes, or says it did not.

- ``agreement``: the share of images whose found/not-found matches the faithful kernel's.
- ``landmark_dev_median``, ``landmark_dev_p95``: per image both found, the largest displacement of the
  compared points from the faithful kernel's, over the faithful kernel's inter-ocular distance (between
  its eye centres). The compared points are the alignment points both kernels declare (68-point
  indices: 39, 42 and 57 for the HOG family; 39 and 42 for ``landmarks5`` and ``chip``); a kernel that
  shares none with the faithful one is compared on the eye centres every kernel records.
- ``truth_eye_dev_median``, ``truth_eye_dev_p95`` (synthetic only): per image found, the larger of the
  two eye centres' distances from the drawn ones, over the drawn inter-ocular distance.

The faithful kernel is the one each kernel declares it ``approximates`` (the manifest's ``kernels``);
where the run does not have it, the comparisons with it are NaN.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from bench.executors import REFERENCE
from bench.kernels import declared

QUALITY_COLUMNS = [
    "kernel",
    "approximates",
    "images",
    "faces",
    "agreement",
    "compared",
    "landmark_dev_median",
    "landmark_dev_p95",
    "truth_eye_dev_median",
    "truth_eye_dev_p95",
]
_LEFT, _RIGHT = ["eye_left_x", "eye_left_y"], ["eye_right_x", "eye_right_y"]


def per_image(tasks: pd.DataFrame) -> pd.DataFrame:
    """One row per kernel and image: its sequential reference case's first repeat."""
    ref = tasks[tasks["executor"] == REFERENCE]
    ref = ref[ref["repeat"] == ref.groupby("kernel")["repeat"].transform("min")]
    return ref.drop_duplicates(["kernel", "key"]).set_index("key")


def _points(landmarks: pd.Series, order: list[int], wanted: list[int]) -> np.ndarray:
    """(images, len(wanted), 2): the wanted 68-point indices out of the JSON ``landmarks`` column."""
    at = [order.index(i) for i in wanted]
    rows = [json.loads(text) if isinstance(text, str) and text else None for text in landmarks]
    return np.array([[r[i] for i in at] if r else [[np.nan, np.nan]] * len(at) for r in rows], float)


def _eyes(rows: pd.DataFrame) -> np.ndarray:
    return np.stack([rows[_LEFT].to_numpy(float), rows[_RIGHT].to_numpy(float)], axis=1)


def _largest_over(mine: np.ndarray, ref: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return np.linalg.norm(mine - ref, axis=2).max(axis=1) / scale


def _median_p95(values: np.ndarray) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan"), float("nan")
    return float(np.median(values)), float(np.percentile(values, 95))


def quality(
    tasks: pd.DataFrame, manifest: dict | None = None, truth: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per kernel of the run (QUALITY_COLUMNS); ``truth``: the synthetic dataset's eye centres
    (key, left_eye_x, left_eye_y, right_eye_x, right_eye_y), or None."""
    images = per_image(tasks)
    rows = []
    for kernel, mine in images.groupby("kernel", sort=False):
        mine_decl = declared(manifest, str(kernel))
        target = str(mine_decl.get("approximates", ""))
        found = mine["status"] == "ok"
        row = {
            "kernel": kernel,
            "approximates": target,
            "images": len(mine),
            "faces": int(found.sum()),
            "compared": "",
        }
        ref = images[images["kernel"] == target]
        if not ref.empty:
            keys = mine.index.intersection(ref.index)
            ref_found = ref.loc[keys, "status"] == "ok"
            row["agreement"] = float((found[keys] == ref_found).mean()) if len(keys) else float("nan")
            both = keys[found[keys].to_numpy() & ref_found.to_numpy()]
            a, b = mine.loc[both], ref.loc[both]
            ref_eyes = _eyes(b)
            interocular = np.linalg.norm(ref_eyes[:, 1] - ref_eyes[:, 0], axis=1)
            order, ref_order = (
                list(mine_decl.get("points", [])),
                list(declared(manifest, target).get("points", [])),
            )
            shared = [i for i in ref_order if i in order]
            if shared:
                row["compared"] = "points " + ",".join(map(str, shared))
                dev = _largest_over(
                    _points(a["landmarks"], order, shared),
                    _points(b["landmarks"], ref_order, shared),
                    interocular,
                )
            else:
                row["compared"] = "eye centres"
                dev = _largest_over(_eyes(a), ref_eyes, interocular)
            row["landmark_dev_median"], row["landmark_dev_p95"] = _median_p95(dev)
        if truth is not None:
            drawn = truth.set_index("key").reindex(mine.index[found.to_numpy()])
            true_eyes = np.stack(
                [
                    drawn[["left_eye_x", "left_eye_y"]].to_numpy(float),
                    drawn[["right_eye_x", "right_eye_y"]].to_numpy(float),
                ],
                axis=1,
            )
            scale = np.linalg.norm(true_eyes[:, 1] - true_eyes[:, 0], axis=1)
            dev = _largest_over(_eyes(mine[found]), true_eyes, scale)
            row["truth_eye_dev_median"], row["truth_eye_dev_p95"] = _median_p95(dev)
        rows.append(row)
    return pd.DataFrame(rows, columns=QUALITY_COLUMNS)
