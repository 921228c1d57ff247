"""Grouping unknown faces, joining new ones, and suggesting named people."""

from __future__ import annotations

import numpy as np
import pytest

from facealbum.engine import cluster
from facealbum.engine.cluster import (
    UNGROUPED,
    Cancelled,
    bcubed,
    carry_group_ids,
    group_faces,
    regroup,
    singletons_apart,
)
from facealbum.engine.faceset import ASSIGNED_AUTO, ASSIGNED_USER, FaceTable
from facealbum.engine.incremental import join_new_faces
from facealbum.engine.knn import exact_knn, restricted_knn
from facealbum.engine.quality import is_groupable
from facealbum.engine.suggest import suggest_people

DIM = 128
# The largest distance float32 rounding can give a face to itself (see below).
FLOAT32_SELF_DISTANCE = 2e-3


def people(n_people: int, per_person: int, seed: int = 0, spread: float = 0.012):
    """Encodings of n_people well-separated people (centres ~0.9 apart, faces ~0.2 from
    their centre, as dlib's are), one face per photo; returns (encodings, identity)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 0.056, (n_people, DIM))
    identity = np.repeat(np.arange(n_people), per_person)
    enc = centres[identity] + rng.normal(0, spread, (len(identity), DIM))
    return enc.astype(np.float32), identity


def table(enc, photos=None, **kw) -> FaceTable:
    ids = np.arange(1, len(enc) + 1) * 10  # ids unlike row numbers, to catch mix-ups
    photos = np.arange(len(enc)) + 100 if photos is None else photos
    return FaceTable.of(ids, enc, photos, **kw)


def test_groups_follow_people():
    enc, who = people(5, 8)
    labels = group_faces(enc, np.arange(len(enc)))
    precision, recall = bcubed(who, singletons_apart(labels))
    assert precision == 1.0 and recall == 1.0


def test_a_cancel_during_the_neighbour_search_stops_it_after_the_part_it_is_in(monkeypatch):
    monkeypatch.setattr(cluster, "QUERIES_PER_PART", 10)
    enc, _ = people(5, 8)
    searched: list[int] = []
    knn = exact_knn(enc, np.arange(len(enc)))

    def counted(queries: np.ndarray, k: int):
        searched.append(len(queries))
        return knn(queries, k)

    with pytest.raises(Cancelled):
        group_faces(enc, np.arange(len(enc)), counted, cancelled=lambda: bool(searched))
    assert searched == [10]  # of 40 faces: the other three parts were never searched


def test_a_cancel_during_the_merges_stops_them(monkeypatch):
    monkeypatch.setattr(cluster, "MERGES_PER_PART", 5)
    enc, _ = people(5, 8)
    asked = []

    def cancelled() -> bool:  # no to the search, then no to the first part of the merges
        asked.append(True)
        return len(asked) > 2

    with pytest.raises(Cancelled):
        group_faces(enc, np.arange(len(enc)), cancelled=cancelled)
    asked.clear()
    group_faces(enc, np.arange(len(enc)), cancelled=lambda: asked.append(True) or False)
    assert len(asked) > 3  # not cancelled, it has more than two parts of merges to do


def test_two_faces_of_one_photo_never_share_a_group_even_when_identical():
    enc, _ = people(1, 6)
    enc = np.vstack([enc, enc[:1] + 1e-5])  # the same face twice in photo 0
    photos = np.array([0, 1, 2, 3, 4, 5, 0])
    labels = group_faces(enc, photos)
    assert labels[0] != labels[6] or labels[0] == UNGROUPED
    assert (labels[1:6] == labels[1]).all() and labels[1] != UNGROUPED
    for label in set(labels.tolist()) - {UNGROUPED}:
        members = photos[labels == label]
        assert len(set(members.tolist())) == len(members)


def test_look_alike_chain_does_not_glue_two_people():
    # A walk of small steps from one person to another: every step is under the link
    # distance, so connected components would make one group of both people.
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 0.056, (2, DIM))
    steps = np.linspace(0, 1, 12)[:, None]
    path = (a + steps * (b - a)).astype(np.float32)
    crowd_a = a + rng.normal(0, 0.012, (10, DIM))
    crowd_b = b + rng.normal(0, 0.012, (10, DIM))
    enc = np.vstack([crowd_a, crowd_b, path]).astype(np.float32)
    labels = group_faces(enc, np.arange(len(enc)))
    assert labels[0] != labels[10]


def test_groupable_filter_keeps_clear_faces_and_drops_small_blurry_or_unmeasured():
    ok = is_groupable(
        np.array([120, 20, 120, 120, 37]),
        np.array([300.0, 300.0, 3.0, np.nan, 22.0]),
        np.array([1.2, 1.2, 1.2, 1.2, 0.1]),
    )
    assert ok.tolist() == [True, False, False, False, True]
    assert bool(is_groupable(80, 100.0, 0.5))


def test_ungroupable_faces_stay_out_of_groups():
    enc, _ = people(1, 5)
    faces = table(enc, groupable=[True, True, True, True, False])
    groups, _ = regroup(faces)
    assert groups[4] == 0 and (groups[:4] == groups[0]).all() and groups[0] > 0


def test_full_regroup_never_moves_faces_the_user_assigned():
    enc, who = people(2, 6)
    # Person 7 (the user named them) owns the first three faces of identity 0, plus one
    # face of identity 1 the user put there on purpose: a regroup must not touch them.
    person = np.zeros(len(enc), np.int64)
    person[[0, 1, 2, 6]] = 7
    faces = table(enc, person_ids=person)
    groups, _ = regroup(faces)
    assert (groups[[0, 1, 2, 6]] == 0).all()
    assert (groups[3:6] == groups[3]).all() and groups[3] > 0
    assert (faces.person_ids == person).all()
    # The rest of identity 0 is close to person 7: suggested, never silently moved.
    sugg = suggest_people(faces, faces, allow_auto=False)
    named = {s.face_id: s.person_id for s in sugg}
    assert all(named.get(int(f)) == 7 for f in faces.face_ids[3:6])
    assert not any(s.auto for s in sugg)
    assert all(int(f) not in named for f in faces.face_ids[[0, 1, 2, 6]])
    assert all(0.0 <= s.confidence <= 1.0 for s in sugg)


def test_auto_assignment_only_near_user_confirmed_faces():
    enc, _ = people(2, 6)
    rng = np.random.default_rng(5)
    step = rng.normal(0, 1, DIM)
    step *= 0.35 / np.linalg.norm(step)
    enc[4] = enc[0] + step  # assigned automatically earlier, at the edge of the person
    enc[5] = enc[0] + 1.8 * step  # near that auto face, far from every confirmed one
    person = np.zeros(len(enc), np.int64)
    person[[0, 1, 2, 4]] = 7
    how = ["user", "user", "user", None, "auto"] + [None] * (len(enc) - 5)
    faces = table(enc, person_ids=person, assigned_by=how)
    assert faces.assigned_by[0] == ASSIGNED_USER and faces.assigned_by[4] == ASSIGNED_AUTO
    sugg = {s.face_id: s for s in suggest_people(faces, faces)}
    near, drifting = sugg[int(faces.face_ids[3])], sugg[int(faces.face_ids[5])]
    assert near.person_id == drifting.person_id == 7
    assert near.auto and not drifting.auto
    assert near.confidence >= drifting.confidence
    assert not suggest_people(faces, faces, allow_auto=False)[0].auto
    assert all(int(f) not in sugg for f in faces.face_ids[6:])


def test_rejected_pairs_are_never_suggested():
    enc, _ = people(2, 6)
    person = np.zeros(len(enc), np.int64)
    person[[0, 1]] = 7
    faces = table(enc, person_ids=person)
    rejected = [(int(f), 7) for f in faces.face_ids[2:4]]
    sugg = suggest_people(faces, faces, rejections=rejected)
    pairs = {(s.face_id, s.person_id) for s in sugg}
    assert not pairs & set(rejected)
    assert (int(faces.face_ids[4]), 7) in pairs


def test_one_photo_gets_at_most_one_face_suggested_per_person():
    enc, _ = people(1, 6)
    twin = enc[3] + 1e-5
    enc = np.vstack([enc, twin]).astype(np.float32)
    photos = np.array([0, 1, 2, 3, 4, 5, 3])  # faces 3 and 6 share a photo
    person = np.array([7, 7, 0, 0, 0, 0, 0])
    photos[5] = 0  # face 5 sits in a photo where person 7 already is
    faces = table(enc, photos, person_ids=person)
    sugg = suggest_people(faces, faces)
    suggested = {s.face_id for s in sugg if s.person_id == 7}
    assert len(suggested & {int(faces.face_ids[3]), int(faces.face_ids[6])}) == 1
    assert int(faces.face_ids[5]) not in suggested


def test_regroup_keeps_group_ids_across_runs():
    enc, _ = people(4, 6)
    faces = table(enc)
    first, next_id = regroup(faces, next_group_id=1)
    again, _ = regroup(table(enc, group_ids=first), next_group_id=next_id)
    assert (again == first).all()
    # A new face of identity 2 and the loss of one face of identity 0: both groups keep ids.
    more, who = people(4, 7)
    grown = np.vstack([enc[1:], more[2 * 7 + 6 : 2 * 7 + 7]])
    previous = np.r_[first[1:], 0]
    regrouped, _ = regroup(table(grown, group_ids=previous), next_group_id=next_id)
    assert (regrouped[:-1] == first[1:]).all()
    assert regrouped[-1] == first[12]


def test_group_ids_of_a_split_stay_with_the_bigger_part():
    labels = np.array([0, 0, 0, 1, 1, 2, 2])
    previous = np.array([5, 5, 5, 5, 5, 9, 0])
    ids, next_id = carry_group_ids(labels, previous, next_id=10)
    assert ids[:3].tolist() == [5, 5, 5]
    assert ids[3] == ids[4] and ids[3] not in (5, 9)
    assert ids[5] == ids[6] == 9  # all of old group 9 is still together
    assert next_id == ids.max() + 1


def test_new_faces_join_existing_groups_without_regrouping():
    enc, who = people(3, 6)
    faces = table(enc)
    groups, next_id = regroup(faces)
    more, _ = people(5, 7)  # same seed: identities 0-2 are the library's, 3-4 are new
    pick = np.r_[6, 13, 27, 34, 20]  # identities 0, 1, 3, 4, 2
    new_enc = more[pick]
    new_photos = np.array([500, 501, 502, 503, 100])  # the last shares a photo with face 0
    new_ids = np.array([9001, 9002, 9003, 9004, 9005])
    new_enc[3] = new_enc[2] + 0.01  # make both faces identity 3: a new person twice
    new = FaceTable.of(new_ids, new_enc, new_photos)
    library = table(enc, group_ids=groups)
    knn = exact_knn(library.encodings, library.face_ids)
    ids, new_groups, next2 = join_new_faces(library, new, knn, next_id)
    got = dict(zip(ids.tolist(), new_groups.tolist(), strict=True))
    assert got[9001] == groups[0] and got[9002] == groups[6] and got[9005] == groups[12]
    assert got[9003] == got[9004] >= next_id and next2 == got[9003] + 1
    # A face of identity 0 in a photo that group already has a face in stays out of it.
    clash = FaceTable.of([9100], more[5:6], [100])
    ids, new_groups, _ = join_new_faces(library, clash, knn, next2)
    assert groups[0] not in new_groups.tolist()


def test_incremental_join_never_merges_two_existing_groups():
    enc, _ = people(2, 5)
    groups = np.r_[np.full(5, 1), np.full(5, 2)]
    library = table(enc, group_ids=groups)
    bridge = ((enc[0] + enc[5]) / 2)[None]  # halfway between the two people
    new = FaceTable.of([777], bridge, [999])
    knn = exact_knn(library.encodings, library.face_ids)
    ids, new_groups, _ = join_new_faces(library, new, knn, 3)
    assert set(new_groups.tolist()) <= {1, 2}


@pytest.mark.slow
def test_real_faces_group_by_person(labels):
    faces_mod = pytest.importorskip("facealbum.engine.faces")
    engine = faces_mod.FaceEngine(min_face_px=0)
    enc, photos, sizes, sharp, score, names = [], [], [], [], [], []
    for photo_id, photo in enumerate(labels):
        if not photo.path.parts[-3:-1] or "people" not in photo.path.parts:
            continue
        found = sorted(engine.analyse_file(photo.path).faces, key=lambda f: -f.size_px)
        for i, face in enumerate(found):
            enc.append(face.encoding)
            photos.append(photo_id)
            sizes.append(face.size_px)
            sharp.append(face.sharpness)
            score.append(face.score)
            # The largest face of a person's photo is that person; others are bystanders.
            names.append(photo.path.parent.name if i == 0 else f"?{photo_id}:{i}")
    faces = table(np.array(enc), np.array(photos), groupable=is_groupable(sizes, sharp, score))
    groups, _ = regroup(faces)
    scored = np.where(groups > 0, groups, -1 - np.arange(len(groups)))
    precision, recall = bcubed(np.array(names), scored)
    assert precision >= 0.98 and recall >= 0.9
    obama = [g for g, n in zip(groups, names, strict=True) if n == "barack_obama"]
    assert len(set(obama)) == 1 and obama[0] > 0


def test_first_scan_groups_new_faces_among_themselves():
    # A first scan: the library holds nothing but the new faces, so every neighbour the
    # index returns is a new face. They must still form their groups.
    enc, who = people(3, 5)
    new = table(enc)
    knn = exact_knn(new.encodings, new.face_ids)
    for library in (new, new.subset(np.zeros(0, np.int64))):
        ids, groups, next_id = join_new_faces(library, new, knn, 4)
        got = dict(zip(ids.tolist(), groups.tolist(), strict=True))
        assert sorted(got) == sorted(new.face_ids.tolist())
        by_person = {p: {got[int(f)] for f in new.face_ids[who == p]} for p in range(3)}
        assert all(len(g) == 1 for g in by_person.values())
        assert len(set().union(*by_person.values())) == 3
        assert min(groups) >= 4 and next_id == max(groups) + 1


def test_empty_face_table_can_be_built_and_grouped():
    for encodings in (np.empty((0, DIM), np.float32), np.zeros(0, np.float32), []):
        empty = FaceTable.of([], encodings, [])
        assert len(empty) == 0 and empty.encodings.shape == (0, DIM)
        assert empty.rows_of(np.array([10, 20])).tolist() == [-1, -1]
    groups, next_id = regroup(empty, next_group_id=5)
    assert len(groups) == 0 and next_id == 5
    assert suggest_people(empty, empty) == []
    lonely = table(people(1, 1)[0])
    ids, _, next_id = join_new_faces(empty, lonely, exact_knn(lonely.encodings, lonely.face_ids), 5)
    assert len(ids) == 0 and next_id == 5


def test_restricted_search_answers_only_the_subset_nearest_first():
    enc, _ = people(2, 10)
    ids = np.arange(len(enc)) + 1
    full = exact_knn(enc, ids)
    subset = ids[::3]
    found, dist = restricted_knn(full, subset, share=len(subset) / len(ids))(enc, 4)
    want, want_dist = exact_knn(enc[::3], subset)(enc, 4)
    assert found.shape == (len(enc), 4)
    assert (found == want).all()
    # Distances come from |q|^2 - 2 q.b + |b|^2 in float32: at a face's distance to itself the
    # terms cancel to a rounding error of ~1e-7 whose square root is ~4e-4 (it depends on how
    # BLAS blocks the product), so compare to a tolerance above that, not to exact zeros.
    assert np.allclose(dist, want_dist, rtol=0, atol=FLOAT32_SELF_DISTANCE)
    # An over-optimistic share: rows come back short (padded), never with outsiders.
    short, _ = restricted_knn(full, subset, share=1.0)(enc, 4)
    assert np.isin(short[short >= 0], subset).all() and (short == -1).any()


def _directions(n: int, seed: int = 11) -> np.ndarray:
    """n orthonormal directions in encoding space."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(DIM, n)))
    return q.T


def test_a_stranger_close_to_one_face_of_a_person_is_not_suggested():
    # Person 7: three photos about 0.4 apart, as real photos of one person are. A stranger
    # sits 0.55 from one of them (inside the 0.6 tolerance) but 0.68 from the other two;
    # a new photo of the person is about 0.4 from each of their faces.
    u = _directions(5)
    centre = np.random.default_rng(2).normal(0, 0.056, DIM)
    named = centre + 0.28 * u[:3]
    stranger = named[0] + 0.55 * u[3]
    true_face = centre + 0.28 * u[4]
    enc = np.vstack([named, stranger, true_face]).astype(np.float32)
    faces = table(enc, person_ids=[7, 7, 7, 0, 0])
    assert np.linalg.norm(enc[3] - enc[0]) < 0.6 and np.linalg.norm(enc[4] - enc[0]) < 0.45

    sugg = {s.face_id: s.person_id for s in suggest_people(faces, faces, allow_auto=False)}

    assert int(faces.face_ids[3]) not in sugg
    assert sugg.get(int(faces.face_ids[4])) == 7


def test_a_person_named_on_one_photo_is_still_suggested_for_their_other_photos():
    # With one named face there is no more support to ask for: a photo of them 0.5 away
    # (real photos of one person lie up to about 0.53 apart) is offered, 0.57 is not.
    u = _directions(3, seed=4)
    base = np.random.default_rng(3).normal(0, 0.056, DIM)
    enc = np.vstack([base, base + 0.5 * u[0], base + 0.57 * u[1]]).astype(np.float32)
    faces = table(enc, person_ids=[7, 0, 0])
    sugg = {s.face_id: s.person_id for s in suggest_people(faces, faces, allow_auto=False)}
    assert sugg == {int(faces.face_ids[1]): 7}


def test_support_counts_faces_of_the_person_the_search_did_not_return():
    # The person has four faces but the table holds only the one near the new face (a large
    # library loads only faces the index finds near): their size still asks for support.
    u = _directions(2, seed=8)
    base = np.random.default_rng(9).normal(0, 0.056, DIM)
    enc = np.vstack([base, base + 0.5 * u[0]]).astype(np.float32)
    faces = table(enc, person_ids=[7, 0])
    assert suggest_people(faces, faces, allow_auto=False, person_sizes={7: 1})
    assert not suggest_people(faces, faces, allow_auto=False, person_sizes={7: 4})
