"""A run that knows it was disturbed: other work and steal recorded per case and repeat, a warning when
they exceed the limit (and never otherwise), the report's header, compare's note, disturbed_cases."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
from conftest import copy_run

from bench import tables
from bench.analysis import compare
from bench.analysis.statistics import DISTURBED_CORES, disturbance_notes, disturbed_cases
from bench.report import figures
from bench.report.page import _load_text, _meta_rows
from bench.run import load

WARNING = "facebench: warning:"


def run_alone_or_beside(burners: int, out) -> tuple[pd.DataFrame, str]:
    """``facebench run`` on 8 images, sequential, one repeat, with ``burners`` busy loops beside it."""
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(burners)]
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.cli", "run", "--dataset", "synthetic:8",
             "--executors", "sequential", "--repeats", "1", "--no-train", "--no-warmup", "--no-progress",
             "--out", str(out)],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
    assert done.returncode == 0, done.stderr
    _, runs, _ = tables.read_run(done.stdout.strip().splitlines()[-1])
    return runs, done.stderr


def test_two_busy_loops_beside_a_run_are_recorded_and_warned_about(tmp_path):
    runs, stderr = run_alone_or_beside(2, tmp_path)
    assert (runs["background_cpu"] >= 0.5).all()
    (line,) = [x for x in stderr.splitlines() if x.startswith(WARNING)]
    assert "other work" in line and runs["case_id"].iloc[0] in line


def test_the_warning_appears_exactly_when_the_measured_load_exceeds_the_limit(tmp_path):
    # The machine may be shared: what is tested is the rule, whatever the load measured.
    runs, stderr = run_alone_or_beside(0, tmp_path)
    loaded = (runs[["background_cpu", "steal_cpu"]] > DISTURBED_CORES).any(axis=None)
    assert (WARNING in stderr) == bool(loaded), (runs[["background_cpu", "steal_cpu"]], stderr)


def test_the_run_s_own_children_are_not_other_work():
    """CPU of a child, running or already reaped, is the tree's: it never reads as background."""
    burn = "import time\nwhile time.process_time() < 0.4: pass"
    child = subprocess.Popen([sys.executable, "-c", burn + "\ntime.sleep(30)"])
    try:
        start = load.sample()
        subprocess.run([sys.executable, "-c", burn], check=True)  # reaped before the end sample
        time.sleep(0.2)
        while child.poll() is None and psutil_cpu(child.pid) < 0.35:  # /proc counts in clock ticks
            time.sleep(0.05)
        end = load.sample()
    finally:
        child.kill()
        child.wait()
    assert end.tree_s - start.tree_s >= 0.7  # both children's CPU, less the ticks' rounding


def psutil_cpu(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def load_runs(background: list[float], steal: list[float] | None = None) -> pd.DataFrame:
    n = len(background)
    return pd.DataFrame(
        {
            "case_id": ["a", "b"] * (n // 2),
            "repeat": [i // 2 for i in range(n)],
            "background_cpu": background,
            "steal_cpu": steal or [0.0] * n,
        }
    )


def test_disturbed_cases_names_the_cases_and_repeats_over_the_limit():
    runs = load_runs([0.05, 0.1, 0.9, 0.1], steal=[0.0, 0.0, 0.0, 0.3])
    table = disturbed_cases(runs)
    assert list(table["case_id"]) == ["a", "b"]
    assert list(table["repeats_disturbed"]) == [1, 1] and list(table["repeats"]) == [2, 2]
    assert list(table["background_cpu"]) == [0.9, 0.1] and list(table["steal_cpu"]) == [0.0, 0.3]
    notes = disturbance_notes(runs)
    assert len(notes) == 2 and "a (0.90)" in notes[0] and "b (" not in notes[0] and "b (0.30)" in notes[1]
    quiet = load_runs([0.05, 0.1, 0.2, 0.1])
    assert disturbed_cases(quiet).empty and disturbance_notes(quiet) == []
    assert disturbed_cases(quiet.drop(columns=["background_cpu", "steal_cpu"])).empty  # older runs
    assert _load_text(quiet).startswith("quiet") and _load_text(runs).startswith("DISTURBED")
    assert _load_text(quiet.drop(columns=["steal_cpu"])).startswith("not recorded")


def test_compare_says_when_matched_cases_met_different_load(small_run, tmp_path, capsys):
    def with_load(to, value):
        run = copy_run(small_run, to)
        runs = pd.read_parquet(run / "runs.parquet").assign(background_cpu=value, steal_cpu=0.0)
        runs.to_parquet(run / "runs.parquet", index=False)
        return run

    base, quiet, busy = (
        with_load(tmp_path / "b", 0.02),
        with_load(tmp_path / "q", 0.1),
        with_load(tmp_path / "n", 1.2),
    )
    compare.compare(str(base), str(quiet))
    assert "different load" not in capsys.readouterr().out
    compare.compare(str(base), str(busy))
    (line,) = [x for x in capsys.readouterr().out.splitlines() if "different load" in x]
    assert "0.02 vs 1.20 cores" in line
    b, n = (pd.read_parquet(r / "runs.parquet") for r in (base, busy))
    matched = compare.pairs(b, n)
    assert len(compare.load_differences(b, n, matched)) == len(matched)
    # and the report's header says so, on a line of its own
    assert dict(_meta_rows(figures.load_run(busy)))["other work"].startswith("DISTURBED")
    assert dict(_meta_rows(figures.load_run(base)))["other work"].startswith("quiet")


def test_a_contention_probe_beside_other_work_is_neither_used_nor_cached(tmp_path, monkeypatch):
    """The probe measures the cores; beside two busy loops it would measure them, so it is marked
    disturbed, never cached, and the next quiet run measures again."""
    from bench.run import contention

    monkeypatch.setenv("FACEBENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(contention, "levels_for", lambda cores: [1, 2])
    # The probe runs in this process, so the loops must not be its children (a child's CPU is the
    # run's own): each is started by a shell that exits at once, leaving it to init.
    burn = f"{sys.executable} -c 'while True: pass' >/dev/null 2>&1 & echo $!"
    pids = [int(subprocess.run(["sh", "-c", burn], capture_output=True, text=True).stdout) for _ in range(2)]
    try:
        found = contention.cached_probe()
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
    assert found["disturbed"] and found["background_cpu"] > DISTURBED_CORES
    assert not list(tmp_path.glob("contention/*.json"))  # nothing cached
