"""The library's faces for a face browser: all, unnamed or in no group; newest first or
shuffled; never a face the user said is no face."""

from __future__ import annotations

import numpy as np
import pytest
from helpers_storage import BOX, write_as_scan

from facealbum.album import Album, LibraryError
from facealbum.db import scan_writes
from facealbum.model import Face, PhotoAnalysis


def add_photo(album: Album, name: str, taken_at: str, seed: int) -> int:
    folder = album.folders()[0]
    vector = np.random.default_rng(seed).normal(0, 0.08, 128).astype(np.float32)
    face = Face(BOX, 0.9, 90, 40.0, vector)
    analysis = PhotoAnalysis(f"{folder.path}/{name}", 1, 0.0, name, 640, 480, taken_at, (face,))
    write = lambda conn: scan_writes.save_analysis(conn, folder.id, analysis)[1]  # noqa: E731
    (face,) = write_as_scan(album, write).added_ids
    return face


def test_faces_are_listed_newest_first_by_filter_and_shuffled_reproducibly(tmp_path):
    (tmp_path / "photos").mkdir()
    with Album.open(tmp_path / "lib") as album:
        album.add_folder(tmp_path / "photos")
        old = add_photo(album, "old.jpg", "2001-01-01T00:00:00", 1)
        new = add_photo(album, "new.jpg", "2020-01-01T00:00:00", 2)
        named = add_photo(album, "named.jpg", "2010-01-01T00:00:00", 3)
        dog = add_photo(album, "dog.jpg", "2015-01-01T00:00:00", 4)
        album.assign_faces([named], album.create_person("Ann"))
        album.mark_not_a_face([dog])
        assert album.face_ids() == [new, named, old]
        assert album.face_ids("unnamed") == [new, old]
        assert album.face_ids("ungrouped") == [new, old]  # alone: no group holds them
        shuffled = album.face_ids(shuffle_seed=5)
        assert sorted(shuffled) == sorted([new, named, old])
        assert album.face_ids(shuffle_seed=5) == shuffled
        with pytest.raises(LibraryError):
            album.face_ids("everyone")
