"""Finding faces again with another detector keeps every decision the user made."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest
from helpers_storage import forget_detectors, library_store
from library_builder import GROUP, OBAMA, OTHERS, build_folder

from facealbum.album import Album
from facealbum.config import DEFAULT_MIN_FACE_PX, Settings
from facealbum.db import people_queries, queries
from facealbum.model import ScanProgress

pytestmark = pytest.mark.slow


@pytest.fixture
def hog_library(faces_dir: Path, tmp_path: Path):
    """A library scanned with HOG, as libraries were before YuNet: its faces named, one
    face rejected for Obama."""
    photos = tmp_path / "photos"
    build_folder(faces_dir, photos, (*OBAMA, *OTHERS, GROUP))
    album = Album.open(tmp_path / "library")
    album.update_settings(Settings(workers=1, detector="hog"))
    album.add_folder(photos)
    album.scan()
    yield album
    album.close()


def _faces(album: Album) -> dict[str, list]:
    photos = album.photos(album.photo_ids())
    return {Path(i.path).stem: album.faces_in_photo(pid) for pid, i in photos.items()}


def test_finding_faces_again_keeps_names_confirmations_and_rejections(hog_library: Album):
    album = hog_library
    faces = _faces(album)
    obama = album.create_person("Obama")
    album.assign_faces([faces["obama_1"][0].id, faces["obama_2"][0].id], obama)
    kit, rose = sorted(faces["kit_with_rose"], key=lambda f: f.box.left)
    album.assign_faces([kit.id], album.create_person("Kit"))
    album.reject(faces["biden_2"][0].id, obama)
    before = {f.id: (f.person_name, f.assigned_by) for fs in _faces(album).values() for f in fs}

    final = album.find_faces_again(detector="yunet")

    assert final.phase == "done" and final.errors == 0 and final.total == 6
    assert album.settings.detector == "yunet"
    after = {f.id: f for fs in _faces(album).values() for f in fs}
    for face_id, (name, how) in before.items():
        if name is not None:  # same face row, same person, same kind of assignment
            assert (after[face_id].person_name, after[face_id].assigned_by) == (name, how)
    rejected = people_queries.rejected_for(library_store(album).conn, obama)
    assert faces["biden_2"][0].id in rejected
    # The faces now come from YuNet: the photos say so, and nothing is left to redo.
    assert album.find_faces_again(detector="yunet").total == 0


def test_a_named_face_the_new_detector_misses_is_kept(hog_library: Album):
    album = hog_library
    kit, rose = sorted(_faces(album)["kit_with_rose"], key=lambda f: f.box.left)
    album.assign_faces([kit.id], album.create_person("Kit"))
    # A detector that looks only at huge faces misses both faces of the group photo.
    album.update_settings(replace(album.settings, min_face_px=2000))

    album.find_faces_again(detector="yunet")

    kept = {f.id: f.person_name for f in _faces(album)["kit_with_rose"]}
    assert kept == {kit.id: "Kit"}  # the named one stays, the unnamed one goes


def test_a_cancelled_redetection_resumes_where_it_stopped(hog_library: Album):
    album = hog_library
    cancel = threading.Event()

    def stop_after_two(p: ScanProgress) -> None:
        if p.phase == "scanning" and p.done >= 2:
            cancel.set()

    first = album.find_faces_again(detector="yunet", progress=stop_after_two, cancel=cancel)
    assert first.phase == "cancelled" and first.done < 6
    (folder,) = album.folders()
    known = queries.known_photos(library_store(album).conn, folder.id).values()
    done = sum(1 for *_, detector in known if detector == "yunet")
    second = album.find_faces_again(detector="yunet")
    assert second.phase == "done" and second.total == 6 - done


def test_a_library_made_before_yunet_keeps_hog_until_its_faces_are_found_again(
    hog_library: Album,
):
    # Libraries made before detectors were recorded have no detector in their settings
    # file (or no settings file) and NULL detectors on their photos: they stay with HOG,
    # so that new photos are boxed like the old ones.
    directory = hog_library.directory
    forget_detectors(hog_library)
    hog_library.close()
    (directory / "settings.json").unlink()
    with Album.open(directory) as album:
        assert album.settings.detector == "hog"
        assert album.find_faces_again().total == 6
    with Album.open(directory) as album:  # the choice is now written down
        assert album.settings.detector == "yunet"


def test_a_new_library_finds_faces_with_yunet(tmp_path: Path):
    with Album.open(tmp_path / "library") as album:
        assert album.settings.detector == "yunet"
        assert album.settings.min_face_px == DEFAULT_MIN_FACE_PX == 16
