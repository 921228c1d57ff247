"""The import contracts of pyproject.toml hold: which part of the house may import which."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# In a process of its own: import-linter configures logging, which would silence the
# loggers that later tests read.
LINT = (
    "import sys\n"
    "from importlinter.cli import lint_imports\n"
    "sys.exit(lint_imports(sys.argv[1], no_cache=True))\n"
)


def test_the_import_contracts_hold():
    pytest.importorskip("importlinter", reason="import-linter is a test dependency")
    done = subprocess.run(
        [sys.executable, "-c", LINT, str(REPO_ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "kept, 0 broken" in done.stdout  # the contracts were found and checked
