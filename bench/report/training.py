"""Figure 9, the trained model's held-out metrics (notebook 05), when ``facebench train`` has run."""

from __future__ import annotations

import seaborn as sns

from bench import tables
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
