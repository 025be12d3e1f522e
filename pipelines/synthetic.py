"""Procedurally drawn, seeded faces in LFW layout: the embedded default dataset.

Each identity is a fixed set of traits drawn from (seed, identity); each image adds its own pose,
lighting, background, noise and a slight change of expression. The faces are drawn so that dlib's HOG
frontal detector finds them and its 68-point predictor lands on them; every image comes with its
identity and the true eye centres in image pixels.
"""

from __future__ import annotations

import math
import pathlib
from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd

SIZE = 250  # output images are SIZE x SIZE, like LFW
CANVAS = 300  # the face is drawn upright on a larger canvas, then warped into the output
JPEG_QUALITY = 95
COLUMNS = ["key", "label", "left_eye_x", "left_eye_y", "right_eye_x", "right_eye_y"]

_SHIFT = 4  # fixed-point bits for anti-aliased cv2 drawing
_ONE = 1 << _SHIFT

# BGR palettes
_SKIN = np.array(
    [[200, 215, 240], [165, 195, 235], [135, 175, 220], [105, 150, 205], [80, 120, 175], [60, 92, 140]],
    np.float64,
)
_HAIR = np.array(
    [
        [20, 20, 25],
        [25, 40, 65],
        [35, 65, 110],
        [80, 150, 200],
        [40, 70, 165],
        [140, 140, 145],
        [205, 205, 210],
    ],
    np.float64,
)
_IRIS = np.array(
    [[30, 55, 95], [20, 28, 45], [170, 125, 60], [85, 135, 80], [50, 105, 125], [140, 135, 120]], np.float64
)
_HAIR_STYLES = ("short", "fringe", "side_part", "long", "buzz", "curly")
_FACIAL_HAIR = ("none", "none", "none", "none", "moustache", "beard", "stubble")


@dataclass(frozen=True)
class _Identity:
    half_width: float  # of the face, canonical pixels
    aspect: float  # face height / width
    jaw: float  # narrowing of the lower face
    skin: np.ndarray
    hair: np.ndarray
    hair_style: str
    hairline: float
    eye_spacing: float
    eye_width: float
    eye_open: float
    iris: np.ndarray
    brow_thickness: float
    brow_angle: float
    brow_arch: float
    nose_length: float
    nose_width: float
    mouth_width: float
    lip: np.ndarray
    lip_thickness: float
    ear_size: float
    clothes: np.ndarray
    facial_hair: str
    # moles and freckles: rows of (x, y, radius, shade), x y radius in face half-widths from the eye midpoint
    marks: np.ndarray


def identity_name(i: int) -> str:
    """LFW-like folder name of identity ``i``."""
    return f"Synth_Person_{i:03d}"


def _identity(seed: int, i: int) -> _Identity:
    rng = np.random.default_rng([seed, 0, i])

    def pick(palette: np.ndarray, jitter: float) -> np.ndarray:
        t = rng.uniform(0, len(palette) - 1)
        k = min(int(t), len(palette) - 2)
        colour = palette[k] + (t - k) * (palette[k + 1] - palette[k])
        return np.clip(colour + rng.normal(0, jitter, 3), 0, 255)

    skin = pick(_SKIN, 6)
    hair = _HAIR[rng.integers(len(_HAIR))] + rng.normal(0, 8, 3)
    lip = skin * rng.uniform(0.55, 0.75) * np.array([rng.uniform(0.65, 0.85), rng.uniform(0.7, 0.85), 1.0])
    marks = np.zeros((0, 4))
    if rng.random() < 0.5:  # a mole on a cheek
        marks = np.array([[rng.choice([-1, 1]) * rng.uniform(0.3, 0.6), rng.uniform(0.3, 0.9), 0.035, 0.45]])
    if rng.random() < 0.25:  # freckles over the nose and cheeks
        k = rng.integers(6, 12)
        freckles = np.stack(
            [rng.uniform(-0.6, 0.6, k), rng.uniform(0.25, 0.6, k), np.full(k, 0.018), np.full(k, 0.75)],
            axis=1,
        )
        marks = np.vstack([marks, freckles])
    return _Identity(
        half_width=rng.uniform(45, 54),
        aspect=rng.uniform(1.22, 1.42),
        jaw=rng.uniform(0.08, 0.3),
        skin=skin,
        hair=np.clip(hair, 0, 255),
        hair_style=_HAIR_STYLES[rng.integers(len(_HAIR_STYLES))],
        hairline=rng.uniform(0.0, 1.0),
        eye_spacing=rng.uniform(0.40, 0.50),
        eye_width=rng.uniform(0.17, 0.23),
        eye_open=rng.uniform(0.38, 0.52),
        iris=np.clip(_IRIS[rng.integers(len(_IRIS))] + rng.normal(0, 8, 3), 0, 255),
        brow_thickness=rng.uniform(0.05, 0.10),
        brow_angle=rng.uniform(-0.12, 0.15),
        brow_arch=rng.uniform(0.0, 0.08),
        nose_length=rng.uniform(0.55, 0.72),
        nose_width=rng.uniform(0.14, 0.22),
        mouth_width=rng.uniform(0.30, 0.42),
        lip=np.clip(lip, 0, 255),
        lip_thickness=rng.uniform(0.05, 0.10),
        ear_size=rng.uniform(0.9, 1.15),
        clothes=rng.uniform(20, 230, 3),
        facial_hair=_FACIAL_HAIR[rng.integers(len(_FACIAL_HAIR))],
        marks=marks,
    )


def _dark(colour: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(colour * factor, 0, 255)


def _pts(xy: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(xy) * _ONE).astype(np.int32).reshape(-1, 1, 2)


def _poly(img: np.ndarray, xy: np.ndarray, colour: np.ndarray) -> None:
    cv2.fillPoly(img, [_pts(xy)], colour.tolist(), cv2.LINE_AA, _SHIFT)


def _line(img: np.ndarray, xy: np.ndarray, colour: np.ndarray, thickness: float) -> None:
    cv2.polylines(img, [_pts(xy)], False, colour.tolist(), max(1, round(thickness)), cv2.LINE_AA, _SHIFT)


def _ellipse(
    img: np.ndarray,
    centre: tuple[float, float],
    axes: tuple[float, float],
    colour: np.ndarray,
    angle: float = 0.0,
    start: float = 0.0,
    end: float = 360.0,
    thickness: int = -1,
) -> None:
    c = (round(centre[0] * _ONE), round(centre[1] * _ONE))
    ax = (max(1, round(axes[0] * _ONE)), max(1, round(axes[1] * _ONE)))
    cv2.ellipse(img, c, ax, angle, start, end, colour.tolist(), thickness, cv2.LINE_AA, _SHIFT)


def _arc(cx: float, cy: float, ax: float, ay: float, t0: float, t1: float, k: int = 24) -> np.ndarray:
    t = np.linspace(t0, t1, k)
    return np.stack([cx + ax * np.cos(t), cy + ay * np.sin(t)], axis=1)


def _background(rng: np.random.Generator) -> np.ndarray:
    """A wall: a muted colour gradient with blotchy texture and up to three rectangles."""
    k = 12
    ramp = np.linspace(0, 1, k)
    corners = rng.uniform(40, 220) + rng.normal(0, 25, 3) + rng.normal(0, 25, (2, 2, 3))
    wx, wy = ramp[None, :, None], ramp[:, None, None]
    top = corners[0, 0] * (1 - wx) + corners[0, 1] * wx
    bottom = corners[1, 0] * (1 - wx) + corners[1, 1] * wx
    small = top * (1 - wy) + bottom * wy + rng.normal(0, rng.uniform(4, 14), (k, k, 1))
    img = cv2.resize(np.clip(small, 0, 255).astype(np.uint8), (CANVAS, CANVAS), interpolation=cv2.INTER_CUBIC)
    for _ in range(rng.integers(0, 4)):
        x, y = rng.uniform(0, CANVAS, 2)
        w, h = rng.uniform(20, 120, 2)
        colour = np.clip(img[int(y), int(x)] + rng.normal(0, 30, 3), 0, 255)
        cv2.rectangle(img, (int(x), int(y)), (int(x + w), int(y + h)), colour.tolist(), -1, cv2.LINE_AA)
    return img


def _draw_face(img: np.ndarray, p: _Identity, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw the upright face on the canvas; return the canonical left and right eye centres."""
    # geometry, in canvas pixels, with this image's small changes of expression
    a = p.half_width * rng.normal(1.0, 0.01)
    b = a * p.aspect
    cx, cy = CANVAS / 2, CANVAS / 2 + 8
    eye_y = cy - 0.2 * b
    d = a * p.eye_spacing
    ew = a * p.eye_width
    eh = ew * p.eye_open * rng.normal(1.0, 0.06)
    gaze = rng.normal(0, 0.12 * ew)
    brow_y = eye_y - eh - 0.24 * a + rng.normal(0, 0.015 * a)
    nose_y = eye_y + a * p.nose_length
    mouth_y = nose_y + 0.38 * a
    mw = a * p.mouth_width * rng.normal(1.0, 0.04)
    smile = rng.normal(0.0, 0.03 * a)
    skin = np.clip(p.skin + rng.normal(0, 3, 3), 0, 255)

    # face outline: an ellipse narrowed towards the chin
    t = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    s = np.sin(t)
    narrow = np.where(s > 0, 1 - p.jaw * s**2, 1.0)
    outline = np.stack([cx + a * np.cos(t) * narrow, cy + b * s], axis=1)

    # shoulders, neck, long hair behind the head, ears
    _ellipse(img, (cx, cy + b + 1.6 * a), (2.6 * a, 1.2 * a), p.clothes)
    neck = [[cx - 0.55 * a, cy + 0.3 * b], [cx + 0.55 * a, cy + 0.3 * b]]
    neck += [[cx + 0.6 * a, cy + b + 0.7 * a], [cx - 0.6 * a, cy + b + 0.7 * a]]
    _poly(img, np.array(neck), _dark(skin, 0.72))
    if p.hair_style == "long":
        back = _arc(cx, cy - 0.1 * b, 1.18 * a, 1.05 * b, np.pi, 2 * np.pi)
        ends = [[cx - 1.25 * a, cy + 1.1 * b]], [[cx + 1.25 * a, cy + 1.1 * b]]
        _poly(img, np.vstack([ends[0], back, ends[1]]), _dark(p.hair, 0.8))
    if p.hair_style == "curly":
        _ellipse(img, (cx, cy - 0.35 * b), (1.35 * a, 0.95 * b), _dark(p.hair, 0.9))
    for side in (-1, 1):
        ear = (0.16 * a * p.ear_size, 0.3 * a * p.ear_size)
        _ellipse(img, (cx + side * 0.97 * a, eye_y + 0.25 * a), ear, _dark(skin, 0.8))

    # skin with soft modelling, computed at quarter resolution: darker towards the edges and in the eye
    # sockets, lighter on the forehead, the bridge of the nose and the cheekbones
    x0, y0 = int(cx - a) - 4, int(cy - b) - 4
    w, h = int(2 * a) + 8, int(2 * b) + 8
    mask = np.zeros((h, w), np.uint8)
    _poly(mask, outline - (x0, y0), np.array([255.0]))
    light = cv2.resize(mask, (w // 4, h // 4), interpolation=cv2.INTER_AREA).astype(np.float32) * (0.45 / 255)

    def soft(x: float, y: float, rx: float, ry: float, amount: float) -> None:
        centre = (round((x - x0) / 4), round((y - y0) / 4))
        cv2.ellipse(light, centre, (max(1, round(rx / 4)), max(1, round(ry / 4))), 0, 0, 360, amount, -1)

    soft(cx, brow_y - 0.3 * a, 0.45 * a, 0.18 * a, 0.55)
    soft(cx, (eye_y + nose_y) / 2, 0.09 * a, 0.5 * (nose_y - eye_y), 0.55)
    for side in (-1, 1):
        soft(cx + side * d, eye_y - 0.1 * a, 0.32 * a, 0.2 * a, 0.3)
        soft(cx + side * 0.5 * a, eye_y + 0.4 * a, 0.2 * a, 0.12 * a, 0.52)
    shade = cv2.resize(cv2.GaussianBlur(light, (0, 0), a / 16), (w, h), interpolation=cv2.INTER_LINEAR)
    alpha = mask[..., None].astype(np.float32) / 255
    lit = skin.astype(np.float32) * (0.55 + shade[..., None])
    roi = img[y0 : y0 + h, x0 : x0 + w]
    roi[:] = np.clip(roi * (1 - alpha) + lit * alpha, 0, 255)

    beard = {"beard": 0.7, "stubble": 0.3}.get(p.facial_hair)
    if beard is not None:  # from the sideburns along the jaw, its upper edge curving down to the lips
        jaw = outline[outline[:, 1] > eye_y + 0.3 * a]
        xs = np.linspace(jaw[-1, 0], jaw[0, 0], 15)
        weight = np.cos(0.5 * np.pi * np.clip(np.abs(xs - cx) / (0.95 * a), 0, 1)) ** 0.7
        edge = np.stack([xs, eye_y + 0.3 * a + weight * (mouth_y - 0.1 * a - eye_y - 0.3 * a)], axis=1)
        _poly(img, np.vstack([jaw, edge]), beard * p.hair + (1 - beard) * _dark(skin, 0.9))

    # eyes: socket shadow, sclera, iris, pupil, upper lid
    eyes = []
    for side in (-1, 1):
        ex = cx + side * d
        eyes.append((ex, eye_y))
        _ellipse(img, (ex, eye_y - 0.2 * eh), (1.45 * ew, 1.6 * eh), _dark(skin, 0.8))
        _ellipse(img, (ex, eye_y), (ew, eh), np.array([205.0, 210, 215]))
        _ellipse(img, (ex + gaze, eye_y), (1.05 * eh, 1.05 * eh), p.iris)
        _ellipse(img, (ex + gaze, eye_y), (0.5 * eh, 0.5 * eh), np.array([15.0, 15, 15]))
        _ellipse(img, (ex, eye_y), (ew, eh), np.array([20.0, 20, 25]), 0, 180, 360, max(1, round(0.16 * ew)))
        _ellipse(img, (ex, eye_y), (ew, eh), _dark(skin, 0.55), 0, 0, 180, 1)

    # brows: the hair's colour, but always darker than the skin
    bt = a * p.brow_thickness
    brow = np.minimum(0.42 * p.hair + 10, 0.55 * skin)
    for side in (-1, 1):
        inner, outer = cx + side * (d - 1.0 * ew), cx + side * (d + 1.25 * ew)
        xs = np.linspace(inner, outer, 9)
        u = (xs - inner) / (outer - inner)
        ys = brow_y + p.brow_angle * a * (u - 0.5) - p.brow_arch * a * np.sin(np.pi * u)
        top = np.stack([xs, ys - bt * (1 - 0.4 * u)], axis=1)
        bottom = np.stack([xs, ys + bt * (1 - 0.4 * u)], axis=1)[::-1]
        _poly(img, np.vstack([top, bottom]), brow)

    # nose: a shadow down one side, the tip, nostrils; then moles and freckles
    nw = a * p.nose_width
    bridge = np.array([[cx - 0.25 * nw, eye_y + 0.15 * a], [cx - 0.5 * nw, nose_y - 0.2 * a]])
    _line(img, bridge, _dark(skin, 0.78), 0.06 * a)
    _ellipse(img, (cx, nose_y - 0.02 * a), (1.05 * nw, 0.5 * nw), _dark(skin, 0.85), 0, 0, 180, -1)
    for side in (-1, 1):
        _ellipse(img, (cx + side * 0.5 * nw, nose_y), (0.28 * nw, 0.16 * nw), _dark(skin, 0.35), side * 20)
    for x, y, r, f in p.marks:
        _ellipse(img, (cx + x * a, eye_y + y * a), (r * a, r * a), _dark(skin, f))

    # mouth: upper and lower lip, the dark line between, the shadow under the lip; a moustache
    lt = a * p.lip_thickness
    u = np.linspace(-1, 1, 17)
    line = mouth_y - smile * u**2
    mid = np.stack([cx + mw * u, line], axis=1)
    bow = 1 - 0.35 * np.exp(-((u * 6) ** 2))
    upper = np.stack([cx + mw * u, line - lt * (1 - u**2) * bow], axis=1)
    lower = np.stack([cx + mw * u, line + 1.4 * lt * (1 - u**2)], axis=1)
    _poly(img, np.vstack([upper, lower[::-1]]), p.lip)
    _line(img, mid, _dark(p.lip, 0.45), 0.04 * a + 1)
    _ellipse(img, (cx, mouth_y + 1.6 * lt + 0.08 * a), (0.5 * mw, 0.06 * a), _dark(skin, 0.85))
    if p.facial_hair == "moustache":
        tash = np.stack([cx + 0.9 * mw * u, mouth_y - lt - 0.12 * a + 0.05 * a * u**2], axis=1)
        _line(img, tash, np.minimum(0.7 * p.hair, 0.6 * skin), 0.06 * a)

    _hair(img, p, cx, cy, a, b, brow_y)
    return np.array(eyes[0]), np.array(eyes[1])


def _hair(img: np.ndarray, p: _Identity, cx: float, cy: float, a: float, b: float, brow_y: float) -> None:
    style = p.hair_style
    top = cy - b
    reach = 1.05 if style != "curly" else 1.25
    # hairline height: between the brows and the crown, lower for a fringe
    low = brow_y - 0.22 * a
    line_y = low - (0.2 + 0.35 * p.hairline) * (low - top)
    if style == "fringe":
        line_y = low - 0.1 * (low - top)
    side_y = cy - 0.25 * b
    oy, ob = cy - 0.02 * b, (reach * 0.98 + 0.06) * b
    t0 = math.asin((oy - side_y) / ob)
    outer = _arc(cx, oy, reach * a, ob, np.pi + t0, 2 * np.pi - t0, 32)
    u = np.linspace(1, -1, 21)
    if style == "side_part":
        ys = line_y + 0.25 * (low - line_y) * (u + 1) / 2 - 0.15 * a * (1 - u**2)
    elif style == "fringe":
        ys = line_y + 0.05 * a * np.cos(u * 9)
    else:
        ys = line_y - 0.12 * a * (1 - u**2) + 0.1 * a * u**4
    # keep the hairline's ends inside the face so that no background shows at the temples
    xs = cx + 0.95 * a * u * np.sqrt(np.clip(1 - ((ys - cy) / b) ** 2, 0, 1))
    inner = np.stack([xs, ys], axis=1)
    shape = np.vstack([outer, [[cx + 0.92 * a, side_y]], inner, [[cx - 0.92 * a, side_y]]])
    colour = 0.45 * p.hair + 0.55 * p.skin if style == "buzz" else p.hair
    _poly(img, shape, colour)
    shine = np.clip(colour * 1.3 + 15, 0, 255)
    _ellipse(img, (cx - 0.2 * a, top + 0.15 * b), (0.45 * a, 0.08 * b), shine, -10, 200, 330, round(0.04 * a))


def render(index: int, n: int, seed: int = 0, identities: int | None = None) -> tuple[bytes, dict]:
    """JPEG bytes and ground truth of image ``index`` of an ``n``-image synthetic dataset.

    Image ``index`` shows identity ``index % identities`` (default ``max(2, n // 12)`` identities). The
    truth has the LFW-style ``key``, the ``label`` and both eye centres in image pixels (left = smaller x).
    """
    if not 0 <= index < n:
        raise IndexError(f"image {index} out of range for n={n}")
    identities = max(2, n // 12) if identities is None else identities
    if identities < 1:
        raise ValueError(f"identities must be positive, got {identities}")
    ident = index % identities
    p = _identity(seed, ident)
    rng = np.random.default_rng([seed, 1, index])

    img = _background(rng)
    left, right = _draw_face(img, p, rng)
    img = cv2.GaussianBlur(img, (0, 0), 0.8)

    angle = rng.uniform(-5, 5)
    scale = rng.uniform(0.9, 1.1)
    shift = rng.uniform(-12, 12, 2)
    m = cv2.getRotationMatrix2D((CANVAS / 2, CANVAS / 2), angle, scale)
    m[:, 2] += shift - (CANVAS - SIZE) / 2
    out = cv2.warpAffine(img, m, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)

    # lighting: contrast, brightness and a linear gradient, then sensor noise (triangular, from bytes)
    contrast = rng.uniform(0.8, 1.15)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = np.linspace(-1, 1, SIZE, dtype=np.float32)
    grad = math.cos(theta) * np.repeat(ramp, 3)[None, :] + math.sin(theta) * ramp[:, None]
    gain = (contrast * rng.uniform(0.8, 1.15)) * (1 + rng.uniform(0, 0.25) * grad)
    sigma = rng.uniform(1, 5) / 104.5
    noise = np.frombuffer(rng.bytes(2 * out.size), np.uint8).reshape(2, SIZE, 3 * SIZE)
    lit = (out.reshape(SIZE, 3 * SIZE).astype(np.float32) + 128 * (1 / contrast - 1)) * gain
    lit += cv2.addWeighted(
        noise[0], sigma, noise[1], sigma, rng.uniform(-20, 20) - 255 * sigma, dtype=cv2.CV_32F
    )
    out = np.clip(lit, 0, 255, out=lit).astype(np.uint8).reshape(SIZE, SIZE, 3)
    ok, jpeg = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")

    (lx, ly), (rx, ry) = (m @ np.append(e, 1.0) for e in (left, right))
    name = identity_name(ident)
    truth = {
        "key": f"{name}/{name}_{index // identities + 1:04d}.jpg",
        "label": name,
        "left_eye_x": round(float(lx), 2),
        "left_eye_y": round(float(ly), 2),
        "right_eye_x": round(float(rx), 2),
        "right_eye_y": round(float(ry), 2),
    }
    return jpeg.tobytes(), truth


def generate(out_dir: pathlib.Path, n: int, seed: int = 0, identities: int | None = None) -> pd.DataFrame:
    """Write ``n`` images in LFW layout plus ``truth.csv`` under ``out_dir``; return the truth table."""
    out_dir = pathlib.Path(out_dir)
    rows = []
    for index in range(n):
        jpeg, truth = render(index, n, seed, identities)
        path = out_dir / truth["key"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(jpeg)
        rows.append(truth)
    table = pd.DataFrame(rows, columns=COLUMNS).sort_values("key", ignore_index=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "truth.csv", index=False)
    return table
