"""Figures and the HTML report: each figure is drawn from a real small run and shows what its caption says."""

from __future__ import annotations

import html
import json

import numpy as np
import pandas as pd
import pytest
from conftest import copy_run

from bench import tables
from bench.analysis.statistics import case_summary, pareto
from bench.cli import main
from bench.errors import UserError
from bench.report.cost import cost
from bench.report.data import DISPATCH, OTHER_IN_WORKER, STAGES, RunData
from bench.report.figures import FIGURES, all_figures, load_run
from bench.report.page import write_report
from bench.report.projection import projection as projection_figure
from bench.report.scaling import efficiency, speedup, throughput
from bench.report.stages import TAIL_IDLE, service_time, stage_breakdown, stages
from bench.report.timeline import default_case, timeline
from bench.report.training import training


@pytest.fixture(scope="module")
def data(small_run) -> RunData:
    return load_run(small_run)


@pytest.fixture(scope="module")
def four_executors(data) -> pd.DataFrame:
    """The small run's runs table with its processes cases relabelled as dask and lithops too."""
    frames = [data.runs]
    for name, factor in (("dask", 1.2), ("lithops", 1.5)):
        extra = data.runs[data.runs["executor"] == "processes"].copy()
        extra["case_id"] = extra["case_id"].str.replace("processes", name)
        extra["executor"] = name
        extra["wall_s"] *= factor
        frames.append(extra)
    return pd.concat(frames, ignore_index=True)


def labels(ax) -> list[str]:
    return [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]


def says_what_was_measured(caption: str, data: RunData) -> None:
    """Every present figure's caption names the machine and the repeats, and one line is one line."""
    assert "\n" not in caption
    assert tables.machine_label(data.manifest) in caption
    assert "2 repeats" in caption


def test_speedup_has_one_line_per_executor_the_ideal_and_the_cores(data, four_executors):
    for runs in (data.runs, four_executors):
        fig, caption = speedup(runs, data.manifest)
        ax = fig.axes[0]
        executors = list(dict.fromkeys(runs["executor"]))
        drawn = labels(ax)
        assert [label for label in drawn if label in executors] == executors
        assert "ideal (speedup = workers)" in drawn
        cores = data.manifest["environment"]["cpu_count"]
        assert f"this machine's {cores} cores" in drawn
        says_what_was_measured(caption, data)
        assert "spread" in caption and all(name in caption for name in executors)
    # The sequential case is the reference: exactly 1 at one worker.
    fig, _ = speedup(data.runs, data.manifest)
    sequential = next(line for line in fig.axes[0].get_lines() if line.get_label() == "sequential")
    assert list(sequential.get_xdata()) == [1] and sequential.get_ydata()[0] == pytest.approx(1.0)


def test_a_clusters_worker_threads_are_marked_as_its_cases_limit(data, four_executors):
    # a loopback cluster of 2 `dask worker`s x 2 threads: 4 slots, on a machine of fewer cores
    manifest = {
        **data.manifest,
        "executor_settings": {"dask": {"backend": "tcp://127.0.0.1:8786", "slots": 2, "cluster_threads": 4}},
    }
    for plot in (speedup, efficiency):
        fig, caption = plot(four_executors, manifest)
        drawn = labels(fig.axes[0])
        assert "the dask cluster's 4 worker threads (on this machine)" in drawn
        assert (
            "dash-dot: the dask cluster's 4 worker threads (on this machine), the slots its cases had"
            in caption
        )
        assert 4 in list(fig.axes[0].get_xticks())
    _, caption = speedup(four_executors, data.manifest)  # no cluster: this machine's cores only
    assert "cluster" not in caption


def test_efficiency_is_speedup_over_workers(data):
    fig, caption = efficiency(data.runs, data.manifest)
    ax = fig.axes[0]
    summary = case_summary(data.runs)
    processes = next(line for line in ax.get_lines() if line.get_label() == "processes")
    expected = summary[summary["executor"] == "processes"].sort_values("workers")
    assert np.allclose(processes.get_ydata(), expected["speedup"] / expected["workers"])
    assert "ideal (efficiency = 1)" in labels(ax)
    says_what_was_measured(caption, data)


def test_throughput_has_one_bar_per_case_at_its_median(data, four_executors):
    fig, caption = throughput(four_executors, data.manifest)
    ax = fig.axes[0]
    bars = [p for p in ax.patches if np.isfinite(p.get_height()) and p.get_height() > 0]
    summary = case_summary(four_executors)
    assert len(bars) == len(summary)
    heights = sorted(p.get_height() for p in bars)
    assert np.allclose(heights, sorted(summary["images_per_s"]))
    assert "chunk size" in ax.get_title(loc="left")
    says_what_was_measured(caption, data)


def test_stages_stack_to_the_offered_worker_time_with_dispatch_and_cold_start(data):
    table = stage_breakdown(data.tasks, data.runs)
    parts = [label for _, label in STAGES] + [OTHER_IN_WORKER, DISPATCH, TAIL_IDLE]
    assert np.allclose(table[parts].sum(axis=1), table["total"], rtol=0.02)
    assert (table[TAIL_IDLE] >= 0).all() and (table[TAIL_IDLE] > 0).any()
    expected = (
        (data.runs["workers"] * data.runs["wall_s"] / data.runs["images"])
        .groupby(data.runs["case_id"])
        .mean()
    )
    assert np.allclose(table.set_index("case_id")["total"], expected.reindex(table["case_id"]))
    assert (table["cold start (model load)"] > 0).all()  # every case's first repeat loads the models

    fig, caption = stages(data.tasks, data.runs, data.manifest)
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert set(legend) == set(parts)
    assert len(ax.patches) == len(parts) * len(table)
    assert "dispatch overhead" in caption and "cold start" in caption
    assert tables.machine_label(data.manifest) in caption and "2 repeats" in caption
    assert "vary by up to" in caption
    # one repeat: no spread between repeats is claimed
    first = data.runs[data.runs["repeat"] == 0]
    _, caption = stages(data.tasks[data.tasks["repeat"] == 0], first, data.manifest)
    assert (
        "vary by up to" not in caption
        and "one repeat per case (spread between repeats not measured)" in caption
    )


def test_timeline_has_one_row_per_worker_and_one_bar_per_image(data):
    case = "processes-optimized-w2-c1"
    assert default_case(data.runs) == case
    sel = data.tasks[(data.tasks["case_id"] == case) & (data.tasks["repeat"] == 0)]
    for colour_by in ("stage", "cold_start"):
        fig, caption = timeline(data.tasks, data.runs, data.manifest, colour_by=colour_by)
        ax = fig.axes[0]
        assert len(ax.get_yticks()) == sel["worker"].nunique()
        outlines = [c for c in ax.collections if c.get_gid() == "outline"]
        assert len(outlines) == 1 and len(outlines[0].get_paths()) == len(sel)
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert ("cold start (model load)" if colour_by == "stage" else "cold start") in legend
        assert f"({sel['worker'].nunique()} seen)" in caption and f"({len(sel)})" in caption
        assert tables.machine_label(data.manifest) in caption and "2 repeats" in caption
    with pytest.raises(UserError):
        timeline(data.tasks, data.runs, data.manifest, case_id="no-such-case")


def test_service_time_has_one_ecdf_per_executor(data):
    fig, caption = service_time(data.tasks, data.manifest)
    ax = fig.axes[0]
    assert labels(ax) == ["sequential", "processes"]
    for line in ax.get_lines():
        y = line.get_ydata()
        assert y[0] == 0 and y[-1] == pytest.approx(1.0) and np.all(np.diff(y) >= 0)
    assert (
        "median/p95" in caption and tables.machine_label(data.manifest) in caption and "2 repeats" in caption
    )


def test_cost_says_when_it_is_absent_and_draws_the_pareto_front_when_present(data):
    unpriced = data.runs.assign(cost_usd=np.nan)
    absent = cost(unpriced, data.manifest)
    assert absent.absent and absent.caption.startswith("Cost is absent")

    priced = data.runs.assign(
        cost_usd=data.runs["wall_s"] * data.runs["workers"] * 1e-5, cost_model="test book"
    )
    plot = cost(priced, data.manifest)
    assert not plot.absent
    assert "Pareto front" in labels(plot.figure.axes[0])
    summary = case_summary(priced)
    front = summary[pareto(summary)]
    assert "Pareto-optimal" in plot.caption and all(case in plot.caption for case in front["case_id"])
    assert "test book" in plot.caption and "2 repeats" in plot.caption


def test_projection_is_drawn_with_the_patterns_figures_when_asked(data):
    absent = projection_figure(data.runs, data.manifest, None)
    assert absent.absent and "absent" in absent.caption

    workers = [1, 2, 10, 100, 1000]
    projection = pd.DataFrame(  # as `facebench project` writes it: the chunk size follows the workers
        [
            {
                "executor": e,
                "platform": platform,
                "kernel": "optimized",
                "workers": w,
                "images": n,
                "chunk_size": -(-n // w),
                "predicted_wall_s": base * n / 1584 / w,
            }
            for e, platform, base in (("lithops", "aws_lambda", 900.0), ("processes", "local", 300.0))
            for w in workers
            for n in (1584, 13233)
        ]
    )
    # by default: the user's question only (the largest image count), no pattern marks
    plain = projection_figure(data.runs, data.manifest, projection)
    assert "13,233 images" in plain.caption and "up to 50x" not in plain.caption
    assert not any("pattern" in line.get_label() for line in plain.figure.axes[0].get_lines())
    # a projection with intervals draws them as bands, and says what they are
    banded = projection.assign(
        predicted_wall_s_low=projection["predicted_wall_s"] * 0.9,
        predicted_wall_s_high=projection["predicted_wall_s"] * 1.1,
    )
    with_band = projection_figure(data.runs, data.manifest, banded)
    assert len(with_band.figure.axes[0].collections) > len(plain.figure.axes[0].collections)
    assert "5-95% interval" in with_band.caption
    plot = projection_figure(data.runs, data.manifest, projection, images=1584, pattern_marks=True)
    ax = plot.figure.axes[0]
    drawn = labels(ax)
    projected = [label for label in drawn if label.endswith("(projected)")]
    assert projected == ["lithops on aws_lambda (projected)", "processes on local (projected)"]
    assert all(
        len(line.get_xdata()) == len(workers) for line in ax.get_lines() if "projected" in line.get_label()
    )
    assert any("2,200 s" in label for label in drawn) and any("35 s" in label for label in drawn)
    assert any("up to 50x" in label for label in drawn)
    assert {line.get_ydata()[0] for line in ax.get_lines() if "pattern" in line.get_label()} == {2200, 35}
    measured = [c for c in ax.collections if c.get_label().endswith("(measured)")]
    assert len(measured) == data.runs["executor"].nunique()
    assert "1,584 images" in plot.caption and "up to 50x" in plot.caption
    assert (
        "scaled linearly from 8" in plot.caption
        and "lithops on aws_lambda reaches 35 s at 100 workers" in plot.caption
    )


def test_report_draws_the_projection_for_the_images_asked(small_run, tmp_path):
    out = tmp_path / "report50k"
    index = write_report(small_run, out, images=50000, platforms=["local", "aws_lambda"])
    assert "Projected wall time for 50,000 images" in index.read_text()
    from bench.report.page import project_for

    drawn = project_for(load_run(small_run), 50000, ["local", "aws_lambda"])
    assert set(drawn["platform"]) == {"local", "aws_lambda"} and (drawn["images"] == 50000).all()


def test_training_says_when_it_has_not_run(data):
    assert data.training is None
    absent = training(None, data.manifest)
    assert absent.absent and absent.caption.startswith("Training has not run")
    assert "(facebench train RUN writes it)" in absent.caption  # the current spelling, not --run
    plot = training({"model": "embeddings", "top1": 0.97, "top5": 0.99}, data.manifest)
    assert not plot.absent and "top1 0.970" in plot.caption


def test_report_references_every_figure_and_is_itself_a_run_folder(small_run, tmp_path):
    out = tmp_path / "report"
    index = write_report(small_run, out)
    page = index.read_text()
    figures = all_figures(load_run(small_run))
    assert list(figures) == FIGURES
    for number, (name, plot) in enumerate(figures.items(), start=1):
        assert f'<figure id="{name}"' in page and f"Figure {number}." in page
        assert f'src="{name}.png"' in page and f'href="{name}.svg"' in page
        assert (out / f"{name}.png").stat().st_size > 1000 and (out / f"{name}.svg").is_file()
        assert html.escape(plot.caption.split(";")[0]) in page
    assert "http://" not in page and "https://" not in page  # nothing fetched from the network
    assert "<tr><td>kernels</td><td>optimized</td></tr>" in page  # the run's kernel, never "?"
    loaded = load_run(out)  # the report folder opens as a run, without the images
    assert len(loaded.runs) == len(load_run(small_run).runs) and not (out / "output").exists()


def test_report_cli_embeds_on_request_and_finds_the_newest_run(small_run, tmp_path, capsys):
    out = tmp_path / "embedded"
    assert main(["report", str(small_run.parent), "--out", str(out), "--embed"]) == 0
    page = (out / "index.html").read_text()
    assert page.count("data:image/png;base64,") == len(FIGURES)
    assert str(out / "index.html") in capsys.readouterr().out


def test_report_reads_projection_and_training_beside_the_tables(small_run, tmp_path):
    run = copy_run(small_run, tmp_path / "run")
    pd.DataFrame(
        {"executor": ["lithops"] * 3, "workers": [1, 10, 100], "images": [1584] * 3},
    ).assign(predicted_wall_s=[1500.0, 160.0, 20.0]).to_parquet(run / "projection.parquet")
    (run / "train").mkdir()
    (run / "train" / "metrics.json").write_text(json.dumps({"top1": 0.98}))
    page = write_report(run, tmp_path / "out").read_text()
    assert 'id="projection" class="absent"' not in page and 'id="training" class="absent"' not in page
    assert (tmp_path / "out" / "train" / "metrics.json").is_file()


def test_report_user_errors_exit_2(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert main(["report", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err
