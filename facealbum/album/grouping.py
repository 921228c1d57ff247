"""Keeping candidate groups and suggestions up to date as faces arrive or change.

The grouping engine works on FaceTables; this module loads only the faces it needs from
the store, runs the engine and writes the outcome. Grouping plans and writes inside the
caller's transaction (a user's action); Batches runs the long jobs (a scan's new faces, a
regroup) as many short write transactions planned outside them, so that a user's action
meanwhile waits a fraction of a second and is never overwritten by an older plan. A face
that has a person is never regrouped, reassigned or suggested here: the user's word (and
an earlier automatic assignment) stands.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from facealbum.db import people_queries as pq
from facealbum.db import people_writes as pw
from facealbum.engine.cluster import Cancelled, GroupingParams, regroup
from facealbum.engine.faceset import FaceTable
from facealbum.engine.incremental import join_new_faces
from facealbum.engine.knn import KnnFn, build_knn, restricted_knn
from facealbum.engine.quality import is_groupable
from facealbum.engine.suggest import Suggestion, SuggestParams, suggest_people

if TYPE_CHECKING:
    from facealbum.config import Settings
    from facealbum.db.store import Store
    from facealbum.engine.index import FaceIndex

# Neighbours read per changed face to find the unassigned faces whose suggestion may change.
NEIGHBOURS = 32
# A full regroup searches the library's index when the faces it groups are at least this
# share of it; fewer get an index of their own, denser in the faces that matter.
REUSE_INDEX_SHARE = 0.5
# Up to this many faces with a person, suggestions load them all (exact, about 10 MB);
# beyond, only the ones the index finds near the faces being suggested for.
LOAD_ASSIGNED_LIMIT = 20_000
# Faces per write transaction of a long job: writing a planned batch holds the lock for
# tens of ms, at most a few hundred (bench/write_lock.py).
WRITE_BATCH = 2_000
# Another process waiting for the write lock tries again every 100 ms at most (SQLite's
# busy handler): a long job leaves the lock free this long at least once per HOLD_BUDGET
# seconds of holding it, so that such a try always finds it free within about a second.
FREE_WINDOW = 0.12
HOLD_BUDGET = 0.4
# A batch that something changed while it was being planned is planned again inside its
# transaction when it has at most this many faces (well under a second at 150k faces);
# a larger one is planned again outside, in halves.
PLAN_INSIDE = 64


@dataclass(frozen=True)
class Placement:
    """Candidate groups of faces (0 = none), as a join planned them."""

    face_ids: list[int] = field(default_factory=list)
    group_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class SuggestionPlan:
    """Suggestions of unassigned faces, and the sure ones to assign automatically."""

    face_ids: list[int] = field(default_factory=list)  # whose suggestions are replaced
    # (face, person, distance, confidence) of each suggestion to store
    rows: list[tuple[int, int, float, float]] = field(default_factory=list)
    auto: list[Suggestion] = field(default_factory=list)


@dataclass(frozen=True, eq=False)
class People:
    """The faces with a person that suggestions compare to."""

    sizes: dict[int, int]  # person id -> how many faces they have
    ids: np.ndarray  # the faces' ids
    table: FaceTable | None = None  # all of them, when few enough to load at once


@dataclass(frozen=True, eq=False)
class RegroupPlan:
    """A full regroup: the faces whose group changes, by id (a batch of them then touches
    neighbouring rows: three times faster to write than in any other order)."""

    face_ids: np.ndarray
    old_groups: np.ndarray  # at the snapshot, 0 = none
    new_groups: np.ndarray  # 0 = none; ids from first_new_id on are groups it makes
    first_new_id: int
    free: list[int]  # every unassigned face at the snapshot


class Grouping:
    """Groups and suggestions of one library. plan_* and people only read (any connection,
    in any transaction); the others write in the caller's write transaction."""

    def __init__(self, index: FaceIndex | None, settings: Settings) -> None:
        self.index = index
        self.settings = settings
        self.params = GroupingParams()

    def _suggest_params(self) -> SuggestParams:
        return SuggestParams(tolerance=self.settings.tolerance)

    def _knn_all(self, conn: sqlite3.Connection) -> KnnFn:
        if self.index is not None and len(self.index):
            return self.index.search_many
        table = _table(pq.all_face_columns(conn))
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

    def plan_join(
        self,
        conn: sqlite3.Connection,
        face_ids: Sequence[int],
        not_yet: np.ndarray | None = None,
    ) -> Placement:
        """Put unassigned, groupable faces into existing groups or new ones with their
        unassigned neighbours; existing groups are never merged here. Faces in `not_yet`
        (a later batch of the same job) are left out, as if they were not there yet."""
        new = _table(pq.face_columns(conn, face_ids))
        new = new.subset(np.flatnonzero(~new.assigned & new.groupable))
        if len(new) == 0:
            return Placement()
        found, dist = self._knn_all(conn)(new.encodings, self.params.k + 1)
        if not_yet is not None and len(not_yet):
            found = np.where(np.isin(found, not_yet), -1, found)
        # Only neighbours close enough to link can join; farther groups need not be loaded.
        neighbours = np.unique(found[(found >= 0) & (dist < self.params.link_distance)])
        library_ids = set(neighbours.tolist())
        library_ids |= set(pq.group_members(conn, pq.groups_of(conn, neighbours.tolist())))
        library = _table(pq.face_columns(conn, sorted(library_ids)))

        def knn(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
            return found[:, :k], dist[:, :k]  # asked once, for the same faces

        first = pq.next_group_id(conn)
        ids, gids, _ = join_new_faces(library, new, knn, first, self.params)
        # A face picked up by the join keeps its place; faces it did not place leave
        # any stale group (they were just unassigned or are new).
        placed = dict(zip(ids.tolist(), gids.tolist(), strict=True))
        targets = sorted(set(new.face_ids.tolist()) | set(placed))
        return Placement(targets, [placed.get(f, 0) for f in targets])

    def join(
        self, conn: sqlite3.Connection, face_ids: Sequence[int], rec: pw.UndoRecord | None = None
    ) -> None:
        """plan_join, written (with `rec`, undoably)."""
        placement = self.plan_join(conn, face_ids)
        pw.set_groups(conn, rec, placement.face_ids, placement.group_ids)

    def plan_regroup(
        self, conn: sqlite3.Connection, cancelled: Callable[[], bool] = lambda: False
    ) -> RegroupPlan | None:
        """Full regroup of the unassigned faces (ids of groups that stay mostly the same are
        kept), read in one snapshot and computed outside any transaction. None when
        `cancelled()` has turned true, asked between parts of the work (under a second
        each on 100,000 faces): nothing is written before the plan is whole."""
        with pq.snapshot(conn):
            table = _table(pq.all_face_columns(conn))
            first = pq.next_group_id(conn)
        try:
            labels, _ = regroup(table, self._knn_of_free(table), first, self.params, cancelled)
        except Cancelled:
            return None
        free = np.flatnonzero(~table.assigned)
        changed = free[labels[free] != table.group_ids[free]]  # by id, as the table is
        return RegroupPlan(
            table.face_ids[changed],
            table.group_ids[changed],
            labels[changed],
            first,
            table.face_ids[free].tolist(),
        )

    # -- suggestions ----------------------------------------------------------------------

    def neighbourhood(self, conn: sqlite3.Connection, face_ids: Sequence[int]) -> list[int]:
        """The faces given plus unassigned faces within the tolerance of them."""
        table = _table(pq.face_columns(conn, face_ids))
        if len(table) == 0:
            return []
        found, dist = self._knn_all(conn)(table.encodings, NEIGHBOURS)
        near = np.unique(found[(found >= 0) & (dist <= self.settings.tolerance)])
        return sorted(set(table.face_ids.tolist()) | set(near.tolist()))

    def people(self, conn: sqlite3.Connection, leave_out: Mapping[int, int]) -> People:
        """The faces with a person that suggestions compare to, but `leave_out` (face ->
        person: faces a long job assigned automatically, compared as if still unassigned so
        that the job suggests as it would have in one go)."""
        left = np.fromiter(leave_out, np.int64, len(leave_out))
        sizes = pq.person_sizes(conn)
        for person in leave_out.values():
            sizes[person] = sizes.get(person, 1) - 1
        ids = np.setdiff1d(pq.assigned_ids(conn), left)
        index = self.index
        if len(ids) > LOAD_ASSIGNED_LIMIT and index is not None and len(index):
            return People(sizes, ids)
        table = _table(pq.assigned_columns(conn))
        return People(sizes, ids, table.subset(np.flatnonzero(~np.isin(table.face_ids, left))))

    def _people_near(self, conn: sqlite3.Connection, faces: FaceTable, people: People) -> FaceTable:
        """Faces with a person that suggestions for `faces` compare to: all of them while
        they are few, else only those the index finds near `faces` (a mature library may
        have most of its faces named; loading them all after each scan would not scale)."""
        if people.table is not None:
            return people.table
        index = self.index
        assert index is not None  # people come without their table only when it is indexed
        knn = restricted_knn(index.search_many, people.ids, len(people.ids) / len(index))
        found, _ = knn(faces.encodings, self._suggest_params().k)
        return _table(pq.face_columns(conn, np.unique(found[found >= 0]).tolist()))

    def plan_suggestions(
        self,
        conn: sqlite3.Connection,
        face_ids: Sequence[int],
        allow_auto: bool = True,
        people: People | None = None,
    ) -> SuggestionPlan:
        """New suggestions of these faces (unassigned ones), compared to `people` (default:
        everyone's faces now); the sure ones are to be assigned automatically when allowed
        and the setting allows."""
        columns = pq.face_columns(conn, face_ids)
        faces = _table(columns)
        # A face marked not a face is suggested for nobody; any suggestion it had goes.
        not_faces = columns.face_ids[columns.not_a_face & ~faces.assigned].tolist()
        faces = faces.subset(np.flatnonzero(~faces.assigned & ~columns.not_a_face))
        free = faces.face_ids.tolist()
        if not free:
            return SuggestionPlan(not_faces)
        people = self.people(conn, {}) if people is None else people
        found = suggest_people(
            faces,
            self._people_near(conn, faces, people),
            pq.rejections_of(conn, free),
            params=self._suggest_params(),
            allow_auto=allow_auto and self.settings.auto_assign,
            person_sizes=people.sizes,  # the faces compared to may be only those near
        )
        # The faces compared to may lack some of a person's (left out, or not near): one
        # photo still never shows anyone twice.
        photo_of = dict(zip(free, faces.photo_ids.tolist(), strict=True))
        held = pq.people_in_photos(conn, list(set(photo_of.values())))
        found = [s for s in found if (s.person_id, photo_of[s.face_id]) not in held]
        rows = [(s.face_id, s.person_id, s.distance, s.confidence) for s in found if not s.auto]
        return SuggestionPlan(free + not_faces, rows, [s for s in found if s.auto])

    def suggest(
        self,
        conn: sqlite3.Connection,
        face_ids: Sequence[int],
        rec: pw.UndoRecord | None = None,
        allow_auto: bool = True,
    ) -> int:
        """Recompute the suggestions of these faces (unassigned ones); assign the sure ones
        automatically when the setting allows. Returns how many were assigned."""
        return write_suggestions(conn, self.plan_suggestions(conn, face_ids, allow_auto), rec)

    def refresh_around(
        self, conn: sqlite3.Connection, face_ids: Sequence[int], rec: pw.UndoRecord | None = None
    ) -> None:
        """After faces changed person: new suggestions for them and their neighbours."""
        if face_ids:
            self.suggest(conn, self.neighbourhood(conn, face_ids), rec)


def write_suggestions(
    conn: sqlite3.Connection, plan: SuggestionPlan, rec: pw.UndoRecord | None = None
) -> int:
    """Store a plan's suggestions and make its automatic assignments; returns how many."""
    pw.replace_suggestions(conn, plan.face_ids, plan.rows)
    for s in plan.auto:
        pw.set_person(conn, rec, [s.face_id], s.person_id, "auto", s.confidence)
    return len(plan.auto)


def batch_slices(keys: np.ndarray, size: int) -> list[slice]:
    """Consecutive slices of at most `size` rows, cut between runs of equal keys (the
    faces of one photo) wherever a run fits whole into a slice."""
    keys = np.asarray(keys)
    run_starts = (np.flatnonzero(keys[1:] != keys[:-1]) + 1).tolist()
    out: list[slice] = []
    start = run_start = 0
    for end in [*run_starts, len(keys)]:  # the run [run_start, end)
        if end - start > size and run_start > start:
            out.append(slice(start, run_start))  # close before a run that does not fit
            start = run_start
        while end - start > size:  # a run longer than a slice on its own
            out.append(slice(start, start + size))
            start += size
        run_start = end
    if start < len(keys):
        out.append(slice(start, len(keys)))
    return out


@dataclass(frozen=True)
class _BatchPlan:
    placement: Placement
    suggestions: SuggestionPlan


@dataclass(frozen=True, eq=False)
class _Job:
    faces: np.ndarray  # in the order they are written
    photos: np.ndarray  # the photo of each
    join: bool  # place them into groups too
    hints: Mapping[int, list[tuple[int, str]]]  # face -> its (face, XMP name) hints
    marker: str | None  # meta key of the last face id written


class Batches:
    """A long grouping job as short write transactions.

    Each batch is planned from a snapshot, outside the write lock, then written in a
    transaction of its own that first checks that nothing the plan was made from has
    changed since (another thread or process may have written meanwhile). Between
    transactions the lock is left free now and then for others (FREE_WINDOW).
    """

    def __init__(self, store: Store, grouping: Grouping, size: int = WRITE_BATCH) -> None:
        self.store = store
        self.grouping = grouping
        self.size = max(int(size), 1)
        self._last_end = 0.0  # monotonic time the last transaction ended
        self._held = 0.0  # seconds the lock was held since it was last free for long
        self._auto: dict[int, int] = {}  # face -> person, assigned automatically so far
        self._people: tuple[tuple, People] | None = None  # and pq.people_state then

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        free_for = time.monotonic() - self._last_end
        if free_for < FREE_WINDOW and self._held >= HOLD_BUDGET:
            time.sleep(FREE_WINDOW - free_for)
            free_for = FREE_WINDOW
        if free_for >= FREE_WINDOW:
            self._held = 0.0
        start = time.monotonic()
        with self.store.write() as conn:
            yield conn
        self._last_end = time.monotonic()
        self._held += self._last_end - start

    def write_regroup(self, plan: RegroupPlan) -> list[int]:
        """A full regroup's plan, written. A face named, placed or deleted since the
        snapshot keeps what it has now. Returns the faces unassigned at the snapshot."""
        groups = plan.new_groups
        for i, start in enumerate(range(0, len(plan.face_ids), self.size)):
            part = slice(start, start + self.size)
            with self._write() as conn:
                if i == 0:
                    groups = _claim_new_ids(conn, plan)
                pw.move_groups(
                    conn,
                    plan.face_ids[part].tolist(),
                    plan.old_groups[part].tolist(),
                    groups[part].tolist(),
                )
        return plan.free

    def place(
        self,
        face_ids: Sequence[int],
        *,
        join: bool = True,
        hints: Sequence[tuple[int, str]] = (),
        marker: str | None = None,
    ) -> None:
        """Join these faces to groups (when `join`) and refresh their suggestions, automatic
        assignments included; `hints` (face, XMP name) are stored with their face's batch.

        With `marker` (a meta key) faces go in id order and each batch records its last
        face id there: a job cut short resumes after the last batch it wrote, and faces at
        or below the marker when a batch is written (another process did them) are skipped.
        """
        photo_of = pq.photos_of_faces(self.store.conn, face_ids)
        order = sorted(photo_of, key=None if marker else lambda f: (photo_of[f], f))
        photos = np.array([photo_of[f] for f in order], np.int64)
        by_face: dict[int, list[tuple[int, str]]] = {}
        for face_id, name in hints:
            by_face.setdefault(face_id, []).append((face_id, name))
        job = _Job(np.array(order, np.int64), photos, join, by_face, marker)
        for part in batch_slices(photos, self.size):
            self._place_batch(job, part)

    def _place_batch(self, job: _Job, part: slice) -> None:
        """Plan the faces job.faces[part] outside the write lock; write them when nothing
        the plan was made from has changed since. Else plan them again: inside the
        transaction when they are few, in halves (less time for anything to change) when
        not."""
        conn = self.store.conn
        with pq.snapshot(conn) as version:
            state = pq.grouping_state(conn, job.join)
            plan: _BatchPlan | None = self._plan(conn, job, part)
        with self._write() as conn:
            last = int(job.faces[part.stop - 1])
            done = int(self.store.meta(job.marker, "0") or 0) if job.marker else 0
            # Faces at or below the marker were done by another process meanwhile.
            rest = slice(part.stop - int(np.sum(job.faces[part] > done)), part.stop)
            if rest != part or not _still_holds(conn, version, state, job.join):
                plan = None
                if rest.stop - rest.start <= PLAN_INSIDE:
                    plan = self._plan(conn, job, rest)
            if plan is not None:
                self._write_plan(conn, job, plan, job.faces[rest].tolist())
                if job.marker and last > done:
                    self.store.set_meta(job.marker, str(last))
                return
        half = (rest.stop - rest.start + 1) // 2
        for piece in batch_slices(job.photos[rest], half):
            self._place_batch(job, slice(rest.start + piece.start, rest.start + piece.stop))

    def _write_plan(
        self, conn: sqlite3.Connection, job: _Job, plan: _BatchPlan, face_ids: list[int]
    ) -> None:
        pw.set_groups(conn, None, plan.placement.face_ids, plan.placement.group_ids)
        write_suggestions(conn, plan.suggestions)
        self._auto.update((s.face_id, s.person_id) for s in plan.suggestions.auto)
        hinted = [f for f in face_ids if f in job.hints]
        if hinted:
            existing = pq.photos_of_faces(conn, hinted)  # a face may be gone since
            pw.add_hints(conn, [h for f in hinted if f in existing for h in job.hints[f]])

    def _plan(self, conn: sqlite3.Connection, job: _Job, part: slice) -> _BatchPlan:
        faces = job.faces[part].tolist()
        placement = Placement()
        if job.join:
            placement = self.grouping.plan_join(conn, faces, job.faces[part.stop :])
        people = self._people_at(conn)
        return _BatchPlan(placement, self.grouping.plan_suggestions(conn, faces, True, people))

    def _people_at(self, conn: sqlite3.Connection) -> People:
        """The people to compare to, read again only when someone else changed who has a
        person (this job's own automatic assignments are left out: they never change it)."""
        key = pq.people_state(conn, self._auto)
        if self._people is None or self._people[0] != key:
            self._people = (key, self.grouping.people(conn, self._auto))
        return self._people[1]


def _still_holds(conn: sqlite3.Connection, version: int, state: tuple, join: bool) -> bool:
    """Whether a plan made at (data_version, grouping_state) still holds: surely when no
    other connection has committed since, else when nothing it depends on changed."""
    return pq.data_version(conn) == version or pq.grouping_state(conn, join) == state


def _claim_new_ids(conn: sqlite3.Connection, plan: RegroupPlan) -> np.ndarray:
    """The plan's group ids with its new ones moved past any group made since the snapshot
    (a user's action may have made some), and reserved so that none is made meanwhile."""
    shift = max(pq.next_group_id(conn) - plan.first_new_id, 0)
    made = plan.new_groups >= plan.first_new_id
    groups = np.where(made, plan.new_groups + shift, plan.new_groups)
    pw.add_groups(conn, np.unique(groups[made]).tolist())
    return groups


def _table(columns: pq.FaceColumns) -> FaceTable:
    """The engine's table of these faces; a face may seed or join a group when it is good
    enough to trust (engine.quality) and the user did not say it is no face."""
    return FaceTable.of(
        columns.face_ids,
        columns.encodings,
        columns.photo_ids,
        person_ids=columns.person_ids,
        assigned_by=columns.assigned_by,
        group_ids=columns.group_ids,
        groupable=is_groupable(columns.size_px, columns.sharpness, columns.score)
        & ~columns.not_a_face,
    )
