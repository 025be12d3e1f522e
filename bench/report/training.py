"""Figures 9 and 10, when ``facebench train`` has run: the trained model's held-out metrics (notebook
05), and where the time of the whole path to that model goes."""

from __future__ import annotations

import math

import numpy as np
import seaborn as sns

from bench import tables
from bench.analysis import end_to_end
from bench.report.style import Plot, _absent, _new_figure, _styled

# ---------------------------------------------------------------------------------------------------
# Training (notebook 05): the held-out metrics of `facebench train`, when it has run


def _scores(metrics: dict) -> dict[str, float]:
    """The score-like figures of metrics.json (accuracies, top-k, F1), top level and LFW pairs."""
    out = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if any(word in key.lower() for word in ("top", "f1", "acc")) and 0.0 <= float(value) <= 1.0:
            out[key] = float(value)
    pairs = metrics.get("lfw_pairs")
    if isinstance(pairs, dict) and isinstance(pairs.get("accuracy"), int | float):
        out["LFW pairs accuracy"] = float(pairs["accuracy"])
    return out


@_styled
def training(metrics: dict | None, manifest: dict) -> Plot:
    """Held-out metrics (accuracies, F1) of the trained model; says so when training has not run."""
    if not metrics:
        return _absent(
            "Training",
            "Training has not run: there is no train/metrics.json in this run folder.",
            "Training has not run for this run: no train/metrics.json in the run folder "
            "(facebench train RUN writes it).",
        )
    scores = _scores(metrics)
    history = metrics.get("history") if isinstance(metrics.get("history"), dict) else None
    fig = _new_figure(9 if history else 6, 4)
    ax = fig.add_subplot(1, 2 if history else 1, 1)
    if scores:
        names = list(scores)
        bars = ax.barh(names, [scores[k] for k in names], color=sns.color_palette("crest", len(names)))
        ax.bar_label(bars, fmt="%.3f", fontsize="small", padding=2)
        ax.set_xlim(0, 1.08)
        ax.invert_yaxis()
    ax.set_xlabel("held-out score")
    ax.set_title("Trained model: held-out metrics", loc="left")
    if history:
        curves = fig.add_subplot(1, 2, 2)
        for key, values in history.items():
            if isinstance(values, list) and values and all(isinstance(v, int | float) for v in values):
                curves.plot(range(1, len(values) + 1), values, label=key)
        curves.set_xlabel("epoch")
        curves.set_title("Training history", loc="left")
        curves.legend(fontsize="x-small")
    model = metrics.get("model", "the model")
    shown = ", ".join(f"{k} {v:.3f}" for k, v in scores.items()) or "no scalar scores"
    test = metrics.get("test") if isinstance(metrics.get("test"), dict) else {}
    split = test.get("images") or metrics.get("test_images")
    caption = (
        f"Held-out metrics of {model} trained on this run's best verified output: {shown}"
        + (f" ({split} test images)" if split else "")
        + f"; one training run (no repeats); trained on {tables.machine_label(manifest)}."
    )
    return Plot(fig, caption)


# ---------------------------------------------------------------------------------------------------
# Where the time goes, end to end: the account `facebench train` writes under metrics["pipeline"]

_STEP_COLOURS = {"preprocessing": "#4c72b0", "descriptors": "#dd8452", "classifier": "#55a868"}


@_styled
def pipeline(metrics: dict | None, manifest: dict) -> Plot:
    """The path to the trained model step by step (seconds, share, per image), and by Amdahl's law
    what a faster preprocessing step would buy the whole path."""
    account = (metrics or {}).get("pipeline")
    if not account or not account.get("steps"):
        return _absent(
            "Where the time goes, end to end",
            "No end-to-end account: facebench train has not run here, or it predates the account.",
            "Where the time goes, end to end: no train/metrics.json with a pipeline account in this run "
            "folder (facebench train RUN writes it).",
        )
    steps = account["steps"]
    fig = _new_figure(11, 3.8)
    bars, curve = fig.subplots(1, 2, width_ratios=[1.3, 1])
    names = [s["step"] for s in steps]
    seconds = [s["seconds"] for s in steps]
    drawn = bars.barh(names, seconds, color=[_STEP_COLOURS.get(n, "#8c8c8c") for n in names])
    labels = [
        f"{s['seconds']:.1f} s, {s['share']:.0%}, {s['per_image_s'] * 1000:.0f} ms/image" for s in steps
    ]
    bars.bar_label(drawn, labels=labels, fontsize="small", padding=3)
    bars.set_xlim(0, max(seconds) * 1.6 if max(seconds) > 0 else 1)
    bars.invert_yaxis()
    bars.set_xlabel("seconds")
    bars.set_title(f"Where the time goes, end to end ({account['total_s']:.1f} s)", loc="left")
    line = end_to_end.summary_line(account)
    if any(s["step"] == end_to_end.PREPROCESSING for s in steps):
        factors = np.geomspace(1, 100, 60)
        curve.plot(factors, [end_to_end.end_to_end_speedup(account, f) for f in factors], label="whole path")
        curve.plot(factors, factors, color="#999999", linestyle=":", label="preprocessing alone")
        limit = end_to_end.end_to_end_speedup(account, math.inf)
        curve.axhline(limit, color="#c44e52", linestyle="--", linewidth=1, label=f"limit {limit:.2f}x")
        curve.set_xscale("log")
        curve.set_xticks([1, 2, 5, 10, 20, 50, 100], ["1", "2", "5", "10", "20", "50", "100"])
        curve.set_ylim(1, max(limit * 1.15, 1.5) if math.isfinite(limit) else 10)
        curve.set_xlabel("preprocessing made this many times faster")
        curve.set_ylabel("whole path's speedup")
        curve.set_title("What a faster preprocessing step buys", loc="left")
        curve.legend(fontsize="x-small", loc="upper left")
    else:
        curve.set_axis_off()
        curve.text(
            0, 0.5, "no preprocessing step: the crops did not come from a run", transform=curve.transAxes
        )
    where = "; ".join(f"{s['step']} on {s['executor']} x{s['workers']}" for s in steps if s.get("executor"))
    where = f" ({where})" if where else ""
    caption = (
        f"The path to the model trained on this run, step by step: {line}. "
        "Preprocessing is the chosen case's median wall time over its repeats, the descriptor stage and the "
        f"fit one measurement each{where}; per image is per image of that step. "
        f"Trained on {tables.machine_label(manifest)}."
    )
    return Plot(fig, caption)
