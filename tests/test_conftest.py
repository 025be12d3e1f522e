"""The suite's own gate on `-m slow`: what a green slow run means, with and without the LFW photos."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

SLOW_TEST = """
import pytest

@pytest.mark.slow
def test_real_data(lfw_data):
    {body}
"""


def slow_session(tmp_path: Path, data: Path | None, body: str = "assert lfw_data.is_dir()"):
    """`pytest -m slow` over one slow real-data test with this suite's conftest, in a folder whose
    parent holds no shared/data: the photos are there only when ``data`` is given."""
    tests = tmp_path / "repo" / "tests"
    tests.mkdir(parents=True)
    shutil.copy2(ROOT / "tests" / "conftest.py", tests / "conftest.py")
    (tests / "test_real.py").write_text(SLOW_TEST.format(body=body))
    (tests.parent / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: long\n")
    env = {k: v for k, v in os.environ.items() if k != "FACEBENCH_DATA"}
    if data is not None:
        env["FACEBENCH_DATA"] = str(data)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "slow", "-p", "no:cacheprovider", "-rs", "tests"],
        capture_output=True, text=True, timeout=120, env=env, cwd=tests.parent,
    )  # fmt: skip


def test_slow_without_the_photos_passes_and_says_nothing_was_checked(tmp_path):
    out = slow_session(tmp_path, None)
    assert out.returncode == 0 and "1 skipped" in out.stdout, out.stdout + out.stderr
    assert "no slow check ran: the LFW photos are absent" in out.stdout
    assert "SKIPPED" in out.stdout and "real-data test not run: the LFW photos are absent" in out.stdout


def test_slow_with_the_photos_passes_when_it_ran(tmp_path):
    (tmp_path / "data" / "lfw").mkdir(parents=True)
    out = slow_session(tmp_path, tmp_path / "data")
    assert out.returncode == 0 and "1 passed" in out.stdout, out.stdout + out.stderr
    assert "no slow check ran" not in out.stdout


def test_slow_with_the_photos_fails_when_every_slow_check_skipped(tmp_path):
    (tmp_path / "data" / "lfw").mkdir(parents=True)
    out = slow_session(tmp_path, tmp_path / "data", body="pytest.skip('not today')")
    assert out.returncode == 1 and "tests and none ran" in out.stdout, out.stdout + out.stderr
