"""Keeping candidate groups and suggestions up to date as faces arrive or change.

The grouping engine works on FaceTables; this module loads only the faces it needs from
the store, runs the engine and writes the outcome inside the caller's transaction. A face
that has a person is never regrouped, reassigned or suggested here: the user's word (and
an earlier automatic assignment) stands.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from facealbum.db import people_queries as pq
from facealbum.db import people_writes as pw
from facealbum.engine.cluster import GroupingParams, regroup
from facealbum.engine.faceset import FaceTable
from facealbum.engine.incremental import join_new_faces
from facealbum.engine.knn import KnnFn, build_knn, restricted_knn
from facealbum.engine.suggest import SuggestParams, suggest_people

if TYPE_CHECKING:
    from facealbum.config import Settings
    from facealbum.engine.index import FaceIndex

# Neighbours read per changed face to find the unassigned faces whose suggestion may change.
NEIGHBOURS = 32
# A full regroup searches the library's index when the faces it groups are at least this
# share of it; fewer get an index of their own, denser in the faces that matter.
REUSE_INDEX_SHARE = 0.5
# Up to this many faces with a person, suggestions load them all (exact, about 10 MB);
# beyond, only the ones the index finds near the faces being suggested for.
LOAD_ASSIGNED_LIMIT = 20_000


class Grouping:
    """Groups and suggestions of one library; methods take the open write connection."""

    def __init__(self, index: FaceIndex | None, settings: Settings) -> None:
        self.index = index
        self.settings = settings
        self.params = GroupingParams()

    def _suggest_params(self) -> SuggestParams:
        return SuggestParams(tolerance=self.settings.tolerance)

    def _knn_all(self, conn: sqlite3.Connection) -> KnnFn:
        if self.index is not None and len(self.index):
            return self.index.search_many
        table = pq.face_table_where(conn)
        return build_knn(table.encodings, table.face_ids)

    def _knn_of_free(self, table: FaceTable) -> KnnFn | None:
        """The library's index narrowed to the faces a full regroup groups, when they are
        most of it: searching it costs a fraction of building a second index. None (the
        engine builds its own) when they are few, or the index is not in step."""
        index = self.index
        free = table.face_ids[~table.assigned & table.groupable]
        if index is None or len(index) != len(table) or len(free) < REUSE_INDEX_SHARE * len(table):
            return None
        return restricted_knn(index.search_many, free, len(free) / len(table))

    # -- groups -------------------------------------------------------------------------

    def join(
        self, conn: sqlite3.Connection, face_ids: Sequence[int], rec: pw.UndoRecord | None = None
    ) -> None:
        """Put unassigned, groupable faces into existing groups or new ones with their
        unassigned neighbours; existing groups are never merged here."""
        new = pq.face_table(conn, face_ids)
        new = new.subset(np.flatnonzero(~new.assigned & new.groupable))
        if len(new) == 0:
            return
        found, dist = self._knn_all(conn)(new.encodings, self.params.k + 1)
        # Only neighbours close enough to link can join; farther groups need not be loaded.
        neighbours = np.unique(found[(found >= 0) & (dist < self.params.link_distance)])
        library_ids = set(neighbours.tolist())
        library_ids |= set(pq.group_members(conn, pq.groups_of(conn, neighbours.tolist())))
        library = pq.face_table(conn, sorted(library_ids))

        def knn(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
            return found[:, :k], dist[:, :k]  # asked once, for the same faces

        first = pq.next_group_id(conn)
        ids, gids, _ = join_new_faces(library, new, knn, first, self.params)
        # A face picked up by the join keeps its place; faces it did not place leave
        # any stale group (they were just unassigned or are new).
        placed = dict(zip(ids.tolist(), gids.tolist(), strict=True))
        targets = sorted(set(new.face_ids.tolist()) | set(placed))
        pw.set_groups(conn, rec, targets, [placed.get(f, 0) for f in targets])

    def regroup_all(self, conn: sqlite3.Connection) -> list[int]:
        """Full regroup of unassigned faces (ids carried over); returns the unassigned ids."""
        table = pq.face_table_where(conn)
        labels, _ = regroup(table, self._knn_of_free(table), pq.next_group_id(conn), self.params)
        free = np.flatnonzero(~table.assigned)
        changed = free[labels[free] != table.group_ids[free]]
        pw.set_groups(conn, None, table.face_ids[changed].tolist(), labels[changed].tolist())
        return table.face_ids[free].tolist()

    # -- suggestions ----------------------------------------------------------------------

    def neighbourhood(self, conn: sqlite3.Connection, face_ids: Sequence[int]) -> list[int]:
        """The faces given plus unassigned faces within the tolerance of them."""
        table = pq.face_table(conn, face_ids)
        if len(table) == 0:
            return []
        found, dist = self._knn_all(conn)(table.encodings, NEIGHBOURS)
        near = np.unique(found[(found >= 0) & (dist <= self.settings.tolerance)])
        return sorted(set(table.face_ids.tolist()) | set(near.tolist()))

    def _people_near(self, conn: sqlite3.Connection, faces: FaceTable) -> FaceTable:
        """Faces with a person that suggestions for `faces` compare to: all of them while
        they are few, else only those the index finds near `faces` (a mature library may
        have most of its faces named; loading them all after each scan would not scale)."""
        index = self.index
        assigned = pq.assigned_ids(conn)
        if len(assigned) <= LOAD_ASSIGNED_LIMIT or index is None or len(index) == 0:
            return pq.assigned_table(conn)
        knn = restricted_knn(index.search_many, assigned, len(assigned) / len(index))
        found, _ = knn(faces.encodings, self._suggest_params().k)
        return pq.face_table(conn, np.unique(found[found >= 0]).tolist())

    def suggest(
        self,
        conn: sqlite3.Connection,
        face_ids: Sequence[int],
        rec: pw.UndoRecord | None = None,
        allow_auto: bool = True,
    ) -> int:
        """Recompute the suggestions of these faces (unassigned ones); assign the sure ones
        automatically when the setting allows. Returns how many were assigned."""
        faces = pq.face_table(conn, face_ids)
        faces = faces.subset(np.flatnonzero(~faces.assigned))
        free = faces.face_ids.tolist()
        if not free:
            return 0
        people = self._people_near(conn, faces)
        found = suggest_people(
            faces,
            people,
            pq.rejections_of(conn, free),
            params=self._suggest_params(),
            allow_auto=allow_auto and self.settings.auto_assign,
            person_sizes=pq.person_sizes(conn),  # people may hold only the faces found near
        )
        auto = [s for s in found if s.auto]
        rows = [(s.face_id, s.person_id, s.distance, s.confidence) for s in found if not s.auto]
        pw.replace_suggestions(conn, free, rows)
        for s in auto:
            pw.set_person(conn, rec, [s.face_id], s.person_id, "auto", s.confidence)
        return len(auto)

    def refresh_around(
        self, conn: sqlite3.Connection, face_ids: Sequence[int], rec: pw.UndoRecord | None = None
    ) -> None:
        """After faces changed person: new suggestions for them and their neighbours."""
        if face_ids:
            self.suggest(conn, self.neighbourhood(conn, face_ids), rec)
