"""Suggest named people for unassigned faces, and assign the unmistakable ones.

A suggestion is a face, the person it most likely is, and a confidence in 0..1. Rules:
- only faces without a person are considered; a person set by the user (or earlier
  automatically) is never changed here;
- a rejected (face, person) pair is never suggested again;
- a face is never suggested for a person who already has a face in the same photo, and of
  several faces of one photo at most one (the closest) is suggested for one person;
- one close face is not enough: the mean distance to the person's nearest few faces must
  be well inside the tolerance. Compared with a few thousand named faces, a stranger falls
  within 0.6 of SOME one of them about half the time; rarely of several (bench/
  suggest_quality.py: 200 times fewer wrong suggestions for 1% fewer right ones);
- "auto" is only set when the face is very close to faces the user confirmed (not to
  automatic ones, so errors cannot snowball) and clearly closer to that person than to
  anyone else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from facealbum.engine.faceset import ASSIGNED_USER, FaceTable
from facealbum.engine.knn import KnnFn, build_knn


@dataclass(frozen=True)
class SuggestParams:
    k: int = 16  # nearest assigned faces looked at per face
    tolerance: float = 0.6  # farther than this from all of a person's faces: no suggestion
    sure_distance: float = 0.35  # this close or closer: full confidence (before ambiguity)
    ambiguity_gap: float = 0.1  # runner-up person this much farther: not ambiguous at all
    auto_distance: float = 0.4  # auto-assign only within this of a user-confirmed face
    auto_margin: float = 0.1  # ... and when every other person is this much farther
    support_faces: int = 3  # the person's nearest faces averaged (fewer if they have fewer)
    support_margin: float = 0.07  # that average must be within tolerance - support_margin


@dataclass(frozen=True)
class Suggestion:
    face_id: int
    person_id: int
    distance: float  # to the person's nearest assigned face
    confidence: float  # 0..1, see confidence()
    auto: bool  # safe to assign without asking (marked "auto")


def confidence(distance: np.ndarray, runner_up: np.ndarray, params: SuggestParams) -> np.ndarray:
    """Closeness (1 at sure_distance, 0 at tolerance) scaled down to half when another person
    is about as close (runner_up = distance to the next person, inf when there is none)."""
    span = max(params.tolerance - params.sure_distance, 1e-9)
    closeness = np.clip((params.tolerance - distance) / span, 0.0, 1.0)
    gap = np.clip((runner_up - distance) / params.ambiguity_gap, 0.0, 1.0)
    return closeness * (0.5 + 0.5 * gap)


def suggest_people(
    faces: FaceTable,
    people: FaceTable,
    rejections: Iterable[tuple[int, int]] = (),
    knn: KnnFn | None = None,
    params: SuggestParams | None = None,
    allow_auto: bool = True,
    person_sizes: Mapping[int, int] | None = None,
) -> list[Suggestion]:
    """At most one suggestion per unassigned face of `faces`, nearest first.

    people: faces that have a person (rows without one are ignored); knn: search over those
    faces' encodings by face id (built here when not given); rejections: (face id, person id)
    pairs the user said are wrong; person_sizes: person id -> how many faces they have, when
    `people` holds only some of them (else counted in `people`). Faces that are not
    groupable may be suggested, never auto.
    """
    params = params or SuggestParams()
    faces = faces.subset(np.flatnonzero(~faces.assigned))
    people = people.subset(np.flatnonzero(people.assigned))
    if len(faces) == 0 or len(people) == 0:
        return []
    if knn is None:
        knn = build_knn(people.encodings, people.face_ids)
    found, dist = knn(faces.encodings, params.k)
    rows = people.rows_of(found)
    hit = rows >= 0
    # A person's face the search did not return is at least as far as the k-th one found;
    # when fewer came back, `people` lacks it: count it as at the tolerance.
    farthest = np.max(np.where(hit, dist, 0.0), axis=1).astype(np.float64)
    farthest = np.where(hit.all(axis=1), farthest, np.maximum(farthest, params.tolerance))
    query = np.broadcast_to(np.arange(len(faces))[:, None], found.shape)[hit]
    person = people.person_ids[rows[hit]]
    by_user = people.assigned_by[rows[hit]] == ASSIGNED_USER
    dist = dist[hit].astype(np.float64)
    support = _support(query, person, dist, farthest, _sizes(people, person_sizes), params)
    near = dist <= params.tolerance
    query, person, dist, by_user, support = (
        a[near] for a in (query, person, dist, by_user, support)
    )

    pairs = _per_person(query, person, dist, by_user, support)
    # Dropped only now: a look-alike without support still makes the choice a close call.
    pairs = pairs[pairs[:, 5] <= params.tolerance - params.support_margin]
    blocked = set(map(tuple, np.asarray(list(rejections), np.int64).reshape(-1, 2).tolist()))
    blocked_photo = set(zip(people.person_ids.tolist(), people.photo_ids.tolist(), strict=True))
    return _choose(faces, pairs, blocked, blocked_photo, params, allow_auto)


def _sizes(people: FaceTable, person_sizes: Mapping[int, int] | None) -> dict[int, int]:
    ids, counts = np.unique(people.person_ids, return_counts=True)
    sizes = dict(zip(ids.tolist(), counts.tolist(), strict=True))
    if person_sizes:
        sizes.update({int(p): max(int(n), 1) for p, n in person_sizes.items()})
    return sizes


def _support(
    query: np.ndarray,
    person: np.ndarray,
    dist: np.ndarray,
    farthest: np.ndarray,
    sizes: dict[int, int],
    params: SuggestParams,
) -> np.ndarray:
    """For each hit, the mean distance from its face to the nearest min(support_faces, size)
    faces of its person; faces of theirs the search did not return count as `farthest`."""
    if len(query) == 0:
        return np.zeros(0)
    order = np.lexsort((dist, person, query))
    q, p, d = query[order], person[order], dist[order]
    new = np.r_[True, (q[1:] != q[:-1]) | (p[1:] != p[:-1])]
    starts = np.flatnonzero(new)
    rank = np.arange(len(q)) - starts[np.cumsum(new) - 1]
    size = np.array([sizes.get(int(x), 1) for x in p[starts].tolist()], dtype=np.int64)
    want = np.minimum(size, params.support_faces)
    used = rank < np.repeat(want, np.diff(np.r_[starts, len(q)]))
    total = np.add.reduceat(np.where(used, d, 0.0), starts)
    found = np.add.reduceat(used.astype(np.int64), starts)
    mean = (total + (want - found) * farthest[q[starts]]) / want
    out = np.empty(len(query))
    out[order] = np.repeat(mean, np.diff(np.r_[starts, len(q)]))
    return out


def _per_person(
    query: np.ndarray,
    person: np.ndarray,
    dist: np.ndarray,
    by_user: np.ndarray,
    support: np.ndarray,
) -> np.ndarray:
    """Rows (query, person, nearest distance, nearest user-confirmed distance, runner-up,
    support) of each (face, person) pair."""
    if len(query) == 0:
        return np.zeros((0, 6))
    order = np.lexsort((dist, person, query))
    query, person, dist, by_user = query[order], person[order], dist[order], by_user[order]
    support = support[order]
    key = np.stack([query, person], 1)
    starts = np.flatnonzero(np.r_[True, np.any(key[1:] != key[:-1], axis=1)])
    nearest = dist[starts]
    user_dist = np.where(by_user, dist, np.inf)
    nearest_user = np.minimum.reduceat(user_dist, starts)
    q, p = query[starts], person[starts]
    # Runner-up of a pair: the nearest distance from its face to any other person.
    order = np.lexsort((nearest, q))
    q_sorted, d_sorted = q[order], nearest[order]
    at = np.arange(len(q_sorted))
    start = np.maximum.accumulate(np.where(np.r_[True, q_sorted[1:] != q_sorted[:-1]], at, 0))
    second = np.minimum(start + 1, len(q_sorted) - 1)
    d2 = np.where((second > start) & (q_sorted[second] == q_sorted), d_sorted[second], np.inf)
    runner = np.empty(len(q))
    runner[order] = np.where(at == start, d2, d_sorted[start])
    return np.stack([q, p, nearest, nearest_user, runner, support[starts]], 1)


def _choose(
    faces: FaceTable,
    pairs: np.ndarray,
    blocked: set[tuple[int, int]],
    blocked_photo: set[tuple[int, int]],
    params: SuggestParams,
    allow_auto: bool,
) -> list[Suggestion]:
    """Greedy, nearest pair first: one person per face, one face per (photo, person)."""
    out: list[Suggestion] = []
    taken_faces: set[int] = set()
    taken_photo: set[tuple[int, int]] = set()
    conf = confidence(pairs[:, 2], pairs[:, 4], params)
    for idx in np.argsort(pairs[:, 2], kind="stable").tolist():
        row, person = int(pairs[idx, 0]), int(pairs[idx, 1])
        face_id, photo = int(faces.face_ids[row]), int(faces.photo_ids[row])
        if row in taken_faces or (face_id, person) in blocked:
            continue
        if (person, photo) in blocked_photo or (person, photo) in taken_photo:
            continue
        taken_faces.add(row)
        taken_photo.add((person, photo))
        near_user, runner = float(pairs[idx, 3]), float(pairs[idx, 4])
        auto = (
            allow_auto
            and bool(faces.groupable[row])
            and near_user <= params.auto_distance
            and runner - near_user >= params.auto_margin
        )
        out.append(Suggestion(face_id, person, float(pairs[idx, 2]), float(conf[idx]), auto))
    return out
