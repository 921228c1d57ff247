"""Writes behind naming and corrections, each recorded so that it can be undone.

Every function runs inside the caller's write transaction. Before a row changes, an
UndoRecord keeps its first state in this action; undo puts those states back. Only what
the action itself touched is restored, so undoing one action never drops a rejection or a
name that another action made.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from facealbum.db.queries import chunks, marks

UNDO_LIMIT = 100  # actions kept in undo_log (the oldest are dropped)


class UndoRecord:
    """First-seen state of the rows one action changes."""

    def __init__(self, conn: sqlite3.Connection, description: str = "") -> None:
        self.conn = conn
        self.description = description  # what the user did, shown as "Undo <description>"
        # id -> [person_id, group_id, assigned_by, confidence, not_a_face]
        self.faces: dict[int, list[Any]] = {}
        self.people: dict[int, list[Any] | None] = {}  # id -> [name, hidden, cover] | absent
        self.groups: dict[int, int | None] = {}  # id -> hidden | absent
        self.rejections: dict[tuple[int, int], bool] = {}  # (face, person) -> existed
        self.hints: dict[int, int] = {}  # face id -> rejected flag
        # Faces of photos away from disk (vanished_faces): id -> [person_id, assigned_by,
        # confidence], and their rejections: (face, person) -> existed.
        self.vanished: dict[int, list[Any]] = {}
        self.vanished_rejections: dict[tuple[int, int], bool] = {}

    def keep_faces(self, face_ids: Iterable[int]) -> None:
        todo = [int(i) for i in dict.fromkeys(face_ids) if int(i) not in self.faces]
        for part in chunks(todo):
            rows = self.conn.execute(
                "SELECT id, person_id, group_id, assigned_by, confidence, not_a_face FROM faces"
                f" WHERE id IN ({marks(len(part))})",
                part,
            )
            for r in rows:
                self.faces[r[0]] = list(r[1:])

    def keep_person(self, person_id: int) -> None:
        if person_id in self.people:
            return
        row = self.conn.execute(
            "SELECT name, hidden, cover_face_id FROM people WHERE id = ?", (person_id,)
        ).fetchone()
        self.people[person_id] = None if row is None else list(row)

    def keep_group(self, group_id: int) -> None:
        if group_id in self.groups:
            return
        row = self.conn.execute("SELECT hidden FROM face_groups WHERE id = ?", (group_id,))
        found = row.fetchone()
        self.groups[group_id] = None if found is None else int(found[0])

    def keep_rejection(self, face_id: int, person_id: int) -> None:
        key = (int(face_id), int(person_id))
        if key not in self.rejections:
            self.rejections[key] = _rejected(self.conn, *key)

    def keep_hint(self, face_id: int) -> None:
        if face_id in self.hints:
            return
        row = self.conn.execute(
            "SELECT rejected FROM face_hints WHERE face_id = ?", (face_id,)
        ).fetchone()
        if row is not None:
            self.hints[face_id] = int(row[0])

    def keep_vanished_faces_of(self, person_id: int) -> list[int]:
        """Keep the faces of vanished photos that `person_id` has, and their rejections of
        that person; returns those faces."""
        rows = self.conn.execute(
            "SELECT id, person_id, assigned_by, confidence FROM vanished_faces WHERE person_id = ?",
            (person_id,),
        ).fetchall()
        for r in rows:
            self.vanished.setdefault(r[0], list(r[1:]))
        for (face_id,) in self.conn.execute(
            "SELECT face_id FROM vanished_rejections WHERE person_id = ?", (person_id,)
        ).fetchall():
            self.vanished_rejections.setdefault((face_id, person_id), True)
        return [r[0] for r in rows]

    def payload(self) -> dict[str, Any]:
        return {
            "faces": [[k, *v] for k, v in self.faces.items()],
            "people": [[k, v] for k, v in self.people.items()],
            "groups": [[k, v] for k, v in self.groups.items()],
            "rejections": [[f, p, e] for (f, p), e in self.rejections.items()],
            "hints": [[k, v] for k, v in self.hints.items()],
            "vanished": [[k, *v] for k, v in self.vanished.items()],
            "vanished_rejections": [[f, p, e] for (f, p), e in self.vanished_rejections.items()],
        }


def _rejected(conn: sqlite3.Connection, face_id: int, person_id: int) -> bool:
    row = conn.execute(
        "SELECT 1 FROM rejections WHERE face_id = ? AND person_id = ?", (face_id, person_id)
    ).fetchone()
    return row is not None


# -- changes (each keeps the old state in `rec` first) -------------------------------------


def set_person(
    conn: sqlite3.Connection,
    rec: UndoRecord | None,
    face_ids: Sequence[int],
    person_id: int | None,
    assigned_by: str | None,
    confidence: float | None = None,
) -> None:
    """Give faces a person (or none). An assigned face leaves its candidate group."""
    if rec is not None:
        rec.keep_faces(face_ids)
    if person_id is None:
        sql = "UPDATE faces SET person_id = NULL, assigned_by = NULL, confidence = NULL"
        args: tuple = ()
    else:
        sql = "UPDATE faces SET person_id = ?, assigned_by = ?, confidence = ?, group_id = NULL"
        args = (person_id, assigned_by, confidence)
    for part in chunks(list(face_ids)):
        conn.execute(f"{sql} WHERE id IN ({marks(len(part))})", (*args, *part))


def set_groups(
    conn: sqlite3.Connection, rec: UndoRecord | None, face_ids: Sequence[int], groups: Sequence[int]
) -> None:
    """Put unassigned faces into candidate groups (0 = none); assigned faces and faces marked
    not a face are skipped."""
    if rec is not None:
        rec.keep_faces(face_ids)
    for gid in set(groups) - {0}:
        if rec is not None:
            rec.keep_group(int(gid))
        conn.execute("INSERT OR IGNORE INTO face_groups (id) VALUES (?)", (int(gid),))
    conn.executemany(
        "UPDATE faces SET group_id = ? WHERE id = ? AND person_id IS NULL AND not_a_face = 0",
        [(int(g) or None, int(f)) for f, g in zip(face_ids, groups, strict=True)],
    )


def move_groups(
    conn: sqlite3.Connection,
    face_ids: Sequence[int],
    planned_from: Sequence[int],
    groups: Sequence[int],
) -> None:
    """Move unassigned faces from the group they were in when the move was planned (0 =
    none) to `groups` (0 = none). A face that got a person, another group or the mark "not a
    face" since then keeps what it has now: a later decision is never overwritten by an
    older plan."""
    add_groups(conn, groups)
    conn.executemany(
        "UPDATE faces SET group_id = ? WHERE id = ? AND person_id IS NULL AND group_id IS ?"
        " AND not_a_face = 0",
        [
            (int(g) or None, int(f), int(old) or None)
            for f, old, g in zip(face_ids, planned_from, groups, strict=True)
        ],
    )


def set_not_a_face(
    conn: sqlite3.Connection, rec: UndoRecord, face_ids: Sequence[int], not_a_face: bool
) -> None:
    """Mark faces as not a face (they leave their person, their group and their
    suggestions), or take the mark back (they stay out of any group until grouped again)."""
    rec.keep_faces(face_ids)
    if not_a_face:
        sql = (
            "UPDATE faces SET not_a_face = 1, person_id = NULL, assigned_by = NULL,"
            " confidence = NULL, group_id = NULL"
        )
    else:
        sql = "UPDATE faces SET not_a_face = 0"
    for part in chunks(list(face_ids)):
        conn.execute(f"{sql} WHERE id IN ({marks(len(part))})", part)
        if not_a_face:  # derived data, rebuilt by undo
            conn.execute(f"DELETE FROM suggestions WHERE face_id IN ({marks(len(part))})", part)


def add_groups(conn: sqlite3.Connection, group_ids: Iterable[int]) -> None:
    """Make these candidate groups (0 = none) unless they exist."""
    conn.executemany(
        "INSERT OR IGNORE INTO face_groups (id) VALUES (?)",
        [(int(g),) for g in set(group_ids) - {0}],
    )


def add_rejections(
    conn: sqlite3.Connection, rec: UndoRecord | None, pairs: Iterable[tuple[int, int]]
) -> None:
    for face_id, person_id in pairs:
        if rec is not None:
            rec.keep_rejection(face_id, person_id)
        conn.execute(
            "INSERT OR IGNORE INTO rejections (face_id, person_id) VALUES (?, ?)",
            (face_id, person_id),
        )
        conn.execute(
            "DELETE FROM suggestions WHERE face_id = ? AND person_id = ?", (face_id, person_id)
        )


def drop_rejections(
    conn: sqlite3.Connection, rec: UndoRecord, pairs: Iterable[tuple[int, int]]
) -> None:
    for face_id, person_id in pairs:
        rec.keep_rejection(face_id, person_id)
        conn.execute(
            "DELETE FROM rejections WHERE face_id = ? AND person_id = ?", (face_id, person_id)
        )


def create_person(conn: sqlite3.Connection, rec: UndoRecord, name: str) -> int:
    person_id = conn.execute("INSERT INTO people (name) VALUES (?)", (name,)).lastrowid
    rec.people.setdefault(person_id, None)
    return person_id


def update_person(conn: sqlite3.Connection, rec: UndoRecord, person_id: int, **values: Any) -> None:
    """Set columns name / hidden / cover_face_id of one person."""
    rec.keep_person(person_id)
    for column, value in values.items():
        assert column in ("name", "hidden", "cover_face_id")
        conn.execute(f"UPDATE people SET {column} = ? WHERE id = ?", (value, person_id))


def delete_person(conn: sqlite3.Connection, rec: UndoRecord, person_id: int) -> list[int]:
    """Remove a person; their faces become unassigned. Returns those faces."""
    rec.keep_person(person_id)
    faces = [r[0] for r in conn.execute("SELECT id FROM faces WHERE person_id = ?", (person_id,))]
    for (face_id,) in conn.execute(
        "SELECT face_id FROM rejections WHERE person_id = ?", (person_id,)
    ).fetchall():
        rec.keep_rejection(face_id, person_id)  # the delete cascades to them
    # The delete also takes the person from the faces of photos away from disk (and their
    # rejections of it): kept, so that undo gives it back to them too.
    rec.keep_vanished_faces_of(person_id)
    set_person(conn, rec, faces, None, None)
    conn.execute("DELETE FROM people WHERE id = ?", (person_id,))
    return faces


def move_vanished_faces(
    conn: sqlite3.Connection, rec: UndoRecord, source: int, target: int
) -> None:
    """Before `source` is merged into `target`: the faces of photos away from disk (an
    unplugged drive, a folder not scanned yet) go to `target` as the faces at hand do, and
    their rejections of `source` become rejections of `target`; a face rejected for
    `target` is left without a person. Otherwise they would come back nameless."""
    faces = rec.keep_vanished_faces_of(source)
    refused = {
        r[0]
        for r in conn.execute(
            "SELECT face_id FROM vanished_rejections WHERE person_id = ? AND face_id IN"
            " (SELECT id FROM vanished_faces WHERE person_id = ?)",
            (target, source),
        )
    }
    for face_id in faces:
        if face_id in refused:
            conn.execute(
                "UPDATE vanished_faces SET person_id = NULL, assigned_by = NULL,"
                " confidence = NULL WHERE id = ?",
                (face_id,),
            )
        else:
            conn.execute(
                "UPDATE vanished_faces SET person_id = ?, assigned_by = 'user', confidence = NULL"
                " WHERE id = ?",
                (target, face_id),
            )
    for (face_id,) in conn.execute(
        "SELECT face_id FROM vanished_rejections WHERE person_id = ?", (source,)
    ).fetchall():
        key = (face_id, target)
        if key not in rec.vanished_rejections:
            rec.vanished_rejections[key] = bool(
                conn.execute(
                    "SELECT 1 FROM vanished_rejections WHERE face_id = ? AND person_id = ?", key
                ).fetchone()
            )
        conn.execute(
            "INSERT OR IGNORE INTO vanished_rejections (face_id, person_id) VALUES (?, ?)", key
        )


def set_group_hidden(
    conn: sqlite3.Connection, rec: UndoRecord, group_id: int, hidden: bool
) -> None:
    rec.keep_group(group_id)
    conn.execute("UPDATE face_groups SET hidden = ? WHERE id = ?", (int(hidden), group_id))


def reject_hint(conn: sqlite3.Connection, rec: UndoRecord, face_id: int) -> None:
    rec.keep_hint(face_id)
    conn.execute("UPDATE face_hints SET rejected = 1 WHERE face_id = ?", (face_id,))


# -- the undo log ---------------------------------------------------------------------------


def push_undo(conn: sqlite3.Connection, description: str, rec: UndoRecord) -> None:
    conn.execute(
        "INSERT INTO undo_log (description, payload) VALUES (?, ?)",
        (description, json.dumps(rec.payload())),
    )
    conn.execute(
        "DELETE FROM undo_log WHERE id <= (SELECT MAX(id) FROM undo_log) - ?", (UNDO_LIMIT,)
    )


def last_undo(conn: sqlite3.Connection) -> tuple[int, str, str] | None:
    return conn.execute(
        "SELECT id, description, payload FROM undo_log ORDER BY id DESC LIMIT 1"
    ).fetchone()


def undo(conn: sqlite3.Connection, entry_id: int, payload: str) -> list[int]:
    """Put back what one action changed and drop its log entry; returns the faces touched."""
    data = json.loads(payload)
    people = {int(k): v for k, v in data["people"]}
    for person_id, row in people.items():
        if row is None:
            continue
        name, hidden, _ = row
        if conn.execute("SELECT 1 FROM people WHERE id = ?", (person_id,)).fetchone():
            conn.execute(
                "UPDATE people SET name = ?, hidden = ? WHERE id = ?", (name, hidden, person_id)
            )
        else:
            conn.execute(
                "INSERT INTO people (id, name, hidden) VALUES (?, ?, ?)", (person_id, name, hidden)
            )
    for group_id, hidden in data["groups"]:
        conn.execute("INSERT OR IGNORE INTO face_groups (id) VALUES (?)", (group_id,))
        conn.execute("UPDATE face_groups SET hidden = ? WHERE id = ?", (hidden or 0, group_id))
    faces = [int(r[0]) for r in data["faces"]]
    for face_id, person_id, group_id, assigned_by, confidence, *rest in data["faces"]:
        # Entries logged before faces could be marked have no mark: theirs is kept, but a
        # face given back a person is a face.
        not_a_face = rest[0] if rest else None
        if group_id is not None:
            conn.execute("INSERT OR IGNORE INTO face_groups (id) VALUES (?)", (group_id,))
        conn.execute(
            "UPDATE faces SET person_id = ?, group_id = ?, assigned_by = ?, confidence = ?,"
            " not_a_face = CASE WHEN ? IS NOT NULL THEN 0 ELSE COALESCE(?, not_a_face) END"
            " WHERE id = ?",
            (person_id, group_id, assigned_by, confidence, person_id, not_a_face, face_id),
        )
    for person_id, row in people.items():
        if row is None:  # made by this action: unassign whatever it holds now, then drop it
            held = conn.execute("SELECT id FROM faces WHERE person_id = ?", (person_id,))
            faces += [r[0] for r in held.fetchall()]
            conn.execute(
                "UPDATE faces SET person_id = NULL, assigned_by = NULL, confidence = NULL"
                " WHERE person_id = ?",
                (person_id,),
            )
            conn.execute("DELETE FROM people WHERE id = ?", (person_id,))
        else:
            conn.execute(
                "UPDATE people SET cover_face_id = (SELECT id FROM faces WHERE id = ?)"
                " WHERE id = ?",
                (row[2], person_id),
            )
    for face_id, person_id, existed in data["rejections"]:
        if existed:
            conn.execute(
                "INSERT OR IGNORE INTO rejections (face_id, person_id)"
                " SELECT ?, ? WHERE EXISTS (SELECT 1 FROM faces WHERE id = ?)"
                " AND EXISTS (SELECT 1 FROM people WHERE id = ?)",
                (face_id, person_id, face_id, person_id),
            )
        else:
            conn.execute(
                "DELETE FROM rejections WHERE face_id = ? AND person_id = ?", (face_id, person_id)
            )
    for group_id, hidden in data["groups"]:
        if hidden is None:  # made by this action: gone again once empty
            conn.execute(
                "DELETE FROM face_groups WHERE id = ?"
                " AND NOT EXISTS (SELECT 1 FROM faces WHERE group_id = ?)",
                (group_id, group_id),
            )
    for face_id, rejected in data["hints"]:
        conn.execute("UPDATE face_hints SET rejected = ? WHERE face_id = ?", (rejected, face_id))
    _undo_vanished(conn, data)
    conn.execute("DELETE FROM undo_log WHERE id = ?", (entry_id,))
    return faces


def _undo_vanished(conn: sqlite3.Connection, data: dict[str, Any]) -> None:
    """The faces of photos away from disk, as they were (entries logged before these were
    kept have none). A face or person gone since is left alone."""
    person_exists = "(? IS NULL OR EXISTS (SELECT 1 FROM people WHERE id = ?))"
    for face_id, person_id, assigned_by, confidence in data.get("vanished", []):
        conn.execute(
            "UPDATE vanished_faces SET person_id = ?, assigned_by = ?, confidence = ?"
            f" WHERE id = ? AND {person_exists}",
            (person_id, assigned_by, confidence, face_id, person_id, person_id),
        )
    for face_id, person_id, existed in data.get("vanished_rejections", []):
        if existed:
            conn.execute(
                "INSERT OR IGNORE INTO vanished_rejections (face_id, person_id)"
                " SELECT ?, ? WHERE EXISTS (SELECT 1 FROM vanished_faces WHERE id = ?)"
                " AND EXISTS (SELECT 1 FROM people WHERE id = ?)",
                (face_id, person_id, face_id, person_id),
            )
        else:
            conn.execute(
                "DELETE FROM vanished_rejections WHERE face_id = ? AND person_id = ?",
                (face_id, person_id),
            )


# -- suggestions and hints (derived, not undone) --------------------------------------------


def replace_suggestions(
    conn: sqlite3.Connection,
    face_ids: Sequence[int],
    rows: Iterable[tuple[int, int, float, float]],
) -> None:
    """Forget the suggestions of `face_ids`, then store rows (face, person, distance, conf)."""
    for part in chunks(list(face_ids)):
        conn.execute(f"DELETE FROM suggestions WHERE face_id IN ({marks(len(part))})", part)
    conn.executemany(
        "INSERT OR REPLACE INTO suggestions (face_id, person_id, distance, confidence)"
        " VALUES (?, ?, ?, ?)",
        list(rows),
    )


def add_hints(conn: sqlite3.Connection, hints: Iterable[tuple[int, str]]) -> None:
    """XMP names of faces; a hint the user rejected earlier stays rejected."""
    conn.executemany("INSERT OR IGNORE INTO face_hints (face_id, name) VALUES (?, ?)", hints)
