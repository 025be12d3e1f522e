"""What every face kernel shares: image bytes in (checked, decoded), a crop out (JPEG), the result.

The kernels themselves, the faithful one and its variants, are in ``pipelines/kernels/``; this module
holds their common ground, so that every variant refuses, decodes and encodes exactly alike: the size
and truncation checks, decoding to 8-bit BGR, openface's template and the affine warp onto it, and
``FaceResult``, the one answer a kernel gives for an image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from io import BytesIO

import cv2
import numpy as np
from PIL import Image

IMG_DIM = 180
JPEG_QUALITY = 95
#: Images above this many pixels are refused before they are decoded (decompression bombs).
MAX_PIXELS = 40_000_000
STAGES = ("decode", "detect", "landmarks", "warp", "encode")

# openface's 68-point mean face (openface/align_dlib.py, Apache-2.0), normalised to [0, 1] per axis
# (MINMAX_TEMPLATE); only the min, max and the points some kernel aligns on are needed.
_TPL_MIN = np.float32([0.0792396913815, 0.182360984545])
_TPL_MAX = np.float32([0.971193274221, 1.06080371126])
_TPL_POINTS = {
    33: (0.520712933176, 0.634268222208),  # bottom of the nose, between the nostrils
    39: (0.403718978315, 0.33867711083),  # inner corner of the subject's right eye
    42: (0.631326076346, 0.334136672344),  # inner corner of the subject's left eye
    57: (0.525398405766, 0.841706377792),  # bottom lip
}


def template_points(indices: tuple[int, ...]) -> np.ndarray:
    """openface's MINMAX template points of the given 68-point indices, in [0, 1]."""
    points = np.float32([_TPL_POINTS[i] for i in indices])
    return (points - _TPL_MIN) / (_TPL_MAX - _TPL_MIN)


def openface_warp(image: np.ndarray, points: np.ndarray, indices: tuple[int, ...]) -> np.ndarray:
    """The IMG_DIM x IMG_DIM crop whose affine transform takes three landmarks (input pixels) onto the
    template's points of the same 68-point indices."""
    matrix = cv2.getAffineTransform(np.float32(points), IMG_DIM * template_points(indices))
    return cv2.warpAffine(image, matrix, (IMG_DIM, IMG_DIM))


# cv2 would otherwise spread one image's warp over every core and blur "one worker = one core".
cv2.setNumThreads(1)

Point = tuple[float, float]


@dataclass
class FaceResult:
    """What a kernel says about one image; ``timings`` holds seconds per stage in STAGES."""

    status: str  # ok | no_face | bad_input | error
    error: str = ""
    crop: bytes | None = None
    box: tuple[int, int, int, int] | None = None  # left, top, right, bottom of the chosen face
    landmarks: tuple[Point, ...] | None = None  # the alignment points the kernel declares, input pixels
    eyes: tuple[Point, Point] | None = None  # eye centres (corner midpoints), the smaller x first
    timings: dict[str, float] = field(default_factory=dict)
    load_s: float = 0.0  # model load paid by this call (cold start), 0 when the models were warm


class BadInput(ValueError):
    """The bytes are not an image this kernel can process; the message says why."""


def check_size(data: bytes) -> None:
    """Refuse empty input, truncated JPEGs and images over MAX_PIXELS before any decoding.

    The size comes from the header alone (PIL reads it without decoding), so a decompression bomb, a
    PNG whose header claims 100000x100000 pixels in a few hundred bytes, costs nothing. A truncated
    JPEG is refused here because libjpeg would otherwise fill in the missing rows when it reads from a
    file (the naive kernel) but fail when it reads from memory (the others).
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
    """Decode to 8-bit BGR, as cv2.IMREAD_COLOR does, which every kernel uses (docs/reliability.md).

    Grayscale and 16-bit inputs become 8-bit BGR, alpha is dropped (not blended), CMYK JPEGs are
    converted, and a JPEG's EXIF orientation is applied, so the face is detected upright.
    """
    check_size(data)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise BadInput("not a decodable image")
    return image


def encode(crop: np.ndarray) -> bytes:
    """JPEG at JPEG_QUALITY, as every openface-affine kernel writes its crop."""
    ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()
