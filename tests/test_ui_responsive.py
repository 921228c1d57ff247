"""The window never freezes: a GUI-thread timer keeps firing on time during a real scan."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_gui_ticks import MAX_GAP_MS, GuiTicks, window_on_new_library
from PIL import Image


@pytest.fixture()
def photo_folder(tmp_path: Path, labels) -> Path:
    """Every labelled photo at a moderate size: enough work for a scan of several seconds."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for n, item in enumerate(labels):
        with Image.open(item.path) as im:
            im = im.convert("RGB")
            im.thumbnail((800, 800))
            im.save(folder / f"{n:03d}_{item.path.stem}.jpg", "JPEG", quality=90)
    return folder


@pytest.mark.slow
def test_gui_timer_fires_within_100ms_throughout_a_scan(qtbot, tmp_path, photo_folder):
    win = window_on_new_library(qtbot, tmp_path)

    ticks = GuiTicks()
    progress_reports = []
    win.context.scan.progress.connect(progress_reports.append)
    ticks.start()
    with qtbot.waitSignal(win.context.scan.finished, timeout=600_000) as done:
        win.handle_dropped([photo_folder])
    ticks.stop()

    assert done.args[0].phase == "done"
    assert win.library_page.model.rowCount() > 0 or progress_reports
    worst = ticks.worst_gap_ms()
    assert worst < MAX_GAP_MS, f"the GUI thread stalled for {worst:.0f} ms"
