"""The window when photos go away: offline folders are shown as such, and removing most of
a folder waits for the user's answer."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from library_builder import OBAMA, OTHERS, build_folder

pytest.importorskip("pytestqt")

from helpers_gui_ticks import window_on_new_library  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from facealbum.engine import scanner  # noqa: E402

pytestmark = pytest.mark.slow
SCAN_TIMEOUT_MS = 240_000


def _scanned_window(qtbot, root: Path, faces_dir: Path, detector: str | None = None):
    photos = root / "drive"
    build_folder(faces_dir, photos, (OBAMA[0], *OTHERS))
    root.mkdir(exist_ok=True)
    win = window_on_new_library(qtbot, root)
    if detector is not None:
        album = win.context.album
        album.update_settings(replace(album.settings, detector=detector))
    scan(qtbot, win, lambda: win.handle_dropped([photos]))
    return win, photos


@pytest.fixture()
def scanned(qtbot, tmp_path: Path, faces_dir: Path):
    win, photos = _scanned_window(qtbot, tmp_path, faces_dir)
    yield win, photos
    win.close()


@pytest.fixture()
def scanned_with_hog(qtbot, tmp_path: Path, faces_dir: Path):
    """A library as made before YuNet was the default."""
    win, photos = _scanned_window(qtbot, tmp_path / "hog", faces_dir, detector="hog")
    yield win, photos
    win.close()


def scan(qtbot, win, start) -> object:
    with qtbot.waitSignal(win.context.scan.finished, timeout=SCAN_TIMEOUT_MS) as blocker:
        start()
    return blocker.args[0]


def folder_item(qtbot, win, text: str):
    page = win.library_page
    qtbot.waitUntil(
        lambda: page.folders.count() == 2 and text in page.folders.item(1).text(), timeout=10_000
    )
    return page.folders.item(1)


def test_an_emptied_folder_is_shown_offline_and_keeps_its_photos(qtbot, scanned, tmp_path):
    win, photos = scanned
    shutil.move(photos, tmp_path / "unplugged")
    photos.mkdir()  # the mount point an unplugged drive leaves

    result = scan(qtbot, win, win.library_page.rescan)

    assert [f.photos_kept for f in result.offline] == [4]
    item = folder_item(qtbot, win, "offline")
    assert item.text() == "drive  (4)  — offline"
    assert "Offline: empty" in item.toolTip()
    assert win.context.album.stats()["photos"] == 4
    win.grab().save(str(tmp_path / "offline.png"))


def test_removing_most_of_a_folder_asks_first(qtbot, scanned, monkeypatch, tmp_path):
    win, photos = scanned
    monkeypatch.setattr(scanner, "PRUNE_MIN_PHOTOS", 2)  # four photos stand for many
    for photo in sorted(photos.iterdir())[:3]:
        photo.unlink()

    scan(qtbot, win, win.library_page.rescan)
    qtbot.waitUntil(lambda: getattr(win, "prune_question", None) is not None, timeout=5_000)
    question = win.prune_question
    assert "3 photos could not be found" in question.text()
    assert "3 of 4 photos" in question.text()
    question.grab().save(str(tmp_path / "prune_question.png"))
    keep = question.defaultButton()
    assert keep.text() == "Keep them"
    keep.click()
    assert win.context.album.stats()["photos"] == 4

    scan(qtbot, win, win.library_page.rescan)
    qtbot.waitUntil(lambda: win.prune_question is not question, timeout=5_000)
    remove = next(
        b
        for b in win.prune_question.buttons()
        if win.prune_question.buttonRole(b) == QMessageBox.ButtonRole.DestructiveRole
    )
    result = scan(qtbot, win, remove.click)

    assert not result.held_back
    assert win.context.album.stats()["photos"] == 1


def test_a_library_made_with_hog_offers_to_find_its_faces_again(
    qtbot, scanned_with_hog, scanned, tmp_path
):
    hog_win, _photos = scanned_with_hog
    bar = hog_win.library_page.detector_hint
    qtbot.waitUntil(bar.isVisible, timeout=10_000)
    assert "found with HOG" in bar.label.text() and "YuNet" in bar.button.text()
    hog_win.grab().save(str(tmp_path / "detector_hint.png"))
    bar.close_button.click()
    assert not bar.isVisible()
    bar.refresh()  # closed: stays closed for this library while it is open
    assert not bar.isVisible()

    yunet_win, _photos = scanned  # a new library finds faces with YuNet: nothing to offer
    assert not yunet_win.library_page.detector_hint.isVisible()


def test_find_faces_again_asks_then_runs_with_progress(qtbot, scanned_with_hog, tmp_path):
    from facealbum.ui import library_tools

    win, _photos = scanned_with_hog
    question = library_tools.find_faces_again(win.context, win)
    assert "every photo again with YuNet" in question.text()
    question.grab().save(str(tmp_path / "find_faces_again.png"))
    start = question.defaultButton()

    result = scan(qtbot, win, start.click)

    assert result.phase == "done" and result.total == 4
    assert win.context.album.settings.detector == "yunet"
