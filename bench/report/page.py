"""``facebench report RUN``: every figure of a run, with its caption, in one HTML page.

The page needs nothing from the network: each figure is a PNG beside it (with an SVG for print),
or embedded in the page with ``--embed``. The report folder also receives copies of the run's
tables (never its images), so it is itself a run folder: the notebooks and ``facebench compare``
open it, and it can be committed or sent on its own.
"""

from __future__ import annotations

import base64
import html
import io
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg

from bench import tables
from bench.analysis import end_to_end, frontier
from bench.analysis.statistics import DISTURBED_CORES, LOAD_COLUMNS, case_summary, disturbance_notes
from bench.errors import UserError
from bench.report.data import RunData, describe
from bench.report.figures import all_figures, load_run
from bench.report.style import Plot

# What a report folder takes over from its run folder: the tables and what other commands added.
COPIED = ["tasks.parquet", "runs.parquet", "manifest.json", "projection.parquet", "train/metrics.json"]
COPIED += ["quality.parquet"]
PNG_DPI = 110

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 70rem; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0 1rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.2rem 0.6rem; text-align: right; }
th:first-child, td:first-child, table.meta td { text-align: left; }
figure { margin: 1.5rem 0 2.5rem; } figure img { max-width: 100%; height: auto; }
figcaption { font-size: 0.9rem; color: #333; } figcaption a { font-size: 0.8rem; }
.absent figcaption { color: #8a4b00; } code { background: #f4f4f4; padding: 0 0.2rem; }
"""


def _price_book(book) -> str:
    if isinstance(book, dict):
        return " ".join(str(v) for v in (book.get("version"), book.get("path")) if v) or "unnamed"
    return str(book) if book else "none (the run was not priced)"


def _meta_rows(data: RunData) -> list[tuple[str, str]]:
    m, env = data.manifest, data.manifest.get("environment") or {}
    config = m.get("config") or {}
    dataset = m.get("dataset") or {}
    packages = env.get("packages") or {}
    versions = ", ".join(f"{k} {v}" for k, v in packages.items())
    return [
        ("run", str(m.get("run_id", data.path.name))),
        ("dataset", f"{dataset.get('name', '?')}: {dataset.get('images', '?')} images"),
        ("list file", str(config.get("list_file") or "none")),
        ("executors", ", ".join(config.get("executors") or sorted(data.runs["executor"].unique()))),
        ("workers", ", ".join(str(w) for w in sorted(data.runs["workers"].unique()))),
        ("kernels", ", ".join(config.get("kernels") or sorted(data.runs["kernel"].dropna().unique()))),
        ("repeats", str(config.get("repeats", "?"))),
        ("machine", tables.machine_label(m)),
        ("host / OS", f"{env.get('hostname', '?')} / {env.get('os', '?')}"),
        ("Python", str(env.get("python", "?"))),
        ("packages", versions or "not recorded"),
        ("git commit", str(env.get("git_commit") or "not recorded")),
        ("price book", _price_book(m.get("price_book"))),
        ("other work", _load_text(data.runs)),
        ("started / ended", f"{m.get('started_at', '?')} / {m.get('ended_at') or 'unfinished'}"),
    ]


def _load_text(runs: pd.DataFrame) -> str:
    """Whether other work or steal disturbed any case (bench/analysis/statistics.py's rule)."""
    if not set(LOAD_COLUMNS) <= set(runs.columns):
        return "not recorded (the run predates it)"
    notes = disturbance_notes(runs)
    if notes:
        return "DISTURBED: " + "; ".join(notes)
    return (
        f"quiet: at most {runs['background_cpu'].max():.2f} cores of other work and "
        f"{runs['steal_cpu'].max():.2f} of steal during any case (limit {DISTURBED_CORES:g})"
    )


def _summary_html(data: RunData) -> str:
    table = case_summary(data.runs)
    columns = {
        "case_id": "case",
        "repeats": "repeats",
        "wall_s": "wall s (median)",
        "wall_min": "min",
        "wall_max": "max",
        "images_per_s": "images/s",
        "speedup": "speedup",
        "efficiency": "efficiency",
        "cost_usd": "cost USD",
        "identical": "identical",
    }
    table = table[list(columns)].rename(columns=columns)
    return table.to_html(index=False, border=0, float_format=lambda v: f"{v:.3g}", na_rep="-")


def _save(plot: Plot, out: Path, name: str, embed: bool) -> str:
    """Write the PNG and the SVG; return the <img> source (a file name, or the PNG inline)."""
    FigureCanvasAgg(plot.figure)  # rendered by Agg whatever the session's backend; no pyplot state
    buffer = io.BytesIO()
    plot.figure.savefig(buffer, format="png", dpi=PNG_DPI)
    (out / f"{name}.png").write_bytes(buffer.getvalue())
    plot.figure.savefig(out / f"{name}.svg", format="svg")
    if embed:
        return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return f"{name}.png"


def render(data: RunData, out: Path, figures: dict[str, Plot], embed: bool = False) -> str:
    """The HTML page for a run's figures; writes the figures' files into ``out``."""
    esc = html.escape
    title = f"facebench report: run {data.manifest.get('run_id', data.path.name)}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f"<p>{esc(describe(data))}.</p>",
        '<table class="meta">',
        *(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in _meta_rows(data)),
        "</table>",
        "<h2>Cases</h2>",
        "<p>Median over repeats; speedup is the median sequential wall time over the case's median "
        "wall time; <em>identical</em>: every output byte-identical to the sequential reference.</p>",
        _summary_html(data),
        "<h2>Figures</h2>",
        "<ol>",
        *(f'<li><a href="#{name}">{esc(name)}</a></li>' for name in figures),
        "</ol>",
    ]
    for number, (name, plot) in enumerate(figures.items(), start=1):
        source = _save(plot, out, name, embed)
        css = ' class="absent"' if plot.absent else ""
        parts += [
            f'<figure id="{name}"{css}>',
            f'<img src="{source}" alt="{esc(plot.caption)}">',
            f"<figcaption><strong>Figure {number}.</strong> {esc(plot.caption)} "
            f'<a href="{name}.png">PNG</a> <a href="{name}.svg">SVG</a></figcaption>',
            "</figure>",
        ]
    parts += _pipeline_html(data)
    parts += _frontier_html(data)
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts += [
        f"<p><small>Made by <code>facebench report</code> on {made} from {esc(str(data.path))}; "
        "the tables beside this page are the run's own.</small></p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _pipeline_html(data: RunData) -> list[str]:
    """The end-to-end account of ``facebench train`` as a table and the claim it supports (Amdahl);
    nothing when training has not written one."""
    account = (data.training or {}).get("pipeline")
    if not account or not account.get("steps"):
        return []
    table = pd.DataFrame(account["steps"])
    columns = {
        "step": "step",
        "seconds": "seconds",
        "share": "share",
        "per_image_s": "s per image",
        "images": "images",
        "executor": "executor",
        "workers": "workers",
        "kernel": "kernel",
        "descriptor": "descriptor",
    }
    table = table[[c for c in columns if c in table]].rename(columns=columns)
    return [
        '<h2 id="end-to-end">Where the time goes, end to end</h2>',
        "<p>The path from the photos to the trained model (<code>facebench train</code>, "
        "<code>train/pipeline.csv</code>): the chosen case's preprocessing (median over repeats), the "
        f"descriptor stage and the classifier's fit. {html.escape(end_to_end.summary_line(account))}.</p>",
        table.to_html(index=False, border=0, float_format=lambda v: f"{v:.3g}", na_rep="-"),
    ]


def _frontier_html(data: RunData) -> list[str]:
    """The frontier as a table, with the rule that picks training's output and each kernel's verdict;
    nothing for a run with one kernel and no measured accuracy."""
    kernels = sorted(set(data.runs["kernel"].dropna()))
    found = frontier.accuracies(data.manifest, kernels, data.training, data.downstream)
    if len(kernels) < 2 and not found:
        return []
    table, _ = frontier.frontier_table(data.runs, data.manifest, found, data.quality)
    columns = {
        "kernel": "kernel",
        "executor": "executor",
        "workers": "workers",
        "images_per_s": "images/s",
        "cost_per_1000_usd": "USD per 1,000",
        "pairs_accuracy": "pairs accuracy",
        "agreement": "agreement",
        "landmark_dev_median": "landmark dev.",
        "front_speed": "on the front",
        "acceptable": "acceptable",
        "why": "why",
    }
    shown = table[list(columns)].rename(columns=columns)
    return [
        '<h2 id="kernel-frontier">Kernels: speed against accuracy</h2>',
        "<p>Per kernel x executor, its fastest case. Training proceeds on the fastest verified case whose "
        f"kernel is acceptable: the faithful kernel, one that reproduces it byte for byte, or one "
        f"{html.escape(frontier.tolerance_text())} (measured in "
        f"{html.escape(frontier.DOWNSTREAM_NAME)} or by the run's training); a kernel without a measured "
        "accuracy is not acceptable (<code>facebench train --kernel</code> overrides).</p>",
        shown.to_html(index=False, border=0, float_format=lambda v: f"{v:.4g}", na_rep="-"),
    ]


def copy_tables(run: Path, out: Path) -> None:
    """The run's tables (no images) into the report folder, so that it is a run folder itself."""
    if run.resolve() == out.resolve():
        return
    for name in COPIED:
        source = run / name
        if source.is_file():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, out / name)


def project_for(data: RunData, images: int, platforms: list[str] | None) -> pd.DataFrame:
    """The projection for ``images`` on ``platforms``, from the scaling model fitted on the run."""
    from bench.analysis import plan
    from bench.analysis.pricebook import load_price_book
    from bench.executors import display_order
    from bench.kernels import faithful_of
    from bench.model.calibration import fit, with_contention

    if images < 1:
        raise UserError("--images takes a positive integer")
    try:
        book = load_price_book(None)
        manifest = with_contention(data.manifest, data.path)
        model = fit(data.tasks, data.runs, manifest)
        table = plan.options(
            model,
            book,
            images=images,
            platforms=plan.platforms_from(platforms or ["local"]),
            executors=display_order(set(data.runs["executor"])),
            kernels=[faithful_of(set(data.tasks["kernel"]), manifest)],
        )
        return plan.prediction_intervals(table, model, data.tasks, data.runs, manifest, book)
    except (KeyError, ValueError) as exc:
        raise UserError(str(exc).strip("'\"")) from None


def write_report(
    run: str | Path,
    out: str | Path | None = None,
    case_id: str | None = None,
    repeat: int = 0,
    embed: bool = False,
    images: int | None = None,
    platforms: list[str] | None = None,
    pattern_marks: bool = False,
) -> Path:
    """Write ``index.html`` and every figure (PNG and SVG) for a run; returns the page's path.

    ``run`` is a run folder, or a folder of runs (its newest run is used). ``out`` defaults to
    ``<run>/report``. ``case_id`` and ``repeat`` choose the timeline's case. ``images`` draws the
    projection for that many images on ``platforms`` (the scaling model fitted on the run, as
    ``facebench plan`` does); ``pattern_marks`` adds the pattern's published figures to it.
    """
    data = load_run(run)
    if images is not None:
        data = replace(data, projection=project_for(data, images, platforms))
    target = Path(out) if out is not None else data.path / "report"
    if target.exists() and not target.is_dir():
        raise UserError(f"--out {target} exists and is not a folder")
    target.mkdir(parents=True, exist_ok=True)
    figures = all_figures(data, case_id=case_id, repeat=repeat, images=images, pattern_marks=pattern_marks)
    page = render(data, target, figures, embed=embed)
    copy_tables(data.path, target)
    index = target / "index.html"
    tmp = target / ".index.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(index)
    return index
