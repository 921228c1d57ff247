"""The "not a face" mark: a detection the user says is a pet, a poster or a pattern leaves
groups, suggestions, searches and people; undo takes it back; rescans, re-detections and
moves keep the mark; the photo view, the People page and the command line offer it.

Most libraries here are synthetic rows (no photo is decoded): encodings clustered like
dlib's, faces of one person about 0.35 apart, two people about 1.4; each face has a small
plain JPEG of its own so that the views can show it. The tests with real detections are
marked slow.
"""

from __future__ import annotations

import itertools
import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from helpers_storage import group_new_faces, library_store, write_as_scan
from PIL import Image

from facealbum.album import Album, LibraryError
from facealbum.album.grouping import Batches
from facealbum.config import Settings
from facealbum.db import people_queries, people_writes, queries, scan_writes
from facealbum.db.migrations import migrate
from facealbum.db.schema import MIGRATIONS
from facealbum.model import Box, Face, PhotoAnalysis

DIM = 128
SAME_PERSON_SPREAD = 0.022  # per dimension: about 0.35 between two faces of one person
PEOPLE_SPREAD = 0.09  # per dimension: about 1.4 between two people
FACES_EACH = 4
BOX = Box(0.3, 0.2, 0.6, 0.6)
WAIT_MS = 20_000


def encodings(n_people: int, seed: int = 0) -> np.ndarray:
    """(n_people, FACES_EACH, 128) float32: FACES_EACH encodings of each person."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, PEOPLE_SPREAD, (n_people, 1, DIM))
    spread = rng.normal(0, SAME_PERSON_SPREAD, (n_people, FACES_EACH, DIM))
    return (centres + spread).astype(np.float32)


def add_photos(album: Album, folder: Path, vectors: np.ndarray, box: Box = BOX) -> list[int]:
    """One small real JPEG per face in `folder`, stored as a scan stores it; face ids."""
    folder.mkdir(parents=True, exist_ok=True)
    known = [f.id for f in album.folders() if Path(f.path) == folder.resolve()]
    folder_id = known[0] if known else album.add_folder(folder).id
    start = album.stats()["photos"]
    ids: list[int] = []

    def write(conn: sqlite3.Connection) -> scan_writes.FaceChanges:
        changes = scan_writes.FaceChanges()
        for n, vector in enumerate(vectors, start):
            path = folder / f"{n:04d}.jpg"
            Image.new("RGB", (200, 160), (90 + n % 5 * 30, 120, 140)).save(path, "JPEG")
            face = Face(box, 1.0, 80, 50.0, vector)
            analysis = PhotoAnalysis(str(path), 1000, 0.0, f"fp{n}", 200, 160, None, (face,))
            _, more = scan_writes.save_analysis(conn, folder_id, analysis)
            changes.extend(more)
        ids.extend(changes.added_ids)
        return changes

    write_as_scan(album, write)
    return ids


@pytest.fixture
def library(tmp_path: Path) -> Iterator[tuple[Album, list[list[int]]]]:
    """Three people, four photos each, grouped; automatic assignment off so that new faces
    of a named person are suggested. Yields (album, face ids of each person)."""
    album = Album.open(tmp_path / "library")
    album.update_settings(Settings(auto_assign=False))
    vectors = encodings(3)
    people = [add_photos(album, tmp_path / "photos", v) for v in vectors]
    group_new_faces(album, read_xmp=False)
    yield album, people
    album.close()


def group_of(album: Album, face_id: int) -> int:
    group = album.face(face_id).group_id
    assert group is not None, f"face {face_id} is in no group"
    return group


def grouped_faces(album: Album) -> set[int]:
    return {f for g in album.groups(include_hidden=True) for f in g.face_ids}


def found_by_search(album: Album, face_id: int) -> set[int]:
    """Faces of other photos a similar-face search from `face_id` finds."""
    return {m.face_id for m in album.similar_to_face(face_id, top=50)}


def test_a_group_marked_not_faces_leaves_groups_and_searches_until_undone(library):
    album, (ann, bob, dogs) = library
    dog_group = group_of(album, dogs[0])
    assert set(dogs) <= grouped_faces(album)
    assert set(dogs[1:]) <= found_by_search(album, dogs[0])

    assert album.mark_not_a_face(group_ids=[dog_group]) == FACES_EACH

    assert album.not_a_face_ids() == sorted(dogs)
    assert not set(dogs) & grouped_faces(album)
    assert all(album.face(f).not_a_face and album.face(f).group_id is None for f in dogs)
    assert not found_by_search(album, dogs[0])  # not even each other
    vector = queries.encoding_of(library_store(album).conn, dogs[1])
    assert not {m.face_id for m in album.similar_to_encoding(vector)} & set(dogs)
    assert set(ann[1:]) <= found_by_search(album, ann[0])  # everyone else is still found
    # Grouping again, partly or from scratch, never takes them back.
    album.regroup()
    album.regroup(full=True)
    assert not set(dogs) & grouped_faces(album)
    photo = album.face(dogs[0]).photo_id
    assert album.photo(photo).face_count == 0

    assert album.undo_description() == f"Mark {FACES_EACH} faces as not faces"
    album.undo()

    assert album.not_a_face_ids() == []
    assert len({group_of(album, f) for f in dogs}) == 1
    assert set(dogs[1:]) <= found_by_search(album, dogs[0])
    assert album.photo(photo).face_count == 1


def test_a_named_face_marked_not_a_face_leaves_its_person_and_undo_gives_it_back(library):
    album, (ann, _bob, _dogs) = library
    ann_id = album.name_group(group_of(album, ann[0]), "Ann")
    album.set_cover(ann_id, ann[0])
    poster = ann[0]

    album.mark_not_a_face([poster])

    (person,) = album.people()
    assert (person.face_count, person.photo_count) == (FACES_EACH - 1, FACES_EACH - 1)
    assert person.cover_face_id != poster
    # Nor does the user's choice come back if the face is ever Ann's again.
    assert people_queries.cover_choice(library_store(album).conn, ann_id) is None
    assert album.face(poster).photo_id not in album.photo_ids(person_id=ann_id)
    face = album.face(poster)
    assert (face.person_id, face.assigned_by, face.not_a_face) == (None, None, True)
    assert album.undo_description() == "Mark a face as not a face"

    album.undo()

    (person,) = album.people()
    assert (person.face_count, person.cover_face_id) == (FACES_EACH, poster)
    face = album.face(poster)
    assert (face.person_id, face.assigned_by, face.not_a_face) == (ann_id, "user", False)


def test_suggestions_and_automatic_assignment_leave_out_faces_marked_not_a_face(
    library, tmp_path: Path
):
    album, (ann, _bob, _dogs) = library
    ann_id = album.name_group(group_of(album, ann[0]), "Ann")
    like_ann = encodings(3)[0] + 0.01  # the library's own encodings of Ann, a little off
    later = add_photos(album, tmp_path / "later", like_ann[:2])
    group_new_faces(album, read_xmp=False)
    assert {s.face_id for s in album.suggestions(ann_id)} == set(later)

    album.mark_not_a_face([later[0]])

    assert {s.face_id for s in album.suggestions(ann_id)} == {later[1]}
    # A new face that a rescan marked (it lies over a face marked not a face) is neither
    # suggested nor assigned automatically when the scan's new faces are worked out.
    album.update_settings(Settings(auto_assign=True))
    more = add_photos(album, tmp_path / "more", like_ann[2:])
    with library_store(album).write() as conn:
        people_writes.set_not_a_face(conn, people_writes.UndoRecord(conn), [more[0]], True)
    group_new_faces(album, read_xmp=False)
    assert album.face(more[1]).person_id == ann_id  # the same look, a face: assigned
    assert album.face(more[0]).person_id is None
    stored = {f for f, _ in people_queries.stored_suggestions(library_store(album).conn)}
    assert more[0] not in stored and later[0] not in stored


def test_a_suggestion_left_stored_for_a_face_marked_not_a_face_is_not_shown(library):
    album, (ann, _bob, dogs) = library
    ann_id = album.name_group(group_of(album, ann[0]), "Ann")
    album.mark_not_a_face([dogs[0]])
    with library_store(album).write() as conn:  # as a plan made before the mark stores it
        people_writes.replace_suggestions(conn, [dogs[0]], [(dogs[0], ann_id, 0.3, 0.9)])

    assert album.suggestions(ann_id) == [] and album.suggestions() == []


def test_a_name_from_xmp_is_not_offered_for_a_face_marked_not_a_face(library):
    album, (_ann, bob, _dogs) = library
    with library_store(album).write() as conn:  # as reading the photo's XMP stores it
        people_writes.add_hints(conn, [(bob[0], "Rex")])
    assert [s.face_id for s in album.suggestions(source="xmp")] == [bob[0]]

    album.mark_not_a_face([bob[0]])

    assert album.suggestions(source="xmp") == []


def test_naming_a_face_marked_not_a_face_makes_it_a_face_again(library):
    album, (ann, _bob, dogs) = library
    ann_id = album.name_group(group_of(album, ann[0]), "Ann")
    album.mark_not_a_face([dogs[0]])

    album.assign_faces([dogs[0]], ann_id)

    face = album.face(dogs[0])
    assert (face.person_id, face.not_a_face) == (ann_id, False)
    album.undo()
    face = album.face(dogs[0])
    assert (face.person_id, face.not_a_face) == (None, True)


def test_taking_the_mark_back_groups_the_face_again(library):
    album, (_ann, bob, _dogs) = library
    album.mark_not_a_face([bob[0]])
    assert bob[0] not in grouped_faces(album)

    album.unmark_not_a_face([bob[0]])

    assert album.face(bob[0]).not_a_face is False
    assert group_of(album, bob[0]) == group_of(album, bob[1])
    assert bob[0] in found_by_search(album, bob[1])
    assert album.undo_description() == "Mark a face as a face again"
    album.undo()
    assert album.face(bob[0]).not_a_face and bob[0] not in grouped_faces(album)


def test_unknown_faces_and_groups_change_nothing(library):
    album, (_ann, bob, _dogs) = library
    with pytest.raises(LibraryError, match="no face with id 999999"):
        album.mark_not_a_face([bob[0], 999999])
    with pytest.raises(LibraryError, match="no unnamed group"):
        album.mark_not_a_face(group_ids=[424242])
    with pytest.raises(LibraryError, match="no face with id 999999"):
        album.unmark_not_a_face([999999])
    assert album.not_a_face_ids() == [] and album.undo_description() is None
    assert album.mark_not_a_face([]) == 0


def test_the_index_keeps_every_encoding_and_stays_in_step(library, tmp_path: Path):
    album, (_ann, _bob, dogs) = library
    generation = library_store(album).generation()

    album.mark_not_a_face(dogs)
    album.undo()
    album.mark_not_a_face(dogs[:1])

    # The mark is no change of encodings: the index holds them all, at the same generation.
    assert library_store(album).generation() == generation
    assert album.stats()["index"]["size"] == album.stats()["faces"]
    assert album.stats()["not_a_face"] == 1
    album.close()
    with Album.open(tmp_path / "library") as again:
        assert again.index_state == "loaded"
        assert not found_by_search(again, dogs[1]) & {dogs[0]}
        assert dogs[2] in found_by_search(again, dogs[1])


def test_a_mark_made_while_a_long_grouping_job_plans_is_not_overwritten(
    library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    album, _people = library
    newcomers = add_photos(album, tmp_path / "later", encodings(1, seed=7)[0])
    other = Album.open(tmp_path / "library")  # the user, in another window
    original, count = Batches._write, itertools.count(1)

    def write(self: Batches):
        if next(count) == 1:  # planned already; the lock is free, as between any two batches
            other.mark_not_a_face(newcomers)
        return original(self)

    monkeypatch.setattr(Batches, "_write", write)
    try:
        group_new_faces(album, read_xmp=False)
    finally:
        other.close()

    assert not set(newcomers) & grouped_faces(album)
    assert all(album.face(f).not_a_face for f in newcomers)


def test_grouping_never_places_a_face_marked_not_a_face(library):
    """Each guard on its own: the grouping engine sees such a face as ungroupable, a
    planned placement skips it, and marking one changes what a long job's plan was made
    from (so the plan is made again)."""
    from facealbum.db import people_queries as pq
    from facealbum.db import people_writes as pw

    album, (_ann, bob, _dogs) = library
    bob_group = group_of(album, bob[1])
    album.mark_not_a_face([bob[0]])
    conn = library_store(album).conn

    placement = album._grouping().plan_join(conn, bob)
    assert bob[0] not in placement.face_ids
    plan = album._grouping().plan_regroup(conn)
    assert bob[0] not in plan.face_ids[plan.new_groups > 0]
    with library_store(album).write() as conn:
        pw.set_groups(conn, None, [bob[0]], [bob_group])
        pw.move_groups(conn, [bob[0]], [0], [bob_group])
    assert album.face(bob[0]).group_id is None
    # An ungrouped, unnamed face: the mark is all that changes.
    with library_store(album).write() as conn:
        pw.set_groups(conn, None, [bob[2]], [0])
    before = pq.grouping_state(library_store(album).conn)
    album.mark_not_a_face([bob[2]])
    assert pq.grouping_state(library_store(album).conn) != before


# -- rescans, re-detections, moves --------------------------------------------------------


def analysis_of(album: Album, photo_id: int, faces: tuple[Face, ...]) -> PhotoAnalysis:
    """A new analysis of a photo (as after an edit, or with another detector)."""
    path = album.photo(photo_id).path
    return PhotoAnalysis(path, 1000, 0.0, "edited", 200, 160, None, faces, detector="yunet")


def save(album: Album, photo_id: int, faces: tuple[Face, ...], keep_decided: bool) -> None:
    """Store a new analysis of the photo, as a scan (or a re-detection) does."""
    folder = album.photo(photo_id).folder_id
    analysis = analysis_of(album, photo_id, faces)
    write_as_scan(
        album, lambda conn: scan_writes.save_analysis(conn, folder, analysis, keep_decided)[1]
    )


def shifted(box: Box, dx: float) -> Box:
    return Box(box.left + dx, box.top, box.right + dx, box.bottom)


@pytest.mark.parametrize("keep_decided", [False, True], ids=["edited photo", "redetected"])
def test_a_new_face_over_a_face_marked_not_a_face_stays_not_a_face(library, keep_decided):
    album, (_ann, _bob, dogs) = library
    album.mark_not_a_face([dogs[0]])
    # The dog's "face" comes back a little off and encoded far away; a real face appears.
    far = np.full(DIM, 0.2, np.float32)
    dog = Face(shifted(BOX, 0.03), 0.9, 80, 40.0, far)
    person = Face(Box(0.0, 0.0, 0.2, 0.2), 0.9, 40, 40.0, -far)

    photo = album.face(dogs[0]).photo_id
    save(album, photo, (dog, person), keep_decided)

    faces = {f.box: f for f in album.faces_in_photo(photo)}
    assert set(faces) == {dog.box, person.box}  # the old row went: its mark moved on
    assert faces[dog.box].id != dogs[0] and faces[dog.box].not_a_face
    assert not faces[person.box].not_a_face
    group_new_faces(album, read_xmp=False)
    assert faces[dog.box].id not in grouped_faces(album)
    assert faces[dog.box].id not in {m.face_id for m in album.similar_to_encoding(far)}
    assert faces[person.box].id in {m.face_id for m in album.similar_to_encoding(-far)}


def test_a_face_marked_not_a_face_keeps_its_row_when_found_again_in_place(library):
    album, (_ann, _bob, dogs) = library
    album.mark_not_a_face([dogs[0]])
    vector = queries.encoding_of(library_store(album).conn, dogs[0])
    same = Face(BOX, 0.9, 80, 40.0, vector)

    photo = album.face(dogs[0]).photo_id
    save(album, photo, (same,), keep_decided=False)

    (face,) = album.faces_in_photo(photo)
    assert (face.id, face.not_a_face) == (dogs[0], True)


def test_a_face_marked_not_a_face_that_another_detector_misses_is_kept(library):
    album, (_ann, _bob, dogs) = library
    album.mark_not_a_face([dogs[0]])

    photo = album.face(dogs[0]).photo_id
    save(album, photo, (), keep_decided=True)

    (face,) = album.faces_in_photo(photo)
    assert (face.id, face.not_a_face) == (dogs[0], True)


def test_a_photo_that_vanishes_and_returns_keeps_its_mark(library, tmp_path: Path):
    album, (_ann, _bob, dogs) = library
    album.mark_not_a_face([dogs[0]])
    info = album.photo(album.face(dogs[0]).photo_id)
    known = queries.known_photos(library_store(album).conn, info.folder_id)
    _size, _mtime, fingerprint, *_ = known[info.path]
    moved = tmp_path / "photos" / "moved.jpg"
    shutil.move(info.path, moved)

    write_as_scan(album, lambda conn: scan_writes.remove_photos(conn, [info.path]))
    write_as_scan(
        album,
        lambda conn: scan_writes.save_move(
            conn, info.folder_id, str(moved), 1000, 0.0, fingerprint, info.path, False
        )[1],
    )
    # A copy of it elsewhere is the same dog.
    copy = tmp_path / "photos" / "copy.jpg"
    shutil.copy(moved, copy)
    write_as_scan(
        album,
        lambda conn: scan_writes.save_move(
            conn, info.folder_id, str(copy), 1000, 0.0, fingerprint, str(moved), False
        )[1],
    )

    returned = [album.faces_in_photo(p) for p in album.photo_ids() if p != info.id]
    marked = [f for faces in returned for f in faces if f.photo in (str(moved), str(copy))]
    assert len(marked) == 2 and all(f.not_a_face for f in marked)
    group_new_faces(album, read_xmp=False)
    assert not {f.id for f in marked} & grouped_faces(album)


def test_a_library_made_before_the_mark_opens_and_undoes_its_older_actions(tmp_path: Path):
    lib = tmp_path / "library"
    lib.mkdir()
    db = lib / "library.sqlite3"
    conn = sqlite3.connect(db, isolation_level=None)
    migrate(conn, db, MIGRATIONS[:5])  # the schema before "not a face"
    conn.execute("INSERT INTO folders (path) VALUES ('/p')")
    conn.execute("INSERT INTO photos (folder_id, path, size, mtime) VALUES (1, '/p/a.jpg', 1, 1)")
    conn.execute("INSERT INTO people (name) VALUES ('Ann')")
    conn.execute(
        "INSERT INTO faces (photo_id, box_left, box_top, box_right, box_bottom, score,"
        " size_px, sharpness, encoding) VALUES (1, 0, 0, 1, 1, 1, 100, 1, ?)",
        (encodings(1)[0][0].tobytes(),),
    )
    # An action logged the way it was then: five values per face, no mark.
    payload = {"faces": [[1, 1, None, "user", None]], "people": [], "groups": []}
    payload |= {"rejections": [], "hints": []}
    conn.execute(
        "INSERT INTO undo_log (description, payload) VALUES ('Remove a face from Ann', ?)",
        (json.dumps(payload),),
    )
    conn.close()

    with Album.open(lib) as album:
        assert album.face(1).not_a_face is False
        assert album.undo() == "Remove a face from Ann"
        face = album.face(1)
        assert (face.person_name, face.not_a_face) == ("Ann", False)
        album.mark_not_a_face([1])
        assert album.not_a_face_ids() == [1] and album.people()[0].face_count == 0


# -- command line -------------------------------------------------------------------------


def test_the_command_line_marks_lists_and_takes_back(library, capsys: pytest.CaptureFixture):
    from facealbum.cli.main import main

    album, (_ann, bob, dogs) = library
    lib, dog_group = album.directory, group_of(album, dogs[0])
    album.close()

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--library", str(lib), *args])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = run("not-a-face", str(bob[0]), "--group", str(dog_group), "--json")
    assert code == 0 and json.loads(out)["faces"] == 1 + FACES_EACH
    code, out, _ = run("not-a-face", "--json")
    assert sorted(row["face_id"] for row in json.loads(out)) == sorted([bob[0], *dogs])
    code, out, _ = run("is-a-face", str(bob[0]))
    assert code == 0 and "undo" in out
    code, out, _ = run("not-a-face")
    assert str(bob[0]) not in out.split() and str(dogs[0]) in out.split()
    code, out, _ = run("undo", "--json")
    assert json.loads(out)["undone"] == "Mark a face as a face again"
    code, _, err = run("not-a-face", "999999")
    assert code != 0 and "no face with id 999999" in err
    with Album.open(lib) as again:
        assert again.not_a_face_ids() == sorted([bob[0], *dogs])


# -- the desktop app ----------------------------------------------------------------------


@pytest.fixture
def window(qtbot, library, tmp_path: Path):
    """The main window on the synthetic library, on the People page."""
    from facealbum.ui.main_window import PAGES, MainWindow
    from facealbum.ui.recent import RecentLibraries

    album, people = library
    lib = album.directory
    album.close()
    win = MainWindow(RecentLibraries(tmp_path / "recent.json"))
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.context.album_changed, timeout=WAIT_MS):
        win.open_library(lib, create=False)
    win.show_page(PAGES.index("People"))
    qtbot.waitUntil(lambda: win.people_page.group_model.rowCount() == 3, timeout=WAIT_MS)
    yield win, people
    win.close()


def test_a_group_is_marked_not_faces_with_its_key_and_ctrl_z_brings_it_back(qtbot, window):
    from PySide6.QtCore import Qt

    from facealbum.ui.not_a_face import NOT_A_FACE_KEY

    win, (_ann, _bob, dogs) = window
    page, album = win.people_page, win.context.album
    dog_group = album.face(dogs[0]).group_id
    assert not page.not_a_face_button.isEnabled()
    view = page.group_view
    view.setCurrentIndex(page.group_model.index(page.group_model.row_of(dog_group)))
    assert page.not_a_face_button.isEnabled()
    assert page.not_a_face_button.shortcut().toString() == NOT_A_FACE_KEY

    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Delete, Qt.KeyboardModifier.ShiftModifier)

    qtbot.waitUntil(lambda: page.group_model.row_of(dog_group) is None, timeout=WAIT_MS)
    assert album.not_a_face_ids() == sorted(dogs)
    qtbot.waitUntil(lambda: "not faces" in win.undo_action.text(), timeout=WAIT_MS)

    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)

    qtbot.waitUntil(lambda: page.group_model.row_of(dog_group) is not None, timeout=WAIT_MS)
    assert album.not_a_face_ids() == []


def test_the_photo_view_marks_a_face_from_its_menu_and_with_its_key(qtbot, window):
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    from facealbum.ui.not_a_face import IS_A_FACE_TEXT, NOT_A_FACE_TEXT
    from facealbum.ui.widgets.photo_viewer import PhotoViewer

    win, (_ann, bob, dogs) = window
    album = win.context.album
    viewer = PhotoViewer(win.context, album.face(dogs[0]).photo_id, win)
    qtbot.addWidget(viewer)
    viewer.show()
    qtbot.waitUntil(lambda: len(viewer.canvas.faces()) == 1, timeout=WAIT_MS)
    assert "1 face ·" in viewer.caption.text()

    menu = viewer.face_menu(album.face(dogs[0]))
    (action,) = [a for a in menu.actions() if a.text().startswith(NOT_A_FACE_TEXT)]
    assert action.isEnabled()
    action.trigger()

    qtbot.waitUntil(lambda: viewer.canvas.faces()[0].not_a_face, timeout=WAIT_MS)
    assert album.face(dogs[0]).not_a_face
    assert viewer.canvas.faces()[0].label == NOT_A_FACE_TEXT
    assert "0 faces (and 1 not a face)" in viewer.caption.text()  # the count leaves it out
    menu = viewer.face_menu(album.face(dogs[0]))
    assert [a for a in menu.actions() if a.text().startswith(IS_A_FACE_TEXT)]

    win.undo()  # Edit > Undo
    qtbot.waitUntil(lambda: not viewer.canvas.faces()[0].not_a_face, timeout=WAIT_MS)
    assert album.not_a_face_ids() == []

    # The key acts on the face under the pointer.
    other = PhotoViewer(win.context, album.face(bob[0]).photo_id, win)
    qtbot.addWidget(other)
    other.show()
    qtbot.waitUntil(lambda: len(other.canvas.faces()) == 1, timeout=WAIT_MS)
    other.activateWindow()
    qtbot.waitUntil(other.isActiveWindow)
    canvas = other.canvas
    over_face = QPointF(canvas.width() / 2, canvas.height() * 0.4)  # inside BOX
    move = QMouseEvent(
        QEvent.Type.MouseMove,
        over_face,
        canvas.mapToGlobal(over_face),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(canvas, move)  # what the pointer moving over it delivers
    assert canvas.hovered_key == bob[0]
    qtbot.keyClick(canvas, Qt.Key.Key_Delete, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: album.face(bob[0]).not_a_face, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: canvas.faces()[0].not_a_face, timeout=WAIT_MS)
    qtbot.keyClick(canvas, Qt.Key.Key_Delete, Qt.KeyboardModifier.ShiftModifier)  # again
    qtbot.waitUntil(lambda: not album.face(bob[0]).not_a_face, timeout=WAIT_MS)
    QApplication.processEvents()


def test_help_lists_the_not_a_face_key(qtbot, window):
    from PySide6.QtGui import QAction

    from facealbum.ui.not_a_face import NOT_A_FACE_KEY

    win, _people = window
    next(a for a in win.findChildren(QAction) if a.text() == "Keyboard shortcuts").trigger()
    qtbot.waitUntil(lambda: getattr(win, "shortcuts_dialog", None) is not None)
    text = win.shortcuts_dialog.label.text()
    # People page, Faces page and photo view
    assert text.count(f"<tt>{NOT_A_FACE_KEY}</tt>") == 3
    assert "the face under the pointer" in text and "the selected groups are pets" in text


# -- real detections ----------------------------------------------------------------------


@pytest.mark.slow
def test_a_real_face_marked_not_a_face_stays_marked_through_an_edit_and_a_redetection(
    faces_dir: Path, tmp_path: Path
):
    """A portrait on a poster, say: the user marks it; the photo is edited (saved again
    smaller), rescanned, and its faces found again with another detector."""
    from library_builder import OBAMA, build_folder, reduced_copy

    photos = tmp_path / "photos"
    build_folder(faces_dir, photos, OBAMA)
    with Album.open(tmp_path / "library") as album:
        album.update_settings(Settings(workers=1, detector="yunet"))
        album.add_folder(photos)
        album.scan()
        poster = next(f for p in album.photo_ids() for f in album.faces_in_photo(p))
        other = next(f for p in album.photo_ids() for f in album.faces_in_photo(p) if f != poster)
        album.mark_not_a_face([poster.id])
        reduced_copy(faces_dir / OBAMA[0], Path(poster.photo), long_side=560, quality=80)
        reduced_copy(faces_dir / OBAMA[1], Path(other.photo), long_side=560, quality=80)

        assert album.scan().done == 2

        def marked() -> list[bool]:
            return [f.not_a_face for f in album.faces_in_photo(poster.photo_id)]

        assert marked() == [True]
        assert [f.not_a_face for f in album.faces_in_photo(other.photo_id)] == [False]
        album.find_faces_again(detector="hog")
        assert marked() == [True]
        marked_ids = [f.id for f in album.faces_in_photo(poster.photo_id)]
        assert album.not_a_face_ids() == marked_ids
        assert not set(marked_ids) & grouped_faces(album)
        (kept,) = album.faces_in_photo(other.photo_id)
        assert not {m.face_id for m in album.similar_to_face(kept.id)} & set(marked_ids)
