"""A GUI-thread timer whose ticks show whether the window kept responding."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer

TICK_MS = 20
MAX_GAP_MS = 100


class GuiTicks:
    """Records when a TICK_MS timer on the GUI thread fires, between start() and stop()."""

    def __init__(self) -> None:
        self.ticks: list[float] = []
        self.started = self.stopped = 0.0
        self._timer = QTimer()
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))

    def start(self) -> None:
        self.started = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self.stopped = time.perf_counter()

    def worst_gap_ms(self) -> float:
        """The longest the GUI thread went without a tick, from start() to stop(): however
        quick the work watched, a thread that never ticked shows as one long gap."""
        times = [self.started, *self.ticks, self.stopped]
        return max((b - a) * 1000 for a, b in zip(times, times[1:], strict=False))


def window_on_new_library(qtbot: Any, tmp_path: Path) -> Any:
    """A shown MainWindow with a fresh library in `tmp_path` open."""
    from facealbum.ui.main_window import MainWindow
    from facealbum.ui.recent import RecentLibraries

    win = MainWindow(RecentLibraries(tmp_path / "recent.json"))
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.context.album_changed, timeout=30_000):
        win.open_library(tmp_path / "library")
    return win
