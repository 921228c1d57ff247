"""The Library page keeps photos that could not be read out of the grid, in a list of
their own with the reason of each."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from helpers_gui_ticks import window_on_new_library  # noqa: E402
from helpers_storage import add_photos, write_as_scan  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from facealbum.db import scan_writes  # noqa: E402

WAIT_MS = 30_000


def add_unreadable(album, folder: Path, name: str, reason: str) -> None:
    """A photo the scan could not read, recorded as a scan records it."""
    folder_id = next(f.id for f in album.folders() if Path(f.path) == folder.resolve())

    def write(conn: sqlite3.Connection) -> scan_writes.FaceChanges:
        return scan_writes.save_failure(conn, folder_id, str(folder / name), 10, 1.0, reason)[1]

    write_as_scan(album, write)


def test_unreadable_photos_are_listed_with_their_reason_not_in_the_grid(qtbot, tmp_path):
    win = window_on_new_library(qtbot, tmp_path)
    album, page = win.context.album, win.library_page
    folder = tmp_path / "photos"
    folder.mkdir()
    album.add_folder(folder)
    add_photos(album, folder, ["a.jpg", "b.jpg", "c.jpg"])
    add_unreadable(album, folder, "broken.jpg", "not an image")
    add_unreadable(album, folder, "empty.jpg", "file is empty")

    page.refresh()

    unreadable = page.unreadable
    qtbot.waitUntil(lambda: len(unreadable.photos()) == 2, timeout=WAIT_MS)
    assert page.model.rowCount() == 3
    grid = {Path(album.photo(p).path).name for p in page.model.ids()}
    assert grid == {"a.jpg", "b.jpg", "c.jpg"}
    assert page.count_label.text() == "3 photos"
    assert unreadable.isVisibleTo(page) and not unreadable.list.isVisibleTo(page)
    assert unreadable.toggle.text() == "Could not be read: 2 photos"
    qtbot.mouseClick(unreadable.toggle, Qt.MouseButton.LeftButton)
    assert unreadable.list.isVisibleTo(page)
    rows = [unreadable.list.item(i).text() for i in range(unreadable.list.count())]
    assert rows == ["broken.jpg — not an image", "empty.jpg — file is empty"]
    assert str(folder / "broken.jpg") in unreadable.list.item(0).toolTip()
    win.grab().save(str(tmp_path / "unreadable.png"))

    qtbot.waitUntil(lambda: page.folders.count() == 2, timeout=WAIT_MS)
    page.model.set_ids([])
    page.folders.setCurrentRow(1)  # the folder alone: the same split
    qtbot.waitUntil(lambda: page.model.rowCount() == 3, timeout=WAIT_MS)
    assert len(unreadable.photos()) == 2
    win.close()
