"""The Faces page on a real scanned library: the grid lists, filters and shuffles the
faces; a face chosen shows its similar faces; its actions take effect; keys move and open."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from library_builder import FOUR_PEOPLE_PHOTOS as PHOTOS  # noqa: E402
from library_builder import build_folder  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from facealbum.album import Album  # noqa: E402
from facealbum.model import Tier  # noqa: E402
from facealbum.ui.main_window import PAGES, MainWindow  # noqa: E402
from facealbum.ui.recent import RecentLibraries  # noqa: E402

pytestmark = pytest.mark.slow

WAIT_MS = 30_000


def face_of(album: Album, stem: str) -> int:
    for pid, info in album.photos(album.photo_ids()).items():
        if Path(info.path).stem == stem:
            return album.faces_in_photo(pid)[0].id
    raise KeyError(stem)


@pytest.fixture(scope="module")
def scanned(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The photos scanned, Obama named."""
    root = tmp_path_factory.mktemp("ui_faces")
    build_folder(faces_dir, root / "photos", PHOTOS)
    with Album.open(root / "library") as album:
        album.add_folder(root / "photos")
        album.scan()
        album.name_group(album.face(face_of(album, "obama_1")).group_id, "Barack Obama")
    return root / "library"


@pytest.fixture
def win(qtbot, scanned: Path, tmp_path: Path):
    """A window on a fresh copy of the library, showing the Faces page, its faces listed."""
    shutil.copytree(scanned, tmp_path / "library")
    window = MainWindow(RecentLibraries(tmp_path / "recent.json"))
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.context.album_changed, timeout=WAIT_MS):
        window.open_library(tmp_path / "library", create=False)
    window.show_page(PAGES.index("Faces"))
    page = window.faces_page
    qtbot.waitUntil(lambda: page.model.rowCount() > 0, timeout=WAIT_MS)
    yield window
    window.close()


def listed(qtbot, page, ids: list[int]) -> None:
    qtbot.waitUntil(lambda: page.model.ids() == ids, timeout=WAIT_MS)


def choose(qtbot, page, face_id: int) -> None:
    """Click the face in the grid and wait for its side panel."""
    index = page.model.index(page.model.row_of(face_id))
    page.grid.scrollTo(index)
    rect = page.grid.visualRect(index)
    qtbot.mouseClick(page.grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(
        lambda: page.details is not None and page.details.face.id == face_id, timeout=WAIT_MS
    )


def test_the_grid_lists_filters_and_shuffles_the_faces_and_keys_open_them(qtbot, win):
    page, album = win.faces_page, win.context.album
    newest = album.face_ids("all")
    assert len(newest) >= 10  # the group photo has two faces
    listed(qtbot, page, newest)
    assert page.count_label.text() == f"{len(newest)} faces, newest first"
    # Only rows on screen are fetched, then their crops made.
    qtbot.waitUntil(lambda: page.loader.pixmap(("face", newest[0])) is not None, timeout=WAIT_MS)

    buttons = {b.text(): b for b in page.filter_buttons.buttons()}
    buttons["Unnamed"].click()
    unnamed = album.face_ids("unnamed")
    listed(qtbot, page, unnamed)
    assert 0 < len(unnamed) < len(newest)  # Obama's faces are named
    buttons["Not in a group"].click()
    listed(qtbot, page, album.face_ids("ungrouped"))
    buttons["All"].click()
    listed(qtbot, page, newest)

    page.shuffle_button.click()
    first = page.seed
    listed(qtbot, page, album.face_ids("all", shuffle_seed=first))
    assert sorted(page.model.ids()) == sorted(newest) and page.model.ids() != newest
    assert page.count_label.text().endswith("shuffled")
    page.shuffle_button.click()  # again: another order
    assert page.seed != first
    listed(qtbot, page, album.face_ids("all", shuffle_seed=page.seed))
    page.newest_button.click()
    listed(qtbot, page, newest)

    # Arrows move, Enter opens the photo of the face.
    page.grid.setFocus()
    assert page.grid.current_face_id() == newest[0]
    qtbot.keyClick(page.grid, Qt.Key.Key_Right)
    assert page.grid.current_face_id() == newest[1]
    with qtbot.waitSignal(win.context.open_photo, timeout=WAIT_MS) as opened:
        qtbot.keyClick(page.grid, Qt.Key.Key_Return)
    assert opened.args == [album.face(newest[1]).photo_id]


def test_a_face_shows_its_similar_faces_and_not_a_face_takes_it_away(qtbot, win):
    page, album = win.faces_page, win.context.album
    obama = face_of(album, "obama_2")
    choose(qtbot, page, obama)
    qtbot.waitUntil(lambda: page.similar_model.rowCount() > 0, timeout=WAIT_MS)
    tiers = [t.payload.tier for t in page.similar_model.tiles()]
    assert tiers[0] == Tier.SAME and tiers == sorted(tiers, key=lambda t: t != Tier.SAME)
    same_photos = {
        Path(t.payload.photo).stem for t in page.similar_model.tiles() if t.payload.tier == "same"
    }
    assert {"obama_1", "obama_3"} <= same_photos
    assert page.about.text().startswith("Barack Obama")
    assert page.remove_button.isEnabled() and page.remove_button.text() == "Not Barack Obama"

    row = page.model.row_of(obama)
    page.not_a_face_button.click()
    qtbot.waitUntil(lambda: obama not in page.model.ids(), timeout=WAIT_MS)
    assert album.face(obama).not_a_face
    assert obama not in album.face_ids("all")
    # The face that took its place is the one chosen now.
    assert page.grid.current_face_id() == page.model.ids()[min(row, page.model.rowCount() - 1)]


def test_a_face_is_named_taken_from_its_person_and_hidden(qtbot, win):
    page, album = win.faces_page, win.context.album
    rose = face_of(album, "rose_1")
    choose(qtbot, page, rose)
    assert not page.remove_button.isEnabled()
    page.name_button.click()
    dialog = page.name_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.edit.setText("Rose Leslie")
    dialog.accept()
    qtbot.waitUntil(lambda: album.face(rose).person_name == "Rose Leslie", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: page.about.text().startswith("Rose Leslie"), timeout=WAIT_MS)
    assert page.grid.current_face_id() == rose  # still chosen after the list reloads

    page.hide_button.click()
    qtbot.waitUntil(lambda: page.hide_button.text() == "Show this person", timeout=WAIT_MS)
    person = album.face(rose).person_id
    assert next(p for p in album.people(include_hidden=True) if p.id == person).hidden

    page.remove_button.click()
    qtbot.waitUntil(lambda: album.face(rose).person_id is None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not page.remove_button.isEnabled(), timeout=WAIT_MS)
    # Not her: never suggested as her again.
    assert not [s for s in album.suggestions(person) if s.face_id == rose]
