"""The pattern's "up to 50x" claim, reproduced and split into its factors.

One table for the seed subset (1,584 images): the pattern's own figures as published; what this
machine measured (naive sequential, optimized sequential, best local parallel); what the scaling
model projects on serverless (the pattern's one function per image, the fastest concurrency, and the
one that minimises time x cost); then the factors. The published 2,200 s / 35 s is split into a chain of
ratios of neighbouring times, so their product is the published ratio by construction (an accounting
identity, not a finding); what each factor is worth depends on where its times come from, which its
``basis`` says: measured here, modelled from the price book (CALIBRATED or ESTIMATE), or a residual.
The kernel is a factor too, where the runs have more kernels than naive and optimized: naive ->
optimized ("kernel waste") -> the fastest kernel the frontier's rule accepts (``bench.analysis.frontier``:
within the tolerance of optimized's LFW pairs accuracy), its sequential time measured and each measured
row with its kernel's pairs accuracy (``pairs_accuracy``, where measured). The chain is unchanged.

Which runs: a run holds one kernel, so the claim needs two: one with an optimized sequential case
and one with a naive sequential case (``facebench run --kernel naive --executors sequential``).
``--run`` may be given twice (in any order). With one ``--run``, the missing kernel is taken from
the newest run beside it (same parent folder) on the same dataset; with none, both are the newest
such runs under results/runs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from bench import tables
from bench.analysis import frontier
from bench.analysis.billing import DEFAULT_MACHINE, machine_cost
from bench.analysis.pattern import PATTERN
from bench.analysis.pricebook import load_price_book
from bench.analysis.statistics import median_interval, ratio_interval
from bench.errors import UserError
from bench.model.calibration import fit, read_run
from bench.model.errors import COVERAGE, apply_errors, disturbed_refusal, published_residuals
from bench.model.platforms import SERVERLESS_PLATFORMS, platform_limits
from bench.model.projection import Prediction, json_rows, predict_case
from bench.model.published import validate_published
from bench.model.scenarios import pattern_2019

CLAIM_COLUMNS = [
    "section",
    "what",
    "executor",
    "platform",
    "kernel",
    "workers",
    "chunk_size",
    "images",
    "time_s",
    "time_s_low",
    "time_s_high",
    "speedup",
    "speedup_low",
    "speedup_high",
    "basis",
    "cost_usd",
    "note",
    "pairs_accuracy",
    "model_error",
    "interval_coverage",
]
#: Where a row's figures come from, by section; a factor row says its own.
BASIS = {"claimed": "published", "measured": "measured", "projected": "model"}
#: The chain's factors start with these words (the rows after "claimed: single computer / serverless").
CHAIN_PREFIXES = ("machine", "x ")


@dataclass
class RunPick:
    kernel: str
    run_dir: Path
    tasks: pd.DataFrame
    runs: pd.DataFrame
    manifest: dict

    @property
    def dataset(self) -> tuple[str, int]:
        d = self.manifest.get("dataset", {})
        return str(d.get("name")), int(d.get("images") or 0)


def _kernels_with_sequential(run_dir: Path) -> set[str]:
    try:
        runs = pd.read_parquet(run_dir / "runs.parquet", columns=["executor", "kernel"])
    except (OSError, ValueError):
        return set()
    return set(runs.loc[runs["executor"] == "sequential", "kernel"])


def _dataset_of(run_dir: Path) -> tuple[str, int] | None:
    try:
        d = json.loads((run_dir / "manifest.json").read_text()).get("dataset", {})
    except (OSError, ValueError):
        return None
    return str(d.get("name")), int(d.get("images") or 0)


def _with_sequential(kernel: str, dataset: tuple[str, int] | None) -> Callable[[Path], bool]:
    """Whether a run has a sequential case of ``kernel`` (on ``dataset``): what ``tables.newest_run``
    looks for when a kernel's run is not given."""
    return lambda run_dir: (
        kernel in _kernels_with_sequential(run_dir) and (dataset is None or _dataset_of(run_dir) == dataset)
    )


def pick_runs(given: list[str] | None, root: str | Path = tables.DEFAULT_RUNS) -> dict[str, Path]:
    """kernel -> run folder for 'optimized' and 'naive', as the module docstring says."""
    picked: dict[str, Path] = {}
    folders = [tables.resolve_run(text, root) for text in (given or [])]
    for run_dir in folders:
        for kernel in sorted(_kernels_with_sequential(run_dir)):
            picked.setdefault(kernel, run_dir)
    if not folders:
        newest = tables.newest_run(root, _with_sequential("optimized", None))
        if newest is not None:
            picked["optimized"] = newest
    anchor = folders[0] if folders else picked.get("optimized")
    dataset = _dataset_of(anchor) if anchor else None
    search = anchor.parent if anchor else Path(root)
    for kernel in ("optimized", "naive"):
        if kernel not in picked:
            found = tables.newest_run(search, _with_sequential(kernel, dataset))
            if found is not None:
                picked[kernel] = found
    missing = [k for k in ("optimized", "naive") if k not in picked]
    if missing:
        where = f"beside {anchor}" if anchor else f"under {root}"
        on = f" on {dataset[0]} ({dataset[1]} images)" if dataset else ""
        hint = (
            "facebench run --kernel naive --executors sequential" if "naive" in missing else "facebench run"
        )
        raise UserError(
            f"no run with a {' or '.join(missing)} sequential case {where}{on}; make one with `{hint}` "
            "on the same dataset and pass it with another --run"
        )
    return picked


def _acceptable_kernels(picked: dict[str, Path]) -> tuple[dict[str, frontier.Accuracy], RunPick | None]:
    """The kernels' measured accuracies, and the fastest kernel (sequential) other than optimized and
    naive that the frontier's rule accepts, from the picked runs; None where they have none."""
    kernels = {k: run for run in dict.fromkeys(picked.values()) for k in _kernels_with_sequential(run)}
    run_dir = picked["optimized"]
    metrics = run_dir / "train" / "metrics.json"
    training = json.loads(metrics.read_text()) if metrics.is_file() else None
    manifest = json.loads((run_dir / "manifest.json").read_text())
    found = frontier.accuracies(manifest, kernels, training, frontier.load_downstream())
    verdicts = frontier.judge(kernels, manifest, found)
    others = [
        _load(k, run)
        for k, run in sorted(kernels.items())
        if k not in ("optimized", "naive") and verdicts[k].acceptable
    ]
    others = [o for o in others if _median_case(o.runs, executor="sequential") is not None]
    if not others:
        return found, None
    return found, min(
        others, key=lambda o: float(_median_case(o.runs, executor="sequential")["wall_s"].iloc[0])
    )


def _accuracy_note(found: dict[str, frontier.Accuracy], kernel: str) -> str:
    if kernel not in found:
        return "pairs accuracy not measured"
    return f"pairs accuracy {found[kernel].pairs_accuracy:.2%} ({found[kernel].source})"


def _load(kernel: str, run_dir: Path) -> RunPick:
    tasks, runs, manifest = read_run(run_dir)
    return RunPick(
        kernel, run_dir, tasks[tasks["kernel"] == kernel], runs[runs["kernel"] == kernel], manifest
    )


def _median_case(runs: pd.DataFrame, **where) -> pd.Series | None:
    rows = runs
    for k, v in where.items():
        rows = rows[rows[k] == v]
    if rows.empty:
        return None
    return rows.groupby("case_id").agg(
        executor=("executor", "first"),
        workers=("workers", "first"),
        chunk_size=("chunk_size", "first"),
        images=("images", "max"),
        wall_s=("wall_s", "median"),
        wall_s_low=("wall_s", lambda w: median_interval(w)[0]),
        wall_s_high=("wall_s", lambda w: median_interval(w)[1]),
        cost_usd=("cost_usd", "median"),
        walls=("wall_s", list),
    )


def build_claim(
    given: list[str] | None = None,
    *,
    platform: str = PATTERN["platform"],
    memory_mb: float | None = None,
    images: int = PATTERN["images"],
    root: str | Path = tables.DEFAULT_RUNS,
    price_book: str | None = None,
    coverage: float = COVERAGE,
) -> dict:
    """The claim table and what it was made from; see the module docstring."""
    picked = pick_runs(given, root)
    opt, naive = _load("optimized", picked["optimized"]), _load("naive", picked["naive"])
    try:
        book = load_price_book(price_book)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot use the price book: {exc}") from None
    if platform not in SERVERLESS_PLATFORMS:
        raise UserError(f"--platform takes one of {', '.join(SERVERLESS_PLATFORMS)}")
    try:
        cloud = platform_limits(book, platform, memory_mb)
    except (KeyError, ValueError) as exc:
        raise UserError(str(exc)) from None

    rows: list[dict] = []
    notes: list[str] = []
    if opt.dataset != naive.dataset:
        notes.append(
            f"the runs are on different datasets (optimized: {opt.dataset[0]}, {opt.dataset[1]} images; "
            f"naive: {naive.dataset[0]}, {naive.dataset[1]} images): per-image times may not compare"
        )

    def add(section: str, what: str, **values) -> None:
        rows.append({"section": section, "what": what, "basis": BASIS.get(section, ""), **values})

    # The pattern's figures, as published.
    claimed_single, claimed_cloud = PATTERN["single_computer_s"], PATTERN["serverless_s"]
    add(
        "claimed",
        "single computer",
        kernel="naive",
        images=PATTERN["images"],
        time_s=claimed_single,
        speedup=1.0,
        cost_usd=machine_cost(book, DEFAULT_MACHINE, claimed_single, apply_minimum=False),
        note=f"as published; cost as {DEFAULT_MACHINE}; speedups in this section over 2,200 s",
    )
    add(
        "claimed",
        "serverless (PyWren on IBM Cloud Functions)",
        executor="pywren",
        platform="ibm_cloud_functions",
        kernel="naive",
        workers=PATTERN["images"],
        chunk_size=1,
        images=PATTERN["images"],
        time_s=claimed_cloud,
        speedup=claimed_single / claimed_cloud,
        cost_usd=math.nan,
        note=f"as published, claimed '{PATTERN['claim']}'; no cost published",
    )

    # Measured here, scaled per image to the seed subset.
    def measured(pick: RunPick, what: str, case: pd.Series | None, case_id: str | None) -> tuple:
        """The case's median time scaled to ``images``, with its 95% interval (nan, nan: too few repeats),
        and its repeats' times so scaled (for the intervals of ratios)."""
        if case is None:
            add("measured", what, kernel=pick.kernel, note=f"no such case in {pick.run_dir.name}")
            return math.nan, math.nan, math.nan, []
        scale = images / case["images"]
        note = f"run {pick.run_dir.name}, {case_id}"
        if case["images"] != images:
            note += f"; measured on {int(case['images'])} images, scaled per image x{scale:.4g}"
        add(
            "measured",
            what,
            executor=case["executor"],
            platform="local",
            kernel=pick.kernel,
            workers=int(case["workers"]),
            chunk_size=int(case["chunk_size"]),
            images=images,
            time_s=case["wall_s"] * scale,
            time_s_low=case["wall_s_low"] * scale,
            time_s_high=case["wall_s_high"] * scale,
            cost_usd=case["cost_usd"] * scale,
            note=note,
        )
        walls = [w * scale for w in case["walls"]]
        return case["wall_s"] * scale, case["wall_s_low"] * scale, case["wall_s_high"] * scale, walls

    def first(table: pd.DataFrame | None) -> tuple[pd.Series | None, str | None]:
        if table is None or table.empty:
            return None, None
        return table.iloc[0], str(table.index[0])

    t_naive_seq, naive_low, naive_high, naive_walls = measured(
        naive, "naive sequential", *first(_median_case(naive.runs, executor="sequential"))
    )
    t_opt_seq, *_, opt_walls = measured(
        opt, "optimized sequential", *first(_median_case(opt.runs, executor="sequential"))
    )
    parallel = _median_case(opt.runs[opt.runs["executor"] != "sequential"])
    best = parallel.sort_values("wall_s") if parallel is not None else None
    t_best_local, *_, best_walls = measured(opt, "best local parallel", *first(best))
    found, faster = _acceptable_kernels(picked)
    if faster is not None:
        t_fast_seq, *_, fast_walls = measured(
            faster, f"fastest acceptable kernel sequential ({faster.kernel})",
            *first(_median_case(faster.runs, executor="sequential")),
        )  # fmt: skip
    if any(r.get("note", "").find("scaled per image") >= 0 for r in rows):
        notes.append(
            f"measured times are scaled per image to {images:,} images: fixed costs (start-up, model "
            "load) are scaled with them, so a small run overstates them"
        )

    # Projected by the model fit on both runs (each kernel's own cases).
    tasks = pd.concat([opt.tasks, naive.tasks], ignore_index=True)
    runs = pd.concat([opt.runs, naive.runs], ignore_index=True)
    model = fit(tasks, runs, opt.manifest)

    predict = partial(predict_case, model, executor="lithops", images=images, platform=cloud, book=book)

    grid = sorted({1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, images, cloud.concurrency_cap or images})
    grid = [w for w in grid if w <= images]
    projected: dict[tuple[str, str], Prediction] = {}
    for kernel in ("naive", "optimized"):
        projected[(kernel, "pattern")] = predict(kernel=kernel, workers=images, chunk_size=1)
        candidates = [predict(kernel=kernel, workers=w, chunk_size=math.ceil(images / w)) for w in grid]
        feasible = [
            p for p in candidates if not cloud.timeout_s or p.durations_s.max(initial=0) <= cloud.timeout_s
        ] or candidates
        projected[(kernel, "fastest")] = min(feasible, key=lambda p: p.predicted_wall_s)
        projected[(kernel, "balanced")] = min(
            feasible, key=lambda p: p.predicted_wall_s * p.predicted_cost_usd
        )
    labels = {
        "pattern": "one function per image (as the pattern)",
        "fastest": "fastest concurrency",
        "balanced": "concurrency minimising time x cost",
    }
    # Each projected row's prediction interval: the draws' spread with the platform model's error on the
    # published jobs it was not calibrated on (bench/model/errors.py); none where none are published.
    cloud_errors = published_residuals(validate_published(book, draws=10))
    intervals = apply_errors(
        pd.DataFrame([p.row() for p in projected.values()]),
        lambda row: cloud_errors.get(row["platform"]),
        coverage,
        refused=disturbed_refusal(runs),
    )
    for ((kernel, which), p), interval in zip(projected.items(), intervals.itertuples(), strict=True):
        add(
            "projected",
            f"{kernel} serverless, {labels[which]}",
            executor="lithops",
            platform=platform,
            kernel=kernel,
            workers=p.workers,
            chunk_size=p.chunk_size,
            images=images,
            time_s=p.predicted_wall_s,
            time_s_low=interval.predicted_wall_s_low,
            time_s_high=interval.predicted_wall_s_high,
            model_error=interval.model_error,
            interval_coverage=interval.interval_coverage,
            cost_usd=p.predicted_cost_usd,
            note="; ".join(
                x for x in (f"{cloud.memory_mb:g} MB", p.notes, f"interval: {interval.validation}") if x
            ),
        )
    for row in rows:
        if row["section"] != "claimed" and row.get("time_s") and not math.isnan(row["time_s"]):
            row["speedup"] = t_naive_seq / row["time_s"]
            if row["section"] == "projected" and not math.isnan(row["time_s_low"]):
                row["speedup_low"] = t_naive_seq / row["time_s_high"]
                row["speedup_high"] = t_naive_seq / row["time_s_low"]

    # The factors.
    t_naive_cloud = projected[("naive", "pattern")].predicted_wall_s
    t_opt_fast = projected[("optimized", "fastest")].predicted_wall_s

    def factor(what: str, value: float, basis: str, note: str, low: float = math.nan, high: float = math.nan):
        add("factor", what, speedup=value, speedup_low=low, speedup_high=high, basis=basis, note=note)

    # 2,200 / 35 as a chain of ratios of neighbouring times, from the published single computer to the
    # published 35 s: the product is the published ratio by construction, whatever was measured. Each
    # factor carries the interval of the times it comes from, where they have one: the naive sequential
    # time's 95% interval (7 or more repeats), the scenario's 5-95% of its draws.
    scenario = pattern_2019(model, book)["rows"].set_index("cpu")
    t_busy, t_idle = (float(v) for v in scenario["predicted_wall_s"].iloc[:2])
    busy_low, idle_low = (float(v) for v in scenario["predicted_wall_s_low"].iloc[:2])
    busy_high, idle_high = (float(v) for v in scenario["predicted_wall_s_high"].iloc[:2])
    t_ideal = float(model.dist("naive").compute_s.max())
    busy_note = f"{t_busy:.1f} s [{busy_low:.1f}-{busy_high:.1f}]"
    idle_note = f"{t_idle:.1f} s [{idle_low:.1f}-{idle_high:.1f}]"
    naive_note = f"{t_naive_seq:,.0f} s" + (
        f" [{naive_low:,.0f}-{naive_high:,.0f}]"
        if not math.isnan(naive_low)
        else " (one repeat: no interval)"
    )
    chain = [
        ("machine: published single computer / naive sequential here", claimed_single / t_naive_seq,
         "residual", f"2,200 s published over {naive_note} measured here: whatever differs between that "
         "computer and this one", claimed_single / naive_high, claimed_single / naive_low),
        ("x parallelism, ideal: naive sequential / its slowest image", t_naive_seq / t_ideal, "measured",
         f"{naive_note} over the slowest image's {t_ideal:.2f} s: 1,584 calls on 1,584 whole cores, "
         "no overheads", naive_low / t_ideal, naive_high / t_ideal),
        ("x platform overheads: ideal / pattern-2019 with a whole core", t_ideal / t_idle,
         "model: price book, CALIBRATED", f"over {idle_note}: invocation, cold starts, predictor downloads, "
         "storage, polling, from the platform terms calibrated on published jobs (facebench project "
         "--scenario pattern-2019)", t_ideal / idle_high, t_ideal / idle_low),
        ("x CPU share: whole core / pattern-2019 at the 256 MB CPU weight", t_idle / t_busy,
         "price book: ESTIMATE", f"{idle_note} over {busy_note}: the price book's ESTIMATE of a 256 MB "
         "function's share on a busy host (IBM never published it); no interval"),
        ("x unexplained: pattern-2019 prediction / published 35 s", t_busy / claimed_cloud, "residual",
         f"{busy_note} over 35 s: what the model does not account for", busy_low / claimed_cloud,
         busy_high / claimed_cloud),
    ]  # fmt: skip
    factor(
        "claimed: single computer / serverless", claimed_single / claimed_cloud, "published", "as published"
    )
    for what, value, basis, note, *interval in chain:
        factor(what, value, basis, note, *interval)
    factor(
        "reproduced: naive sequential / naive serverless, one function per image",
        t_naive_seq / t_naive_cloud,
        "measured / model",
        "measured / projected at one full vCPU per function",
    )
    # A ratio of two measured times carries the 95% interval of a ratio of medians (7+ repeats a side).
    factor(
        "kernel waste: naive / optimized, both sequential",
        t_naive_seq / t_opt_seq,
        "measured",
        "measured, same executor; paid on both sides of the claim, so not a factor of it",
        *ratio_interval(naive_walls, opt_walls),
    )
    if faster is not None:
        factor(
            f"kernel choice: optimized / {faster.kernel} (fastest acceptable), both sequential",
            t_opt_seq / t_fast_seq,
            "measured",
            f"{faster.kernel}: {_accuracy_note(found, faster.kernel)}; optimized: "
            f"{_accuracy_note(found, 'optimized')}; the rule: {frontier.tolerance_text()}",
            *ratio_interval(opt_walls, fast_walls),
        )
    factor(
        "fair: optimized sequential / optimized serverless, fastest",
        t_opt_seq / t_opt_fast,
        "measured / model",
        "the same kernel on both sides",
    )
    factor(
        "fair: optimized sequential / best local parallel",
        t_opt_seq / t_best_local,
        "measured",
        f"this machine: {model.cpu_count} cores",
        *ratio_interval(opt_walls, best_walls),
    )

    table = pd.DataFrame(rows)
    for col in CLAIM_COLUMNS:
        if col not in table.columns:
            table[col] = np.nan
    table = table[CLAIM_COLUMNS]
    for col in ("executor", "platform", "kernel", "basis", "note"):
        table[col] = table[col].fillna("")
    measured_rows = table["section"] == "measured"
    table["pairs_accuracy"] = (
        table["kernel"].map(lambda k: found[k].pairs_accuracy if k in found else np.nan).where(measured_rows)
    )
    notes.append(
        f"projected on {platform} with {cloud.memory_mb:g} MB functions ({cloud.cpu_share:g} vCPU), by the "
        "model fit on both runs; see `facebench project --validate` for its error on this machine"
    )
    return {
        "images": images,
        "runs": {k: str(v) for k, v in picked.items()},
        "platform": platform,
        "pattern": PATTERN,
        "notes": notes,
        "table": table,
        "out_dir": picked["optimized"],
    }


def store_claim(result: dict) -> tuple[Path, Path]:
    out = Path(result["out_dir"])
    table: pd.DataFrame = result["table"]
    csv_path, json_path = out / "claim.csv", out / "claim.json"
    tables.write_atomic(csv_path, table.to_csv(index=False).encode())
    doc = {k: v for k, v in result.items() if k not in ("table", "out_dir")}
    doc["rows"] = json_rows(table)
    tables.write_json(doc, json_path)
    return csv_path, json_path


def significant(value: float, digits: int) -> str:
    """``value`` rounded to ``digits`` significant digits, with thousands separators (1,555 at 3: 1,560)."""
    if not math.isfinite(value) or value == 0:
        return f"{value:g}"
    decimals = digits - 1 - math.floor(math.log10(abs(value)))
    return f"{round(value, decimals):,.{max(0, decimals)}f}"


def chain_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The chain's factor rows, in order: machine x parallelism x overheads x CPU share x unexplained."""
    factors = table[table["section"] == "factor"]
    return factors[factors["what"].str.startswith(CHAIN_PREFIXES)]


def chain_text(table: pd.DataFrame, tolerance: float = 0.01) -> str:
    """'62.9x = 2.21 x 1,560 x 0.0207 x 0.792 x 1.12': the claimed ratio and the chain's factors at the
    fewest significant digits (3 or more) whose rounded product is within ``tolerance`` of the ratio as
    printed, so that a reader who multiplies them gets what is stated."""
    factors = table[table["section"] == "factor"].set_index("what")["speedup"]
    ratio = float(factors["claimed: single computer / serverless"])
    values = [float(v) for v in chain_rows(table)["speedup"]]
    for digits in range(3, 8):
        shown = [significant(v, digits) for v in values]
        stated = significant(ratio, 3)
        product = math.prod(float(x.replace(",", "")) for x in shown)
        if abs(product / float(stated.replace(",", "")) - 1) <= tolerance:
            break
    return f"{stated}x = " + " x ".join(shown)


def format_claim(result: dict) -> str:
    """The claim table as `facebench claim` prints it, then the chain with each factor's basis."""
    table: pd.DataFrame = result["table"].copy()
    hidden = [
        "note",
        "time_s_low",
        "time_s_high",
        "speedup_low",
        "speedup_high",
        "model_error",
        "interval_coverage",
    ]
    shown = table.drop(columns=hidden).copy()
    shown["workers"] = shown["workers"].map(lambda v: "" if pd.isna(v) else f"{int(v)}")
    shown["chunk_size"] = shown["chunk_size"].map(lambda v: "" if pd.isna(v) else f"{int(v)}")
    shown["images"] = shown["images"].map(lambda v: "" if pd.isna(v) else f"{int(v)}")
    shown["time_s"] = [
        _with_interval(r.time_s, r.time_s_low, r.time_s_high, ",.1f") for r in table.itertuples()
    ]
    shown["speedup"] = [
        _with_interval(r.speedup, r.speedup_low, r.speedup_high, "sig", "x") for r in table.itertuples()
    ]
    shown["cost_usd"] = shown["cost_usd"].map(lambda v: "" if pd.isna(v) else f"{v:.4f}")
    shown["pairs_accuracy"] = shown["pairs_accuracy"].map(lambda v: "" if pd.isna(v) else f"{v:.2%}")
    lines = [
        f"The claim, on the seed subset ({result['images']:,} images): "
        f"'{PATTERN['claim']}' ({PATTERN['single_computer_s']:,.0f} s single computer, "
        f"{PATTERN['serverless_s']:.0f} s serverless, as published)",
        "runs: " + ", ".join(f"{k} {v}" for k, v in result["runs"].items()),
        "",
        shown.to_string(index=False),
        "",
        "times [intervals]: measured, the 95% interval of the median (7 or more repeats); projected, the "
        "prediction interval at its coverage (interval_coverage) from the platform model's error on "
        "published jobs it was not calibrated on, or none: not validated",
        "",
        "The chain is an accounting identity: each factor is a ratio of neighbouring times, so the product "
        "is 2,200 s / 35 s whatever was measured; what a factor is worth is its basis (measured here, the "
        "price book's model, or a residual):",
        "  " + chain_text(table),
    ]
    for row in chain_rows(table).itertuples():
        lines.append(
            f"  {row.what.removeprefix('x ').split(':')[0]:<24} "
            f"{_with_interval(row.speedup, row.speedup_low, row.speedup_high, 'sig'):<22} {row.basis}"
        )
    lines += ["", "notes per row:"]
    for _, row in table.iterrows():
        if row["note"]:
            lines.append(f"  {row['section']}: {row['what']}: {row['note']}")
    lines += ["", *result["notes"]]
    return "\n".join(lines)


def _with_interval(value: float, low: float, high: float, spec: str, unit: str = "") -> str:
    """``value`` with its interval; spec "sig" is 3 significant digits (factors span 0.02 to 1,555)."""
    if pd.isna(value):
        return ""

    def fmt(v: float) -> str:
        return significant(v, 3) if spec == "sig" else f"{v:{spec}}"

    text = f"{fmt(value)}{unit}"
    if not (pd.isna(low) or pd.isna(high)):
        text += f" [{fmt(low)}-{fmt(high)}]"
    return text
