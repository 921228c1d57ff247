"""People in the Album facade: groups, naming, corrections, suggestions and undo.

Every user action is one write transaction that also records its reverse in undo_log.
The long jobs (grouping a scan's new faces, a regroup) are computed outside the write
transaction and written in short ones, so that a user's action never waits long.
Rules kept everywhere:
- a face the user assigned or confirmed is only ever changed by the user;
- two faces of one photo are never one person (a user action that would break this is
  refused with a LibraryError, automatic steps skip the face);
- a rejected (face, person) pair is never suggested or assigned automatically again; a
  rejection against a merged person carries over to the person it was merged into;
- a face the user marked "not a face" has no person and no group, and is never suggested,
  grouped or found by a search, until the user takes the mark back or names it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from facealbum.album.grouping import WRITE_BATCH, Batches, Grouping
from facealbum.db import people_queries as pq
from facealbum.db import people_writes as pw
from facealbum.db import queries
from facealbum.engine.quality import MIN_GROUP_SHARPNESS
from facealbum.model import FaceInfo, GroupInfo, LibraryError, PersonInfo, Suggestion

if TYPE_CHECKING:
    from facealbum.album.index_sync import IndexSync
    from facealbum.config import Settings
    from facealbum.db.store import Store
    from facealbum.interop.xmp import FaceRegion

PROCESSED_KEY = "people_processed_face_id"  # faces above this id have not been grouped yet
# An unnamed group is "probably" a named person when more than this share of its faces
# wait to be confirmed as them: a majority. On the development faces (each photo in five
# variants, half the people named from one or two photos, 60 draws) each of the 405 groups
# with faces waiting for a named person was that person, with 90-100% of its faces
# waiting, and no group of someone unnamed had any: any share up to 0.9 asks the same. A
# majority keeps a group that mixes two people from being asked about as either.
PROBABLE_SHARE = 0.5


class PeopleMixin:
    """Mixed into Album; relies on its _store, _sync and settings."""

    _store: Store
    _sync: IndexSync
    settings: Settings
    backup: Callable[[str], Path]

    def _grouping(self) -> Grouping:
        return Grouping(self._sync.index, self.settings)

    @contextmanager
    def _action(self, description: str) -> Iterator[tuple[sqlite3.Connection, pw.UndoRecord]]:
        """One undoable user action in one transaction; the action may refine
        rec.description once it knows the names involved."""
        with self._store.write() as conn:
            rec = pw.UndoRecord(conn, description)
            yield conn, rec
            pw.push_undo(conn, rec.description, rec)

    # -- reading --------------------------------------------------------------------------

    def people(self, include_hidden: bool = False) -> list[PersonInfo]:
        return pq.people(self._store.conn, include_hidden, sharp=MIN_GROUP_SHARPNESS)

    def groups(self, include_hidden: bool = False, *, limit: int | None = None) -> list[GroupInfo]:
        """Unnamed candidate groups, largest first; only the first `limit` when given (the
        People page shows a few hundred of many thousands)."""
        return pq.groups(self._store.conn, include_hidden, limit, probable_share=PROBABLE_SHARE)

    def faces_by_id(self, face_ids: Sequence[int]) -> dict[int, FaceInfo]:
        return queries.faces(self._store.conn, face_ids)

    def person_id(self, name_or_id: str | int) -> int:
        """A person by exact id, else by name (case-insensitive); LibraryError if unknown."""
        conn = self._store.conn
        text = str(name_or_id).strip()
        by_name = pq.person_by_name(conn, text)
        if by_name is not None:
            return by_name
        if text.isdigit() and pq.person_name(conn, int(text)) is not None:
            return int(text)
        raise LibraryError(f"no person called {text!r}")

    def suggestions(
        self,
        person_id: int | None = None,
        *,
        source: str | None = None,
        limit: int | None = None,
    ) -> list[Suggestion]:
        """Faces that are probably someone: look-alikes of named people and XMP names, most
        confident first. Without person_id: everyone's but hidden people's. source "xmp"
        or "similar" keeps only those; limit keeps the first ones."""
        return pq.suggestions(self._store.conn, person_id, source=source, limit=limit)

    def photos_with(self, person_ids: Sequence[int]) -> list[int]:
        """Photos showing all of these people together."""
        return pq.photos_with(self._store.conn, person_ids)

    def person_faces(self, person_id: int) -> list[int]:
        """The faces of a person, by id."""
        return pq.faces_of_person(self._store.conn, person_id)

    def not_a_face_ids(self) -> list[int]:
        """Every face the user marked "not a face", by id."""
        return pq.not_a_face_ids(self._store.conn)

    def undo_description(self) -> str | None:
        entry = pw.last_undo(self._store.conn)
        return None if entry is None else entry[1]

    # -- checks ---------------------------------------------------------------------------

    def _require_person(self, conn: sqlite3.Connection, person_id: int) -> str:
        name = pq.person_name(conn, person_id)
        if name is None:
            raise LibraryError(f"no person with id {person_id}")
        return name

    def _require_faces(self, conn: sqlite3.Connection, face_ids: Sequence[int]) -> dict[int, int]:
        photos = pq.photos_of_faces(conn, face_ids)
        missing = sorted(set(face_ids) - set(photos))
        if missing:
            raise LibraryError(f"no face with id {missing[0]}")
        return photos

    def _check_same_photo(
        self, conn: sqlite3.Connection, face_photos: dict[int, int], person_id: int
    ) -> None:
        """Refuse to give one person two faces of one photo."""
        name = pq.person_name(conn, person_id)
        seen: dict[int, int] = {}
        for face_id, photo in sorted(face_photos.items()):
            if photo in seen:
                raise LibraryError(
                    f"faces {seen[photo]} and {face_id} are in the same photo"
                    f" ({self._photo_name(conn, photo)}); they cannot both be {name}"
                )
            seen[photo] = face_id
        held = pq.person_faces_in_photos(conn, person_id, list(seen))
        for photo, other in held.items():
            if other not in face_photos:
                raise LibraryError(
                    f"{name} is already face {other} in {self._photo_name(conn, photo)};"
                    f" one photo cannot show {name} twice"
                )

    @staticmethod
    def _photo_name(conn: sqlite3.Connection, photo_id: int) -> str:
        path = pq.photo_path(conn, photo_id)
        return Path(path).name if path else f"photo {photo_id}"

    @staticmethod
    def _clean_name(name: str) -> str:
        name = " ".join(str(name).split())
        if not name:
            raise LibraryError("a name cannot be empty")
        return name

    # -- naming ---------------------------------------------------------------------------

    def create_person(self, name: str) -> int:
        """The person called `name`, created if nobody has that name yet."""
        name = self._clean_name(name)
        existing = pq.person_by_name(self._store.conn, name)
        if existing is not None:
            return existing
        with self._action(f"Create {name}") as (conn, rec):
            return pw.create_person(conn, rec, name)

    def name_group(self, group_id: int, name: str) -> int:
        """Name a group: its faces become that person (an existing name gets them); faces
        once rejected for that person stay out. Returns the person id."""
        name = self._clean_name(name)
        grouping = self._grouping()
        with self._action(f"Name a group {name}") as (conn, rec):
            faces = pq.group_faces(conn, group_id)
            if not faces:
                raise LibraryError(f"no unnamed group with id {group_id}")
            person_id = pq.person_by_name(conn, name)
            if person_id is None:
                person_id = pw.create_person(conn, rec, name)
            refused = {f for f, p in pq.rejections_of(conn, faces) if p == person_id}
            faces = [f for f in faces if f not in refused]
            photos = pq.photos_of_faces(conn, faces)
            self._check_same_photo(conn, photos, person_id)
            pw.set_person(conn, rec, faces, person_id, "user")
            grouping.refresh_around(conn, faces, rec)
        return person_id

    def rename_person(self, person_id: int, name: str) -> None:
        name = self._clean_name(name)
        with self._action(f"Rename to {name}") as (conn, rec):
            old = self._require_person(conn, person_id)
            other = pq.person_by_name(conn, name)
            if other is not None and other != person_id:
                raise LibraryError(f"{name} already exists; merge {old} into {name} instead")
            pw.update_person(conn, rec, person_id, name=name)

    def merge_people(self, source_ids: Sequence[int], target_id: int) -> None:
        """Give the target every face of the sources, then remove the sources."""
        sources = [int(s) for s in dict.fromkeys(source_ids) if int(s) != target_id]
        grouping = self._grouping()
        with self._action("Merge people") as (conn, rec):
            target = self._require_person(conn, target_id)
            moved: list[int] = []
            for source in sources:
                self._require_person(conn, source)
                faces = pq.faces_of_person(conn, source)
                refused = {f for f, p in pq.rejections_of(conn, faces) if p == target_id}
                keep = [f for f in faces if f not in refused]
                self._check_same_photo(conn, pq.photos_of_faces(conn, keep), target_id)
                carried = [(f, target_id) for f in pq.rejected_for(conn, source)]
                pw.add_rejections(conn, rec, carried)
                pw.set_person(conn, rec, keep, target_id, "user")
                pw.move_vanished_faces(conn, rec, source, target_id)
                moved += faces
                pw.delete_person(conn, rec, source)  # the refused faces become unassigned
            rec.description = f"Merge into {target}"
            if moved:
                grouping.join(conn, moved, rec)  # faces refused by the target
                grouping.refresh_around(conn, moved, rec)

    def delete_person(self, person_id: int) -> None:
        """Forget a person; their faces become unassigned (and are grouped again)."""
        grouping = self._grouping()
        with self._action("Delete a person") as (conn, rec):
            rec.description = f"Delete {self._require_person(conn, person_id)}"
            faces = pw.delete_person(conn, rec, person_id)
            grouping.join(conn, faces, rec)
            grouping.suggest(conn, faces, rec, allow_auto=False)

    def set_person_hidden(self, person_id: int, hidden: bool) -> None:
        with self._action("Hide a person" if hidden else "Show a person") as (conn, rec):
            self._require_person(conn, person_id)
            pw.update_person(conn, rec, person_id, hidden=int(hidden))

    def set_group_hidden(self, group_id: int, hidden: bool) -> None:
        with self._action("Hide a group" if hidden else "Show a group") as (conn, rec):
            if pq.group_exists(conn, group_id):
                pw.set_group_hidden(conn, rec, group_id, hidden)
            else:
                raise LibraryError(f"no group with id {group_id}")

    def set_cover(self, person_id: int, face_id: int) -> None:
        with self._action("Choose a cover") as (conn, rec):
            name = self._require_person(conn, person_id)
            owners = pq.people_of_faces(conn, [face_id])
            if owners.get(face_id) != person_id:
                raise LibraryError(f"face {face_id} is not {name}")
            pw.update_person(conn, rec, person_id, cover_face_id=face_id)

    # -- corrections ----------------------------------------------------------------------

    def assign_faces(self, face_ids: Sequence[int], person_id: int) -> None:
        """The user says these faces are this person (moving them from anyone else)."""
        face_ids = [int(f) for f in dict.fromkeys(face_ids)]
        grouping = self._grouping()
        with self._action("Assign faces") as (conn, rec):
            name = self._require_person(conn, person_id)
            rec.description = f"Assign {_faces(len(face_ids))} to {name}"
            photos = self._require_faces(conn, face_ids)
            self._check_same_photo(conn, photos, person_id)
            old = {p for p in pq.people_of_faces(conn, face_ids).values() if p is not None}
            # The user's word now overrides an earlier "not this person" or "not a face".
            pw.drop_rejections(conn, rec, [(f, person_id) for f in face_ids])
            unmarked = pq.not_a_face_ids(conn, face_ids)
            if unmarked:
                pw.set_not_a_face(conn, rec, unmarked, False)
            pw.set_person(conn, rec, face_ids, person_id, "user")
            grouping.refresh_around(conn, face_ids, rec)
            self._fix_cover(conn, rec, old)

    def remove_faces(self, face_ids: Sequence[int]) -> None:
        """Take each face from its person and remember it is not them: one action, undone
        at once. LibraryError (nothing changed) when a face is unknown or has no person."""
        face_ids = [int(f) for f in dict.fromkeys(face_ids)]
        if not face_ids:
            return
        grouping = self._grouping()
        with self._action("Remove faces") as (conn, rec):
            owner = pq.people_of_faces(conn, face_ids)
            owned: dict[int, int] = {}
            for face_id in face_ids:
                if face_id not in owner:
                    raise LibraryError(f"no face with id {face_id}")
                person = owner[face_id]
                if person is None:
                    raise LibraryError(f"face {face_id} has no person to remove it from")
                owned[face_id] = person
            people = set(owned.values())
            names = [self._require_person(conn, p) for p in sorted(people)]
            whom = names[0] if len(names) == 1 else f"{len(names)} people"
            rec.description = f"Remove {_faces(len(face_ids), 'a face')} from {whom}"
            pw.add_rejections(conn, rec, list(owned.items()))
            pw.set_person(conn, rec, face_ids, None, None)
            self._fix_cover(conn, rec, people)
            grouping.join(conn, face_ids, rec)
            grouping.suggest(conn, face_ids, rec, allow_auto=False)

    def reject(self, face_id: int, person_id: int) -> None:
        """This face is not this person: unassign it if it was, never suggest it again."""
        grouping = self._grouping()
        with self._action("Reject a face") as (conn, rec):
            name = self._require_person(conn, person_id)
            self._require_faces(conn, [face_id])
            was_theirs = pq.people_of_faces(conn, [face_id])[face_id] == person_id
            pw.add_rejections(conn, rec, [(face_id, person_id)])
            rec.description = f"Remove a face from {name}" if was_theirs else f"Not {name}"
            if was_theirs:
                pw.set_person(conn, rec, [face_id], None, None)
                self._fix_cover(conn, rec, {person_id})
                grouping.join(conn, [face_id], rec)
            grouping.suggest(conn, [face_id], rec, allow_auto=False)

    def reject_group(self, group_id: int, person_id: int) -> None:
        """None of this unnamed group's faces is this person ("Probably Mom?" - "No"):
        never suggested as them again; one action, undone at once."""
        grouping = self._grouping()
        with self._action("Reject a group") as (conn, rec):
            name = self._require_person(conn, person_id)
            faces = pq.group_faces(conn, group_id)
            if not faces:
                raise LibraryError(f"no unnamed group with id {group_id}")
            rec.description = f"Not {name}"
            rec.keep_faces(faces)  # an undo then suggests them again
            pw.add_rejections(conn, rec, [(f, person_id) for f in faces])
            grouping.suggest(conn, faces, rec, allow_auto=False)

    def confirm(self, face_ids: Sequence[int]) -> None:
        """Accept the current suggestions of these faces (creating a person for an XMP
        name nobody has yet)."""
        grouping = self._grouping()
        with self._action("Confirm suggestions") as (conn, rec):
            by_face = _current_suggestions(conn, face_ids)
            missing = [f for f in face_ids if f not in by_face]
            if missing:
                raise LibraryError(f"face {missing[0]} has no suggestion to confirm")
            by_person: dict[int, list[int]] = {}
            for s in by_face.values():
                pid = s.person_id
                if pid is None:
                    pid = pq.person_by_name(conn, s.name) or pw.create_person(conn, rec, s.name)
                by_person.setdefault(pid, []).append(s.face_id)
            for pid, faces in by_person.items():
                self._check_same_photo(conn, pq.photos_of_faces(conn, faces), pid)
                pw.set_person(conn, rec, faces, pid, "user")
            grouping.refresh_around(conn, list(by_face), rec)
            rec.description = f"Confirm {_faces(len(by_face))}"

    def reject_suggestions(self, face_ids: Sequence[int]) -> None:
        """Say no to the current suggestion of each face (never offered again)."""
        grouping = self._grouping()
        with self._action("Reject suggestions") as (conn, rec):
            found = _current_suggestions(conn, face_ids)
            rec.description = f"Reject {_faces(len(found))}"
            for s in found.values():
                if s.source == "xmp":
                    pw.reject_hint(conn, rec, s.face_id)
                if s.person_id is not None:
                    pw.add_rejections(conn, rec, [(s.face_id, s.person_id)])
            grouping.suggest(conn, list(found), rec, allow_auto=False)

    # -- not a face -----------------------------------------------------------------------

    def mark_not_a_face(
        self, face_ids: Sequence[int] = (), *, group_ids: Sequence[int] = ()
    ) -> int:
        """The user says these detections are no face (a pet, a poster), and so is every
        face of the unnamed groups `group_ids` (a group of dog faces). Each leaves its
        person, its group and its suggestions, and stays out of grouping, suggestions and
        searches, also after a rescan. One action, undone at once; returns how many faces
        were marked. LibraryError (nothing changed) for an unknown face or group."""
        face_ids = [int(f) for f in face_ids]
        if not face_ids and not group_ids:
            return 0
        grouping = self._grouping()
        with self._action("Not a face") as (conn, rec):
            for group_id in dict.fromkeys(int(g) for g in group_ids):
                members = pq.group_faces(conn, group_id)
                if not members:
                    raise LibraryError(f"no unnamed group with id {group_id}")
                face_ids += members
            face_ids = list(dict.fromkeys(face_ids))
            self._mark_not_a_face(conn, rec, grouping, face_ids)
        return len(face_ids)

    def _mark_not_a_face(
        self,
        conn: sqlite3.Connection,
        rec: pw.UndoRecord,
        grouping: Grouping,
        face_ids: list[int],
    ) -> None:
        owners = pq.people_of_faces(conn, face_ids)
        missing = [f for f in face_ids if f not in owners]
        if missing:
            raise LibraryError(f"no face with id {missing[0]}")
        rec.description = f"Mark {_faces(len(face_ids), 'a face')} as not " + (
            "a face" if len(face_ids) == 1 else "faces"
        )
        pw.set_not_a_face(conn, rec, face_ids, True)
        named = {f: p for f, p in owners.items() if p is not None}
        if named:
            # Their people lost a face: the suggestions near it may change.
            self._fix_cover(conn, rec, set(named.values()))
            grouping.suggest(conn, grouping.neighbourhood(conn, list(named)), rec, allow_auto=False)

    def unmark_not_a_face(self, face_ids: Sequence[int]) -> None:
        """Take back "not a face": the faces are grouped and suggested again like any new
        face. One action, undone at once. LibraryError (nothing changed) when a face is
        unknown."""
        face_ids = [int(f) for f in dict.fromkeys(face_ids)]
        if not face_ids:
            return
        grouping = self._grouping()
        with self._action("A face after all") as (conn, rec):
            self._require_faces(conn, face_ids)
            rec.description = f"Mark {_faces(len(face_ids), 'a face')} as " + (
                "a face again" if len(face_ids) == 1 else "faces again"
            )
            pw.set_not_a_face(conn, rec, face_ids, False)
            grouping.join(conn, face_ids, rec)
            grouping.suggest(conn, face_ids, rec, allow_auto=False)

    def _fix_cover(
        self, conn: sqlite3.Connection, rec: pw.UndoRecord, person_ids: set[int]
    ) -> None:
        """A cover face that left its person stops being their cover."""
        for pid in person_ids:
            if pq.cover_left_person(conn, pid):
                pw.update_person(conn, rec, pid, cover_face_id=None)

    # -- undo -----------------------------------------------------------------------------

    def undo(self) -> str | None:
        """Reverse the latest action; returns its description, None when nothing is left."""
        grouping = self._grouping()
        with self._store.write() as conn:
            entry = pw.last_undo(conn)
            if entry is None:
                return None
            try:
                faces = pw.undo(conn, entry[0], entry[2])
            except sqlite3.IntegrityError as e:
                raise LibraryError(f"cannot undo {entry[1]!r}: {e}") from e
            grouping.suggest(conn, grouping.neighbourhood(conn, faces), None, allow_auto=False)
        return entry[1]

    # -- XMP ------------------------------------------------------------------------------

    def export_xmp(
        self,
        photo_ids: Sequence[int] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> int:
        """Write the named people of each photo (default: every photo with one) as MWG face
        regions into its .xmp sidecar; photos are never modified. Returns how many sidecars
        were written. Each failure (read-only folder, damaged sidecar) goes to on_error as
        one line; without on_error, failures raise one LibraryError after the rest is done.
        """
        from facealbum.album import xmp_names

        errors: list[str] = []
        written = xmp_names.export(self._store.conn, photo_ids, on_error or errors.append)
        if errors:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise LibraryError(f"{written} sidecars written; {errors[0]}{more}")
        return written

    def _read_hints(
        self, face_ids: list[int], known: Mapping[str, list[FaceRegion]] | None = None
    ) -> list[tuple[int, str]]:
        from facealbum.album import xmp_names

        return xmp_names.read_hints(self._store.conn, face_ids, known)

    # -- grouping -------------------------------------------------------------------------

    def regroup(
        self,
        full: bool = False,
        *,
        batch_size: int = WRITE_BATCH,
        cancel: threading.Event | None = None,
    ) -> bool:
        """Group unassigned faces again. full=False only places faces that have no group;
        full=True redoes every candidate group (ids of groups that stay mostly the same are
        kept). Faces with a person are never touched.

        Computed outside the write transaction and written `batch_size` faces at a time: a
        user's action meanwhile waits a fraction of a second, and stands. A full regroup
        can be cancelled (`cancel` set) while it is computed: it then changes nothing and
        returns False. Once it writes, it finishes: half the groups redone would be
        neither the old grouping nor the new one."""
        batches = Batches(self._store, self._grouping(), batch_size)
        if not full:
            batches.place(pq.free_ungrouped(self._store.conn))
            return True
        plan = batches.grouping.plan_regroup(
            self._store.conn, cancel.is_set if cancel else lambda: False
        )
        if plan is None:
            return False
        self.backup("before-regroup")  # it rewrites every group: keep the way back
        batches.place(batches.write_regroup(plan), join=False)
        return True

    def _update_people_after_scan(
        self,
        read_xmp: bool = True,
        *,
        batch_size: int = WRITE_BATCH,
        xmp_regions: Mapping[str, list[FaceRegion]] | None = None,
    ) -> int:
        """Group the faces added since the last call and refresh their suggestions
        (automatic assignments included). Returns how many new faces were processed.
        `xmp_regions`: the XMP regions of photos the scan has read already (path -> regions).

        Written `batch_size` faces at a time, each batch advancing PROCESSED_KEY: a run cut
        short (killed, a full disk) resumes where it stopped, no face done twice."""
        done = int(self._store.meta(PROCESSED_KEY, "0") or 0)
        new = pq.faces_after(self._store.conn, done)
        if not new:
            return 0
        # Sidecars: read before any lock.
        hints = self._read_hints(new, xmp_regions) if read_xmp else []
        Batches(self._store, self._grouping(), batch_size).place(
            new, hints=hints, marker=PROCESSED_KEY
        )
        return len(new)


def _faces(n: int, one: str = "") -> str:
    """ "3 faces", "1 face" (or `one` for a single face when given)."""
    if n == 1 and one:
        return one
    return f"{n} face{'s' * (n != 1)}"


def _current_suggestions(
    conn: sqlite3.Connection, face_ids: Sequence[int]
) -> dict[int, Suggestion]:
    """face id -> its suggestion now, hidden people's included."""
    out = {s.face_id: s for s in pq.suggestions(conn, None, face_ids)}
    for pid in pq.hidden_people(conn):
        out.update({s.face_id: s for s in pq.suggestions(conn, pid, face_ids)})
    return out
