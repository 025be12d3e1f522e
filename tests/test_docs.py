"""The docs agree with the code and with themselves: every module, function and path they name in
backticks exists, and no doc repeats a section heading."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TOP = ("bench", "pipelines", "tests", "docs", "results", "benchmarks", "notebooks", "suites")
#: Named in the docs as what a run or a command writes, so absent from a fresh checkout.
WRITTEN_BY_RUNS = ("results/runs", "results/reference-runs")
PATH = re.compile(rf"^(?:{'|'.join(TOP)})/[\w./-]*$")
DOTTED = re.compile(r"^(?:bench|pipelines)(?:\.\w+)+$")


def prose(path: Path) -> str:
    """A doc without its fenced code blocks (commands, not names)."""
    return re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M)


def named(path: Path) -> set[str]:
    """The backticked tokens of a doc's prose that name a path in the repository or a dotted name."""
    tokens = set(re.findall(r"`([^`\s]+)`", prose(path)))
    return {t for t in tokens if PATH.match(t) or DOTTED.match(t)}


def resolves(name: str) -> bool:
    """A dotted name is a module, or an attribute reached from the longest importable module prefix."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            if not hasattr(obj, part):
                return False
            obj = getattr(obj, part)
        return True
    return False


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_name_the_doc_gives_exists(doc):
    missing = []
    for token in sorted(named(doc)):
        if PATH.match(token):
            if not token.startswith(WRITTEN_BY_RUNS) and not (ROOT / token).exists():
                missing.append(token)
        elif not resolves(token):
            missing.append(token)
    assert missing == [], f"{doc.name} names what does not exist"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_no_section_heading_is_repeated(doc):
    headings = [line.strip() for line in prose(doc).splitlines() if re.match(r"#{1,6} ", line)]
    assert sorted({h for h in headings if headings.count(h) > 1}) == []


def test_the_checks_catch_a_missing_name_and_a_repeated_heading(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(
        "# A\n\n`bench/analysis/claim.py`, `bench.analysis.claim.chain_text`, `bench/no_such.py`,\n"
        "`bench.analysis.claim.no_such`, `--flag`, `wall_s`\n\n```sh\n# not a heading `bench/x.py`\n```\n"
        "# A\n"
    )
    assert named(doc) == {
        "bench/analysis/claim.py",
        "bench.analysis.claim.chain_text",
        "bench/no_such.py",
        "bench.analysis.claim.no_such",
    }
    assert resolves("bench.analysis.claim.chain_text") and not resolves("bench.analysis.claim.no_such")
    assert not resolves("bench.no_such_module")
    with pytest.raises(AssertionError):
        test_no_section_heading_is_repeated(doc)
