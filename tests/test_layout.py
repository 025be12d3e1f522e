"""The import rules of docs/architecture.md, checked by a walk over every module's imports (nested
imports included): the workload never imports the harness, analysis, the scaling model and report
never reach the rooms that run work, and no two modules import each other, however indirectly."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bench", "pipelines")
#: Rooms that analysis, the model and report may not import: they read saved tables and never run work.
RUNS_WORK = ("bench.run", "bench.stores", "bench.train", "bench.cli")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules ``name`` imports anywhere in its body (``from x import y`` counts x.y when
    that is a module)."""
    found: set[str] = set()
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")[: len(name.split(".")) - node.level + (1 if is_pkg else 0)]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return {m for m in found if m in known and m != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, set(modules)) for name, path in modules.items()}


def test_the_walk_sees_the_imports_it_checks():
    graph = _graph()
    assert "bench.run.runner" in graph and "bench.executors" in graph["bench.run.runner"]
    assert "bench.tables" in graph["bench.report.figures"]
    assert "bench.model.calibration" in graph["bench.model.projection"]


def test_the_workload_never_imports_the_harness():
    offenders = {m: sorted(i for i in deps if i.startswith("bench")) for m, deps in _graph().items()}
    assert not {m: d for m, d in offenders.items() if m.startswith("pipelines") and d}


@pytest.mark.parametrize("room", ["bench.analysis", "bench.model", "bench.report"])
def test_analysis_model_and_report_never_reach_the_rooms_that_run_work(room):
    bad = {
        m: sorted(i for i in deps if i.startswith(RUNS_WORK))
        for m, deps in _graph().items()
        if m == room or m.startswith(room + ".")
    }
    assert not {m: d for m, d in bad.items() if d}


def test_no_import_cycles():
    graph = _graph()
    # a package's __init__ importing its own submodules is how a package is built, not a cycle
    edges = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(edges[node]):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles
