"""The Search page follows the search's tiers: the same person first, the maybes apart and
never labelled as anyone, on a library of faces made to sit at known distances."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pytestqt")

from helpers_gui_ticks import window_on_new_library  # noqa: E402
from helpers_storage import BOX, encoding, write_as_scan  # noqa: E402

from facealbum.db import scan_writes  # noqa: E402
from facealbum.model import Face, PhotoAnalysis, Tier  # noqa: E402
from facealbum.ui.main_window import PAGES  # noqa: E402
from facealbum.ui.pages import search  # noqa: E402

WAIT_MS = 30_000
QUERY = encoding(1)


def near(distance: float, seed: int) -> np.ndarray:
    """An encoding exactly `distance` from QUERY, in a direction of its own."""
    step = np.random.default_rng(seed).normal(size=QUERY.shape)
    step -= step @ QUERY / (QUERY @ QUERY) * QUERY  # across QUERY: the distance is exact
    return (QUERY + distance * step / np.linalg.norm(step)).astype(np.float32)


# One face per photo: the query's own, the same person close by, Bob's face within the
# tolerance but too far to be the same person, and a stranger.
FACES = {
    "query.jpg": QUERY,
    "same.jpg": near(0.30, 2),
    "bob.jpg": near(0.56, 3),
    "stranger.jpg": near(1.2, 4),
}


def add_faces(album, folder: Path) -> dict[str, int]:
    """FACES written as a scan writes them, each in a plain picture: name -> face id."""
    folder_id = next(f.id for f in album.folders() if Path(f.path) == folder.resolve())
    for n, name in enumerate(FACES):
        Image.new("RGB", (64, 48), (60 * n, 120, 200)).save(folder / name)
    ids: dict[str, int] = {}

    def write(conn: sqlite3.Connection) -> scan_writes.FaceChanges:
        changes = scan_writes.FaceChanges()
        for name, vector in FACES.items():
            face = Face(BOX, 1.2, 120, 55.0, vector)
            photo = PhotoAnalysis(str(folder / name), 1000, 1.0, name, 640, 480, None, (face,))
            added = scan_writes.save_analysis(conn, folder_id, photo)[1]
            ids[name] = added.added_ids[0]
            changes.extend(added)
        return changes

    write_as_scan(album, write)
    return ids


@pytest.fixture()
def window(qtbot, tmp_path: Path):
    """A window on a library of FACES, Bob named; the Search page shown."""
    win = window_on_new_library(qtbot, tmp_path)
    album = win.context.album
    folder = tmp_path / "photos"
    folder.mkdir()
    album.add_folder(folder)
    ids = add_faces(album, folder)
    album.assign_faces([ids["bob.jpg"]], album.create_person("Bob"))
    win.faces = ids
    win.show_page(PAGES.index("Search"))
    yield win
    win.close()


def results(page) -> tuple[list, list]:
    return page.results_model.tiles(), page.maybe_model.tiles()


def test_a_maybe_is_shown_apart_and_never_as_its_person(qtbot, window):
    page = window.search_page
    ids = window.faces

    page.search_face(ids["query.jpg"])

    qtbot.waitUntil(lambda: page.maybe_model.rowCount() == 1, timeout=WAIT_MS)
    same, maybe = results(page)
    assert [t.key for t in same] == [ids["same.jpg"]]
    assert same[0].payload.tier == Tier.SAME
    assert same[0].title.endswith("% sure") and "% sure" in same[0].tooltip
    (bob,) = maybe
    assert (bob.key, bob.payload.tier) == (ids["bob.jpg"], Tier.MAYBE)
    assert bob.title.startswith("Maybe, ") and bob.title.endswith("%")
    assert bob.subtitle == "bob.jpg"
    assert "Bob" not in f"{bob.title} {bob.subtitle} {bob.tooltip.replace('bob.jpg', '')}"
    assert page.maybe_label.isVisibleTo(page) and page.maybe_results.isVisibleTo(page)
    assert page.maybe_label.text().startswith("Maybe the same person")
    assert page.results_label.text() == "1 photo of this person"
    assert not page.more_label.isVisibleTo(page)
    assert [m.face_id for m in page.matches()] == [ids["same.jpg"], ids["bob.jpg"]]
    window.grab().save(str(Path(window.context.album.directory).parent / "search_tiers.png"))


def test_the_query_face_is_named_only_from_the_same_person_tier(qtbot, window, monkeypatch):
    album, page = window.context.album, window.search_page
    # The dropped image's face is QUERY: only the face finding is stood in for.
    monkeypatch.setattr(album, "faces_in_image", lambda _source: [Face(BOX, 1.0, 120, 50.0, QUERY)])
    picture = np.zeros((48, 64, 3), np.uint8)

    page.search_source(picture)

    qtbot.waitUntil(lambda: page.query is not None, timeout=WAIT_MS)
    assert page.query.labels == ("",)  # Bob's face is only a maybe: not "Bob?"
    qtbot.waitUntil(lambda: page.maybe_model.rowCount() == 1, timeout=WAIT_MS)

    album.assign_faces([window.faces["same.jpg"]], album.create_person("Alice"))
    page.search_source(picture)

    qtbot.waitUntil(lambda: page.query is not None and page.query.labels == ("Alice?",))
    qtbot.waitUntil(lambda: page.results_model.rowCount() > 0, timeout=WAIT_MS)
    alice = next(t for t in page.results_model.tiles() if t.key == window.faces["same.jpg"])
    assert alice.subtitle == "Alice"
    assert page.maybe_model.rowCount() == 0  # recognised as Alice: Bob's face is not her


def test_a_cut_list_says_how_many_more_there_are(qtbot, window, monkeypatch):
    monkeypatch.setattr(search, "TOP", 1)
    page = window.search_page

    page.search_face(window.faces["query.jpg"])

    qtbot.waitUntil(lambda: page.more_label.isVisibleTo(page), timeout=WAIT_MS)
    assert page.results_model.rowCount() + page.maybe_model.rowCount() == 1
    assert "Only the first 1 are shown, surest first: 1 more not shown." in page.more_label.text()
