"""The Album facade over real photos: scan, rescan, search, folders, index recovery."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from helpers_storage import library_store, stamp_analysed_at, write_as_scan
from library_builder import GROUP, NO_FACE, OBAMA, OTHERS, build_folder, corrupt_photo, move
from library_builder import reduced_copy as reduced

from facealbum.album import Album, LibraryError
from facealbum.db import queries
from facealbum.engine.images import ImageLoadError
from facealbum.model import ScanProgress

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scanned(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A library of 7 photos (7 faces), one photo without a face and one corrupt file."""
    root = tmp_path_factory.mktemp("scanned")
    photos = root / "photos"
    build_folder(faces_dir, photos, OBAMA + OTHERS + (GROUP, NO_FACE))
    corrupt_photo(photos / "broken.jpg")
    reports: list[ScanProgress] = []
    with Album.open(root / "library") as album:
        album.add_folder(photos)
        final = album.scan(progress=reports.append)
    return root / "library", photos, final, reports


@pytest.fixture
def library(scanned, tmp_path: Path):
    """A fresh copy of the scanned library (same photos) for one test."""
    lib = tmp_path / "library"
    shutil.copytree(scanned[0], lib)
    with Album.open(lib) as album:
        yield album


def face_of(album: Album, name: str) -> int:
    (pid,) = [
        p for p, info in album.photos(album.photo_ids()).items() if Path(info.path).stem == name
    ]
    return album.faces_in_photo(pid)[0].id


def test_scan_finds_every_face_and_reports_progress(scanned, library: Album):
    _, photos, final, reports = scanned
    assert final.phase == "done"
    assert (final.done, final.total, final.faces_found, final.errors) == (8, 8, 7, 1)
    assert final.last_error.startswith(str(photos / "broken.jpg"))
    assert [r.phase for r in reports][-1] == "done"
    assert {r.phase for r in reports} >= {"scanning", "done"}
    committed = [pid for r in reports for pid in r.new_photo_ids]
    assert sorted(committed) == sorted(library.photo_ids())
    stats = library.stats()
    assert (stats["photos"], stats["faces"], stats["errors"]) == (8, 7, 1)
    assert stats["index"]["size"] == 7 and stats["index"]["state"] == "loaded"
    (folder,) = library.folders()
    assert (folder.path, folder.photo_count, folder.face_count, folder.available) == (
        str(photos.resolve()), 8, 7, True,
    )  # fmt: skip
    infos = library.photos(library.photo_ids()).values()
    broken = next(i for i in infos if i.path.endswith("broken.jpg"))
    assert broken.status == "error" and broken.error and broken.face_count == 0
    group = next(i for i in infos if Path(i.path).stem == Path(GROUP).stem)
    assert group.face_count == 2 and group.width and group.height


def test_searching_a_new_photo_finds_the_same_person_first(
    faces_dir: Path, library: Album, tmp_path
):
    query = reduced(faces_dir / "people/barack_obama/obama_4.jpg", tmp_path / "q.jpg")
    ((face, matches),) = library.search_image(query, top=3)
    assert matches, "Obama's other photos should match"
    assert Path(matches[0].photo).stem.startswith("obama")
    assert all(m.distance <= library.settings.tolerance for m in matches)
    assert [m.distance for m in matches] == sorted(m.distance for m in matches)
    assert len({m.photo_id for m in matches}) == len(matches)  # one per photo


def test_similar_to_face_excludes_its_own_photo(library: Album):
    face_id = face_of(library, "obama_1")
    own_photo = library.face(face_id).photo_id
    matches = library.similar_to_face(face_id)
    assert matches and Path(matches[0].photo).stem == "obama_2"
    assert own_photo not in {m.photo_id for m in matches}
    assert library.similar_to_face(face_id, tolerance=0.01) == []
    with pytest.raises(LibraryError):
        library.similar_to_face(999_999)


def test_similar_to_encoding_is_one_match_per_photo(library: Album):
    enc = queries.encoding_of(library_store(library).conn, face_of(library, "obama_2"))
    matches = library.similar_to_encoding(enc, top=10, tolerance=1.2)
    assert matches[0].distance == pytest.approx(0.0, abs=1e-5)
    assert len(matches) == 6  # 7 faces in 6 photos (the group photo has two)


def test_faces_in_image_takes_arrays_and_rejects_bad_files(faces_dir, library: Album, tmp_path):
    from PIL import Image

    photo = reduced(faces_dir / OBAMA[0], tmp_path / "o.jpg")
    pixels = np.asarray(Image.open(photo).convert("RGB"))
    assert len(library.faces_in_image(pixels)) == 1
    with pytest.raises(ImageLoadError):
        library.faces_in_image(corrupt_photo(tmp_path / "x.jpg"))


def test_a_deleted_or_corrupt_index_is_rebuilt_and_search_still_right(library: Album):
    face_id = face_of(library, "obama_1")
    before = library.similar_to_face(face_id)
    directory = library.directory
    library.close()
    shutil.rmtree(directory / "index")
    with Album.open(directory) as album:
        assert album.index_state.startswith("rebuilt")
        assert album.similar_to_face(face_id) == before
    for f in (directory / "index").iterdir():
        if f.is_file() and f.stat().st_size > 64:
            f.write_bytes(b"\0" * f.stat().st_size)
    with Album.open(directory) as album:
        assert album.index_state.startswith("rebuilt")
        assert album.similar_to_face(face_id) == before
    with Album.open(directory) as album:
        assert album.index_state == "loaded"


def test_rescan_follows_adds_edits_deletes_moves_and_touches(faces_dir: Path, tmp_path: Path):
    photos = tmp_path / "photos"
    obama1, biden, guido, clapton = build_folder(faces_dir, photos, (OBAMA[0], *OTHERS))
    with Album.open(tmp_path / "lib") as album:
        album.add_folder(photos)
        assert album.scan().faces_found == 4
        ids = {Path(i.path).stem: i.id for i in album.photos(album.photo_ids()).values()}
        face = {stem: album.faces_in_photo(pid)[0].id for stem, pid in ids.items()}
        album.assign_faces(list(face.values()), album.create_person("Guido"))
        stamp_analysed_at(album, "sentinel")

        reduced(faces_dir / OBAMA[1], photos / "obama_2.jpg")  # added
        reduced(faces_dir / OTHERS[1], guido, quality=70)  # edited: same face, new bytes
        clapton.unlink()  # deleted
        moved = move(biden, photos / "2019")  # moved
        os.utime(obama1, (1_000_000_000, 1_000_000_000))  # touched: same content

        final = album.scan()
        assert final.phase == "done" and final.total == 4 and final.errors == 0
        assert final.faces_found == 1  # only obama_2's face is new
        by_path = {i.path: i for i in album.photos(album.photo_ids()).values()}
        assert set(by_path) == {str(p) for p in (obama1, guido, moved, photos / "obama_2.jpg")}
        # the move kept the photo, its face id and was not analysed again
        assert by_path[str(moved)].id == ids["biden_2"]
        assert [f.id for f in album.faces_in_photo(ids["biden_2"])] == [face["biden_2"]]
        conn = library_store(album).conn
        scanned_at = {path: queries.scanned_at(conn, info.id) for path, info in by_path.items()}
        assert scanned_at[str(moved)] == scanned_at[str(obama1)] == "sentinel"
        # the edit was analysed again and kept the name of the face
        assert scanned_at[str(guido)] != "sentinel"
        (guido_face,) = album.faces_in_photo(ids["guido_3"])
        assert (guido_face.id, guido_face.person_name) == (face["guido_3"], "Guido")
        stats = album.stats()
        assert stats["faces"] == stats["index"]["size"] == 4
        assert album.scan().total == 0  # nothing left to do


def test_a_missing_folder_keeps_its_photos(faces_dir: Path, tmp_path: Path):
    photos = tmp_path / "drive"
    build_folder(faces_dir, photos, OBAMA[:1])
    with Album.open(tmp_path / "lib") as album:
        album.add_folder(photos)
        album.scan()
        photos.rename(tmp_path / "unplugged")
        final = album.scan()
        assert final.errors == 0
        assert [(o.path, o.photos_kept) for o in final.offline] == [(str(photos), 1)]
        assert final.offline[0].reason.startswith("not found")
        assert album.stats()["photos"] == 1
        assert album.folders()[0].available is False


def test_cancel_stops_the_scan_and_a_rescan_finishes(faces_dir: Path, tmp_path: Path):
    photos = tmp_path / "photos"
    build_folder(faces_dir, photos, OBAMA + OTHERS)
    cancel = threading.Event()

    def stop_after_first(p: ScanProgress) -> None:
        if p.phase == "scanning" and p.done >= 1:
            cancel.set()

    with Album.open(tmp_path / "lib") as album:
        album.add_folder(photos)
        first = album.scan(progress=stop_after_first, cancel=cancel)
        assert first.phase == "cancelled" and first.done < 5
        kept = album.stats()["photos"]
        second = album.scan()
        assert second.phase == "done" and second.total == 5 - kept
        assert album.stats()["faces"] == 5


def test_folder_rules(tmp_path: Path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "file.jpg").write_bytes(b"x")
    with Album.open(tmp_path / "lib") as album:
        with pytest.raises(LibraryError, match="no such folder"):
            album.add_folder(tmp_path / "missing")
        with pytest.raises(LibraryError, match="not a folder"):
            album.add_folder(tmp_path / "file.jpg")
        inner = album.add_folder(tmp_path / "a" / "b")
        with pytest.raises(LibraryError, match="already"):
            album.add_folder(tmp_path / "a" / "b")
        outer = album.add_folder(tmp_path / "a")  # absorbs the inner folder
        assert [f.id for f in album.folders()] == [outer.id] != [inner.id]
        with pytest.raises(LibraryError, match="already"):
            album.add_folder(tmp_path / "a" / "b")
        assert album.remove_folder(tmp_path / "a") == 0
        assert album.folders() == []
        with pytest.raises(LibraryError):
            album.remove_folder(tmp_path / "a")
        with pytest.raises(LibraryError, match="add it first"):
            album.scan([tmp_path / "a"])


def test_removing_a_folder_forgets_its_photos_faces_and_index_entries(library: Album):
    (folder,) = library.folders()
    assert library.remove_folder(folder.id) == 7
    stats = library.stats()
    assert (stats["photos"], stats["faces"], stats["index"]["size"]) == (0, 0, 0)


def test_opening_needs_a_library(tmp_path: Path):
    with pytest.raises(LibraryError, match="no facealbum library"):
        Album.open(tmp_path / "nothing", create=False)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "library.sqlite3").write_bytes(b"not a database at all" * 100)
    with pytest.raises(LibraryError, match="not a usable library"):
        Album.open(bad)


def test_settings_are_saved_with_the_library(tmp_path: Path):
    from dataclasses import replace

    with Album.open(tmp_path / "lib") as album:
        album.update_settings(replace(album.settings, tolerance=0.5, workers=1))
    with Album.open(tmp_path / "lib") as album:
        assert (album.settings.tolerance, album.settings.workers) == (0.5, 1)


def test_faces_written_by_another_process_are_never_hidden_by_a_stale_index(tmp_path: Path):
    from facealbum.db import scan_writes
    from facealbum.model import Box, Face, PhotoAnalysis

    def add_photo(album: Album, name: str) -> None:
        face = Face(Box(0.1, 0.1, 0.3, 0.3), 1.0, 100, 50.0, np.full(128, 0.05, np.float32))
        analysis = PhotoAnalysis(f"/p/{name}", 1, 1.0, name, 10, 10, None, (face,))
        write_as_scan(album, lambda conn: scan_writes.save_analysis(conn, folder, analysis)[1])

    gui = Album.open(tmp_path / "lib")
    with library_store(gui).write() as conn:  # a folder whose photos need not exist
        folder = scan_writes.add_folder(conn, "/p", [])
    add_photo(gui, "a.jpg")
    with Album.open(tmp_path / "lib") as cli:  # e.g. `facealbum scan` while the app is open
        add_photo(cli, "b.jpg")
    gui.close()  # saves last: it must take in b's face before stamping the generation
    with Album.open(tmp_path / "lib") as album:
        assert album.index_state == "loaded"
        assert album.stats()["index"]["size"] == 2
