"""A `facealbum scan` run in a child process and killed part-way, as a crash or power cut would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def kill_scan_midway(
    library: Path, photos: Path, progressed: Callable[[], bool], timeout: float = 120
) -> None:
    """Scan `photos` into `library` with the CLI and SIGKILL the scan and its workers as soon
    as `progressed()` is true (polled); fails if the scan ends first."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "facealbum", "--library", str(library), "scan", str(photos)],
        cwd=REPO, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while not progressed() and time.monotonic() < deadline:
            assert proc.poll() is None, "the scan ended before it could be killed"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole session: the scan and its workers
        proc.wait()
