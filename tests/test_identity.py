"""Identity search: "every photo of this person, and no one else's"."""

from __future__ import annotations

import numpy as np
import pytest
from helpers_storage import BOX, write_as_scan

from facealbum.album import Album
from facealbum.db import scan_writes
from facealbum.engine.faceset import FaceTable
from facealbum.engine.identity import MAYBE, NOT, SAME, identify
from facealbum.model import Face, PhotoAnalysis, Tier

# Orthonormal directions: a point `d` along one of them from a centre is `d` from it, and
# points along different ones are sqrt(a^2 + b^2) apart.
AXES = np.linalg.qr(np.random.default_rng(7).normal(size=(128, 128)))[0].T.astype(np.float32)
CENTRE = (AXES[127] * 0.9).astype(np.float32)


def at(*steps: tuple[int, float]) -> np.ndarray:
    """CENTRE moved `length` along each (axis, length)."""
    v = CENTRE.copy()
    for axis, length in steps:
        v += AXES[axis] * length
    return v


class Faces:
    """A candidate table built face by face: id = row + 1, one photo each unless told."""

    def __init__(self) -> None:
        self.rows: list[tuple[np.ndarray, int, int, str | None]] = []

    def add(self, vector: np.ndarray, *, photo: int | None = None, person: int = 0,
            by: str | None = None) -> int:  # fmt: skip
        self.rows.append((vector, photo or 1000 + len(self.rows), person, by))
        return len(self.rows)

    def table(self) -> FaceTable:
        return FaceTable.of(
            np.arange(1, len(self.rows) + 1),
            np.array([r[0] for r in self.rows]),
            [r[1] for r in self.rows],
            person_ids=[r[2] for r in self.rows],
            assigned_by=[r[3] for r in self.rows],
        )


def tiers(faces: Faces, query: np.ndarray, **kw) -> dict[int, int]:
    found = identify(faces.table(), query, kw.pop("tolerance", 0.6), **kw)
    return {i + 1: int(t) for i, t in enumerate(found.tiers)}


QUERY = at((0, 0.25))


def test_a_stranger_at_055_from_the_query_is_only_a_maybe():
    faces = Faces()
    own = faces.add(at((1, 0.25)))  # 0.35 from the query
    stranger = faces.add(at((0, 0.25), (2, 0.55)))  # 0.55 from the query
    assert tiers(faces, QUERY) == {own: SAME, stranger: MAYBE}


def test_a_photo_far_from_the_query_but_close_to_the_persons_confirmed_faces_is_the_person():
    faces = Faces()
    ann = [faces.add(at((i, 0.2)), person=5, by="user") for i in (1, 2, 3)]
    far = faces.add(at((0, -0.4)))  # 0.65 from the query, 0.45 from each of Ann's faces
    found = tiers(faces, QUERY)
    assert found[far] == SAME
    assert all(found[f] == SAME for f in ann)  # the query is recognised as Ann
    assert identify(faces.table(), QUERY, 0.6).person_id == 5


def test_without_the_names_the_same_far_photo_needs_its_links():
    faces = Faces()
    faces.add(at((1, 0.2)))
    lone = faces.add(at((0, -0.4)))  # one result near it: one link is not enough
    assert tiers(faces, QUERY)[lone] == NOT


def test_a_rejected_face_never_is_the_person():
    faces = Faces()
    faces.add(at((1, 0.2)), person=5, by="user")
    rejected = faces.add(at((2, 0.2)))  # 0.32 from the query: close, and rejected for Ann
    assert tiers(faces, QUERY, rejected=[rejected])[rejected] == NOT


def test_another_persons_confirmed_face_is_never_the_person():
    faces = Faces()
    faces.add(at((1, 0.2)), person=5, by="user")  # Ann, 0.32 from the query
    bob = faces.add(at((2, 0.41)), person=6, by="user")  # Bob, 0.48 from the query
    assert tiers(faces, QUERY)[bob] == NOT


def test_two_faces_of_one_photo_are_never_both_the_person():
    faces = Faces()
    nearer = faces.add(at((1, 0.2)), photo=7)
    farther = faces.add(at((2, 0.3)), photo=7)
    found = tiers(faces, QUERY)
    assert (found[nearer], found[farther]) == (SAME, NOT)


def test_a_look_alike_does_not_bring_his_photos_after_the_two_that_came_too_close():
    faces = Faces()
    for axis in (1, 2, 3):
        faces.add(at((axis, 0.3)))  # the person's photos, 0.39 from the query
    # Two of his photos come within 0.47 of the query: they cannot be told apart. His
    # others sit 0.25 from those, 0.52 from the query and 0.6 from the person's photos:
    # two links to him are no evidence of being the person.
    closest = [faces.add(at((0, 0.25), (4, 0.47), (axis, 0.02))) for axis in (8, 9)]
    others = [faces.add(at((0, 0.25), (4, 0.45), (axis, 0.25))) for axis in (5, 6, 7)]
    found = tiers(faces, QUERY)
    assert [found[f] for f in closest] == [SAME, SAME]
    assert [found[f] for f in others] == [MAYBE, MAYBE, MAYBE]


def test_the_confidence_does_not_move_with_the_tolerance():
    faces = Faces()
    faces.add(at((1, 0.2)))
    faces.add(at((2, 0.45)))
    wide = identify(faces.table(), QUERY, 0.6)
    narrow = identify(faces.table(), QUERY, 0.45)
    assert np.array_equal(wide.confidence, narrow.confidence)
    assert list(narrow.tiers) == [SAME, NOT] and list(wide.tiers) == [SAME, MAYBE]
    assert wide.confidence[0] > 0.99 and wide.confidence[1] < wide.confidence[0]


# -- through the facade -------------------------------------------------------------------


@pytest.fixture
def album(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    with Album.open(tmp_path / "lib") as album:
        album.add_folder(photos)
        yield album


def add_photo(album: Album, name: str, *vectors: np.ndarray) -> list[int]:
    folder = album.folders()[0]
    faces = tuple(Face(BOX, 0.95, 120, 50.0, v) for v in vectors)
    analysis = PhotoAnalysis(f"{folder.path}/{name}", 1, 0.0, name, 640, 480, None, faces)

    def write(conn) -> scan_writes.FaceChanges:
        return scan_writes.save_analysis(conn, folder.id, analysis)[1]

    return list(write_as_scan(album, write).added_ids)


def test_the_facade_lists_the_same_person_tier_first_and_every_photo(album):
    (query,) = add_photo(album, "query.jpg", QUERY)
    own = [add_photo(album, f"own{i}.jpg", at((i, 0.25)))[0] for i in range(1, 16)]
    (stranger,) = add_photo(album, "stranger.jpg", at((0, 0.25), (20, 0.55)))
    found = album.similar_to_face(query)
    assert [m.tier for m in found] == [Tier.SAME] * 15 + [Tier.MAYBE]
    assert {m.face_id for m in found[:15]} == set(own)  # all of them: no top 10
    assert found[-1].face_id == stranger
    assert all(m.confidence is not None and 0 <= m.confidence <= 1 for m in found)
    assert [m.face_id for m in album.similar_to_face(query, maybe=False)] == [
        m.face_id for m in found[:15]
    ]
    assert len(album.similar_to_face(query, top=3)) == 3


def test_the_facade_honours_rejections_and_the_persons_confirmed_faces(album):
    ann = [add_photo(album, f"ann{i}.jpg", at((i, 0.2)))[0] for i in (1, 2, 3)]
    ann_id = album.create_person("Ann")
    album.assign_faces(ann, ann_id)
    (far,) = add_photo(album, "far.jpg", at((0, -0.35)))
    (close,) = add_photo(album, "close.jpg", at((4, 0.2)))
    album.reject(close, ann_id)
    matches = album.search_person(QUERY)
    found = {m.face_id: m.tier for m in matches}
    assert found == {ann[0]: Tier.SAME, ann[1]: Tier.SAME, ann[2]: Tier.SAME, far: Tier.SAME}
    # Each match says whom its face is named as: no second look-up for the name.
    assert {m.face_id: m.person_name for m in matches} == {**dict.fromkeys(ann, "Ann"), far: None}
    nearest = album.similar_to_encoding(QUERY, top=1)
    assert [m.person_name for m in nearest] == ["Ann"]


def test_a_query_far_from_every_face_finds_nobody(album):
    add_photo(album, "someone_else.jpg", at((1, 0.9)))
    assert album.search_person(QUERY) == []
