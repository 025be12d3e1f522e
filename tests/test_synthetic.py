"""Tests of the synthetic face generator: determinism, layout, truth, and what dlib makes of the faces."""

import math

import cv2
import dlib
import face_recognition_models
import numpy as np
import pandas as pd
import pytest

from pipelines import synthetic

N = 60  # five identities of twelve images (the default identity count)
SEED = 11


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    out = tmp_path_factory.mktemp("synthetic")
    return out, synthetic.generate(out, N, seed=SEED)


@pytest.fixture(scope="module")
def found(dataset: tuple) -> list:
    """(truth row, image, largest face box or None, 68 landmarks or None) per image."""
    out, table = dataset
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
    rows = []
    for row in table.itertuples():
        image = cv2.imread(str(out / row.key))
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        faces = detector(rgb, 1)
        if not faces:
            rows.append((row, image, None, None))
            continue
        box = max(faces, key=lambda r: r.area())
        points = np.array([(q.x, q.y) for q in predictor(rgb, box).parts()], float)
        rows.append((row, image, box, points))
    return rows


def test_identity_names_are_lfw_like():
    names = [synthetic.identity_name(i) for i in range(300)]
    assert names[7] == "Synth_Person_007"
    assert len(set(names)) == len(names)
    assert all(name.isascii() and " " not in name for name in names)


def test_render_is_deterministic():
    first = synthetic.render(5, N, seed=SEED)
    assert synthetic.render(5, N, seed=SEED) == first
    assert synthetic.render(5, N, seed=SEED + 1)[0] != first[0]
    assert synthetic.render(6, N, seed=SEED)[0] != first[0]


def test_generate_twice_gives_identical_files(tmp_path):
    a = synthetic.generate(tmp_path / "a", 14, seed=3)
    b = synthetic.generate(tmp_path / "b", 14, seed=3)
    pd.testing.assert_frame_equal(a, b)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 15  # 14 images and truth.csv
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    jpeg, truth = synthetic.render(9, 14, seed=3)
    assert (tmp_path / "a" / truth["key"]).read_bytes() == jpeg


def test_layout_and_truth_table(dataset):
    out, table = dataset
    assert list(table.columns) == ["key", "label", "left_eye_x", "left_eye_y", "right_eye_x", "right_eye_y"]
    assert table["key"].is_monotonic_increasing and table["key"].is_unique
    pd.testing.assert_frame_equal(pd.read_csv(out / "truth.csv"), table)
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpg"))
    assert on_disk == list(table["key"])
    counts = table["label"].value_counts()
    assert sorted(counts.index) == [synthetic.identity_name(i) for i in range(5)]
    assert set(counts) == {12}
    for label, group in table.groupby("label"):
        assert list(group["key"]) == [f"{label}/{label}_{k:04d}.jpg" for k in range(1, 13)]
    image = cv2.imread(str(out / table["key"][0]))
    assert image.shape == (250, 250, 3)
    eye_distance = np.hypot(table.right_eye_x - table.left_eye_x, table.right_eye_y - table.left_eye_y)
    assert (table.left_eye_x < table.right_eye_x).all()
    assert eye_distance.between(30, 70).all()
    assert table[["left_eye_x", "left_eye_y", "right_eye_x", "right_eye_y"]].stack().between(40, 210).all()


def test_identities_argument_and_index_range():
    _, truth = synthetic.render(7, 10, identities=3)
    assert truth["label"] == "Synth_Person_001"
    assert truth["key"] == "Synth_Person_001/Synth_Person_001_0003.jpg"
    with pytest.raises(IndexError):
        synthetic.render(10, 10)


def test_detector_finds_the_faces(found):
    boxes = [(row, box) for row, _, box, _ in found if box is not None]
    assert len(boxes) >= 0.95 * N  # measured: every image of this set, and 100% of 720 over three seeds
    for row, box in boxes:
        for x, y in ((row.left_eye_x, row.left_eye_y), (row.right_eye_x, row.right_eye_y)):
            assert box.left() <= x <= box.right() and box.top() <= y <= box.bottom()


def test_landmarks_land_on_the_true_eyes(found):
    errors = []
    for row, _, _, points in found:
        if points is not None:
            errors.append(math.dist(points[36:42].mean(axis=0), (row.left_eye_x, row.left_eye_y)))
            errors.append(math.dist(points[42:48].mean(axis=0), (row.right_eye_x, row.right_eye_y)))
    # measured: mean about 0.9 px, largest about 2 px
    assert np.mean(errors) <= 3.0
    assert np.max(errors) <= 8.0


def _eye_aligned(image: np.ndarray, row) -> np.ndarray:
    """A 32x32 crop with the true eyes at fixed places, high-passed against lighting, as a unit vector."""
    left, right = np.array([row.left_eye_x, row.left_eye_y]), np.array([row.right_eye_x, row.right_eye_y])
    dx, dy = right - left
    angle, scale = math.degrees(math.atan2(dy, dx)), 12 / math.hypot(dx, dy)
    m = cv2.getRotationMatrix2D(tuple((left + right) / 2), angle, scale)
    m[:, 2] += (16, 12) - (left + right) / 2
    crop = cv2.warpAffine(image, m, (32, 32), flags=cv2.INTER_AREA).astype(np.float32)
    v = (crop - cv2.GaussianBlur(crop, (0, 0), 2)).ravel()
    return v / np.linalg.norm(v)


def test_identities_differ_and_each_is_consistent(found):
    """Nearest identity centroid (leaving the image out) on eye-aligned crops recovers the identity."""
    vectors = np.array([_eye_aligned(image, row) for row, image, _, _ in found])
    labels = np.array([row.label for row, _, _, _ in found])
    names = sorted(set(labels))
    correct = 0
    for i in range(len(vectors)):
        others = np.arange(len(vectors)) != i
        centroids = np.array([vectors[others & (labels == name)].mean(axis=0) for name in names])
        correct += names[int(np.argmin(np.linalg.norm(centroids - vectors[i], axis=1)))] == labels[i]
    assert correct >= 0.95 * len(vectors)  # measured: 60 of 60 on each of seeds 1 to 8
