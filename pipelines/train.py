"""TensorFlow/Keras face identification on an aligned output, and LFW pairs verification.

- ``split_keys``: identities with at least ``min_images`` crops, each identity's crops split into train,
  validation and test with a fixed seed (stratified: every identity is in every split; leak-free: a key
  is in exactly one split; an identity's split does not depend on which other identities are present).
- two models: ``embeddings`` (a small classifier on dlib's 128-d ResNet descriptors, see
  ``pipelines.embeddings``) and ``cnn`` (a small convolutional network on the crops' pixels).
- ``evaluate``: top-1, top-5, macro F1, per-identity accuracy and a confusion summary.
- ``save`` / ``Classifier.load``: Keras' native ``model.keras``, ``labels.json`` and ``metrics.json``.
- ``predict_photo``: a new photo through the face kernel the model was trained on (``labels.json``), then
  the model.
- ``lfw_pairs_verification``: LFW's 10-fold same/different protocol on the pairs the descriptors cover.

Runs are reproducible: Keras' seeds are set from the seed and TensorFlow's ops are made deterministic.
This module knows nothing of executors; the harness computes descriptors in parallel and passes them in.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import warnings
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pipelines import embeddings, kernels

MODELS = ("embeddings", "cnn")
SPLITS = ("train", "val", "test")
#: Fractions of each identity's crops held out for validation and test (at least one crop each).
VAL_FRACTION = 0.15
TEST_FRACTION = 0.15
MIN_IMAGES_FLOOR = 3  # one crop per split
CNN_SIZE = 64  # the cnn model sees the 180x180 crops downscaled to this
TOP_K = 5
MODEL_FILE = "model.keras"
LABELS_FILE = "labels.json"
METRICS_FILE = "metrics.json"


class TrainError(ValueError):
    """The data or the options cannot give a model; the message says why."""


# --------------------------------------------------------------------------------------------- split


@dataclass(frozen=True)
class Split:
    """Keys per split and the identities (classes, sorted) they belong to."""

    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]
    classes: tuple[str, ...]
    labels: Mapping[str, str] = field(repr=False)  # key -> identity, for the keys of the three splits

    def keys(self, name: str) -> tuple[str, ...]:
        return getattr(self, name)

    def sizes(self) -> dict[str, dict[str, int]]:
        """Identities and images per split."""
        return {
            name: {
                "identities": len({self.labels[k] for k in self.keys(name)}),
                "images": len(self.keys(name)),
            }
            for name in SPLITS
        }

    def assignment(self) -> dict[str, str]:
        """key -> split name."""
        return {k: name for name in SPLITS for k in self.keys(name)}


def _counts(n: int) -> tuple[int, int, int]:
    """Train, validation and test sizes of an identity with ``n`` crops (fractions rounded half up)."""
    n_test = max(1, int(n * TEST_FRACTION + 0.5))
    n_val = max(1, int(n * VAL_FRACTION + 0.5))
    return n - n_val - n_test, n_val, n_test


def split_keys(keys: Iterable[str], labels: Iterable[str], min_images: int = 10, seed: int = 0) -> Split:
    """Per identity: sort its keys, shuffle them with a generator seeded by (seed, identity), cut.

    Duplicate keys count once. Identities with fewer than ``min_images`` distinct keys are left out.
    """
    if min_images < MIN_IMAGES_FLOOR:
        raise TrainError(f"min_images must be at least {MIN_IMAGES_FLOOR} (one image per split)")
    by_identity: dict[str, set[str]] = {}
    owner: dict[str, str] = {}
    for key, label in zip(keys, labels, strict=True):
        if owner.setdefault(key, label) != label:
            raise TrainError(f"key {key!r} has two labels: {owner[key]!r} and {label!r}")
        by_identity.setdefault(label, set()).add(key)
    classes = tuple(sorted(label for label, ks in by_identity.items() if len(ks) >= min_images))
    if len(classes) < 2:
        raise TrainError(
            f"{len(classes)} identit{'y has' if len(classes) == 1 else 'ies have'} at least {min_images} "
            f"images; identification needs two or more (lower --min-images?)"
        )
    parts: dict[str, list[str]] = {name: [] for name in SPLITS}
    for label in classes:
        ordered = sorted(by_identity[label])
        rng = np.random.default_rng([seed, zlib.crc32(label.encode())])
        shuffled = [ordered[i] for i in rng.permutation(len(ordered))]
        n_train, n_val, _ = _counts(len(shuffled))
        parts["train"] += shuffled[:n_train]
        parts["val"] += shuffled[n_train : n_train + n_val]
        parts["test"] += shuffled[n_train + n_val :]
    chosen = {k: owner[k] for name in SPLITS for k in parts[name]}
    return Split(*(tuple(sorted(parts[name])) for name in SPLITS), classes=classes, labels=chosen)


# ------------------------------------------------------------------------------------------ features


def crop_pixels(data: bytes, size: int = CNN_SIZE) -> np.ndarray:
    """A crop's pixels for the cnn model: RGB uint8, ``size`` x ``size``."""
    rgb = embeddings.decode_crop(data)
    if rgb.shape[:2] != (size, size):
        rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
    return rgb


def describe_crops(crops: Sequence[bytes], variant: str = embeddings.REFERENCE) -> np.ndarray:
    """Descriptors of crops, in this process (the harness has a parallel stage for many crops)."""
    out = np.zeros((len(crops), embeddings.DIM), np.float32)
    for i, data in enumerate(crops):
        result = embeddings.describe(data, variant)
        if result.status != "ok":
            raise TrainError(f"crop {i} has no descriptor: {result.error}")
        out[i] = result.vector
    return out


# ---------------------------------------------------------------------------------------------- keras


def _keras():
    """Import TensorFlow quietly, once, with deterministic ops.

    oneDNN's CPU kernels are off unless the environment asks for them: their order of floating-point
    operations may change from run to run, and a seeded run must give the same model.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import keras
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    return keras


#: Per model: epochs is an upper bound (early stopping on the validation loss ends training sooner).
MODEL_DEFAULTS = {
    "embeddings": {"epochs": 150, "batch_size": 32, "learning_rate": 3e-3, "patience": 25, "warmup": 0},
    "cnn": {"epochs": 30, "batch_size": 32, "learning_rate": 1e-3, "patience": 8, "warmup": 8},
}


@contextlib.contextmanager
def _quiet():
    """Keras 3 on NumPy 2 warns from inside its own code (``np.array`` on a TF tensor); not ours to fix."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
        yield


@dataclass
class TrainConfig:
    model: str = "embeddings"
    epochs: int | None = None  # None: the model's default (an upper bound: training stops early)
    seed: int = 0
    batch_size: int | None = None
    learning_rate: float | None = None
    patience: int | None = None
    warmup: int | None = None  # epochs before early stopping may act
    image_size: int = CNN_SIZE
    descriptor: str = embeddings.REFERENCE  # embeddings: how a crop became its descriptor
    kernel: str | None = None  # the face kernel that made the crops (predict aligns a photo with it)

    def resolved(self) -> dict[str, Any]:
        if self.model not in MODELS:
            raise TrainError(f"unknown model {self.model!r}; choose from {', '.join(MODELS)}")
        values = dict(MODEL_DEFAULTS[self.model])
        for name in values:
            if getattr(self, name) is not None:
                values[name] = getattr(self, name)
        if values["epochs"] < 1:
            raise TrainError("epochs must be at least 1")
        if self.model == "embeddings":
            values["descriptor"] = self.descriptor
        return {
            "model": self.model,
            "seed": self.seed,
            "image_size": self.image_size,
            "kernel": self.kernel or kernels.FAITHFUL,
            **values,
        }


def build_model(kind: str, n_classes: int, x_train: np.ndarray, image_size: int = CNN_SIZE):
    """The uncompiled Keras model for ``kind`` (for embeddings, the MLP head, which adapts its input
    normalisation; the prototype head is built from the data by ``prototype_model``)."""
    keras = _keras()
    layers = keras.layers
    if kind == "embeddings":
        norm = layers.Normalization(name="standardise")
        norm.adapt(x_train)
        inputs = keras.Input((embeddings.DIM,), name="descriptor")
        x = norm(inputs)
        x = layers.Dense(256, activation="relu", kernel_regularizer=keras.regularizers.l2(1e-4))(x)
        x = layers.Dropout(0.3)(x)
        outputs = layers.Dense(n_classes, activation="softmax", name="identity")(x)
        return keras.Model(inputs, outputs, name="descriptor_classifier")
    if kind == "cnn":
        inputs = keras.Input((image_size, image_size, 3), name="pixels")
        x = layers.Rescaling(1 / 255)(inputs)
        x = layers.RandomFlip("horizontal")(x)
        x = layers.RandomTranslation(0.05, 0.05, fill_mode="reflect")(x)
        for filters in (32, 64, 128, 256):  # one conv per scale: about 60 M multiply-adds per 64x64 image
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization(momentum=0.9)(x)
            x = layers.Activation("relu")(x)
            x = layers.MaxPooling2D()(x)
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.Dropout(0.4)(x)
        outputs = layers.Dense(n_classes, activation="softmax", name="identity")(x)
        return keras.Model(inputs, outputs, name="crop_cnn")
    raise TrainError(f"unknown model {kind!r}; choose from {', '.join(MODELS)}")


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _temperature(cosines: np.ndarray, y: np.ndarray) -> float:
    """The softmax scale that minimises the log loss of ``scale * cosines`` (golden section on log scale).

    It changes no prediction, only how sure the probabilities are (temperature scaling).
    """

    def loss(log_scale: float) -> float:
        z = np.exp(log_scale) * cosines
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]))

    lo, hi, ratio = 0.0, np.log(200.0), (np.sqrt(5) - 1) / 2
    for _ in range(40):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        lo, hi = (lo, b) if loss(a) < loss(b) else (a, hi)
    return float(np.exp((lo + hi) / 2))


def prototype_model(x_train: np.ndarray, y_train: np.ndarray, n_classes: int, x_val: np.ndarray, y_val):
    """A cosine nearest-class-mean classifier as a Keras model: L2-normalise, then one dense layer whose
    weights are imprinted (each identity's mean unit descriptor over the training split, normalised)
    and scaled by a temperature fitted on the validation split; softmax.

    dlib's descriptors are trained so that one person's photos lie close together: with some 20 photos
    an identity, their mean is a better class model than weights learned by gradient descent, which
    overfit (docs/training.md has the validation figures). Returns the model and its temperature.
    """
    keras = _keras()
    layers = keras.layers
    means = np.stack([_unit(x_train)[y_train == c].mean(axis=0) for c in range(n_classes)])
    prototypes = _unit(means)
    scale = _temperature(_unit(x_val) @ prototypes.T, np.asarray(y_val, int)) if len(x_val) else 1.0
    inputs = keras.Input((embeddings.DIM,), name="descriptor")
    x = layers.UnitNormalization(name="l2")(inputs)
    logits = layers.Dense(n_classes, use_bias=False, trainable=False, name="prototypes")(x)
    model = keras.Model(inputs, layers.Softmax(name="identity")(logits), name="prototype_classifier")
    model.get_layer("prototypes").set_weights([(scale * prototypes.T).astype(np.float32)])
    return model, scale


@dataclass
class Trained:
    model: Any  # keras.Model
    kind: str
    classes: tuple[str, ...]
    config: dict[str, Any]
    history: dict[str, list[float]]
    epochs_run: int
    fit_s: float
    best_epoch: int = 0  # 1-based: the epoch whose weights were kept (lowest validation loss)
    head: str = ""  # embeddings: the head chosen on the validation split, "prototypes" or "mlp"
    heads: dict[str, dict[str, float]] = field(default_factory=dict)  # every head tried: val_top1, ...


def fit(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    classes: Sequence[str],
    config: TrainConfig,
    verbose: int = 0,
) -> Trained:
    """Train with early stopping on the validation loss (best weights kept); seeded and deterministic."""
    with _quiet():
        return _fit(x_train, y_train, x_val, y_val, classes, config, verbose)


def _fit(x_train, y_train, x_val, y_val, classes, config: TrainConfig, verbose: int) -> Trained:
    settings = config.resolved()
    keras = _keras()
    keras.utils.set_random_seed(settings["seed"])
    t0 = time.perf_counter()
    trained = _fit_sgd(x_train, y_train, x_val, y_val, classes, settings, verbose)
    if settings["model"] != "embeddings":
        trained.fit_s = time.perf_counter() - t0
        return trained
    # Two heads on the descriptors, the one with the better validation top-1 kept (ties: prototypes).
    model, scale = prototype_model(x_train, y_train, len(classes), x_val, y_val)
    heads = {
        "mlp": {"val_top1": _top1(trained.model, x_val, y_val), "epochs_run": trained.epochs_run},
        "prototypes": {"val_top1": _top1(model, x_val, y_val), "temperature": scale},
    }
    trained.heads = heads
    trained.head = "prototypes" if heads["prototypes"]["val_top1"] >= heads["mlp"]["val_top1"] else "mlp"
    if trained.head == "prototypes":  # no epochs: the MLP's stay under heads["mlp"]
        heads["mlp"]["history"] = trained.history
        trained.model, trained.history, trained.epochs_run, trained.best_epoch = model, {}, 0, 0
    trained.fit_s = time.perf_counter() - t0
    return trained


def _top1(model, x: np.ndarray, y: np.ndarray) -> float:
    return float((predict_proba(model, x).argmax(axis=1) == np.asarray(y)).mean()) if len(x) else 0.0


def _fit_sgd(x_train, y_train, x_val, y_val, classes, settings: dict[str, Any], verbose: int) -> Trained:
    """Adam, early stopping on the validation loss, best weights kept."""
    keras = _keras()
    model = build_model(settings["model"], len(classes), x_train, settings["image_size"])
    model.compile(
        optimizer=keras.optimizers.Adam(settings["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss",
        patience=settings["patience"],
        restore_best_weights=True,
        start_from_epoch=settings["warmup"],
    )
    t0 = time.perf_counter()
    history = model.fit(
        _dataset(x_train, y_train, settings["batch_size"], shuffle_seed=settings["seed"]),
        validation_data=_dataset(x_val, y_val, 256),
        epochs=settings["epochs"],
        callbacks=[stop],
        shuffle=False,  # the dataset shuffles itself, seeded
        verbose=verbose,
    )
    fit_s = time.perf_counter() - t0
    hist = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    epochs = len(hist.get("loss", []))
    best = stop.best_epoch + 1 if stop.best_weights is not None else epochs
    kind = settings["model"]
    return Trained(model, kind, tuple(classes), settings, hist, epochs, fit_s, best, head=kind)


def _dataset(x: np.ndarray, y: np.ndarray, batch_size: int, shuffle_seed: int | None = None):
    """A tf.data pipeline without parallel maps (Keras' own adapter logs an op-version error on TF 2.21);
    shuffled with a fixed seed, reshuffled every epoch."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size)


def predict_proba(model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class probabilities, one row per input row, the model in inference mode."""
    if len(x) == 0:
        return np.zeros((0, model.output_shape[-1]), np.float32)
    keras = _keras()
    with _quiet():
        return np.concatenate(
            [
                keras.ops.convert_to_numpy(model(x[i : i + batch_size], training=False))
                for i in range(0, len(x), batch_size)
            ]
        )


# ----------------------------------------------------------------------------------------- evaluation


def evaluate(
    probs: np.ndarray, y_true: np.ndarray, classes: Sequence[str], top_k: int = TOP_K, top_confused: int = 10
) -> dict[str, Any]:
    """Top-1, top-k, macro F1 (over identities present in truth or prediction), per-identity accuracy
    and the most frequent confusions."""
    y_true = np.asarray(y_true, int)
    n, n_classes = probs.shape
    if n == 0:
        raise TrainError("nothing to evaluate: the split is empty")
    pred = probs.argmax(axis=1)
    k = min(top_k, n_classes)
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    hits = pred == y_true
    confusion = np.zeros((n_classes, n_classes), int)
    np.add.at(confusion, (y_true, pred), 1)
    tp = np.diag(confusion)
    support, predicted = confusion.sum(axis=1), confusion.sum(axis=0)
    present = (support + predicted) > 0
    precision = np.divide(tp, predicted, out=np.zeros(n_classes), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(n_classes), where=support > 0)
    f1 = np.divide(
        2 * precision * recall, precision + recall, out=np.zeros(n_classes), where=precision + recall > 0
    )
    per_identity = {
        classes[c]: {"images": int(support[c]), "correct": int(tp[c]), "accuracy": float(tp[c] / support[c])}
        for c in range(n_classes)
        if support[c] > 0
    }
    off = confusion.copy()
    np.fill_diagonal(off, 0)
    pairs = sorted(
        ((int(off[i, j]), classes[i], classes[j]) for i, j in zip(*np.nonzero(off), strict=True)),
        key=lambda t: (-t[0], t[1], t[2]),
    )
    accuracies = [v["accuracy"] for v in per_identity.values()]
    return {
        "images": int(n),
        "identities": int((support > 0).sum()),
        "top1": float(hits.mean()),
        "top5": float((top == y_true[:, None]).any(axis=1).mean()),
        "top5_k": int(k),
        "macro_f1": float(f1[present].mean()),
        "mean_identity_accuracy": float(np.mean(accuracies)),
        "per_identity": per_identity,
        "confusion": {
            "errors": int((~hits).sum()),
            "identities_perfect": int(sum(a == 1.0 for a in accuracies)),
            "worst_identities": [
                {"identity": name, **v}
                for name, v in sorted(per_identity.items(), key=lambda kv: (kv[1]["accuracy"], kv[0]))[:5]
                if v["accuracy"] < 1.0
            ],
            "top_confusions": [{"true": t, "predicted": p, "count": c} for c, t, p in pairs[:top_confused]],
        },
    }


# ----------------------------------------------------------------------------------------- save/load


def save(out_dir: str | Path, trained: Trained, metrics: Mapping[str, Any]) -> dict[str, Path]:
    """model.keras, labels.json and metrics.json under ``out_dir``; each replaced whole."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"model": out / MODEL_FILE, "labels": out / LABELS_FILE, "metrics": out / METRICS_FILE}
    tmp_model = out / f".tmp-{os.getpid()}-{MODEL_FILE}"
    with _quiet():
        trained.model.save(tmp_model)
    os.replace(tmp_model, paths["model"])
    labels = {
        "model": trained.kind,
        "classes": list(trained.classes),
        "kernel": trained.config.get("kernel", kernels.FAITHFUL),
        "input": (
            {
                "kind": "descriptor",
                "dim": embeddings.DIM,
                "padding": embeddings.CHIP_PADDING,
                "descriptor": trained.config["descriptor"],
            }
            if trained.kind == "embeddings"
            else {"kind": "pixels", "size": trained.config["image_size"], "channels": "RGB"}
        ),
    }
    _write_json(paths["labels"], labels)
    _write_json(paths["metrics"], metrics)
    return paths


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")
    os.replace(tmp, path)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


@dataclass
class Prediction:
    name: str
    probability: float
    top: list[tuple[str, float]]


class Classifier:
    """A saved model and its label map: crops in, identities out."""

    def __init__(
        self,
        model,
        classes: Sequence[str],
        kind: str,
        image_size: int = CNN_SIZE,
        descriptor: str = embeddings.REFERENCE,
        kernel: str = kernels.FAITHFUL,
    ) -> None:
        self.model, self.classes, self.kind, self.image_size = model, tuple(classes), kind, image_size
        self.descriptor = descriptor  # the variant it was trained on; older models: the reference
        self.kernel = kernel  # the face kernel its crops came from; older models: the faithful one

    @classmethod
    def load(cls, model_dir: str | Path) -> Classifier:
        folder = Path(model_dir)
        for name in (MODEL_FILE, LABELS_FILE):
            if not (folder / name).is_file():
                raise TrainError(f"no trained model in {folder}: {name} is missing (run `facebench train`)")
        labels = json.loads((folder / LABELS_FILE).read_text())
        keras = _keras()
        with _quiet():
            model = keras.models.load_model(folder / MODEL_FILE)
        given = labels.get("input", {})
        descriptor = given.get("descriptor", embeddings.REFERENCE)
        kernel = labels.get("kernel", kernels.FAITHFUL)
        return cls(model, labels["classes"], labels["model"], given.get("size", CNN_SIZE), descriptor, kernel)

    def features(self, crops: Sequence[bytes]) -> np.ndarray:
        if self.kind == "embeddings":
            return describe_crops(crops, self.descriptor)
        if not crops:
            return np.zeros((0, self.image_size, self.image_size, 3), np.uint8)
        return np.stack([crop_pixels(c, self.image_size) for c in crops])

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return predict_proba(self.model, x)

    def predict(self, crops: Sequence[bytes], top_k: int = 3) -> list[Prediction]:
        probs = self.predict_proba(self.features(crops))
        out = []
        for row in probs:
            order = np.argsort(-row, kind="stable")[:top_k]
            top = [(self.classes[i], float(row[i])) for i in order]
            out.append(Prediction(top[0][0], top[0][1], top))
        return out


def predict_photo(classifier: Classifier, data: bytes, kernel: str | None = None) -> Prediction:
    """A new photo through the face kernel (detect, align, crop), then the model: by default the kernel
    whose crops the model was trained on, so that the photo is aligned as its training crops were."""
    spec = kernel or classifier.kernel
    try:
        result = kernels.process(data, spec)
    except kernels.KernelError as exc:
        raise TrainError(f"the model was trained on kernel {spec}'s crops: {exc}") from None
    if result.status != "ok":
        raise TrainError(f"the face kernel found no usable face ({result.status}: {result.error})")
    return classifier.predict([result.crop])[0]


# ---------------------------------------------------------------------------------------- end to end


def labelled_arrays(
    split: Split, features: Callable[[Sequence[str]], np.ndarray]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(x, y) per split, ``features`` mapping a list of keys to their feature rows."""
    index = {c: i for i, c in enumerate(split.classes)}
    return {
        name: (features(split.keys(name)), np.array([index[split.labels[k]] for k in split.keys(name)], int))
        for name in SPLITS
    }


def train_and_evaluate(
    split: Split,
    features: Callable[[Sequence[str]], np.ndarray],
    config: TrainConfig,
    verbose: int = 0,
) -> tuple[Trained, dict[str, Any], dict[str, np.ndarray]]:
    """Fit on train (early stopping on val), evaluate on every split.

    Returns the trained model, the metrics (``top1``, ``top5``, ``macro_f1``: held-out test) and the
    class probabilities per split (rows in the order of ``split.keys(name)``).
    """
    data = labelled_arrays(split, features)
    trained = fit(*data["train"], *data["val"], split.classes, config, verbose=verbose)
    per_split, probs = {}, {}
    for name in SPLITS:
        x, y = data[name]
        probs[name] = predict_proba(trained.model, x)
        per_split[name] = evaluate(probs[name], y, split.classes)
    test = per_split["test"]
    metrics = {
        "model": trained.kind,
        "top1": test["top1"],
        "top5": test["top5"],
        "macro_f1": test["macro_f1"],
        "split": split.sizes(),
        "train_top1": per_split["train"]["top1"],
        "val_top1": per_split["val"]["top1"],
        "test": test,
        "epochs_run": trained.epochs_run,
        "best_epoch": trained.best_epoch,
        "fit_s": trained.fit_s,
        "head": trained.head,
        "heads": trained.heads,
        "config": trained.config,
        "history": trained.history,  # per epoch: loss, accuracy, val_loss, val_accuracy
    }
    return trained, metrics, probs


# ------------------------------------------------------------------------------------ LFW verification


@dataclass(frozen=True)
class Pair:
    fold: int
    a: str
    b: str
    same: bool


def lfw_pairs_keys(pairs: Sequence[Pair]) -> list[str]:
    """The images a list of pairs needs, sorted (a list file for ``facebench run --list``)."""
    return sorted({k for p in pairs for k in (p.a, p.b)})


def lfw_key(name: str, number: int | str) -> str:
    return f"{name}/{name}_{int(number):04d}.jpg"


def read_lfw_pairs(path: str | Path) -> list[Pair]:
    """LFW's pairs.txt: a header 'folds n', then per fold n matched (name i j) and n mismatched
    (name1 i name2 j) lines."""
    lines = [line.split() for line in Path(path).read_text().splitlines() if line.strip()]
    if not lines or len(lines[0]) != 2:
        raise TrainError(f"{path} does not start with LFW's 'folds pairs-per-fold' header")
    folds, per = int(lines[0][0]), int(lines[0][1])
    body = lines[1:]
    if len(body) != folds * 2 * per:
        raise TrainError(f"{path}: expected {folds * 2 * per} pairs after the header, found {len(body)}")
    pairs = []
    for i, parts in enumerate(body):
        fold = i // (2 * per)
        if len(parts) == 3:
            pairs.append(Pair(fold, lfw_key(parts[0], parts[1]), lfw_key(parts[0], parts[2]), True))
        elif len(parts) == 4:
            pairs.append(Pair(fold, lfw_key(parts[0], parts[1]), lfw_key(parts[2], parts[3]), False))
        else:
            raise TrainError(f"{path}: line {i + 2} is not a pair: {' '.join(parts)}")
    return pairs


def _best_threshold(distances: np.ndarray, same: np.ndarray) -> float:
    """The distance threshold (same when distance < threshold) with the best accuracy on these pairs."""
    order = np.sort(np.unique(distances))
    candidates = np.concatenate([[order[0] - 1e-6], (order[:-1] + order[1:]) / 2, [order[-1] + 1e-6]])
    accuracy = [((distances < t) == same).mean() for t in candidates]
    return float(candidates[int(np.argmax(accuracy))])


def lfw_pairs_verification(
    pairs: str | Path | Sequence[Pair], descriptors: Mapping[str, np.ndarray]
) -> dict[str, Any]:
    """LFW's protocol over the pairs whose two images both have a descriptor: for each fold, the
    Euclidean-distance threshold that is best on the other folds is applied to this fold."""
    pairs = read_lfw_pairs(pairs) if isinstance(pairs, str | Path) else list(pairs)
    covered = [p for p in pairs if p.a in descriptors and p.b in descriptors]
    result: dict[str, Any] = {
        "protocol": "LFW pairs, 10-fold, Euclidean distance, threshold fitted on the other folds",
        "pairs_total": len(pairs),
        "pairs_covered": len(covered),
        "same_covered": sum(p.same for p in covered),
        "different_covered": sum(not p.same for p in covered),
        "accuracy": None,
        "accuracy_std": None,
        "folds": [],
    }
    if not result["same_covered"] or not result["different_covered"]:
        result["reason"] = (
            f"the output covers {result['same_covered']} same-person and {result['different_covered']} "
            "different-person pairs; a threshold needs both (LFW's different-person pairs are mostly of "
            "people with few images: align all of LFW, or the pairs' images, to cover them)"
        )
        return result
    dist = np.array([float(np.linalg.norm(descriptors[p.a] - descriptors[p.b])) for p in covered])
    same = np.array([p.same for p in covered])
    fold = np.array([p.fold for p in covered])
    for k in sorted(set(fold)):
        rest = fold != k
        if not rest.any() or len(set(same[rest])) < 2:
            continue  # no threshold can be fitted without both kinds of pairs elsewhere
        threshold = _best_threshold(dist[rest], same[rest])
        here = fold == k
        acc = float(((dist[here] < threshold) == same[here]).mean())
        result["folds"].append(
            {"fold": int(k), "pairs": int(here.sum()), "threshold": threshold, "accuracy": acc}
        )
    if result["folds"]:
        accs = np.array([f["accuracy"] for f in result["folds"]])
        weights = np.array([f["pairs"] for f in result["folds"]])
        result["accuracy"] = float(accs.mean())
        result["accuracy_std"] = float(accs.std())
        result["accuracy_pair_weighted"] = float((accs * weights).sum() / weights.sum())
        result["threshold_mean"] = float(np.mean([f["threshold"] for f in result["folds"]]))
    return result
