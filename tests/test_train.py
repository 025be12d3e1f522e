"""Training on the best verified output: split, accuracy, save/reload, --predict, choosing the output,
the descriptor stage, LFW identification and pairs verification."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import tables
from bench.analysis import end_to_end, frontier
from bench.cli import main
from bench.errors import UserError
from bench.report.figures import load_run
from bench.report.training import pipeline
from bench.run.runner import Run, RunConfig
from bench.stores.local import LocalStore
from bench.train import descriptors
from bench.train import harness as training
from bench.train.descriptors import run_embed_stage, store_stage
from pipelines import embeddings, synthetic
from pipelines import train as tp
from pipelines.kernels import FAITHFUL

# synthetic:120 is 10 identities x 12 images; a split keeps 8 / 2 / 2 of each, so the test split has
# 20 crops. Measured on a 2-core machine: test top-1 1.00 (and 40/40 on freshly drawn photos of the
# same identities through --predict's path). The bound leaves room for one or two misses.
SYNTHETIC_MIN_TOP1 = 0.90
# LFW (the slow test): the kernel the frontier's rule chose for training (issue 26: dlib's own chip,
# which the descriptor describes as it is), scored on ge10 and the full pairs protocol; its committed
# scores (results/kernel-frontier/downstream.json) are the bounds, less a margin for noise (a test
# photo is 0.15 points of ge10's top-1; a pair 0.017 points of the pairs accuracy).
SLOW_KERNEL = "chip-hog0-roi"
LFW_MARGIN = 0.005


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A synthetic run, then what `facebench run` does after it on a synthetic dataset: train."""
    out = tmp_path_factory.mktemp("train-runs")
    config = RunConfig(
        dataset="synthetic:120",
        executors=["sequential"],
        workers=[1],
        out=str(out),
        progress=False,
        repeats=1,
    )
    run = Run(config, log=lambda _: None).execute()
    lines: list[str] = []
    t0 = time.perf_counter()
    result = training.after_run(run.run_dir, None, config.workers, log=lines.append)
    assert result is not None, "\n".join(lines)
    result.seconds = time.perf_counter() - t0
    result.log = lines
    return result


# ------------------------------------------------------------------------------------------------ split


def _fake(n_identities=5, per=(12, 10, 9, 30, 3)):
    keys, labels = [], []
    for i in range(n_identities):
        name = f"P{i}"
        for j in range(per[i % len(per)]):
            keys.append(f"{name}/{name}_{j + 1:04d}.jpg")
            labels.append(name)
    return keys, labels


def test_split_is_deterministic_stratified_and_leak_free():
    keys, labels = _fake()
    first = tp.split_keys(keys, labels, min_images=10, seed=0)
    again = tp.split_keys(list(reversed(keys)), list(reversed(labels)), min_images=10, seed=0)
    assert (first.train, first.val, first.test) == (again.train, again.val, again.test)
    parts = [set(first.train), set(first.val), set(first.test)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])  # no image twice
    eligible = {k for k, lab in zip(keys, labels, strict=True) if lab in {"P0", "P1", "P3"}}
    assert set().union(*parts) == eligible  # P2 (9) and P4 (3) have fewer than 10
    assert first.classes == ("P0", "P1", "P3")
    for name in tp.SPLITS:  # stratified: every identity in every split
        assert first.sizes()[name]["identities"] == 3
    assert first.sizes() == {
        "train": {"identities": 3, "images": 8 + 6 + 20},  # 12, 10 and 30 crops: 15% each rounded up
        "val": {"identities": 3, "images": 2 + 2 + 5},
        "test": {"identities": 3, "images": 2 + 2 + 5},
    }
    # one identity's split does not depend on which others are present
    alone = tp.split_keys(
        [k for k in keys if k.startswith(("P0/", "P1/"))], [lab for lab in labels if lab in ("P0", "P1")]
    )
    assert {k for k in first.test if k.startswith("P0/")} == {k for k in alone.test if k.startswith("P0/")}
    assert tp.split_keys(keys, labels, seed=1).test != first.test


def test_split_refuses_what_cannot_be_split():
    keys, labels = _fake()
    with pytest.raises(tp.TrainError, match="at least 3"):
        tp.split_keys(keys, labels, min_images=2)
    with pytest.raises(tp.TrainError, match="two or more"):
        tp.split_keys(keys, labels, min_images=20)
    with pytest.raises(tp.TrainError, match="two labels"):
        tp.split_keys(["A/a.jpg", "A/a.jpg"], ["A", "B"], min_images=3)


# ------------------------------------------------------------------------------------------- evaluation


def test_evaluate_scores_top1_top5_macro_f1_and_confusions():
    classes = ["a", "b", "c"]
    probs = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.6, 0.3], [0.1, 0.2, 0.7]])
    y = np.array([0, 1, 2, 2])
    m = tp.evaluate(probs, y, classes)
    assert m["top1"] == 0.75 and m["top5"] == 1.0 and m["top5_k"] == 3
    # per class F1: a 1, b 2/3 (p 1/2, r 1), c 2/3 (p 1, r 1/2)
    assert m["macro_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert m["per_identity"]["c"] == {"images": 2, "correct": 1, "accuracy": 0.5}
    assert m["confusion"]["top_confusions"] == [{"true": "c", "predicted": "b", "count": 1}]


# ---------------------------------------------------------------------------------------- end to end


def test_training_on_a_synthetic_run_reaches_the_stated_accuracy(trained):
    metrics = json.loads((trained.train_dir / "metrics.json").read_text())
    assert metrics["top1"] >= SYNTHETIC_MIN_TOP1, trained.log
    # what it printed says which identities it kept, and that synthetic faces are the easy case
    assert "keeping the 10 with at least 10 crops, of 10 identities: 120 of 120 crops" in trained.log
    assert training.SYNTHETIC_CAVEAT in trained.log and "easy case" in training.SYNTHETIC_CAVEAT
    assert metrics["split"]["test"] == {"identities": 10, "images": 20}
    assert metrics["model"] == "embeddings" and 0 <= metrics["macro_f1"] <= 1
    assert set(metrics["test"]["per_identity"]) == {synthetic.identity_name(i) for i in range(10)}
    for name in ("model.keras", "labels.json", "manifest.json", "embed_tasks.parquet", "predictions.csv"):
        assert (trained.train_dir / name).is_file(), name
    manifest = json.loads((trained.train_dir / "manifest.json").read_text())
    runs = pd.read_parquet(trained.train_dir.parent / "runs.parquet")
    assert manifest["source"]["case_id"] == runs["case_id"].iloc[0]
    assert manifest["source"]["output_digest"] == runs["output_digest"].iloc[0]
    tasks = pd.read_parquet(trained.train_dir / "embed_tasks.parquet")
    assert len(tasks) == 120 and set(tasks["status"]) == {"ok"}
    for column in ("key", "executor", "workers", "worker", "pid", "t_submit", "t_start", "t_end", "embed_s"):
        assert tasks[column].notna().all(), column
    assert tasks["cold_start"].sum() == 1  # one worker loads the models once


def test_the_identities_kept_are_named_with_the_rule_that_kept_them():
    # the default job: 240 synthetic images of 20 identities, 12 each; the short training keeps 10
    counts = pd.Series({f"P{i:02d}": 12 for i in range(20)})
    options = training.TrainOptions(min_images=10, max_identities=10)
    assert training.selection_line(counts, 10, 120, options) == (
        "keeping the 10 with the most crops (--max-identities 10) of the 20 with at least 10, "
        "of 20 identities: 120 of 240 crops"
    )
    everyone = training.TrainOptions(min_images=10)
    assert training.selection_line(counts, 20, 240, everyone) == (
        "keeping the 20 with at least 10 crops, of 20 identities: 240 of 240 crops"
    )


def test_saved_model_reloads_and_predicts_the_same_labels(trained):
    emb = pd.read_parquet(trained.train_dir / "embeddings.parquet")
    x = np.stack([np.asarray(v, np.float32) for v in emb["descriptor"]])
    before = trained.trained.model(x, training=False).numpy()
    classifier = tp.Classifier.load(trained.train_dir)
    assert classifier.descriptor == trained.metrics["descriptor"]["variant"]  # predict describes alike
    after = classifier.predict_proba(x)
    assert np.array_equal(before.argmax(1), after.argmax(1))
    np.testing.assert_allclose(before, after, atol=1e-6)
    recorded = pd.read_csv(trained.train_dir / "predictions.csv").set_index("key")
    names = np.array(classifier.classes)[after.argmax(1)]
    assert list(recorded.loc[emb["key"], "predicted"]) == list(names)


def test_training_is_reproducible(trained):
    emb = pd.read_parquet(trained.train_dir / "embeddings.parquet")
    vectors = {k: np.asarray(v, np.float32) for k, v in zip(emb["key"], emb["descriptor"], strict=True)}
    split = tp.split_keys(list(vectors), [k.split("/")[0] for k in vectors], 10, seed=0)

    def features(keys):
        return np.stack([vectors[k] for k in keys])

    config = tp.TrainConfig(epochs=15)
    first = tp.train_and_evaluate(split, features, config)[0].model.get_weights()
    second = tp.train_and_evaluate(split, features, config)[0].model.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_predict_names_the_right_identity_on_held_out_photos(trained, tmp_path, capsys):
    # Photos the run never saw: images 120+ of the same generator, identities index % 10.
    for index in (123, 137, 149):
        jpeg, truth = synthetic.render(index, 150, identities=10)
        photo = tmp_path / f"photo{index}.jpg"
        photo.write_bytes(jpeg)
        assert main(["train", "--predict", str(photo), "--run", str(trained.train_dir.parent)]) == 0
        out = capsys.readouterr().out
        name, _, rest = out.splitlines()[0].partition("  probability ")
        assert name == truth["label"], out
        assert 0.5 < float(rest) <= 1.0


def test_predict_refuses_a_photo_without_a_face(trained, tmp_path, capsys):
    blank = tmp_path / "blank.jpg"
    import cv2

    blank.write_bytes(cv2.imencode(".jpg", np.full((120, 120, 3), 128, np.uint8))[1].tobytes())
    assert main(["train", "--predict", str(blank), "--run", str(trained.train_dir.parent)]) == 2
    assert "no usable face" in capsys.readouterr().err


# --------------------------------------------------------------------------------- choosing the output


def _with_extra_case(run_dir: Path, tmp_path: Path, identical: bool) -> Path:
    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("train"))
    runs = pd.read_parquet(copy / "runs.parquet")
    fast = runs.iloc[[0]].copy()
    fast["case_id"] = "processes-optimized-w2-c15"
    fast["executor"], fast["workers"] = "processes", 2
    fast["wall_s"] = runs["wall_s"].iloc[0] / 3
    fast["identical"] = identical
    if not identical:
        fast["output_digest"] = "0" * 64
    pd.concat([runs, fast], ignore_index=True).to_parquet(copy / "runs.parquet")
    tasks = pd.read_parquet(copy / "tasks.parquet")
    extra = tasks.assign(case_id="processes-optimized-w2-c15", executor="processes", workers=2)
    pd.concat([tasks, extra], ignore_index=True).to_parquet(copy / "tasks.parquet")
    return copy


def test_choosing_the_best_output_refuses_a_case_that_is_not_identical(trained, tmp_path, capsys):
    run_dir = _with_extra_case(trained.train_dir.parent, tmp_path, identical=False)
    best = training.choose_best_output(run_dir)
    assert best.case_id.startswith("sequential")  # the faster case is not verified: not chosen
    with pytest.raises(UserError, match="not identical to the sequential reference"):
        training.choose_best_output(run_dir, "processes-optimized-w2-c15")
    assert main(["train", "--run", str(run_dir), "--case", "processes-optimized-w2-c15"]) == 2
    assert "not identical" in capsys.readouterr().err


def test_the_fastest_identical_case_is_chosen_and_its_crops_checked(trained, tmp_path):
    run_dir = _with_extra_case(trained.train_dir.parent, tmp_path, identical=True)
    best = training.choose_best_output(run_dir)
    assert best.case_id == "processes-optimized-w2-c15" and best.identical
    assert len(training.verified_crops(run_dir, best)) == 120
    crop = next((run_dir / "output").rglob("*.jpg"))
    crop.write_bytes(crop.read_bytes()[:-10])  # the output folder no longer holds what was verified
    with pytest.raises(UserError, match="do not match"):
        training.verified_crops(run_dir, best)


# --------------------------------------------------------------------------------- descriptor stage


def test_descriptor_stage_is_identical_under_processes_and_reports_speedup(trained, tmp_path):
    crops = LocalStore(trained.train_dir.parent / "output")
    keys = crops.keys()[:6]
    seq = run_embed_stage(crops, keys, "sequential", 1, log=lambda _: None)
    par = run_embed_stage(crops, keys, "processes", 2, chunk_size=2, log=lambda _: None)
    assert seq.vectors.keys() == par.vectors.keys() == set(keys)
    assert all(np.array_equal(seq.vectors[k], par.vectors[k]) for k in keys)
    assert par.tasks["pid"].nunique() == 2 and par.tasks["cold_start"].sum() == 2
    store_stage(tmp_path, seq)
    _, runs = store_stage(tmp_path, par)
    assert list(runs["stage_id"]) == ["sequential-w1-c6-mirror+detect", "processes-w2-c2-mirror+detect"]
    assert runs["identical"].all() and runs["speedup"].notna().all()
    assert len(pd.read_parquet(tmp_path / "embed_tasks.parquet")) == 12
    other = run_embed_stage(crops, keys[:4], "sequential", 1, log=lambda _: None)
    tasks, runs = store_stage(tmp_path, other)  # other crops: the tables start again
    assert list(runs["stage_id"]) == ["sequential-w1-c4-mirror+detect"] and len(tasks) == 4


# ------------------------------------------------------------------------------ descriptor variants


def _chips(trained, tmp_path: Path, count: int) -> LocalStore:
    """Synthetic crops made into 150 px chips (what a kernel declaring ``chip150`` writes)."""
    import cv2

    source = trained.train_dir.parent / "output"
    for path in sorted(source.rglob("*.jpg"))[:count]:
        rgb = embeddings.decode_crop(path.read_bytes())
        chip = cv2.resize(rgb, (embeddings.CHIP_SIZE,) * 2, interpolation=cv2.INTER_AREA)
        target = tmp_path / "chips" / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(cv2.imencode(".jpg", cv2.cvtColor(chip, cv2.COLOR_RGB2BGR))[1].tobytes())
    return LocalStore(tmp_path / "chips")


def test_every_descriptor_variant_gives_a_128_d_descriptor_and_times_its_stages(trained, tmp_path):
    crop = next((trained.train_dir.parent / "output").rglob("*.jpg")).read_bytes()
    results = {v: embeddings.describe(crop, v) for v in ("mirror+detect", "mirror+detect-up0", "template")}
    chips = _chips(trained, tmp_path, 1)
    results["chip"] = embeddings.describe(chips.get(chips.keys()[0]), "chip")
    for variant, result in results.items():
        assert result.status == "ok" and result.vector.shape == (embeddings.DIM,), (variant, result.error)
        assert np.isfinite(result.vector).all() and result.timings["describe"] > 0, variant
    assert (
        results["mirror+detect"].timings["detect"] > 0 and results["mirror+detect-up0"].timings["detect"] > 0
    )
    assert results["template"].timings["detect"] == 0.0  # no detection: the shape is the template's
    assert not np.array_equal(results["template"].vector, results["mirror+detect"].vector)
    wrong = embeddings.describe(crop, "chip")  # a 180 px crop is no chip
    assert wrong.status == "error" and "150x150" in wrong.error


def test_the_chip_stage_neither_detects_nor_places_a_shape(trained, tmp_path):
    chips = _chips(trained, tmp_path, 4)
    stage = run_embed_stage(chips, chips.keys(), "sequential", 1, log=lambda _: None, descriptor="chip")
    tasks = stage.tasks
    assert len(stage.vectors) == 4 and set(tasks["descriptor"]) == {"chip"}
    assert (
        (tasks["detect_s"] == 0).all()
        and (tasks["landmarks_s"] == 0).all()
        and (tasks["margin_s"] == 0).all()
    )
    assert (tasks["describe_s"] > 0).all() and stage.summary["stage_id"].endswith("-chip")


def test_the_descriptor_follows_the_kernels_declared_output(trained, tmp_path, capsys):
    manifest = json.loads((trained.train_dir.parent / "manifest.json").read_text())
    assert descriptors.crop_output(manifest, "optimized") == "openface180"  # declared nothing
    declared = {**manifest, "kernels": {"optimized": {"output": "chip150"}}}
    assert descriptors.crop_output(declared, "optimized") == "chip150"
    assert descriptors.resolve_descriptor(None, "chip150")[0] == "chip"
    assert descriptors.resolve_descriptor(None, "openface180") == descriptors.DEFAULTS["openface180"]
    with pytest.raises(UserError, match="reads chip150 crops"):
        descriptors.resolve_descriptor("chip", "openface180")
    with pytest.raises(UserError, match="reads openface180 crops"):
        descriptors.resolve_descriptor("template", "chip150")
    args = ["train", str(trained.train_dir.parent), "--descriptor", "chip", "--out", str(tmp_path / "t")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "descriptor chip reads chip150 crops" in err and "Traceback" not in err


def test_the_default_descriptor_is_the_fastest_within_the_pairs_tolerance():
    def row(variant, accuracy, seconds):
        return {"variant": variant, "pairs_accuracy": accuracy, "per_crop_s": seconds}

    reference = row(embeddings.REFERENCE, 0.9640, 0.130)
    scores = [reference, row("mirror+detect-up0", 0.9615, 0.110), row("template", 0.9600, 0.095)]
    assert descriptors.choose_descriptor(scores) == "mirror+detect-up0"  # template is 0.4 points below
    assert descriptors.choose_descriptor(scores, tolerance=0.005) == "template"
    assert descriptors.choose_descriptor([reference, row("template", 0.90, 0.01)]) == embeddings.REFERENCE
    # what is committed (benchmarks/descriptor_variants.py --json) and the default in the code agree
    for path in sorted(Path(__file__).parents[1].glob("results/descriptor-variants/*.json")):
        result = json.loads(path.read_text())
        if result.get("limit") is None and result.get("chosen"):
            output = result["run"]["crop_output"]
            assert descriptors.choose_descriptor(result["variants"]) == result["chosen"], path
            assert descriptors.DEFAULTS[output][0] == result["chosen"], path


# ------------------------------------------------------------------------------------ end to end account


def test_metrics_carry_the_end_to_end_account_of_the_measured_parts(trained):
    metrics = json.loads((trained.train_dir / "metrics.json").read_text())
    account = metrics["pipeline"]
    steps = {s["step"]: s for s in account["steps"]}
    assert list(steps) == ["preprocessing", "descriptors", "classifier"]
    assert sum(s["share"] for s in steps.values()) == pytest.approx(1.0)
    assert account["total_s"] == pytest.approx(sum(s["seconds"] for s in steps.values()))
    runs = pd.read_parquet(trained.train_dir.parent / "runs.parquet")
    case = metrics["source"]["case_id"]
    assert steps["preprocessing"]["seconds"] == runs.loc[runs["case_id"] == case, "wall_s"].median()
    assert steps["preprocessing"]["images"] == 120 and steps["preprocessing"]["kernel"] == "optimized"
    stage = pd.read_parquet(trained.train_dir / "embed_runs.parquet").set_index("stage_id")
    assert steps["descriptors"]["seconds"] == stage.loc[metrics["embed_stage"]["stage_id"], "wall_s"]
    assert steps["descriptors"]["descriptor"] == metrics["descriptor"]["variant"]
    assert steps["classifier"]["seconds"] == metrics["fit_s"]
    assert steps["classifier"]["images"] == metrics["split"]["train"]["images"]
    for s in steps.values():
        assert s["per_image_s"] == pytest.approx(s["seconds"] / s["images"])
    table = pd.read_csv(trained.train_dir / "pipeline.csv")
    assert list(table["step"]) == list(steps) and np.allclose(
        table["seconds"], [s["seconds"] for s in steps.values()]
    )
    assert (
        metrics["descriptor"]["why"] and metrics["descriptor"]["default"] == metrics["descriptor"]["variant"]
    )
    printed = "\n".join(trained.log)
    assert "the path to this model:" in printed and "end to end: preprocessing is" in printed


def test_amdahl_what_a_faster_preprocessing_step_buys():
    account = end_to_end.account(
        [
            {"step": "preprocessing", "seconds": 20.0, "images": 100, "speedup": 2.0},
            {"step": "descriptors", "seconds": 60.0, "images": 100},
            {"step": "classifier", "seconds": 20.0, "images": 70},
        ]
    )
    assert [s["share"] for s in account["steps"]] == [0.2, 0.6, 0.2] and account["total_s"] == 100
    assert end_to_end.end_to_end_speedup(account, 1.0) == 1.0
    assert end_to_end.end_to_end_speedup(account, 4.0) == pytest.approx(100 / 85)
    assert end_to_end.end_to_end_speedup(account, float("inf")) == pytest.approx(1.25)
    assert end_to_end.bought(account) == pytest.approx(120 / 100)  # sequential preprocessing took 40 s
    assert "bought 1.20x" in end_to_end.summary_line(account)
    no_run = end_to_end.account(account["steps"][1:])
    assert np.isnan(end_to_end.end_to_end_speedup(no_run, 2.0))


def test_the_end_to_end_figure_renders(trained):
    data = load_run(trained.train_dir.parent)
    plot = pipeline(data.training, data.manifest)
    assert not plot.absent and "end to end: preprocessing is" in plot.caption
    assert len(plot.figure.axes) == 2 and len(plot.figure.axes[0].patches) == 3
    assert pipeline(None, data.manifest).absent
    assert pipeline({"top1": 1.0}, data.manifest).absent  # trained before the account existed


# ------------------------------------------------------------------------------------------- the CLI


def test_cnn_model_trains_saves_and_reloads_from_the_cli(trained, tmp_path, capsys):
    out = tmp_path / "cnn"
    args = ["train", "--run", str(trained.train_dir.parent), "--model", "cnn", "--epochs", "2"]
    assert main([*args, "--out", str(out), "--no-progress"]) == 0
    assert "held-out test: top-1" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "cnn" and 0 <= metrics["top1"] <= 1 and metrics["epochs_run"] <= 2
    assert tp.Classifier.load(out).kind == "cnn"


def test_train_on_a_folder_of_crops(trained, tmp_path, capsys):
    crops = tmp_path / "crops"
    shutil.copytree(trained.train_dir.parent / "output", crops)
    args = ["train", "--crops", str(crops), "--max-identities", "3", "--executor", "sequential"]
    assert main([*args, "--epochs", "20", "--no-progress"]) == 0
    assert "split (3 identities)" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "crops-train" / "manifest.json").read_text())
    assert manifest["source"]["crops"] == str(crops) and len(manifest["source"]["crops_digest"]) == 64
    assert manifest["split"]["test"] == {"identities": 3, "images": 6}


def test_run_trains_only_when_the_data_allows_and_train_can_be_turned_off(tmp_path, capsys):
    base = ["run", "--dataset", "synthetic:16", "--executors", "sequential", "--workers", "1"]
    base += ["--repeats", "1"]
    assert main([*base, "--out", str(tmp_path / "a"), "--no-progress"]) == 0
    out = capsys.readouterr().out  # 2 identities x 8 images: too few for a split of 10
    assert "training skipped" in out and "at least 10 crops" in out
    assert main([*base, "--out", str(tmp_path / "b"), "--no-progress", "--no-train"]) == 0
    assert "training" not in capsys.readouterr().out


def test_train_options_are_checked(trained):
    for options, message in [
        (training.TrainOptions(min_images=2), "at least 3"),
        (training.TrainOptions(model="svm"), "unknown model"),
        (training.TrainOptions(executor="sequential", workers=2), "exactly one worker"),
    ]:
        with pytest.raises(UserError, match=message):
            training.train(run=trained.train_dir.parent, options=options, log=lambda _: None)
    with pytest.raises(UserError, match="no run"):
        tables.resolve_run(None, root=trained.train_dir / "nowhere")


# ------------------------------------------------------------------------------------ LFW verification


def test_pairs_verification_follows_the_ten_fold_protocol(tmp_path):
    rng = np.random.default_rng(0)
    people = {f"P{i}": rng.normal(size=128) for i in range(40)}
    descriptors, lines = {}, ["10\t3"]
    for fold in range(10):
        for j in range(3):
            name = f"P{(fold * 3 + j) % 40}"
            lines.append(f"{name}\t1\t2")
        for j in range(3):
            a, b = f"P{(fold + j) % 40}", f"P{(fold + j + 7) % 40}"
            lines.append(f"{a}\t1\t{b}\t3")
    for name, centre in people.items():
        for number in (1, 2, 3):
            descriptors[tp.lfw_key(name, number)] = centre + rng.normal(scale=0.05, size=128)
    path = tmp_path / "pairs.txt"
    path.write_text("\n".join(lines) + "\n")
    result = tp.lfw_pairs_verification(path, descriptors)
    assert result["pairs_total"] == result["pairs_covered"] == 60
    assert len(result["folds"]) == 10 and result["accuracy"] == 1.0
    del descriptors[tp.lfw_key("P0", 1)]
    partial = tp.lfw_pairs_verification(path, descriptors)
    assert partial["pairs_covered"] < 60 and partial["accuracy"] == 1.0
    assert tp.lfw_pairs_verification(path, {})["accuracy"] is None


def _lfw_selected(request) -> bool:
    expr = request.config.getoption("markexpr") or ""
    positive = any(m in expr and f"not {m}" not in expr for m in ("slow", "lfw"))
    return positive or bool(os.environ.get("FACEBENCH_LFW_IDENTITIES"))


@pytest.mark.lfw
@pytest.mark.slow
def test_lfw_identification_and_pairs_verification(lfw_data, tmp_path, request):
    """The training output the kernel frontier's rule chose (SLOW_KERNEL), on ge10 (158 people, 4,324
    images) plus every image LFW's pairs.txt names: identification on ge10 and the full 10-fold pairs
    protocol, each at least the committed score less a margin for noise. About 10 minutes on two
    cores, so it runs only when asked for, with -m slow (or -m lfw). FACEBENCH_LFW_IDENTITIES=N takes
    the first N identities of ge10 and 5 pairs of each kind per fold instead (no bound on pairs)."""
    if not _lfw_selected(request):
        pytest.skip("the LFW training check takes minutes: select it with -m slow or -m lfw")
    keys = (lfw_data / "lfw-meta" / "ge10.txt").read_text().split()
    pairs = tp.read_lfw_pairs(lfw_data / "lfw-meta" / "pairs.txt")
    limit = int(os.environ.get("FACEBENCH_LFW_IDENTITIES") or 0)
    if limit:
        chosen = sorted({k.split("/")[0] for k in keys})[:limit]
        keys = [k for k in keys if k.split("/")[0] in chosen]
        pairs = [
            p
            for fold in range(10)
            for same in (True, False)
            for p in [q for q in pairs if q.fold == fold and q.same == same][:5]
        ]
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(sorted(set(keys) | set(tp.lfw_pairs_keys(pairs)))) + "\n")
    committed = frontier.load_downstream()["kernels"]
    both = [FAITHFUL, SLOW_KERNEL]
    verdict = frontier.judge(both, None, frontier.accuracies(None, both, None, {"kernels": committed}))
    assert verdict[SLOW_KERNEL].acceptable, verdict[SLOW_KERNEL].why  # the rule's choice, not a guess
    config = RunConfig(
        dataset=str(lfw_data / "lfw"),
        list_file=str(listing),
        executors=["sequential"],
        workers=[1],
        kernels=[SLOW_KERNEL],
        repeats=1,
        out=str(tmp_path / "runs"),
        progress=False,
    )
    run = Run(config, log=print).execute()
    assert run.ok
    options = training.TrainOptions(min_images=10)  # descriptors on processes, one per core
    result = training.train(run=run.run_dir, options=options, log=print)
    metrics = result.metrics
    print(training.format_metrics(metrics))
    assert metrics["source"]["kernel"] == SLOW_KERNEL and metrics["descriptor"]["variant"] == "chip"
    verification = metrics["lfw_pairs"]
    if limit:
        assert verification["pairs_covered"] >= len(pairs) - 5  # a pair is lost when a face is not found
        return
    scores = committed[SLOW_KERNEL]
    assert verification["pairs_total"] == 6000 and verification["pairs_covered"] >= 5900
    assert metrics["top1"] >= scores["ge10_top1"] - LFW_MARGIN
    assert verification["accuracy"] >= scores["pairs_accuracy"] - LFW_MARGIN
