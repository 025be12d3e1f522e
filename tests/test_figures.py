"""Every figure the docs quote agrees with the committed result it comes from (docs/figures.toml)."""

from __future__ import annotations

import json
import re

import pytest
from conftest import ROOT

from bench.analysis import quoted

FIGURES, NOT_RESULTS = quoted.load_registry()
NUMBER = re.compile(r"(?<![\w.$+-])(?:[+-]|\$)?\d[\d,]*(?:\.\d+)?")
UNIT = re.compile(r"\s?s\b|x\b|%")


def result_like(text: str) -> list[re.Match]:
    """Numbers with a decimal point, a sign or $, or followed by s, x or % (53 s, 8.3x, +12%, 0.52)."""
    return [
        m
        for m in NUMBER.finditer(text)
        if "." in m.group() or m.group()[0] in "+-$" or UNIT.match(text, m.end())
    ]


def findings(readme: str) -> str:
    """The README's "What it found" section, line breaks as spaces."""
    section = readme.split("## What it found", 1)[1].split("\n## ", 1)[0]
    return quoted.flatten(section)


def uncovered(text: str, covers: list[str]) -> list[str]:
    """The result-like numbers of ``text`` that lie in no occurrence of any of ``covers``."""
    spans = [
        (m.start(), m.end()) for cover in covers for m in re.finditer(re.escape(quoted.flatten(cover)), text)
    ]
    return [
        f"{m.group()!r} in ...{text[max(0, m.start() - 40) : m.end() + 20]}..."
        for m in result_like(text)
        if not any(a <= m.start() and m.end() <= b for a, b in spans)
    ]


@pytest.mark.parametrize("figure", FIGURES, ids=lambda f: f.text[:60])
def test_the_figure_renders_from_its_source_as_the_docs_quote_it(figure):
    assert figure.render() == figure.text, f"{figure.source} gives another figure"
    for doc in figure.docs:
        assert figure.text in quoted.flatten((ROOT / doc).read_text()), f"{figure.text!r} not in {doc}"


def test_every_result_in_the_readme_findings_has_an_entry():
    covers = [f.text for f in FIGURES if "README.md" in f.docs] + NOT_RESULTS
    assert uncovered(findings((ROOT / "README.md").read_text()), covers) == []


def test_an_edited_figure_or_result_is_caught(tmp_path):
    """The checks bite: a quoted figure edited by hand, and a result file that changed under it."""
    for path in ("README.md", "docs/scaling-model.md", "results/pattern-2019/scenario.json"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text((ROOT / path).read_text())
    registry = tmp_path / "figures.toml"
    entry = next(f for f in FIGURES if f.text.startswith("predicts "))
    registry.write_text(
        f'[[figure]]\ntext = "{entry.text}"\ndocs = ["README.md"]\nsource = "{entry.source}"\n'
        f"format = {entry.format!r}\n[figure.values]\n"
        + "".join(f"{k} = {v!r}\n" for k, v in entry.values.items())
    )
    assert quoted.problems(tmp_path, registry) == []
    readme = tmp_path / "README.md"
    edited = entry.text.replace("predicts ", "predicts 1", 1)  # 39.7 s becomes 139.7 s
    readme.write_text(quoted.flatten(readme.read_text()).replace(entry.text, edited))
    assert quoted.problems(tmp_path, registry) == [f"{entry.text!r} is not in README.md"]
    scenario = tmp_path / entry.source
    result = json.loads(scenario.read_text())
    result["rows"][0]["predicted_wall_s"] += 100
    scenario.write_text(json.dumps(result))
    assert "renders 'predicts 1" in quoted.problems(tmp_path, registry)[0]
    # a new result in the findings with no entry
    text = findings(readme.read_text()) + " and then 4.2 s on three cores"
    assert uncovered(text, [entry.text]) and "'4.2'" in " ".join(uncovered(text, [entry.text]))


def test_result_like_numbers_are_those_with_a_unit_or_a_decimal_point():
    found = [m.group() for m in result_like("53 s, 8.3x, +12%, 0.52, $0.13; 2 cores, 1,584 images, 2-vCPU")]
    assert found == ["53", "8.3", "+12", "0.52", "$0.13"]


def test_the_readme_factor_chain_multiplies_to_its_stated_ratio_within_one_percent():
    readme = quoted.flatten((ROOT / "README.md").read_text())
    match = re.search(r"([\d.,]+)x = ((?:[\d.,]+ x )+[\d.,]+)", readme)
    assert match, "the README states the claim's factor chain"
    stated = float(match[1].replace(",", ""))
    product = 1.0
    for factor in match[2].split(" x "):
        product *= float(factor.replace(",", ""))
    assert product == pytest.approx(stated, rel=0.01)
