"""Long grouping jobs write in short batches: a user's action meanwhile gets in at once and
stands, and a job cut short resumes where it stopped.

The libraries are synthetic rows (no photos are decoded): encodings clustered like dlib's,
same person about 0.35 apart, two people about 1.4.
"""

from __future__ import annotations

import itertools
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from helpers_storage import every_face, group_new_faces, library_store, write_as_scan

from facealbum.album import Album
from facealbum.album import grouping as album_grouping
from facealbum.album.grouping import Batches, Grouping, batch_slices
from facealbum.db import people_queries, people_writes, queries, scan_writes
from facealbum.model import Box, Face, PhotoAnalysis

DIM = 128
SAME_PERSON_SPREAD = 0.022  # per dimension: about 0.35 between two faces of one person
PEOPLE_SPREAD = 0.09  # per dimension: about 1.4 between two people


def encodings(n_people: int, faces_each: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(faces, 128) float32 encodings in random order, and the person of each."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, PEOPLE_SPREAD, (n_people, DIM))
    who = rng.permutation(np.repeat(np.arange(n_people), faces_each))
    vectors = centres[who] + rng.normal(0, SAME_PERSON_SPREAD, (len(who), DIM))
    return vectors.astype(np.float32), who


def insert_photos(conn, vectors: np.ndarray) -> list[int]:
    """One photo per face, as a scan stores them (the files need not exist); returns the
    face ids."""
    folders = queries.folder_paths(conn)
    folder = min(folders)[0] if folders else scan_writes.add_folder(conn, "/photos", [])
    first = max(queries.photo_ids(conn), default=0) + 1  # a new name for each photo
    ids: list[int] = []
    for n, vector in enumerate(vectors, first):
        face = Face(Box(0.1, 0.1, 0.3, 0.4), 1.0, 200, 50.0, vector)
        photo = PhotoAnalysis(f"/photos/{n:06d}.jpg", 1000, 0.0, f"fp{n}", 640, 480, None, (face,))
        ids += scan_writes.save_analysis(conn, folder, photo)[1].added_ids
    return ids


def add_faces(album: Album, vectors: np.ndarray) -> list[int]:
    """New faces written through the facade, as a scan writes them (the index follows)."""
    ids: list[int] = []

    def write(conn) -> scan_writes.FaceChanges:
        ids.extend(insert_photos(conn, vectors))
        return scan_writes.FaceChanges(list(ids), list(vectors), [])

    write_as_scan(album, write)
    return ids


def groups_by_face(album: Album) -> dict[int, int]:
    return {f: g.id for g in album.groups(include_hidden=True) for f in g.face_ids}


def state(album: Album) -> tuple:
    return (
        [(f.id, f.person_id, f.assigned_by, f.group_id) for f in every_face(album)],
        people_queries.stored_suggestions(library_store(album).conn),
        sorted((s.face_id, s.name) for s in album.suggestions(source="xmp")),
    )


def before_write(monkeypatch: pytest.MonkeyPatch, n: int, action) -> None:
    """Run `action` once, just before the n-th write transaction of a long grouping job
    (the lock is free then, as it is between any two of them)."""
    original = Batches._write
    count = itertools.count(1)

    def write(self: Batches):
        if next(count) == n:
            action()
        return original(self)

    monkeypatch.setattr(Batches, "_write", write)


def test_batches_cut_between_photos_and_never_exceed_their_size():
    keys = np.array([1, 1, 2, 2, 2, 3, 4, 4, 4, 4, 4, 5])
    slices = batch_slices(keys, 3)
    assert [keys[s].tolist() for s in slices] == [
        [1, 1],
        [2, 2, 2],
        [3],
        [4, 4, 4],
        [4, 4, 5],  # a run longer than a batch is cut, and shares its last one
    ]
    assert batch_slices(np.array([], np.int64), 3) == []


def test_user_actions_between_batches_of_a_full_regroup_stand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    vectors, who = encodings(12, 6)
    with Album.open(tmp_path / "library") as album:
        face_ids = add_faces(album, vectors)
        person_of = dict(zip(face_ids, who.tolist(), strict=True))
        group_new_faces(album)
        faces_of = lambda p: [f for f in face_ids if person_of[f] == p]  # noqa: E731
        ann = album.name_group(groups_by_face(album)[faces_of(0)[0]], "Ann")
        with library_store(album).write() as conn:  # every group new: the regroup makes fresh ids
            people_writes.set_groups(conn, None, face_ids, [0] * len(face_ids))
        other = Album.open(tmp_path / "library")  # the user, in another window

        gone = faces_of(2)[0]

        def delete_photo(conn) -> scan_writes.FaceChanges:
            return scan_writes.remove_photos(conn, [other.face(gone).photo])

        def meanwhile() -> None:
            # After the regroup read the faces: some named, some unassigned (grouped again,
            # with ids the regroup also meant to give), a photo deleted.
            other.assign_faces(faces_of(1), other.create_person("Bob"))
            other.delete_person(ann)
            write_as_scan(other, delete_photo)

        before_write(monkeypatch, 1, meanwhile)
        album.regroup(full=True, batch_size=8)
        other.close()

        bob = album.person_id("Bob")
        assert all(album.face(f).person_id == bob for f in faces_of(1))
        assert all(album.face(f).group_id is None for f in faces_of(1))
        assert album.face(gone) is None
        grouped = groups_by_face(album)
        for group in album.groups():
            assert len({person_of[f] for f in group.face_ids}) == 1, "two people in one group"
        assert len({grouped.get(f) for f in faces_of(0)}) == 1, "Ann's faces are together"
        assert grouped.get(faces_of(0)[0]) is not None
        assert len({grouped.get(f) for f in faces_of(3)}) == 1


@pytest.mark.slow
def test_a_name_given_during_a_full_regroup_of_a_large_library_is_saved_at_once(
    tmp_path: Path,
):
    vectors, _ = encodings(1_000, 20)
    with Album.open(tmp_path / "library") as album:
        # Straight into the store: the index stays empty and the regroup builds its own
        # search over all 20k faces, which takes it several seconds.
        with library_store(album).write() as conn:
            insert_photos(conn, vectors)
        other = Album.open(tmp_path / "library")
        library_store(other).busy_timeout_s = 2.0  # for the connection of the thread below
        waits: list[float] = []
        errors: list[Exception] = []
        regroup = threading.Thread(target=lambda: album.regroup(full=True))

        def name_people() -> None:
            while regroup.is_alive():
                start = time.monotonic()
                try:
                    other.create_person(f"Visitor {len(waits)}")
                except Exception as e:  # noqa: BLE001  (a lost name is what is tested)
                    errors.append(e)
                waits.append(time.monotonic() - start)
                time.sleep(0.05)

        namer = threading.Thread(target=name_people)
        regroup.start()
        namer.start()
        regroup.join()
        namer.join()
        other.close()
        assert not errors, errors[0]
        assert len(waits) >= 10, "the regroup ended too soon to test anything"
        assert max(waits) < 1.0
        names = {p.name for p in album.people()}
        assert names == {f"Visitor {i}" for i in range(len(waits))}
        assert len(album.groups()) > 900


def test_an_interrupted_update_after_a_scan_resumes_without_skipping_or_redoing_a_face(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    vectors, who = encodings(10, 10)
    lib = tmp_path / "library"
    with Album.open(lib) as album:
        first = add_faces(album, vectors[:40])
        group_new_faces(album)
        group = groups_by_face(album)[first[int(np.flatnonzero(who[:40] == 0)[0])]]
        album.name_group(group, "Ann")  # her new faces are assigned automatically
        new = add_faces(album, vectors[40:])
    shutil.copytree(lib, tmp_path / "uninterrupted")
    with Album.open(tmp_path / "uninterrupted") as album:
        assert group_new_faces(album, batch_size=20) == 60
        expected = state(album)

    writes = itertools.count(1)
    write_suggestions = album_grouping.write_suggestions

    def killed_in_second_batch(*args, **kwargs):
        if next(writes) == 2:
            raise RuntimeError("killed")
        return write_suggestions(*args, **kwargs)

    with Album.open(lib) as album:
        monkeypatch.setattr(album_grouping, "write_suggestions", killed_in_second_batch)
        with pytest.raises(RuntimeError, match="killed"):
            group_new_faces(album, batch_size=20)
        assert library_store(album).meta("people_processed_face_id") == str(new[19])
        assert all(album.face(f).group_id is None for f in new[20:])
        monkeypatch.setattr(album_grouping, "write_suggestions", write_suggestions)
        planned: list[int] = []
        plan_join = Grouping.plan_join

        def spy(self: Grouping, conn, face_ids, *args):
            planned.extend(face_ids)
            return plan_join(self, conn, face_ids, *args)

        monkeypatch.setattr(Grouping, "plan_join", spy)
        assert group_new_faces(album, batch_size=20) == 40
        assert planned == new[20:], "each face not done yet, once"
        assert state(album) == expected
        assert group_new_faces(album, batch_size=20) == 0
