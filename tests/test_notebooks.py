"""The notebooks: committed without outputs, no plotting code of their own, and they run headless."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from conftest import ROOT, copy_run
from nbclient import NotebookClient

from bench.analysis import claim

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NAMES = ["01-speedup", "02-where-time-goes", "03-cost", "04-reproduce-50x", "05-training"]


def code_cells(book) -> list:
    return [cell for cell in book.cells if cell.cell_type == "code"]


def test_the_five_notebooks_are_there():
    assert [path.stem for path in NOTEBOOKS] == NAMES


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs_and_without_plotting_code(path):
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    for cell in code_cells(book):
        assert cell.outputs == [] and cell.execution_count is None
        assert not any(word in cell.source for word in ("pyplot", "plt.", "sns.", "seaborn", "add_subplot"))
    parameters = code_cells(book)[0]
    assert "parameters" in parameters.metadata.get("tags", [])
    assert 'RUN = os.environ.get("FACEBENCH_RUN") or "../results/reference"' in parameters.source
    assert any(cell.cell_type == "markdown" for cell in book.cells[1:])


def execute(path: Path, run: Path, monkeypatch) -> tuple[object, list, str]:
    """Run the notebook headless against ``run``: (the executed book, its outputs, its printed text)."""
    monkeypatch.setenv("FACEBENCH_RUN", str(run))
    book = nbformat.read(path, as_version=4)
    NotebookClient(
        book, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()  # raises CellExecutionError on any error
    outputs = [out for cell in code_cells(book) for out in cell.outputs]
    return book, outputs, "".join(out.get("text", "") for out in outputs if out.output_type == "stream")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_executes_against_a_small_run(path, small_run, monkeypatch):
    book, outputs, text = execute(path, small_run, monkeypatch)
    assert small_run.name in text  # it read the run it was pointed at
    figures = [out for out in outputs if "image/png" in out.get("data", {})]
    drawn = sum("fig, caption = " in cell.source for cell in code_cells(book))
    assert drawn >= 1 and len(figures) == drawn
    if path.stem == "05-training":  # the small run has no train/ folder: the notebook says so
        assert "Training has not run" in text


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """A run that has trained (about 30 s on two cores): 120 synthetic images, sequential, then the
    short training `facebench run` does after a synthetic dataset."""
    from bench.run.runner import Run, RunConfig
    from bench.train.harness import after_run

    config = RunConfig(
        dataset="synthetic:120", executors=["sequential"], workers=[1], repeats=1,
        out=str(tmp_path_factory.mktemp("trained")), progress=False,
    )  # fmt: skip
    run = Run(config, log=lambda _: None).execute()
    assert after_run(run.run_dir, True, [1], log=lambda _: None) is not None
    return run.run_dir


def test_the_training_notebook_shows_a_trained_run(trained_run, monkeypatch):
    metrics = json.loads((trained_run / "train" / "metrics.json").read_text())
    _, outputs, text = execute(ROOT / "notebooks" / "05-training.ipynb", trained_run, monkeypatch)
    assert "Training has not run" not in text
    assert f'"top1": {metrics["top1"]}' in text  # the metrics it read are the run's own
    assert sum("image/png" in out.get("data", {}) for out in outputs) == 1  # the training figure


def test_what_running_them_needs_is_declared_and_the_docs_say_how():
    """The README's install has no Jupyter: the notebooks extra brings it, and the README and
    docs/report.md say to install it before `jupyter lab`."""
    import re
    import sys
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = project["optional-dependencies"]["notebooks"]
    declared = {re.split(r"[<>=!~;\[ ]", req)[0].lower() for req in [*project["dependencies"], *extra]}
    assert "jupyterlab" in declared and "ipykernel" in declared
    for path in NOTEBOOKS:  # what the notebooks import is the standard library, the project, or declared
        for cell in code_cells(nbformat.read(path, as_version=4)):
            for module in re.findall(r"^\s*(?:from|import) (\w+)", cell.source, re.MULTILINE):
                assert (
                    module in sys.stdlib_module_names
                    or module in ("bench", "pipelines")
                    or (module.lower() in declared)
                ), f"{path.name} imports {module}, which pyproject.toml does not declare"
    install = "pip install -e '.[notebooks]'"
    readme = (ROOT / "README.md").read_text()
    assert "notebooks/" in readme and f"{install} && jupyter lab notebooks/" in readme
    docs = (ROOT / "docs" / "report.md").read_text()
    assert install in docs and docs.index(install) < docs.index("jupyter lab notebooks/")


def test_the_claim_notebook_shows_the_factor_chain(small_run, tmp_path, monkeypatch):
    """Notebook 04 prints the chain from the run's claim.csv (here the reference's), as `facebench
    claim` does; the small run without one gets a line saying how to make it."""
    run = copy_run(small_run, tmp_path / small_run.name)
    (run / "claim.csv").write_bytes((ROOT / "results" / "reference" / "claim.csv").read_bytes())
    _, _, text = execute(ROOT / "notebooks" / "04-reproduce-50x.ipynb", run, monkeypatch)
    assert claim.chain_text(pd.read_csv(run / "claim.csv")) in text
    _, _, text = execute(ROOT / "notebooks" / "04-reproduce-50x.ipynb", small_run, monkeypatch)
    assert "No claim.csv" in text
