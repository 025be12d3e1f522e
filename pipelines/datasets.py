"""Datasets as a folder of images in LFW layout (<Person>/<Person>_NNNN.jpg) plus their keys and labels.

Specs: ``synthetic`` or ``synthetic:N`` (generated, seeded, cached), or a path to an LFW-layout folder,
optionally restricted by a list file of relative paths (the form of LFW's own lists).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipelines import synthetic

# The README's main job in about 5 minutes on 2 cores with 7 rounds of every case; 120 is the fewest
# that still train: 10 identities of 12 images (bench/train/harness.py asks for 10 of at least 10).
DEFAULT_SYNTHETIC_IMAGES = 120
SYNTHETIC_SEED = 0
# Part of the cache folder's name: bump it whenever pipelines/synthetic.py draws differently.
SYNTHETIC_VERSION = "v1"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".tif", ".tiff", ".webp")


class DatasetError(ValueError):
    """The dataset spec, folder or list file cannot be used; the message says why."""


@dataclass(frozen=True)
class Dataset:
    name: str
    root: Path
    keys: tuple[str, ...]
    labels: tuple[str, ...]
    truth: pd.DataFrame | None = None  # synthetic only: eye centres per key

    def __len__(self) -> int:
        return len(self.keys)


def cache_dir() -> Path:
    return Path(os.environ.get("FACEBENCH_CACHE", Path.home() / ".cache" / "facebench"))


def label_of(key: str) -> str:
    """LFW's convention: the folder is the person."""
    return key.split("/")[0] if "/" in key else ""


def synthetic_dataset(n: int = DEFAULT_SYNTHETIC_IMAGES, seed: int = SYNTHETIC_SEED) -> Dataset:
    """Generate once into the cache (atomically: a half-written folder is never used) and load."""
    if n < 1:
        raise DatasetError(f"synthetic dataset needs at least one image, not {n}")
    root = cache_dir() / f"synthetic-{SYNTHETIC_VERSION}-n{n}-s{seed}"
    if not (root / "truth.csv").is_file():
        root.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root.parent))
        synthetic.generate(tmp, n, seed)
        try:
            tmp.rename(root)
        except OSError:  # another process generated the same data first
            shutil.rmtree(tmp, ignore_errors=True)
    truth = pd.read_csv(root / "truth.csv")
    keys = tuple(truth["key"])
    return Dataset(f"synthetic:{n}", root, keys, tuple(truth["label"]), truth)


def folder_dataset(root: Path, list_file: Path | None = None) -> Dataset:
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist")
    if list_file is not None:
        if not list_file.is_file():
            raise DatasetError(f"list file {list_file} does not exist")
        keys = sorted({line.strip() for line in list_file.read_text().splitlines() if line.strip()})
        if not keys:
            raise DatasetError(f"list file {list_file} is empty: it names no images")
        resolved = root.resolve()
        outside = [k for k in keys if not (root / k).resolve().is_relative_to(resolved)]
        if outside:
            raise DatasetError(
                f"{len(outside)} path(s) of {list_file} point outside {root}, e.g. {outside[0]}"
            )
        missing = [k for k in keys if not (root / k).is_file()]
        if missing:
            count = len(missing)
            raise DatasetError(f"{count} path(s) of {list_file} are missing from {root}, e.g. {missing[0]}")
        name = f"{root.name}[{list_file.name}]"
    else:
        keys = sorted(
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
        )
        name = root.name
    return Dataset(name, root, tuple(keys), tuple(label_of(k) for k in keys))


def load_dataset(spec: str, list_file: str | Path | None = None) -> Dataset:
    """Resolve a dataset spec; an empty dataset is an error, since nothing could be measured."""
    if spec == "synthetic" or spec.startswith("synthetic:"):
        if list_file is not None:
            raise DatasetError("--list applies to a dataset folder, not to the synthetic dataset")
        count = spec.partition(":")[2]
        if count and not count.isdigit():
            raise DatasetError(f"bad dataset {spec!r}: use synthetic or synthetic:N with N a number")
        dataset = synthetic_dataset(int(count) if count else DEFAULT_SYNTHETIC_IMAGES)
    else:
        dataset = folder_dataset(Path(spec).expanduser(), Path(list_file) if list_file else None)
    if not dataset.keys:
        raise DatasetError(f"dataset {spec!r} holds no images")
    return dataset
