"""The facade and the vocabulary type-check: the UI and the command line are typed against
them, so a wrong type there is a bug for every caller."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_the_facade_and_the_vocabulary_type_check():
    pytest.importorskip("mypy", reason="mypy is a test dependency")
    # The files and options are pyproject.toml's [tool.mypy]; no cache: a fresh check.
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", "/dev/null"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout
