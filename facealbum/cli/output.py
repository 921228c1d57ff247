"""What every command prints: its name, its exit codes, errors, JSON.

Light on purpose: `facealbum --help` imports this module, never numpy or dlib.
"""

from __future__ import annotations

import json
import sys
from typing import Any

PROG = "facealbum"
EX_TEMPFAIL = 75  # sysexits.h: the library is busy, the same command may work later


class CommandError(Exception):
    """The command failed for a reason the user can act on (one line, no traceback)."""


def readable_path(path: str) -> str:
    """A path fit to print (see model.readable_path; imported late to keep start-up light)."""
    from facealbum.model import readable_path as readable

    return readable(path)


def fail(message: str, code: int = 1) -> int:
    """Say why on stderr, prefixed with the program's name; returns the exit code."""
    print(f"{PROG}: {message}", file=sys.stderr)
    return code


def stderr_line(text: str) -> None:
    print(text, file=sys.stderr)


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2)
    sys.stdout.write("\n")
