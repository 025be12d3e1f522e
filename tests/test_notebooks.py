"""The notebooks: committed without outputs, no plotting code of their own, and they run headless."""

from __future__ import annotations

import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient

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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_executes_against_a_small_run(path, small_run, monkeypatch):
    monkeypatch.setenv("FACEBENCH_RUN", str(small_run))
    book = nbformat.read(path, as_version=4)
    NotebookClient(
        book, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()  # raises CellExecutionError on any error
    outputs = [out for cell in code_cells(book) for out in cell.outputs]
    text = "".join(out.get("text", "") for out in outputs if out.output_type == "stream")
    assert small_run.name in text  # it read the run it was pointed at
    figures = [out for out in outputs if "image/png" in out.get("data", {})]
    drawn = sum("fig, caption = plots." in cell.source for cell in code_cells(book))
    assert drawn >= 1 and len(figures) == drawn
    if path.stem == "05-training":
        assert "Training has not run" in text
