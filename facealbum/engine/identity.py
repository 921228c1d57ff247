"""Which library faces are the person of a query face: identity search, in two tiers.

One distance cannot answer it. Photos of one person lie up to ~0.57 apart in dlib's
space, and two strangers who look alike can be 0.52-0.60 apart: any single threshold
either lets look-alikes in or leaves the person's harder photos out. The library knows
more than one query face does, so a face is the same person when

- it is close to the query itself (alone_distance; up to same_distance when it is also
  linked to one face taken as the person), or
- it is close (link_distance) to at least links_needed faces already taken as the
  person: the query, the person's confirmed faces, earlier results. Never through one
  weak link, so that one look-alike among the results cannot bring in his own photos;
- or the user (or an automatic assignment from the user's faces) gave it the person the
  query is recognised as.

And it is never the person when the user gave it another person, rejected it for this
one, or another face of its photo is already the person (one face per person per photo).
Faces up to the tolerance that are none of these are "maybe": shown apart, for the user
to decide.

Everything here is a pure function of a candidate table and the query, so that it can
be measured on any set (bench/identity.py).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from facealbum.engine.faceset import NOT_ASSIGNED, FaceTable

SAME, MAYBE, NOT = 2, 1, 0  # tiers


@dataclass(frozen=True)
class IdentityParams:
    # Chosen together by bench/identity.py: every labelled face of the development photos
    # as a query, and a synthetic library of 6,000 faces where a tenth of the people have
    # a look-alike whose closest photo sits 0.52-0.56 from theirs. Alone at 0.45, the
    # development recall falls to 0.86 (their people have 2-5 photos: few links); alone
    # at 0.50, or up to 0.52 with a link, look-alikes come in (synthetic precision 0.992,
    # 0.976). At 0.48 / 0.50 / 0.48, with three links: 1.0 and 0.965 on the development
    # faces, 0.994 and 0.977 on the synthetic library.
    # Taken as the person on its own; and up to same_distance when also linked to one
    # face already taken (a look-alike's photo that comes this close links to none of
    # the person's, and would bring his other photos after it).
    alone_distance: float = 0.48
    same_distance: float = 0.50
    # A link that supports "same person"; three are needed, the query counting as one:
    # with two, a look-alike's photos link to each other and come in.
    link_distance: float = 0.48
    links_needed: int = 3
    # The query is recognised as a named person when that person's named faces are the
    # nearest within this distance, and no one else's named face is nearly as close.
    anchor_distance: float = 0.45
    anchor_margin: float = 0.06
    # Confidence of the same tier: the chance two faces at distance d are one person, a
    # logistic curve fitted to the pairs of the synthetic look-alike library within 0.75,
    # weighing pairs of one person and of two alike (the development pairs are separable:
    # no fit): 99.5% at 0.50, 81% at 0.55, 8% at 0.60.
    confidence_midpoint: float = 0.569
    confidence_scale: float = 0.0131
    # Confidence of a "maybe": most faces near a query that nothing else ties to it are
    # strangers. Fitted to the maybes of a synthetic library built with another seed than
    # the benchmark's (6,080 of them, 1.3% the person): 47% at 0.50 (48% measured), 19% at
    # 0.52 (17%), 3% at 0.55 (2%). bench/identity.py reports both tiers by band.
    maybe_midpoint: float = 0.499
    maybe_scale: float = 0.0145


DEFAULT_PARAMS = IdentityParams()


@dataclass(frozen=True)
class Identity:
    """Per candidate (rows of the table): its tier, its confidence (0..1), the distance to
    the query; and the person the query was recognised as (None when it was not)."""

    tiers: np.ndarray  # int8 (n,) SAME / MAYBE / NOT
    confidence: np.ndarray  # float32 (n,)
    distance: np.ndarray  # float32 (n,)
    person_id: int | None


def same_person_chance(distance: np.ndarray, params: IdentityParams) -> np.ndarray:
    """The chance that two faces this far apart are one person."""
    return _logistic(distance, params.confidence_midpoint, params.confidence_scale)


def _logistic(distance: np.ndarray, midpoint: float, scale: float) -> np.ndarray:
    z = (np.asarray(distance, np.float64) - midpoint) / scale
    return (1.0 / (1.0 + np.exp(np.clip(z, -50, 50)))).astype(np.float32)


def recognise(
    table: FaceTable, distance: np.ndarray, params: IdentityParams = DEFAULT_PARAMS
) -> int | None:
    """The person the query is, from the named faces near it: the nearest named face's
    person, when it is within anchor_distance and no other person's named face is within
    anchor_margin of it. None when the query is nobody the library knows (or is unsure)."""
    named = (table.person_ids > 0) & (table.assigned_by != NOT_ASSIGNED)
    near = named & (distance <= params.anchor_distance + params.anchor_margin)
    if not near.any():
        return None
    rows = np.flatnonzero(near)
    best = rows[np.argmin(distance[rows])]
    if distance[best] > params.anchor_distance:
        return None
    person = int(table.person_ids[best])
    others = rows[table.person_ids[rows] != person]
    if len(others) and distance[others].min() <= distance[best] + params.anchor_margin:
        return None  # two people nearly as close: the query says too little to choose
    return person


def identify(
    table: FaceTable,
    query: np.ndarray,
    tolerance: float,
    *,
    rejected: Collection[int] = (),
    exclude_photo: int | None = None,
    params: IdentityParams = DEFAULT_PARAMS,
) -> Identity:
    """Tier every face of `table` (the candidates: faces near the query, and the faces of
    the person it may be) for the query encoding. `rejected`: face ids the user said are
    not the recognised person. `tolerance`: the farthest a "maybe" may be, and the
    farthest the query alone may take a face as the person."""
    n = len(table)
    vectors = table.encodings.astype(np.float32, copy=False)
    q = np.asarray(query, np.float32).reshape(1, -1)
    distance = np.linalg.norm(vectors - q, axis=1).astype(np.float32)
    person = recognise(table, distance, params)
    tiers = np.full(n, NOT, np.int8)
    if n == 0:
        return Identity(tiers, np.zeros(0, np.float32), distance, person)

    assigned = (table.person_ids > 0) & (table.assigned_by != NOT_ASSIGNED)
    barred = np.zeros(n, bool)
    if person is not None:  # someone else, by the user's word
        barred |= assigned & (table.person_ids != person)
    barred |= np.isin(table.face_ids, np.fromiter(rejected, np.int64, len(rejected)))
    if exclude_photo is not None:
        barred |= table.photo_ids == exclude_photo
    given = assigned & (table.person_ids == person) if person is not None else np.zeros(n, bool)

    # Strength of each face's claim: what the query alone says (confidence), certainty
    # for the person's own faces, and the evidence of its links for faces brought in by
    # several results.
    strength = same_person_chance(distance, params)
    strength[given] = 1.0
    same = given & ~barred
    taken_photos = set(table.photo_ids[same].tolist())
    # A stricter tolerance than the rule's own distances makes the query's word stricter
    # too; the library's evidence (links) stands whatever the slider says.
    alone = min(params.alone_distance, tolerance)
    near = min(params.same_distance, tolerance)
    query_link = (distance <= params.link_distance).astype(np.int32)
    links = _links_to(vectors, vectors[same], params)  # to the faces taken so far
    while True:
        fresh = (
            (distance <= alone)
            | ((distance <= near) & (links >= 1))
            | (query_link + links >= params.links_needed)
        )
        fresh = np.flatnonzero(fresh & ~same & ~barred)
        if not len(fresh):
            break
        # Strongest first: of two faces of one photo, the more certain one is the person.
        evidence = np.maximum(strength[fresh], _link_strength(vectors, fresh, same, params))
        added = []
        for row in fresh[np.argsort(-evidence, kind="stable")]:
            photo = int(table.photo_ids[row])
            if photo in taken_photos:
                barred[row] = True  # the person is someone else in this photo
                continue
            taken_photos.add(photo)
            added.append(row)
        rows = np.asarray(added, np.int64)
        strength[rows] = np.maximum(strength[rows], _link_strength(vectors, rows, same, params))
        same[rows] = True
        links += _links_to(vectors, vectors[rows], params)

    tiers[same] = SAME
    in_taken = np.isin(table.photo_ids, np.fromiter(taken_photos, np.int64, len(taken_photos)))
    maybe = (distance <= tolerance) & ~same & ~barred & ~in_taken
    tiers[maybe] = MAYBE
    # A face not taken has the chance of its distance alone, whichever tier the tolerance
    # puts it in: the slider moves the line, not the confidence.
    strength[~same] = _logistic(distance[~same], params.maybe_midpoint, params.maybe_scale)
    return Identity(tiers, strength, distance, person)


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) Euclidean distances."""
    d2 = (
        np.einsum("ij,ij->i", a, a)[:, None]
        + np.einsum("ij,ij->i", b, b)[None, :]
        - 2.0 * (a @ b.T)
    )
    return np.sqrt(np.maximum(d2, 0.0))


def _links_to(vectors: np.ndarray, taken: np.ndarray, params: IdentityParams) -> np.ndarray:
    """How many of the `taken` encodings each face is linked to."""
    if not len(taken):
        return np.zeros(len(vectors), np.int32)
    return (_distances(vectors, taken) <= params.link_distance).sum(axis=1).astype(np.int32)


def _link_strength(
    vectors: np.ndarray, rows: np.ndarray, same: np.ndarray, params: IdentityParams
) -> np.ndarray:
    """The confidence its links give each of `rows`: the chance at its links_needed-th
    nearest face among those taken (so one close look-alike does not make it certain)."""
    if not same.any() or not len(rows):
        return np.zeros(len(rows), np.float32)
    near = np.sort(_distances(vectors[rows], vectors[same]), axis=1)
    k = min(params.links_needed, near.shape[1]) - 1
    return same_person_chance(near[:, k], params)
