"""The kernel: image bytes in, an aligned 180x180 face crop out, exactly as the seed pattern did it.

dlib's HOG frontal detector (one upsample), the largest face, dlib's 68-point shape predictor, and an
affine transform taking landmarks 39, 42, 57 (inner eye corners, bottom lip) onto openface's MINMAX
template scaled to 180. Two variants give byte-identical output:

- ``optimized`` loads the models once per process and works in memory;
- ``naive`` does what the pattern's cloud function did for every image: builds the aligner again and
  round-trips the input and the crop through temporary files.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import BytesIO

import cv2
import dlib
import numpy as np
from PIL import Image

from pipelines.models import LANDMARKS_68, model_path

IMG_DIM = 180
LANDMARK_INDICES = (39, 42, 57)
JPEG_QUALITY = 95
UPSAMPLE = 1
#: Images above this many pixels are refused before they are decoded (decompression bombs).
MAX_PIXELS = 40_000_000
KERNELS = ("optimized", "naive")
STAGES = ("decode", "detect", "landmarks", "warp", "encode")

# openface's 68-point mean face (openface/align_dlib.py, Apache-2.0), normalised to [0, 1] per axis
# (MINMAX_TEMPLATE); only the min, max and the three points used for alignment are needed.
_TPL_MIN = np.float32([0.0792396913815, 0.182360984545])
_TPL_MAX = np.float32([0.971193274221, 1.06080371126])
_TPL_POINTS = np.float32(
    [
        (0.403718978315, 0.33867711083),  # 39: inner corner of the subject's right eye
        (0.631326076346, 0.334136672344),  # 42: inner corner of the subject's left eye
        (0.525398405766, 0.841706377792),  # 57: bottom lip
    ]
)
MINMAX_POINTS = (_TPL_POINTS - _TPL_MIN) / (_TPL_MAX - _TPL_MIN)

# cv2 would otherwise spread one image's warp over every core and blur "one worker = one core".
cv2.setNumThreads(1)


@dataclass
class FaceResult:
    """What the kernel says about one image; ``timings`` holds seconds per stage in STAGES."""

    status: str  # ok | no_face | bad_input | error
    error: str = ""
    crop: bytes | None = None
    box: tuple[int, int, int, int] | None = None  # left, top, right, bottom of the largest face
    landmarks: tuple[tuple[float, float], ...] | None = None  # points 39, 42, 57 in input pixels
    timings: dict[str, float] = field(default_factory=dict)
    load_s: float = 0.0  # model load paid by this call (cold start), 0 when the models were warm


class BadInput(ValueError):
    """The bytes are not an image this kernel can process; the message says why."""


def check_size(data: bytes) -> None:
    """Refuse empty input, truncated JPEGs and images over MAX_PIXELS before any decoding.

    The size comes from the header alone (PIL reads it without decoding), so a decompression bomb, a
    PNG whose header claims 100000x100000 pixels in a few hundred bytes, costs nothing. A truncated
    JPEG is refused here because libjpeg would otherwise fill in the missing rows when it reads from a
    file (the naive kernel) but fail when it reads from memory (the optimized one).
    """
    if not data:
        raise BadInput("empty file")
    try:
        with Image.open(BytesIO(data)) as im:
            width, height = im.size
    except Exception as exc:  # PIL raises many types for unknown formats; cv2 gets the last word
        if isinstance(exc, Image.DecompressionBombError):
            pixels = re.search(r"\((\d+) pixels\)", str(exc))
            size = f"{int(pixels.group(1)):,} pixels" if pixels else "the image"
            raise BadInput(f"image too large: {size} exceeds the limit of {MAX_PIXELS:,}") from None
        return
    if width * height > MAX_PIXELS:
        raise BadInput(f"image too large: {width}x{height} pixels exceeds the limit of {MAX_PIXELS:,}")
    if data[:2] == b"\xff\xd8" and not _jpeg_complete(data):
        raise BadInput("truncated JPEG: no end-of-image marker after the image data")


def _jpeg_complete(data: bytes) -> bool:
    """Whether an end-of-image marker follows the first scan of the main image.

    Walks the marker segments up to the first start-of-scan (skipping APP segments, where an EXIF
    thumbnail's own end-of-image marker lives); inside entropy-coded data 0xFFD9 cannot occur.
    """
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:  # start of scan
            return data.rfind(b"\xff\xd9") > pos
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return False


def decode(data: bytes) -> np.ndarray:
    """Decode to 8-bit BGR, as cv2.IMREAD_COLOR does, which both kernels use (docs/reliability.md).

    Grayscale and 16-bit inputs become 8-bit BGR, alpha is dropped (not blended), CMYK JPEGs are
    converted, and a JPEG's EXIF orientation is applied, so the face is detected upright.
    """
    check_size(data)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise BadInput("not a decodable image")
    return image


class Aligner:
    """The models, loaded once; ``align`` is the pure per-image work."""

    def __init__(self) -> None:
        start = time.perf_counter()
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(model_path(LANDMARKS_68))
        self.load_s = time.perf_counter() - start

    def align(self, image: np.ndarray, timings: dict[str, float]) -> tuple[FaceResult, np.ndarray | None]:
        """Detect, find landmarks, warp; the caller does decode and encode."""
        t0 = time.perf_counter()
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        faces = self.detector(rgb, UPSAMPLE)
        t1 = time.perf_counter()
        timings["detect"] = t1 - t0
        if len(faces) == 0:
            return FaceResult("no_face", "no face detected", timings=timings), None
        face = max(faces, key=lambda r: r.width() * r.height())
        shape = self.predictor(rgb, face)
        points = np.float32([(shape.part(i).x, shape.part(i).y) for i in LANDMARK_INDICES])
        t2 = time.perf_counter()
        timings["landmarks"] = t2 - t1
        matrix = cv2.getAffineTransform(points, IMG_DIM * MINMAX_POINTS)
        crop = cv2.warpAffine(image, matrix, (IMG_DIM, IMG_DIM))
        timings["warp"] = time.perf_counter() - t2
        return FaceResult(
            "ok",
            box=(face.left(), face.top(), face.right(), face.bottom()),
            landmarks=tuple((float(x), float(y)) for x, y in points),
            timings=timings,
        ), crop


# A pool of aligners per process: dlib's detector and shape predictor keep scratch state and are not
# safe to share between threads (a multi-threaded Dask worker crashed with SIGSEGV when they were), so
# each image leases one. A process with one thread holds one; a worker with N threads at most N.
# ``unload`` (from any thread) makes every later image pay a load again, as a fresh worker would;
# ``preload`` loads them before the clock, for a warm start (or before a fork, to share them).
_POOL: list[Aligner] = []
_LOCK = threading.Lock()
_GENERATION = 0


def unload() -> None:
    """Forget this process's models, so that the next image pays the load as a fresh worker would."""
    global _GENERATION
    with _LOCK:
        _POOL.clear()
        _GENERATION += 1


def preload(count: int = 1) -> float:
    """Have ``count`` idle aligners in this process; the seconds spent loading them."""
    with _LOCK:
        missing = max(0, count - len(_POOL))
    loaded = [Aligner() for _ in range(missing)]
    with _LOCK:
        _POOL.extend(loaded)
    return sum(a.load_s for a in loaded)


def loaded() -> int:
    """How many idle aligners this process holds (0: the next image pays a load)."""
    with _LOCK:
        return len(_POOL)


@contextmanager
def leased_aligner() -> Iterator[tuple[Aligner, float]]:
    """An aligner for one image, and the load time paid for it now (0 when one was idle)."""
    with _LOCK:
        generation = _GENERATION
        aligner = _POOL.pop() if _POOL else None
    load_s = 0.0
    if aligner is None:
        aligner = Aligner()
        load_s = aligner.load_s
    try:
        yield aligner, load_s
    finally:
        with _LOCK:
            if generation == _GENERATION:
                _POOL.append(aligner)


def _run(data: bytes, aligner: Aligner, load_s: float, read, write) -> FaceResult:
    timings = dict.fromkeys(STAGES, 0.0)
    try:
        t0 = time.perf_counter()
        try:
            image = read(data)
        except BadInput as exc:
            timings["decode"] = time.perf_counter() - t0
            return FaceResult("bad_input", str(exc), timings=timings, load_s=load_s)
        timings["decode"] = time.perf_counter() - t0
        result, crop = aligner.align(image, timings)
        result.load_s = load_s
        if crop is not None:
            t3 = time.perf_counter()
            result.crop = write(crop)
            timings["encode"] = time.perf_counter() - t3
        return result
    except Exception as exc:  # the kernel must account for every image, whatever dlib or cv2 raise
        return FaceResult("error", f"{type(exc).__name__}: {exc}", timings=timings, load_s=load_s)


def _encode(crop: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def _read_via_tempfile(data: bytes) -> np.ndarray:
    check_size(data)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "input")
        with open(path, "wb") as f:
            f.write(data)
        image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise BadInput("not a decodable image")
    return image


def _write_via_tempfile(crop: np.ndarray) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "crop.jpg")
        if not cv2.imwrite(path, crop, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
            raise RuntimeError("JPEG encoding failed")
        with open(path, "rb") as f:
            return f.read()


def process(data: bytes, kernel: str = "optimized") -> FaceResult:
    """The kernel entry point: one image's bytes through the chosen variant."""
    if kernel == "optimized":
        with leased_aligner() as (aligner, load_s):
            return _run(data, aligner, load_s, decode, _encode)
    if kernel == "naive":
        aligner = Aligner()
        return _run(data, aligner, aligner.load_s, _read_via_tempfile, _write_via_tempfile)
    raise ValueError(f"unknown kernel {kernel!r}; choose one of {', '.join(KERNELS)}")
