"""The kernel frontier: the rule that picks training's output (the fastest verified case whose kernel is
within the tolerance of the faithful kernel's LFW pairs accuracy), the frontier figure with and without
accuracy, plan's kernels, and --predict with a model trained on another kernel's crops."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from bench.analysis import frontier
from bench.cli import main
from bench.errors import UserError
from bench.report.figures import load_run
from bench.report.frontier import frontier as frontier_figure
from bench.run.runner import Run, RunConfig
from bench.train import harness as training
from pipelines import synthetic

IMAGES = 36  # 3 synthetic identities of 12 images: enough to train on at --min-images 10


@pytest.fixture(scope="module")
def three_kernels(tmp_path_factory) -> Path:
    """One sequential case per kernel (optimized, hog0, chip), 36 synthetic images, one repeat."""
    config = RunConfig(
        dataset=f"synthetic:{IMAGES}",
        executors=["sequential"],
        workers=[1],
        kernels=["optimized", "hog0", "chip"],
        out=str(tmp_path_factory.mktemp("frontier-runs")),
        progress=False,
        repeats=1,
        warmup=False,
    )
    return Run(config, log=lambda _: None).execute().run_dir


def _timed(run_dir: Path, tmp_path: Path, **walls: float) -> Path:
    """A copy of the run whose kernels' sequential cases took the given seconds (the rule's input is
    speed, and timings on a shared machine are noise)."""
    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("train", "output*"))
    for folder in run_dir.glob("output*"):
        (copy / folder.name).symlink_to(folder)
    runs = pd.read_parquet(copy / "runs.parquet")
    runs["wall_s"] = runs["kernel"].map(walls).fillna(runs["wall_s"])
    runs.to_parquet(copy / "runs.parquet")
    return copy


def _scores(tmp_path: Path, monkeypatch, **accuracy: float) -> dict:
    doc = {"kernels": {k: {"version": "1", "pairs_accuracy": a} for k, a in accuracy.items()}}
    path = tmp_path / "downstream.json"
    path.write_text(json.dumps(doc))
    monkeypatch.setattr(frontier, "DOWNSTREAM", path)
    return doc


def test_the_rule_takes_the_fastest_kernel_within_the_tolerance_and_refuses_the_unmeasured():
    manifest = {
        "kernels": {k: {"version": "1", "approximates": "optimized"} for k in ("optimized", "hog0", "roi")}
    }
    manifest["kernels"]["naive"] = {"version": "1", "approximates": "optimized", "reproduces": True}
    kernels = ["optimized", "hog0", "roi", "naive"]
    scores = {"kernels": {"optimized": {"version": "1", "pairs_accuracy": 0.9640}}}
    found = frontier.accuracies(manifest, kernels, None, scores)
    verdicts = frontier.judge(kernels, manifest, found)
    assert verdicts["optimized"].acceptable and verdicts["naive"].acceptable  # reproduces it byte for byte
    assert found["naive"].pairs_accuracy == 0.9640
    assert not verdicts["hog0"].acceptable and "no pairs accuracy" in verdicts["hog0"].why
    scores["kernels"]["hog0"] = {"version": "1", "pairs_accuracy": 0.9615}  # 0.25 points below
    scores["kernels"]["roi"] = {"version": "1", "pairs_accuracy": 0.9605}  # 0.35 points below
    verdicts = frontier.judge(kernels, manifest, frontier.accuracies(manifest, kernels, None, scores))
    assert verdicts["hog0"].acceptable and "within 0.3" in verdicts["hog0"].why
    assert not verdicts["roi"].acceptable and "beyond 0.3" in verdicts["roi"].why
    scores["kernels"]["hog0"]["version"] = "2"  # scores of another version of the kernel do not count
    assert "hog0" not in frontier.accuracies(manifest, kernels, None, scores)
    # the run's own training measures the kernel it trained on
    training = {"source": {"kernel": "roi"}, "lfw_pairs": {"accuracy": 0.9630}, "top1": 0.98}
    assert frontier.accuracies(manifest, kernels, training, None)["roi"].pairs_accuracy == 0.9630


def test_train_states_its_choice_by_the_rule_and_kernel_overrides(
    three_kernels, tmp_path, monkeypatch, capsys
):
    run = _timed(three_kernels, tmp_path, optimized=3.0, hog0=1.0, chip=0.5)
    monkeypatch.setattr(frontier, "DOWNSTREAM", tmp_path / "none.json")  # nothing committed
    choice = training.choose_best_output(run)
    assert choice.kernel == "optimized"
    assert "left out: chip (no pairs accuracy measured); hog0 (no pairs accuracy measured)" in choice.why
    _scores(tmp_path, monkeypatch, optimized=0.9640, hog0=0.9620, chip=0.9500)
    choice = training.choose_best_output(run)
    assert (
        choice.kernel == "hog0" and "within 0.3" in choice.why and "chip (pairs accuracy 95.00%" in choice.why
    )
    assert training.choose_best_output(run, kernel="chip").kernel == "chip"
    with pytest.raises(UserError, match="no kernel 'cnn'"):
        training.choose_best_output(run, kernel="cnn")
    argv = ["train", str(run), "--min-images", "10", "--pairs", "none", "--executors", "sequential"]
    assert main([*argv, "--out", str(tmp_path / "t"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "chosen as the fastest verified case whose kernel is within 0.3 points" in out and ": hog0," in out
    metrics = json.loads((tmp_path / "t" / "metrics.json").read_text())
    assert metrics["source"]["kernel"] == "hog0" and "within 0.3" in metrics["source"]["why"]
    assert main([*argv, "--kernel", "chip", "--case", "x"]) == 2
    assert "not both" in capsys.readouterr().err


def test_predict_with_a_model_trained_on_chips_aligns_the_photo_with_the_chip_kernel(
    three_kernels, tmp_path, capsys
):
    model = tmp_path / "chip-model"
    argv = ["train", str(three_kernels), "--kernel", "chip", "--min-images", "10", "--pairs", "none"]
    assert main([*argv, "--executors", "sequential", "--out", str(model), "--no-progress"]) == 0
    labels = json.loads((model / "labels.json").read_text())
    assert labels["kernel"] == "chip" and labels["input"]["descriptor"] == "chip"
    capsys.readouterr()
    jpeg, truth = synthetic.render(IMAGES + 1, IMAGES + 12, identities=3)  # one the run never saw
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg)
    assert main(["train", "--predict", str(photo), "--out", str(model)]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.split("  probability ")[0] == truth["label"]


def test_the_frontier_figure_with_accuracy_without_it_and_absent(three_kernels, tmp_path, monkeypatch):
    data = load_run(three_kernels)
    scores = {
        "kernels": {
            k: {"version": "1", "pairs_accuracy": a}
            for k, a in (("optimized", 0.964), ("hog0", 0.962), ("chip", 0.972))
        }
    }
    plot = frontier_figure(data.runs, data.manifest, None, data.quality, scores)
    assert not plot.absent and "LFW pairs verification accuracy" in plot.caption
    assert "Pareto front (no other point both faster and more accurate): " in plot.caption
    table, axis = frontier.frontier_table(
        data.runs,
        data.manifest,
        frontier.accuracies(data.manifest, ["optimized", "hog0", "chip"], None, scores),
    )
    assert axis == "pairs_accuracy" and table["front_speed"].any()
    front = table[table["front_speed"]]
    assert "chip" in set(front["kernel"])  # the most accurate is never dominated
    plot = frontier_figure(data.runs, data.manifest, None, data.quality, None)
    assert not plot.absent and "stand-in for accuracy, not accuracy" in plot.caption
    one = data.runs[data.runs["kernel"] == "optimized"]
    assert frontier_figure(one, data.manifest, None, None, None).absent
    monkeypatch.setattr(frontier, "DOWNSTREAM", tmp_path / "none.json")
    page = (
        main(["report", str(three_kernels), "--out", str(tmp_path / "r")]),
        (tmp_path / "r" / "index.html"),
    )
    assert (
        page[0] == 0
        and 'id="kernel-frontier"' in page[1].read_text()
        and (tmp_path / "r" / "frontier.png").is_file()
    )


def test_plan_lists_every_measured_kernel_with_its_accuracy(three_kernels, tmp_path, monkeypatch, capsys):
    _scores(tmp_path, monkeypatch, optimized=0.9640, hog0=0.9620)
    assert main(["plan", str(three_kernels), "--images", "1000", "--platforms", "local", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["options"]
    by_kernel = {r["kernel"]: r for r in rows}
    assert set(by_kernel) == {"optimized", "hog0", "chip"}
    assert by_kernel["hog0"]["pairs_accuracy"] == 0.9620 and by_kernel["hog0"]["acceptable"]
    assert by_kernel["chip"]["pairs_accuracy"] is None and not by_kernel["chip"]["acceptable"]
    assert not by_kernel["chip"]["recommended"] and by_kernel["chip"]["marks"].startswith("not acceptable")
    assert main(["plan", str(three_kernels), "--images", "1000", "--platforms", "local"]) == 0
    text = capsys.readouterr().out
    assert "kernel" in text.splitlines()[2] and "96.20%" in text


def test_the_claim_gains_the_fastest_acceptable_kernel_with_its_accuracy(
    three_kernels, tmp_path, monkeypatch
):
    from bench.analysis import claim

    run = _timed(three_kernels, tmp_path, optimized=3.0, hog0=1.0, chip=30.0)
    for name in (
        "runs.parquet",
        "tasks.parquet",
    ):  # chip's case stands in for a naive one: slow, same dataset
        table = pd.read_parquet(run / name)
        table["kernel"] = table["kernel"].replace({"chip": "naive"})
        table["case_id"] = table["case_id"].str.replace("chip", "naive")
        table.to_parquet(run / name)
    monkeypatch.setattr(frontier, "DOWNSTREAM", tmp_path / "none.json")
    plain = claim.build_claim([str(run)])["table"]
    assert not plain["what"].str.contains("acceptable").any()  # no accuracy: nothing but the chain
    _scores(tmp_path, monkeypatch, optimized=0.9640, hog0=0.9620)
    table = claim.build_claim([str(run)])["table"].set_index("what")
    scale = 1584 / IMAGES
    assert table.at["fastest acceptable kernel sequential (hog0)", "time_s"] == pytest.approx(1.0 * scale)
    factor = table.loc["kernel choice: optimized / hog0 (fastest acceptable), both sequential"]
    assert factor["speedup"] == pytest.approx(3.0) and "96.20%" in factor["note"]
    assert table.at["optimized sequential", "pairs_accuracy"] == 0.9640
    assert table.at["naive sequential", "pairs_accuracy"] == 0.9640  # naive reproduces optimized
    assert list(claim.chain_rows(table.reset_index())["what"].str.split(":").str[0]) == [
        "machine", "x parallelism, ideal", "x platform overheads", "x CPU share", "x unexplained"
    ]  # fmt: skip


def test_the_answer_names_the_kernel_of_the_fastest_case(three_kernels):
    from bench.analysis.answer import answer_lines

    run = pd.read_parquet(three_kernels / "runs.parquet")
    first = answer_lines(
        run.assign(wall_s=run["kernel"].map({"optimized": 3.0, "hog0": 1.0, "chip": 2.0})), three_kernels
    )[0]
    assert ", kernel hog0 (fastest of the run's kernels, whatever their accuracy" in first
