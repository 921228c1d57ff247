"""The facade's two searches: the nearest faces (look-alikes), and the photos of a person.

nearest_photos answers "who looks like this": the nearest faces, whoever they are.
photos_of_person answers "which photos show this person", in the tiers of
engine.identity: it gathers the candidates the rule needs from the index (faces near
the query, the faces of the person it is recognised as, and the faces near each
result), and lets the engine decide.
"""

from __future__ import annotations

import sqlite3

import numpy as np

from facealbum.db import people_queries as pq
from facealbum.db import queries
from facealbum.engine.faceset import FaceTable
from facealbum.engine.identity import DEFAULT_PARAMS, MAYBE, SAME, IdentityParams, identify
from facealbum.engine.index import FaceIndex
from facealbum.model import ENCODING_DIM, Match, Tier

# Neighbours looked up around each result to find the person's faces far from the query:
# more than the few faces that link two results (IdentityParams.links_needed).
LINK_NEIGHBOURS = 16
# Rounds of looking around new results; each round reaches faces one link farther.
MAX_ROUNDS = 6


def nearest_photos(
    conn: sqlite3.Connection,
    index: FaceIndex | None,
    vector: np.ndarray,
    top: int,
    tolerance: float,
    exclude_photo: int | None,
) -> list[Match]:
    """Photos whose best face is within `tolerance`, nearest first, one per photo."""
    vector = np.asarray(vector, dtype=np.float32).reshape(ENCODING_DIM)
    exclude = set(queries.face_ids_of_photo(conn, exclude_photo)) if exclude_photo else None
    size = len(index) if index is not None else 0
    if top <= 0 or index is None or size == 0:
        return []
    k = min(size, max(top * 4, 16))
    while True:
        ids, dists = index.search(vector, k, exclude=exclude)
        matches = _best_per_photo(conn, ids, dists, tolerance, exclude_photo)
        # Stop when enough photos were found, or the nearest k already reach past
        # the tolerance, or there is nothing more to look at.
        reached = len(dists) and float(dists[-1]) > tolerance
        if len(matches) >= top or reached or k >= size:
            return matches[:top]
        k = min(size, k * 4)


def _best_per_photo(
    conn: sqlite3.Connection,
    ids: np.ndarray,
    dists: np.ndarray,
    tolerance: float,
    exclude_photo: int | None,
) -> list[Match]:
    close = [(int(i), float(d)) for i, d in zip(ids, dists, strict=True) if d <= tolerance]
    infos = queries.faces(conn, [i for i, _ in close])
    best: dict[int, Match] = {}
    for face_id, dist in close:  # nearest first, so the first face of a photo is its best
        info = infos.get(face_id)
        if info is None or info.photo_id == exclude_photo or info.photo_id in best:
            continue
        if info.not_a_face:  # kept in the index (it holds every encoding), never a match
            continue
        best[info.photo_id] = Match(
            face_id, info.photo_id, info.photo, dist, info.box, person_name=info.person_name
        )
    return sorted(best.values(), key=lambda m: m.distance)


def photos_of_person(
    conn: sqlite3.Connection,
    index: FaceIndex | None,
    vector: np.ndarray,
    tolerance: float,
    exclude_photo: int | None,
    params: IdentityParams = DEFAULT_PARAMS,
) -> list[Match]:
    """Every photo showing the query's person: the same-person tier, most certain first,
    then the "maybe" tier (up to `tolerance`), nearest first. One face per photo."""
    if index is None or len(index) == 0:
        return []
    vector = np.asarray(vector, dtype=np.float32).reshape(ENCODING_DIM)
    reach = max(tolerance, params.same_distance)
    candidates = set(_within(index, vector, reach))
    rows = _CandidateRows(conn)
    looked_around: set[int] = set()
    person: int | None = None
    rejected: list[int] = []
    for _ in range(MAX_ROUNDS):
        table = rows.table(candidates)
        result = identify(
            table, vector, tolerance, rejected=rejected,
            exclude_photo=exclude_photo, params=params,
        )  # fmt: skip
        if result.person_id != person:
            person = result.person_id  # its rejections apply: tier again
            rejected = pq.rejected_for(conn, person) if person is not None else []
            if person is not None:
                candidates |= set(pq.faces_of_person(conn, person))
            continue
        same = table.face_ids[result.tiers == SAME]
        fresh = [int(f) for f in same if int(f) not in looked_around]
        if not fresh:
            break
        looked_around |= set(fresh)
        found = _near_faces(index, table, fresh, params.link_distance)
        if found <= candidates:
            break
        candidates |= found
    return _matches(conn, table, result.tiers, result.confidence, result.distance)


def _within(index: FaceIndex, vector: np.ndarray, reach: float) -> list[int]:
    """Ids of the faces within `reach` of `vector`."""
    size = len(index)
    k = min(size, 64)
    while True:
        ids, dists = index.search(vector, k)
        if k >= size or (len(dists) and float(dists[-1]) > reach):
            return [int(i) for i, d in zip(ids, dists, strict=True) if d <= reach]
        k = min(size, k * 4)


def _near_faces(index: FaceIndex, table: FaceTable, face_ids: list[int], reach: float) -> set[int]:
    """The faces within `reach` of any of these faces (of `table`)."""
    rows = np.flatnonzero(np.isin(table.face_ids, face_ids))
    ids, dists = index.search_many(table.encodings[rows], LINK_NEIGHBOURS + 1)
    return {int(i) for i in ids[(dists <= reach) & (ids >= 0)]}


class _CandidateRows:
    """The candidates' face rows, each read from the database once however many rounds
    ask for them (a person with thousands of photos is thousands of rows a round)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._parts: list[pq.FaceColumns] = []
        self._read: set[int] = set()

    def table(self, face_ids: set[int]) -> FaceTable:
        """The faces as the engine's table, by id; faces marked not a face are no
        candidates. The candidates only ever grow, so every row read is one of them."""
        new = face_ids - self._read
        if new or not self._parts:  # an empty read gives empty columns to join
            self._parts.append(pq.face_columns(self._conn, sorted(new)))
            self._read |= new
        parts = self._parts
        ids = np.concatenate([c.face_ids for c in parts])
        not_a_face = np.concatenate([c.not_a_face for c in parts])
        rows = np.argsort(ids, kind="stable")
        rows = rows[~not_a_face[rows]]
        assigned_by = [a for c in parts for a in c.assigned_by]
        return FaceTable.of(
            ids[rows],
            np.concatenate([c.encodings for c in parts])[rows],
            np.concatenate([c.photo_ids for c in parts])[rows],
            person_ids=np.concatenate([c.person_ids for c in parts])[rows],
            assigned_by=[assigned_by[r] for r in rows],
            group_ids=np.concatenate([c.group_ids for c in parts])[rows],
        )


def _matches(
    conn: sqlite3.Connection,
    table: FaceTable,
    tiers: np.ndarray,
    confidence: np.ndarray,
    distance: np.ndarray,
) -> list[Match]:
    rows = np.flatnonzero(tiers >= MAYBE)
    infos = queries.faces(conn, table.face_ids[rows].tolist())
    out: list[Match] = []
    for row in rows:
        info = infos.get(int(table.face_ids[row]))
        if info is None:
            continue
        tier = Tier.SAME if tiers[row] == SAME else Tier.MAYBE
        out.append(
            Match(
                info.id, info.photo_id, info.photo, float(distance[row]), info.box,
                tier=tier, confidence=round(float(confidence[row]), 3),
                person_name=info.person_name,
            )
        )  # fmt: skip
    # One face per photo: the engine keeps one of a photo in the same tier; a maybe shares
    # its photo with nothing of the same tier, but two maybes may share one.
    best: dict[int, Match] = {}
    for m in sorted(out, key=_order):
        best.setdefault(m.photo_id, m)
    return sorted(best.values(), key=_order)


def _order(m: Match) -> tuple:
    """Same-person tier first, most certain first; then maybes, nearest first."""
    if m.tier == Tier.SAME:
        return (0, -(m.confidence or 0.0), m.distance)
    return (1, m.distance, 0.0)
