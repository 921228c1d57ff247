"""The desktop window against a real library: add a folder, scan, search by a dropped photo."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("pytestqt")

from helpers_gui_ticks import window_on_new_library  # noqa: E402

from facealbum.ui.main_window import PAGES, MainWindow  # noqa: E402
from facealbum.ui.recent import RecentLibraries  # noqa: E402

SCAN_TIMEOUT_MS = 240_000


def _small_copy(src: Path, dest: Path, long_side: int = 480) -> None:
    """A downscaled copy: scans stay quick and the photos stay real."""
    with Image.open(src) as im:
        im = im.convert("RGB")
        im.thumbnail((long_side, long_side))
        im.save(dest, "JPEG", quality=90)


@pytest.fixture()
def photo_folder(tmp_path: Path, labels) -> Path:
    """Two photos each of two people, plus a photo with no face."""
    folder = tmp_path / "photos"
    folder.mkdir()
    chosen: dict[str, int] = {}
    for item in labels:
        if item.faces != 1 or "people/" not in item.path.as_posix():
            continue
        who = item.identities[0]
        if who in ("barack_obama", "joe_biden") and chosen.get(who, 0) < 2:
            chosen[who] = chosen.get(who, 0) + 1
            _small_copy(item.path, folder / f"{who}_{chosen[who]}.jpg")
    no_face = next(i for i in labels if i.faces == 0)
    _small_copy(no_face.path, folder / "noise.jpg")
    return folder


@pytest.fixture()
def window(qtbot, tmp_path: Path):
    win = window_on_new_library(qtbot, tmp_path)
    yield win
    win.close()


def scan_folder(qtbot, win: MainWindow, folder: Path) -> object:
    with qtbot.waitSignal(win.context.scan.finished, timeout=SCAN_TIMEOUT_MS) as blocker:
        win.handle_dropped([folder])  # dropping a folder adds it and scans it
    return blocker.args[0]


@pytest.mark.slow
def test_first_start_shows_welcome_then_grid_after_scan(qtbot, window, photo_folder):
    page = window.library_page
    assert page.stack.currentWidget() is page.welcome
    assert page.welcome.button.isVisible()

    result = scan_folder(qtbot, window, photo_folder)

    assert result.phase == "done"
    assert result.faces_found >= 4
    qtbot.waitUntil(lambda: page.model.rowCount() == 5, timeout=10_000)
    assert page.stack.currentWidget() is not page.welcome
    assert not window.scan_status.isVisible()
    # the folder shows up with its photo count
    qtbot.waitUntil(
        lambda: page.folders.count() == 2 and "(5)" in page.folders.item(1).text(),
        timeout=10_000,
    )
    # thumbnails arrive off the GUI thread and are kept in the library's cache
    qtbot.waitUntil(
        lambda: page.loader.pixmap(("photo", page.model.id_at(0))) is not None,
        timeout=20_000,
    )
    assert any((window.context.album.directory / "thumbnails").rglob("*.jpg"))


@pytest.mark.slow
def test_dropped_photo_finds_the_same_person(qtbot, window, photo_folder, labels):
    scan_folder(qtbot, window, photo_folder)
    query = next(
        i.path for i in labels if i.identities == ("barack_obama",) and i.path.suffix == ".jpg"
    )
    search = window.search_page

    window.handle_dropped([query])

    assert window.sidebar.currentRow() == PAGES.index("Search")
    qtbot.waitUntil(lambda: search.results_model.rowCount() > 0, timeout=60_000)
    photos = [Path(m.photo).name for m in search.matches()]
    assert photos[0].startswith("barack_obama")
    assert all(not p.startswith("joe_biden") for p in photos[:2])
    distances = [m.distance for m in search.matches()]
    assert distances == sorted(distances)


@pytest.mark.slow
def test_stricter_tolerance_gives_fewer_results(qtbot, window, photo_folder, labels):
    scan_folder(qtbot, window, photo_folder)
    query = next(i.path for i in labels if i.identities == ("joe_biden",))
    search = window.search_page
    window.search_file(query)
    qtbot.waitUntil(lambda: search.results_model.rowCount() > 0, timeout=60_000)
    loose = search.results_model.rowCount()

    search.slider.setValue(search.slider.minimum())  # tolerance 0.30

    qtbot.waitUntil(lambda: search.tolerance() == 0.3 and search.matches() is not None)
    qtbot.waitUntil(lambda: all(m.distance <= 0.3 for m in search.matches()), timeout=30_000)
    assert search.results_model.rowCount() <= loose


def test_about_shows_the_version_and_the_licences(qtbot, tmp_path):
    from facealbum import __version__

    win = MainWindow(RecentLibraries(tmp_path / "recent.json"))
    qtbot.addWidget(win)
    about = next(a for a in win.menuBar().actions() if a.text() == "&Help").menu().actions()[-1]
    assert about.text() == "About facealbum"

    about.trigger()

    qtbot.waitUntil(lambda: win.about_box is not None and win.about_box.isVisible())
    text = win.about_box.text()
    assert f"facealbum {__version__}" in text
    assert "facealbum: <b>MIT</b>" in text
    assert "YuNet face detector" in text and "Apache License 2.0" in text
    assert "face_recognition_models" in text
    assert "Apache License" in win.about_box.detailedText()  # YuNet's licence, in full
    win.about_box.grab().save(str(tmp_path / "about.png"))


def test_missing_library_folder_shows_a_message_not_a_crash(qtbot, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(
        "facealbum.ui.main_window.show_error", lambda _parent, title, msg: shown.append(title)
    )
    win = MainWindow(RecentLibraries(tmp_path / "recent.json"))
    qtbot.addWidget(win)
    win.open_library(tmp_path / "does-not-exist", create=False)
    qtbot.waitUntil(lambda: bool(shown), timeout=30_000)
    assert shown == ["Cannot open the library"]
    assert win.context.album is None


@pytest.mark.slow
def test_unreadable_photos_are_listed_with_their_reason_after_a_scan(qtbot, window, photo_folder):
    (photo_folder / "broken.jpg").write_bytes(b"not a photo at all")
    (photo_folder / "empty.jpg").write_bytes(b"")

    result = scan_folder(qtbot, window, photo_folder)

    assert result.errors == 2
    qtbot.waitUntil(lambda: getattr(window, "scan_report", None) is not None, timeout=5_000)
    details = window.scan_report.detailedText()
    assert "broken.jpg: not an image" in details
    assert "empty.jpg: file is empty" in details
    assert "2 photos could not be read" in window.scan_report.text()
    page = window.library_page  # kept out of the grid, listed apart with their reasons
    qtbot.waitUntil(lambda: len(page.unreadable.photos()) == 2, timeout=10_000)
    assert page.model.rowCount() == 5
    reasons = sorted(page.unreadable.photos(), key=lambda p: p.path)
    assert [p.error.split(" (")[0] for p in reasons] == ["not an image", "file is empty"]
    window.scan_report.grab().save(str(photo_folder.parent / "scan_report.png"))
