"""Training on the best verified output of a run (``facebench train``): the harness side.

The best verified output is the fastest case whose outputs are identical to the sequential reference
and whose kernel is acceptable: the faithful kernel, one that reproduces it byte for byte, or one whose
measured LFW pairs accuracy is within the frontier's tolerance of the faithful kernel's
(``bench.analysis.frontier``); ``--kernel`` or ``--case`` overrides the rule. Its case_id, kernel, output
digest and the reason it was chosen go into the training manifest. Its crops are the reference's, kept in
``<run>/output/<key>`` (identical to the chosen case's by the run's own check), and they are checked
against that digest again before training. Descriptors are computed as a second parallel stage under
the run's executors (``bench.train.descriptors``); the model itself is ``pipelines.train``'s.

Writes under ``<run>/train/``: model.keras, labels.json, metrics.json (held-out top-1 under ``top1``;
the end-to-end account of the path to the model under ``pipeline``), pipeline.csv (that account, one row
per step), manifest.json (the case and its output digest), predictions.csv (every key: split, identity
and prediction), and for the embeddings model embeddings.parquet (the descriptors), embed_tasks.parquet
and embed_runs.parquet (the descriptor stage's timings).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import tables
from bench.analysis import end_to_end, frontier
from bench.analysis.statistics import case_summary
from bench.errors import UserError
from bench.executors import REFERENCE, executor_class
from bench.kernels import declared
from bench.run import environment
from bench.stores.local import LocalStore
from bench.train import descriptors as descriptor_stage
from pipelines import kernels
from pipelines import train as tp
from pipelines.datasets import IMAGE_SUFFIXES, label_of

TRAIN_DIR = "train"
PIPELINE_FILE = "pipeline.csv"
EMBEDDINGS_FILES = ["embeddings.parquet", "embed_tasks.parquet", "embed_runs.parquet"]


class NotEnoughIdentities(UserError):
    """Fewer than two identities have the images a split needs."""


# --------------------------------------------------------------------------------- choosing the output


@dataclass(frozen=True)
class Choice:
    """The case whose output training uses, and why it was chosen."""

    run_id: str
    case_id: str
    executor: str
    workers: int
    kernel: str
    wall_s: float  # median over repeats
    output_digest: str
    identical: bool
    why: str = ""


def case_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per case: median wall time over repeats; identical only when every repeat was."""
    identical = runs["identical"].astype("boolean").fillna(False).astype(bool)
    table = runs.assign(identical=identical).groupby("case_id", sort=False)
    out = table.agg(
        run_id=("run_id", "first"),
        executor=("executor", "first"),
        workers=("workers", "first"),
        kernel=("kernel", "first"),
        wall_s=("wall_s", "median"),
        output_digest=("output_digest", "first"),
        digests=("output_digest", "nunique"),
        identical=("identical", "all"),
    )
    out["identical"] = out["identical"] & (out["digests"] == 1)
    return out.drop(columns="digests").reset_index()


def run_accuracies(run_dir: Path, manifest: dict, kernels) -> dict[str, frontier.Accuracy]:
    """The kernels' measured pairs accuracies: the committed downstream scores, else the run's training."""
    metrics = run_dir / TRAIN_DIR / tp.METRICS_FILE
    training = json.loads(metrics.read_text()) if metrics.is_file() else None
    return frontier.accuracies(manifest, kernels, training, frontier.load_downstream())


def choose_best_output(
    run_dir: str | Path,
    case_id: str | None = None,
    kernel: str | None = None,
    found: dict[str, frontier.Accuracy] | None = None,
) -> Choice:
    """The fastest identical case whose kernel is acceptable (``bench.analysis.frontier``'s rule), or the
    asked case (which must be identical), or the fastest identical case of the asked kernel."""
    run_dir = Path(run_dir)
    runs = pd.read_parquet(run_dir / "runs.parquet")
    if runs.empty:
        raise UserError(f"run {run_dir} has no finished case")
    table = case_table(runs)
    good = table[table["identical"]].sort_values(["wall_s", "case_id"], kind="stable")
    if case_id is not None:
        mine = table[table["case_id"] == case_id]
        if mine.empty:
            raise UserError(
                f"run {run_dir} has no case {case_id!r}; its cases: {', '.join(table['case_id'])}"
            )
        row = mine.iloc[0]
        if not row["identical"]:
            names = ", ".join(good["case_id"]) or "none"
            raise UserError(
                f"case {case_id} of run {run_dir.name} is not identical to the sequential reference "
                f"(output digest {row['output_digest'][:12]}); training uses only verified outputs. "
                f"Identical cases: {names}"
            )
        why = "asked for (--case)"
    elif kernel is not None:
        if kernel not in set(table["kernel"]):
            raise UserError(f"run {run_dir.name} has no kernel {kernel!r}; its kernels: {_names(table)}")
        mine = good[good["kernel"] == kernel]
        if mine.empty:
            raise UserError(f"run {run_dir.name} has no case of kernel {kernel} identical to its reference")
        row, why = mine.iloc[0], f"the fastest verified case of kernel {kernel}, asked for (--kernel)"
    else:
        if good.empty:
            raise UserError(
                f"run {run_dir} has no case whose outputs are identical to the sequential reference"
            )
        row, why = _by_the_rule(run_dir, good, found)
    return Choice(
        run_id=str(row["run_id"]),
        case_id=str(row["case_id"]),
        executor=str(row["executor"]),
        workers=int(row["workers"]),
        kernel=str(row["kernel"]),
        wall_s=float(row["wall_s"]),
        output_digest=str(row["output_digest"]),
        identical=bool(row["identical"]),
        why=why,
    )


def _names(table: pd.DataFrame) -> str:
    return ", ".join(sorted(set(table["kernel"])))


def _by_the_rule(
    run_dir: Path, good: pd.DataFrame, found: dict[str, frontier.Accuracy] | None
) -> tuple[pd.Series, str]:
    """The fastest verified case of an acceptable kernel, and why, naming the kernels left out."""
    present = sorted(set(good["kernel"]))
    if len(present) == 1:
        return good.iloc[0], f"the fastest verified case (the run's one kernel, {present[0]})"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    if found is None:
        found = run_accuracies(run_dir, manifest, present)
    verdicts = frontier.judge(present, manifest, found)
    out = [v for v in verdicts.values() if not v.acceptable]
    left_out = "; left out: " + "; ".join(f"{v.kernel} ({v.why})" for v in out) if out else ""
    mine = good[good["kernel"].map(lambda k: verdicts[k].acceptable)]
    if mine.empty:
        raise UserError(
            f"no kernel of run {run_dir.name} is acceptable for training (the fastest verified case whose "
            f"kernel is {frontier.tolerance_text()}){left_out}; "
            "choose one with --kernel"
        )
    row = mine.iloc[0]
    rule = (
        f"the fastest verified case whose kernel is {frontier.tolerance_text()}: "
        f"{row['kernel']}, {verdicts[row['kernel']].why}"
    )
    return row, rule + left_out


def verified_crops(run_dir: str | Path, choice: Choice) -> dict[str, str]:
    """key -> label of the ok crops in the chosen kernel's output folder (tables.output_folder), after
    checking that the folder still holds exactly the chosen case's output (its digest recomputed)."""
    from bench.run.runner import output_digest

    run_dir = Path(run_dir)
    tasks = pd.read_parquet(
        run_dir / "tasks.parquet", columns=["case_id", "repeat", "key", "label", "status"]
    )
    mine = tasks[(tasks["case_id"] == choice.case_id)]
    mine = mine[mine["repeat"] == mine["repeat"].min()].sort_values("key")
    folder = tables.output_folder(run_dir, choice.kernel)
    shas = []
    for key, status in zip(mine["key"], mine["status"], strict=True):
        path = folder / key
        shas.append(
            hashlib.sha256(path.read_bytes()).hexdigest() if status == "ok" and path.is_file() else ""
        )
    digest = output_digest(list(mine["key"]), list(mine["status"]), shas)
    if digest != choice.output_digest:
        missing = sum(1 for s, st in zip(shas, mine["status"], strict=True) if st == "ok" and not s)
        raise UserError(
            f"the crops in {folder} do not match case {choice.case_id}'s output digest "
            f"({missing} missing); they were changed after the run, or the run kept no output"
        )
    ok = mine[mine["status"] == "ok"]
    labels = ok["label"].fillna("").astype(str)
    return {k: (lab or label_of(k)) for k, lab in zip(ok["key"], labels, strict=True)}


def folder_crops(crops_dir: str | Path) -> tuple[dict[str, str], str]:
    """key -> label (the folder) of the images under a crops folder, and a digest of their bytes."""
    store = LocalStore(crops_dir)
    if not store.root.is_dir():
        raise UserError(f"crops folder {crops_dir} does not exist")
    keys = [k for k in store.keys() if Path(k).suffix.lower() in IMAGE_SUFFIXES]  # noqa: SIM118
    h = hashlib.sha256()
    for key in keys:
        h.update(f"{key}\t{hashlib.sha256(store.get(key)).hexdigest()}\n".encode())
    return {k: label_of(k) for k in keys}, h.hexdigest()


# ------------------------------------------------------------------------------------------- training


@dataclass
class TrainOptions:
    model: str = "embeddings"
    min_images: int = 10
    max_identities: int | None = None  # keep the identities with the most crops (ties: by name)
    epochs: int | None = None
    seed: int = 0
    executor: str | None = None  # descriptor stage; None: processes on every core (sequential on one)
    workers: int | None = None
    chunk_size: int | None = None
    case_id: str | None = None
    kernel: str | None = None  # train on this kernel's fastest verified case, whatever the rule says
    pairs: str | None = None  # LFW pairs.txt; None: looked for beside the dataset; "none": skip
    descriptor: str | None = None  # embeddings: a pipelines.embeddings variant; None: the default
    out: str | None = None  # the training folder; default <run>/train or <crops>-train
    progress: bool = False

    def validate(self) -> None:
        if self.model not in tp.MODELS:
            raise UserError(f"unknown model {self.model!r}; choose from {', '.join(tp.MODELS)}")
        if self.min_images < tp.MIN_IMAGES_FLOOR:
            raise UserError(f"--min-images must be at least {tp.MIN_IMAGES_FLOOR} (one image per split)")
        if self.max_identities is not None and self.max_identities < 2:
            raise UserError("--max-identities must be at least 2")
        if self.epochs is not None and self.epochs < 1:
            raise UserError("--epochs must be at least 1")
        if self.executor is not None:
            executor_class(self.executor)  # raises UserError for an unknown executor
        if self.workers is not None and self.workers < 1:
            raise UserError("--workers must be at least 1")
        if (
            self.executor is not None
            and executor_class(self.executor).in_process
            and self.workers not in (None, 1)
        ):
            raise UserError(f"the {self.executor} executor has exactly one worker")
        if self.chunk_size is not None and self.chunk_size < 1:
            raise UserError("--chunk-size must be at least 1")
        if self.kernel is not None and self.case_id is not None:
            raise UserError("give --case or --kernel, not both (a case has its kernel)")
        if self.descriptor is not None and self.model != "embeddings":
            raise UserError(
                "--descriptor chooses how the embeddings model describes a crop; not for --model cnn"
            )

    def stage_executor(self) -> tuple[str, int]:
        cores = os.cpu_count() or 1
        executor = self.executor or ("processes" if (self.workers or cores) > 1 else REFERENCE)
        workers = 1 if executor_class(executor).in_process else (self.workers or cores)
        return executor, workers


@dataclass
class TrainResult:
    train_dir: Path
    metrics: dict[str, Any]
    manifest: dict[str, Any]
    trained: tp.Trained


def find_pairs(dataset_root: str | None) -> Path | None:
    """LFW's pairs.txt beside an LFW folder (``lfw-meta/pairs.txt``, as ../shared/data lays it out)
    or inside it."""
    if not dataset_root:
        return None
    root = Path(dataset_root)
    for candidate in (root.parent / "lfw-meta" / "pairs.txt", root / "pairs.txt", root.parent / "pairs.txt"):
        if candidate.is_file():
            return candidate
    return None


def train(
    run: str | Path | None = None,
    crops: str | Path | None = None,
    options: TrainOptions | None = None,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train and evaluate on a run's best verified output (or a crops folder); save everything."""
    options = options or TrainOptions()
    options.validate()
    started, t_total = datetime.now(UTC).isoformat(), time.perf_counter()
    if run is not None and crops is not None:
        raise UserError("give --run or --crops, not both")
    source: dict[str, Any]
    if crops is not None:
        crops_dir = Path(crops)
        labels, digest = folder_crops(crops_dir)
        source = {"crops": str(crops_dir), "crops_digest": digest}
        train_dir = Path(options.out) if options.out else crops_dir.parent / f"{crops_dir.name}-train"
        dataset_root, output, preprocessing, kernel_spec = None, "openface180", None, None
        log(f"training on the crops in {crops_dir}: {len(labels)} images")
    else:
        run_dir = tables.resolve_run(run)
        choice = choose_best_output(run_dir, options.case_id, options.kernel)
        crops_dir = tables.output_folder(run_dir, choice.kernel)
        labels = verified_crops(run_dir, choice)
        manifest = json.loads((run_dir / "manifest.json").read_text())
        dataset_root = manifest.get("dataset", {}).get("root")
        output = descriptor_stage.crop_output(manifest, choice.kernel)
        preprocessing = preprocessing_step(run_dir, choice)
        kernel_spec = kernel_for_predict(manifest, choice.kernel)
        source = {
            "run": str(run_dir),
            "run_id": choice.run_id,
            "case_id": choice.case_id,
            "kernel": choice.kernel,
            "why": choice.why,
            "output_digest": choice.output_digest,
            "case_wall_s": choice.wall_s,
            "crops": str(crops_dir),
            "dataset": manifest.get("dataset", {}),
        }
        train_dir = Path(options.out) if options.out else run_dir / TRAIN_DIR
        log(
            f"training on run {run_dir.name}: case {choice.case_id} ({choice.wall_s:.2f} s, digest "
            f"{choice.output_digest[:12]}), {len(labels)} crops; chosen as {choice.why}"
        )
    if not labels:
        raise UserError(f"no crops to train on in {crops_dir}")
    counts = pd.Series(labels).value_counts()
    kept = [
        lab for lab, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= options.min_images
    ]
    kept = set(kept[: options.max_identities] if options.max_identities else kept)
    eligible = {k: lab for k, lab in labels.items() if lab in kept}
    identities = len(set(eligible.values()))
    if identities < 2:
        raise NotEnoughIdentities(
            f"{identities} of {counts.size} identities have at least {options.min_images} crops; "
            "identification needs two or more (lower --min-images?)"
        )
    log(selection_line(counts, identities, len(eligible), options))
    store = LocalStore(crops_dir)

    pairs_path, pairs = None, []
    if options.model == "embeddings" and (options.pairs or "").lower() != "none":
        pairs_path = Path(options.pairs) if options.pairs else find_pairs(dataset_root)
        if options.pairs and not pairs_path.is_file():
            raise UserError(f"LFW pairs file {pairs_path} does not exist")

    stage_summary, vectors, descriptor = None, {}, None
    if options.model == "embeddings":
        variant, why = descriptor_stage.resolve_descriptor(options.descriptor, output)
        descriptor = {
            "variant": variant,
            "crop_output": output,
            "why": why,
            "default": descriptor_stage.DEFAULTS[output][0],
            "pairs_tolerance": frontier.PAIRS_TOLERANCE,
        }
        if pairs_path is not None:
            pairs = tp.read_lfw_pairs(pairs_path)
        wanted = set(eligible) | {k for p in pairs for k in (p.a, p.b) if k in labels}
        if len(wanted) > len(eligible):
            log(f"descriptors also for {len(wanted) - len(eligible)} crops of LFW pairs ({pairs_path})")
        executor, workers = options.stage_executor()
        stage = descriptor_stage.run_embed_stage(
            store,
            sorted(wanted),
            executor,
            workers,
            options.chunk_size,
            labels,
            progress=options.progress,
            log=log,
            descriptor=variant,
        )
        train_dir.mkdir(parents=True, exist_ok=True)
        descriptor_stage.store_stage(train_dir, stage)
        stage_summary, vectors = stage.summary, stage.vectors
        failed = stage.tasks.loc[stage.tasks["status"] != "ok", "key"].tolist()
        if failed:
            log(f"  {len(failed)} crop(s) without a descriptor are left out, e.g. {failed[0]}")
        eligible = {k: lab for k, lab in eligible.items() if k in vectors}

        def features(keys):
            return np.stack([vectors[k] for k in keys])

    else:

        def features(keys):
            return np.stack([tp.crop_pixels(store.get(k)) for k in keys])

    try:
        split = tp.split_keys(list(eligible), list(eligible.values()), options.min_images, options.seed)
    except tp.TrainError as exc:
        raise UserError(str(exc)) from None
    log(format_split(split))
    config = tp.TrainConfig(model=options.model, epochs=options.epochs, seed=options.seed, kernel=kernel_spec)
    if descriptor is not None:
        config.descriptor = descriptor["variant"]
    trained, metrics, probs = tp.train_and_evaluate(split, features, config)
    if options.model == "embeddings":
        if pairs_path is not None:
            metrics["lfw_pairs"] = {"file": str(pairs_path), **tp.lfw_pairs_verification(pairs, vectors)}
        metrics["embed_stage"] = stage_summary
        metrics["descriptor"] = descriptor
    metrics["pipeline"] = pipeline_account(preprocessing, stage_summary, metrics["fit_s"], len(split.train))
    metrics["total_s"] = time.perf_counter() - t_total
    kept = ("run_id", "case_id", "kernel", "why", "output_digest", "crops")
    metrics["source"] = {k: v for k, v in source.items() if k in kept}
    tp.save(train_dir, trained, metrics)
    _write_predictions(train_dir / "predictions.csv", split, probs)
    _write_csv(pd.DataFrame(metrics["pipeline"]["steps"]), train_dir / PIPELINE_FILE)
    if options.model == "embeddings":
        _write_embeddings(train_dir / "embeddings.parquet", vectors, labels, split)
    manifest_out = {
        "kind": "facebench train",
        "source": source,
        "options": asdict(options),
        "model": trained.config,
        "split": split.sizes(),
        "classes": len(split.classes),
        "embed_stage": stage_summary,
        "files": [
            tp.MODEL_FILE,
            tp.LABELS_FILE,
            tp.METRICS_FILE,
            "manifest.json",
            "predictions.csv",
            PIPELINE_FILE,
        ]
        + (EMBEDDINGS_FILES if options.model == "embeddings" else []),
        "environment": environment.describe(),
        "tensorflow": _tf_settings(),
        "started_at": started,
        "ended_at": datetime.now(UTC).isoformat(),
    }
    tables.write_json(manifest_out, train_dir / "manifest.json")
    return TrainResult(train_dir, metrics, manifest_out, trained)


def kernel_for_predict(manifest: dict, name: str) -> str:
    """How ``--predict`` asks for the kernel the crops came from: its name where this installation knows
    it, else the class the run recorded (``package.module:Class``)."""
    if name in kernels.registered():
        return name
    return str(declared(manifest, name).get("cls") or name)


def preprocessing_step(run_dir: Path, choice: Choice) -> dict[str, Any]:
    """The chosen case as the path's first step: its median wall time over repeats (runs.parquet),
    images, executor, workers, kernel, CPU seconds and speedup over the run's sequential case."""
    runs = pd.read_parquet(run_dir / "runs.parquet")
    row = case_summary(runs).set_index("case_id").loc[choice.case_id]
    return {
        "step": end_to_end.PREPROCESSING,
        "seconds": choice.wall_s,
        "images": int(row["images"]),
        "executor": choice.executor,
        "workers": choice.workers,
        "kernel": choice.kernel,
        "case_id": choice.case_id,
        "cpu_s": float(runs.loc[runs["case_id"] == choice.case_id, "cpu_s"].median()),
        "speedup": float(row["speedup"]),
        "measured": "runs.parquet: the case's median wall time over repeats",
    }


def pipeline_account(
    preprocessing: dict[str, Any] | None, stage: dict[str, Any] | None, fit_s: float, train_images: int
) -> dict[str, Any]:
    """The path to this model, step by step (``bench.analysis.end_to_end``): the chosen case's
    preprocessing (absent for a crops folder), the descriptor stage (embeddings model), the fit; with
    what the preprocessing speedup bought end to end."""
    steps = [preprocessing] if preprocessing else []
    if stage is not None:
        steps.append(
            {
                "step": "descriptors",
                "seconds": stage["wall_s"],
                "images": stage["images"],
                "executor": stage["executor"],
                "workers": stage["workers"],
                "descriptor": stage["descriptor"],
                "cpu_s": stage["cpu_s"],
                "measured": "the descriptor stage's wall time (embed_runs.parquet)",
            }
        )
    steps.append(
        {"step": "classifier", "seconds": fit_s, "images": train_images, "measured": "the fit (fit_s)"}
    )
    account = end_to_end.account(steps)
    bought, limit = end_to_end.bought(account), end_to_end.end_to_end_speedup(account, float("inf"))
    account["preprocessing_bought"] = None if pd.isna(bought) else bought  # None: no run, no speedup
    account["preprocessing_limit"] = None if pd.isna(limit) else limit
    return account


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    table.to_csv(tmp, index=False)
    os.replace(tmp, path)


def _tf_settings() -> dict[str, Any]:
    import tensorflow as tf

    return {
        "version": tf.__version__,
        "op_determinism": True,
        "onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", ""),
    }


def _write_predictions(path: Path, split: tp.Split, probs: dict[str, np.ndarray]) -> None:
    """Every key of the split: its identity, split, and the model's top prediction."""
    rows = []
    for name in tp.SPLITS:
        for key, row in zip(split.keys(name), probs[name], strict=True):
            best = int(np.argmax(row))
            rows.append((key, split.labels[key], name, split.classes[best], float(row[best])))
    table = pd.DataFrame(rows, columns=["key", "label", "split", "predicted", "probability"])
    table = table.assign(correct=table["label"] == table["predicted"]).sort_values("key", ignore_index=True)
    _write_csv(table, path)


def _write_embeddings(
    path: Path, vectors: dict[str, np.ndarray], labels: dict[str, str], split: tp.Split
) -> None:
    where = split.assignment()
    keys = sorted(vectors)
    table = pd.DataFrame(
        {
            "key": keys,
            "label": [labels.get(k, "") for k in keys],
            "split": [where.get(k, "") for k in keys],
            "descriptor": [vectors[k].tolist() for k in keys],
        }
    )
    tables.write_parquet(table, path)


# ------------------------------------------------------------------------------------------- printing


def format_split(split: tp.Split) -> str:
    sizes = split.sizes()
    parts = [f"{name} {s['images']} images / {s['identities']} identities" for name, s in sizes.items()]
    return f"split ({len(split.classes)} identities): " + ", ".join(parts)


def format_metrics(metrics: dict[str, Any]) -> str:
    test = metrics["test"]
    heads = metrics.get("heads") or {}
    if heads:  # embeddings: the head chosen on validation, and what each head scored there
        tried = ", ".join(f"{name} {h['val_top1']:.2%}" for name, h in heads.items())
        fitted = f"head {metrics['head']} chosen on validation top-1 ({tried})"
    else:
        best = metrics.get("best_epoch")
        fitted = f"{metrics['epochs_run']} epochs (weights of epoch {best}, lowest val loss)"
    lines = [
        f"model {metrics['model']}: {fitted}, fitted in {metrics['fit_s']:.1f} s",
        f"held-out test: top-1 {metrics['top1']:.2%}  top-{test['top5_k']} {metrics['top5']:.2%}  "
        f"macro F1 {metrics['macro_f1']:.3f}  ({test['images']} images, {test['identities']} identities; "
        f"train top-1 {metrics['train_top1']:.2%}, val top-1 {metrics['val_top1']:.2%})",
        f"per identity: mean accuracy {test['mean_identity_accuracy']:.2%}, "
        f"{test['confusion']['identities_perfect']}/{test['identities']} identities without an error",
    ]
    worst = test["confusion"]["worst_identities"]
    if worst:
        lines.append("worst: " + ", ".join(f"{w['identity']} {w['correct']}/{w['images']}" for w in worst))
    confused = test["confusion"]["top_confusions"]
    if confused:
        lines.append(
            "confused: " + ", ".join(f"{c['true']} -> {c['predicted']} x{c['count']}" for c in confused[:5])
        )
    stage = metrics.get("embed_stage")
    if stage:
        speed = f", speedup {stage['speedup']:.2f}" if pd.notna(stage.get("speedup")) else ""
        lines.append(
            f"descriptor stage {stage['stage_id']}: {stage['ok']}/{stage['images']} crops, "
            f"{stage['wall_s']:.2f} s, {stage['images_per_s']:.1f} crops/s{speed}"
        )
    descriptor = metrics.get("descriptor")
    if descriptor:
        lines.append(
            f"descriptor {descriptor['variant']} for {descriptor['crop_output']} crops: {descriptor['why']}"
        )
    pairs = metrics.get("lfw_pairs")
    if pairs:
        if pairs.get("accuracy") is None:
            why = pairs.get("reason", "no fold could be scored")
            lines.append(
                f"LFW pairs: {pairs['pairs_covered']}/{pairs['pairs_total']} covered, not scored: {why}"
            )
        else:
            lines.append(
                f"LFW pairs verification ({len(pairs['folds'])}-fold): {pairs['accuracy']:.2%} "
                f"± {pairs['accuracy_std']:.2%} on the {pairs['pairs_covered']}/{pairs['pairs_total']} pairs "
                f"covered ({pairs['same_covered']} same, {pairs['different_covered']} different)"
            )
    if metrics.get("pipeline"):
        lines.append(format_pipeline(metrics["pipeline"]))
    return "\n".join(lines)


def format_pipeline(pipeline: dict[str, Any]) -> str:
    """The end-to-end account as a small table, and what the preprocessing speedup bought."""
    lines = ["the path to this model:"]
    for s in pipeline["steps"]:
        how = s.get("kernel") or s.get("descriptor") or ""
        where = f"{s['executor']} x{s['workers']}" if s.get("executor") else ""
        said = ", ".join(x for x in (f"{s['images']} images", where, how) if x)
        lines.append(
            f"  {s['step']:<14} {s['seconds']:>9.2f} s {s['share']:>6.1%}  "
            f"{s['per_image_s'] * 1000:>8.1f} ms/image  ({said})"
        )
    lines.append(f"  {'total':<14} {pipeline['total_s']:>9.2f} s")
    lines.append(end_to_end.summary_line(pipeline))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ predicting


def model_dir_for(run: str | Path | None = None, model_dir: str | Path | None = None) -> Path:
    if model_dir is not None:
        return Path(model_dir)
    return tables.resolve_run(run) / TRAIN_DIR


def predict(
    image: str | Path, run: str | Path | None = None, model_dir: str | Path | None = None
) -> tp.Prediction:
    """Name the person in a photo with the model trained on a run (default: the newest run)."""
    path = Path(image)
    if not path.is_file():
        raise UserError(f"image {path} does not exist")
    folder = model_dir_for(run, model_dir)
    try:
        classifier = tp.Classifier.load(folder)
        return tp.predict_photo(classifier, path.read_bytes())
    except tp.TrainError as exc:
        raise UserError(f"{path}: {exc}") from None


# ----------------------------------------------------------------------------------- after facebench run


def selection_line(counts: pd.Series, identities: int, crops: int, options: TrainOptions) -> str:
    """Which identities the training keeps, and how many crops that leaves, as the log says it."""
    enough = int((counts >= options.min_images).sum())
    which = (
        f"the {identities} with the most crops (--max-identities {options.max_identities}) of the "
        f"{enough} with at least {options.min_images}"
        if options.max_identities and enough > options.max_identities
        else f"the {identities} with at least {options.min_images} crops"
    )
    return f"keeping {which}, of {counts.size} identities: {crops} of {int(counts.sum())} crops"


#: Said after the short training on a synthetic dataset: its score is no measure of recognition.
SYNTHETIC_CAVEAT = (
    "note: synthetic faces are drawn from a few traits per identity and are easily told apart: "
    "100% here is the easy case, not a measure of recognition on real photos (LFW: docs/training.md)"
)


def after_run(
    run_dir: str | Path,
    wanted: bool | None = None,
    workers: list[int] | None = None,
    log: Callable[[str], None] = print,
) -> TrainResult | None:
    """``facebench run``'s last step: a short training on the run's best verified output; by default
    (``wanted`` None) only when the dataset is synthetic."""
    manifest = json.loads((Path(run_dir) / "manifest.json").read_text())
    dataset = str(manifest.get("dataset", {}).get("name") or manifest.get("config", {}).get("dataset", ""))
    implicit = wanted is None
    if implicit:
        wanted = dataset.startswith("synthetic")
    if not wanted:
        return None
    log("")
    try:
        result = train_after_run(run_dir, max(workers) if workers else None, log)
    except UserError as exc:
        if not implicit:  # asked for with --train: the user hears why it failed
            raise
        log(f"training skipped: {exc}")  # the run itself succeeded; its exit status stays 0
        result = None
    if result is not None:
        log(format_metrics(result.metrics))
        if dataset.startswith("synthetic"):
            log(SYNTHETIC_CAVEAT)
        log(f"model and metrics: {result.train_dir}")
    log("")
    return result


def train_after_run(
    run_dir: str | Path, workers: int | None = None, log: Callable[[str], None] = print
) -> TrainResult | None:
    """The short training ``facebench run`` does: the embeddings model on the 10 identities with the
    most crops (at least 10 each), descriptors on local processes; None (and a line saying why) when
    too few identities have enough crops."""
    cores = os.cpu_count() or 1
    w = max(1, min(workers or cores, cores))
    options = TrainOptions(
        model="embeddings",
        min_images=10,
        max_identities=10,  # keeps it short: the default 120 images are 10 identities of 12
        executor="processes" if w > 1 else "sequential",
        workers=w,
        pairs="none",
    )
    try:
        return train(run=run_dir, options=options, log=log)
    except NotEnoughIdentities as exc:
        log(f"training skipped: {exc}")
        return None
