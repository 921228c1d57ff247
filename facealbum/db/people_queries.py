"""Read queries about people, candidate groups and suggestions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from facealbum.db.queries import chunks, marks
from facealbum.db.store import GENERATION_KEY
from facealbum.model import ENCODING_DIM, GroupInfo, PersonInfo, Suggestion

# A person's automatic cover: a face at least this sharp first (the parameter), then the
# largest.
_COVER = (
    "(SELECT c.id FROM faces c WHERE c.person_id = p.id"
    " ORDER BY c.sharpness >= :sharp DESC, c.size_px DESC, c.id LIMIT 1)"
)


def people(
    conn: sqlite3.Connection, include_hidden: bool = False, *, sharp: float
) -> list[PersonInfo]:
    """Named people by name; the cover is the user's choice while it is still theirs, else
    their largest face at least `sharp` (a chip's Laplacian variance), else their largest.
    to_review counts the suggestions waiting for them, as suggestions(person_id) lists."""
    rows = conn.execute(
        _WAITING + "SELECT p.id, p.name, p.hidden, COUNT(f.id), COUNT(DISTINCT f.photo_id),"
        " CASE WHEN EXISTS (SELECT 1 FROM faces x WHERE x.id = p.cover_face_id"
        f" AND x.person_id = p.id) THEN p.cover_face_id ELSE {_COVER} END, IFNULL(w.n, 0)"
        " FROM people p LEFT JOIN faces f ON f.person_id = p.id"
        " LEFT JOIN (SELECT person_id, COUNT(*) AS n FROM waiting GROUP BY person_id) w"
        " ON w.person_id = p.id"
        + ("" if include_hidden else " WHERE p.hidden = 0")
        + " GROUP BY p.id ORDER BY p.name COLLATE NOCASE",
        {"sharp": sharp},
    ).fetchall()
    return [PersonInfo(r[0], r[1], bool(r[2]), r[3], r[4], r[5], r[6]) for r in rows]


def person_by_name(conn: sqlite3.Connection, name: str) -> int | None:
    row = conn.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
    return None if row is None else row[0]


def person_name(conn: sqlite3.Connection, person_id: int) -> str | None:
    row = conn.execute("SELECT name FROM people WHERE id = ?", (person_id,)).fetchone()
    return None if row is None else row[0]


def groups(
    conn: sqlite3.Connection,
    include_hidden: bool = False,
    limit: int | None = None,
    *,
    probable_share: float,
) -> list[GroupInfo]:
    """Candidate groups of unassigned faces, largest first (then oldest); the first
    `limit` of them when given. A group is probably the person (not hidden) whom more than
    `probable_share` of its faces wait to be confirmed as."""
    # Read (group, face) pairs from the group index alone, never the face rows: a face
    # with a person has no group (set_person clears it), the few that might are dropped.
    stray = dict(
        conn.execute(
            "SELECT id, group_id FROM faces WHERE person_id > 0 AND +group_id IS NOT NULL"
        ).fetchall()
    )
    hidden = {r[0] for r in conn.execute("SELECT id FROM face_groups WHERE hidden = 1")}
    if limit is None:
        # One row per group (joined in C) is a third faster than one row per face at 100k.
        rows = conn.execute(
            "SELECT group_id, group_concat(id) FROM faces WHERE group_id IS NOT NULL"
            " GROUP BY group_id"
        ).fetchall()
        members = {g: m for g, m in rows if include_hidden or g not in hidden}
    else:
        members = _largest_groups(conn, hidden if not include_hidden else set(), stray, limit)
    votes = _suggested_people(conn)
    out: list[GroupInfo] = []
    for gid, joined in members.items():
        ids = tuple(sorted(f for f in map(int, joined.split(",")) if f not in stray))
        if ids:
            count, pid, name = votes.get(gid, (0, 0, ""))
            probably = (pid, name) if count > probable_share * len(ids) else None
            out.append(GroupInfo(gid, ids, gid in hidden, probably))
    out.sort(key=lambda g: (-len(g.face_ids), g.id))
    return out if limit is None else out[: max(limit, 0)]


def _largest_groups(
    conn: sqlite3.Connection, skip: set[int], stray: dict[int, int], limit: int
) -> dict[int, str]:
    """group id -> its joined face ids, for the `limit` largest groups: sizes are counted
    on the group index, members read only for the groups kept."""
    sizes = conn.execute(
        "SELECT group_id, COUNT(*) FROM faces WHERE group_id IS NOT NULL GROUP BY group_id"
    ).fetchall()
    less = {}
    for gid in stray.values():
        less[gid] = less.get(gid, 0) + 1
    ranked = sorted((-(n - less.get(g, 0)), g) for g, n in sizes if g not in skip)
    wanted = [g for n, g in ranked[: max(limit, 0)] if n < 0]
    out: dict[int, str] = {}
    for part in chunks(wanted):
        rows = conn.execute(
            f"SELECT group_id, group_concat(id) FROM faces WHERE group_id IN ({marks(len(part))})"
            " GROUP BY group_id",
            part,
        )
        out.update(rows.fetchall())
    return out


def group_faces(conn: sqlite3.Connection, group_id: int) -> list[int]:
    rows = conn.execute(
        "SELECT id FROM faces WHERE group_id = ? AND person_id IS NULL ORDER BY id", (group_id,)
    )
    return [r[0] for r in rows]


def next_group_id(conn: sqlite3.Connection) -> int:
    row = conn.execute(
        "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'face_groups'), 0),"
        " COALESCE((SELECT MAX(id) FROM face_groups), 0))"
    ).fetchone()
    return int(row[0]) + 1


def photos_of_faces(conn: sqlite3.Connection, face_ids: Sequence[int]) -> dict[int, int]:
    """face id -> photo id, for the faces that exist."""
    out: dict[int, int] = {}
    for part in chunks(list(face_ids)):
        rows = conn.execute(
            f"SELECT id, photo_id FROM faces WHERE id IN ({marks(len(part))})", part
        )
        out.update(dict(rows.fetchall()))
    return out


def person_faces_in_photos(
    conn: sqlite3.Connection, person_id: int, photo_ids: Sequence[int]
) -> dict[int, int]:
    """photo id -> one face of `person_id` in it, for the photos where they appear."""
    out: dict[int, int] = {}
    for part in chunks(list(set(photo_ids))):
        rows = conn.execute(
            "SELECT photo_id, id FROM faces WHERE person_id = ?"
            f" AND photo_id IN ({marks(len(part))})",
            (person_id, *part),
        )
        out.update(dict(rows.fetchall()))
    return out


def people_in_photos(conn: sqlite3.Connection, photo_ids: Sequence[int]) -> set[tuple[int, int]]:
    """(person id, photo id) of every person with a face in one of these photos."""
    out: set[tuple[int, int]] = set()
    for part in chunks(sorted(set(photo_ids))):
        rows = conn.execute(
            "SELECT DISTINCT person_id, photo_id FROM faces"
            f" WHERE photo_id IN ({marks(len(part))}) AND person_id IS NOT NULL",
            part,
        )
        out.update(rows.fetchall())
    return out


def photos_with(conn: sqlite3.Connection, person_ids: Sequence[int]) -> list[int]:
    """Photos showing every one of `person_ids`, newest first like photo_ids."""
    wanted = sorted(set(int(p) for p in person_ids))
    if not wanted:
        return []
    rows = conn.execute(
        "SELECT p.id FROM photos p WHERE p.id IN (SELECT photo_id FROM faces"
        f" WHERE person_id IN ({marks(len(wanted))}) GROUP BY photo_id"
        " HAVING COUNT(DISTINCT person_id) = ?) ORDER BY p.taken_at DESC, p.path",
        (*wanted, len(wanted)),
    )
    return [r[0] for r in rows]


# -- suggestions ----------------------------------------------------------------------------

# A stored suggestion or hint is shown only while it still holds: the face has no person
# and was not marked "not a face", the pair was never rejected and the person has no other
# face in that photo. The suggestion (or hint) drives the query, and "+" keeps SQLite on
# the photo index for the photo check: driven from faces or the person index it was ten
# times slower at 100k faces.
_STILL_VALID = (
    " AND NOT EXISTS (SELECT 1 FROM rejections r WHERE r.face_id = f.id AND r.person_id = {p})"
    " AND NOT EXISTS (SELECT 1 FROM faces o WHERE o.photo_id = f.photo_id"
    " AND +o.person_id = {p})"
)
_SIMILAR = (
    "SELECT s.face_id, s.person_id, s.confidence, p.name FROM suggestions s"
    " CROSS JOIN faces f ON f.id = s.face_id JOIN people p ON p.id = s.person_id"
    " WHERE f.person_id IS NULL AND f.not_a_face = 0" + _STILL_VALID.format(p="s.person_id")
)
_HINTS = (
    "SELECT h.face_id, p.id, 1.0, COALESCE(p.name, h.name) FROM face_hints h"
    " CROSS JOIN faces f ON f.id = h.face_id LEFT JOIN people p ON p.name = h.name"
    " WHERE f.person_id IS NULL AND f.not_a_face = 0 AND h.rejected = 0"
    + _STILL_VALID.format(p="COALESCE(p.id, -1)")
)


def _rows_for(
    conn: sqlite3.Connection, sql: str, args: tuple, face_column: str, face_ids: list[int] | None
) -> list[tuple]:
    if face_ids is None:
        return conn.execute(sql, args).fetchall()
    out: list[tuple] = []
    for part in chunks(face_ids):
        where = f" AND {face_column} IN ({marks(len(part))})"
        out += conn.execute(sql + where, (*args, *part)).fetchall()
    return out


def suggestions(
    conn: sqlite3.Connection,
    person_id: int | None = None,
    face_ids: Sequence[int] | None = None,
    source: str | None = None,
    limit: int | None = None,
) -> list[Suggestion]:
    """At most one per face (an XMP name before a look-alike), most confident first; only
    those from `source` ("similar" or "xmp") when given, the first `limit` when given.

    Without `person_id`, suggestions for hidden people are left out."""
    if source not in (None, "similar", "xmp"):
        raise ValueError(f"unknown suggestion source {source!r}")
    wanted = None if face_ids is None else sorted(set(int(f) for f in face_ids))
    hints = _rows_for(conn, _HINTS, (), "h.face_id", wanted)
    hidden = {r[0] for r in conn.execute("SELECT id FROM people WHERE hidden = 1")}
    best: dict[int, Suggestion] = {}
    if source != "xmp":
        # Look-alikes of other people cannot be in the answer, a hint may replace any of them.
        if person_id is None:
            sql, args = _SIMILAR + " AND p.hidden = 0", ()
        else:
            sql, args = _SIMILAR + " AND s.person_id = ?", (person_id,)
        if limit is not None and wanted is None:
            # Enough rows for `limit` after hints replace some; sorted as below.
            sql += " ORDER BY s.confidence DESC, s.face_id LIMIT ?"
            args = (*args, max(limit, 0) + len(hints))
        for row in _rows_for(conn, sql, args, "s.face_id", wanted):
            best[row[0]] = Suggestion(row[0], row[1], float(row[2]), row[3], "similar")
    for row in hints:
        if source == "similar":
            best.pop(row[0], None)
        else:
            best[row[0]] = Suggestion(row[0], row[1], float(row[2]), row[3], "xmp")
    out = [
        s
        for s in best.values()
        if (person_id is None and s.person_id not in hidden or s.person_id == person_id)
    ]
    out.sort(key=lambda s: (-s.confidence, s.face_id))
    return out if limit is None else out[: max(limit, 0)]


def person_sizes(conn: sqlite3.Connection) -> dict[int, int]:
    """person id -> how many faces they have, from the person index alone."""
    rows = conn.execute(
        "SELECT person_id, COUNT(*) FROM faces WHERE person_id > 0 GROUP BY person_id"
    )
    return dict(rows.fetchall())


def not_a_face_ids(conn: sqlite3.Connection, face_ids: Sequence[int] | None = None) -> list[int]:
    """The faces marked "not a face", by id: all of them, or those among `face_ids`."""
    sql = "SELECT id FROM faces WHERE not_a_face = 1"
    if face_ids is None:
        return [r[0] for r in conn.execute(sql + " ORDER BY id")]
    out: list[int] = []
    for part in chunks(sorted(set(int(f) for f in face_ids))):
        out += [r[0] for r in conn.execute(f"{sql} AND id IN ({marks(len(part))})", part)]
    return out


def people_of_faces(conn: sqlite3.Connection, face_ids: Sequence[int]) -> dict[int, int | None]:
    """face id -> its person (None when it has none), for the faces that exist."""
    out: dict[int, int | None] = {}
    for part in chunks(list(face_ids)):
        rows = conn.execute(
            f"SELECT id, person_id FROM faces WHERE id IN ({marks(len(part))})", part
        )
        out.update(rows.fetchall())
    return out


def faces_of_person(conn: sqlite3.Connection, person_id: int) -> list[int]:
    rows = conn.execute("SELECT id FROM faces WHERE person_id = ? ORDER BY id", (person_id,))
    return [r[0] for r in rows]


def rejected_for(conn: sqlite3.Connection, person_id: int) -> list[int]:
    """The faces the user said are not this person."""
    rows = conn.execute("SELECT face_id FROM rejections WHERE person_id = ?", (person_id,))
    return [r[0] for r in rows]


def group_exists(conn: sqlite3.Connection, group_id: int) -> bool:
    row = conn.execute("SELECT 1 FROM face_groups WHERE id = ?", (group_id,)).fetchone()
    return row is not None


def hidden_people(conn: sqlite3.Connection) -> list[int]:
    return [r[0] for r in conn.execute("SELECT id FROM people WHERE hidden = 1")]


def cover_left_person(conn: sqlite3.Connection, person_id: int) -> bool:
    """Whether the person's cover face now belongs to someone else (or to nobody)."""
    row = conn.execute(
        "SELECT 1 FROM people p JOIN faces f ON f.id = p.cover_face_id"
        " WHERE p.id = ? AND f.person_id IS NOT p.id",
        (person_id,),
    ).fetchone()
    return row is not None


def photo_path(conn: sqlite3.Connection, photo_id: int) -> str | None:
    row = conn.execute("SELECT path FROM photos WHERE id = ?", (photo_id,)).fetchone()
    return row[0] if row else None


def rejections_of(conn: sqlite3.Connection, face_ids: Sequence[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for part in chunks(list(face_ids)):
        out += conn.execute(
            f"SELECT face_id, person_id FROM rejections WHERE face_id IN ({marks(len(part))})",
            part,
        ).fetchall()
    return out


# -- faces as columns, for the grouping engine ----------------------------------------------


@dataclass(frozen=True)
class FaceColumns:
    """Faces as columns, in id order: what grouping and suggestions read (the facade builds
    the engine's FaceTable from them, and decides which faces may be grouped)."""

    face_ids: np.ndarray  # int64
    encodings: np.ndarray  # (n, ENCODING_DIM) float32
    photo_ids: np.ndarray  # int64
    person_ids: np.ndarray  # int64, 0 = none
    assigned_by: list[str | None]
    group_ids: np.ndarray  # int64, 0 = none
    size_px: np.ndarray  # float64
    sharpness: np.ndarray  # float64
    score: np.ndarray  # float64
    not_a_face: np.ndarray  # bool


_COLUMNS = (
    "id, encoding, photo_id, COALESCE(person_id, 0), assigned_by, COALESCE(group_id, 0),"
    " size_px, sharpness, score, not_a_face"
)


def _columns(rows: list[tuple]) -> FaceColumns:
    n = len(rows)
    enc = np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(n, ENCODING_DIM)
    col = lambda i, dt: np.array([r[i] for r in rows], dtype=dt)  # noqa: E731
    return FaceColumns(
        face_ids=col(0, np.int64),
        encodings=enc,
        photo_ids=col(2, np.int64),
        person_ids=col(3, np.int64),
        assigned_by=[r[4] for r in rows],
        group_ids=col(5, np.int64),
        size_px=col(6, np.float64),
        sharpness=col(7, np.float64),
        score=col(8, np.float64),
        not_a_face=col(9, bool),
    )


def face_columns(conn: sqlite3.Connection, face_ids: Sequence[int]) -> FaceColumns:
    """The faces with these ids (the ones that exist), by id."""
    rows: list[tuple] = []
    for part in chunks(sorted(set(int(i) for i in face_ids))):
        rows += conn.execute(
            f"SELECT {_COLUMNS} FROM faces WHERE id IN ({marks(len(part))})", part
        ).fetchall()
    return _columns(rows)


def all_face_columns(conn: sqlite3.Connection) -> FaceColumns:
    return _columns(conn.execute(f"SELECT {_COLUMNS} FROM faces ORDER BY id").fetchall())


def assigned_columns(conn: sqlite3.Connection) -> FaceColumns:
    """Every face with a person (by the user or automatically): what suggestions compare to."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM faces"
        " WHERE person_id IS NOT NULL AND assigned_by IN ('user', 'auto') ORDER BY id"
    ).fetchall()
    return _columns(rows)


def assigned_ids(conn: sqlite3.Connection) -> np.ndarray:
    """Ids of the faces with a person, from the person index alone (no face rows read)."""
    rows = conn.execute("SELECT id FROM faces WHERE person_id > 0 ORDER BY id").fetchall()
    return np.array([r[0] for r in rows], dtype=np.int64)


def group_members(conn: sqlite3.Connection, group_ids: Sequence[int]) -> list[int]:
    out: list[int] = []
    for part in chunks(sorted(set(int(g) for g in group_ids if g))):
        out += [
            r[0]
            for r in conn.execute(
                f"SELECT id FROM faces WHERE group_id IN ({marks(len(part))})"
                " AND person_id IS NULL",
                part,
            )
        ]
    return out


def groups_of(conn: sqlite3.Connection, face_ids: Sequence[int]) -> list[int]:
    out: set[int] = set()
    for part in chunks(sorted(set(int(i) for i in face_ids if i >= 0))):
        out |= {
            r[0]
            for r in conn.execute(
                f"SELECT DISTINCT group_id FROM faces WHERE id IN ({marks(len(part))})"
                " AND group_id IS NOT NULL AND person_id IS NULL",
                part,
            )
        }
    return sorted(out)


# -- snapshots for work planned outside the write transaction --------------------------------

# Fingerprints add up terms below this prime: exact integers however large the library.
_PRIME = 2_147_483_647


def data_version(conn: sqlite3.Connection) -> int:
    """SQLite's counter of commits made by other connections to the database."""
    return conn.execute("PRAGMA data_version").fetchone()[0]


@contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[int]:
    """A read transaction: every query inside sees one state of the database, while other
    connections go on writing. Yields data_version(conn) taken just before: if it is the
    same later, nobody has committed since (a commit in between only makes it differ)."""
    version = data_version(conn)
    if conn.in_transaction:  # inside the caller's transaction: one state already
        yield version
        return
    conn.execute("BEGIN")
    try:
        yield version
    finally:
        conn.execute("COMMIT")  # ends the read; there is nothing to write


def people_state(conn: sqlite3.Connection, leave_out: Mapping[int, int] | None = None) -> tuple:
    """A fingerprint of who has a person, and which of them the user gave; as if the faces
    of `leave_out` (face -> person, assigned automatically) had none."""
    count, pairs, by_user = conn.execute(
        f"SELECT COUNT(*), IFNULL(SUM(id * person_id % {_PRIME}), 0),"
        f" SUM(CASE WHEN assigned_by = 'user' THEN id % {_PRIME} END)"
        " FROM faces WHERE person_id > 0"
    ).fetchone()
    leave_out = leave_out or {}
    pairs -= sum(f * p % _PRIME for f, p in leave_out.items())
    return count - len(leave_out), pairs, by_user


def grouping_state(conn: sqlite3.Connection, with_groups: bool = True) -> tuple:
    """A fingerprint of what grouping and suggestions read besides the encodings: which
    faces exist (the generation every face insert or delete bumps), who has a person and
    how, the rejections, which faces are not faces, and (with_groups) each face's group
    and the next group id. Two equal fingerprints: a plan made at the first still holds at
    the second."""
    generation = conn.execute("SELECT value FROM meta WHERE key = ?", (GENERATION_KEY,))
    rejections = conn.execute(
        f"SELECT COUNT(*), SUM((face_id * 65537 + person_id) % {_PRIME}) FROM rejections"
    )
    not_faces = conn.execute(f"SELECT COUNT(*), SUM(id % {_PRIME}) FROM faces WHERE not_a_face = 1")
    state = (
        generation.fetchone(),
        people_state(conn),
        rejections.fetchone(),
        not_faces.fetchone(),
    )
    if not with_groups:
        return state
    groups = conn.execute(
        f"SELECT COUNT(*), SUM(id * group_id % {_PRIME}) FROM faces WHERE group_id > 0"
    )
    return (*state, groups.fetchone(), next_group_id(conn))


def free_ungrouped(conn: sqlite3.Connection) -> list[int]:
    """Faces with neither a person nor a candidate group (and not marked not a face), by id."""
    rows = conn.execute(
        "SELECT id FROM faces WHERE person_id IS NULL AND group_id IS NULL AND not_a_face = 0"
        " ORDER BY id"
    )
    return [r[0] for r in rows]


def faces_after(conn: sqlite3.Connection, face_id: int) -> list[int]:
    """Faces with a higher id than `face_id` (added later), by id."""
    rows = conn.execute("SELECT id FROM faces WHERE id > ? ORDER BY id", (face_id,))
    return [r[0] for r in rows]


def undo_depth(conn: sqlite3.Connection) -> int:
    """How many actions can be undone, one after the other."""
    return conn.execute("SELECT COUNT(*) FROM undo_log").fetchone()[0]


def cover_choice(conn: sqlite3.Connection, person_id: int) -> int | None:
    """The cover face the user chose for a person, as stored (None: none chosen, or the
    choice was dropped); people() shows it only while that face is still theirs."""
    row = conn.execute("SELECT cover_face_id FROM people WHERE id = ?", (person_id,)).fetchone()
    return None if row is None else row[0]


def stored_suggestions(conn: sqlite3.Connection) -> list[tuple[int, int]]:
    """(face id, person id) of every look-alike suggestion stored, by face then person,
    whether or not it still holds (suggestions() shows only those that do)."""
    return conn.execute("SELECT face_id, person_id FROM suggestions ORDER BY 1, 2").fetchall()


# -- what waits for the user: counts over the suggestions ----------------------------------

# The table `waiting` (face_id, person_id) of each face's suggestion as suggestions()
# picks it: its XMP name while that holds (person NULL for a name nobody has), else its
# look-alike. For counts over every person in one statement.
_WAITING = (
    f"WITH hint(face_id, person_id, confidence, name) AS ({_HINTS}),"
    " waiting(face_id, person_id) AS (SELECT face_id, person_id FROM hint UNION ALL"
    f" SELECT face_id, person_id FROM ({_SIMILAR})"
    " WHERE face_id NOT IN (SELECT face_id FROM hint)) "
)


def _suggested_people(conn: sqlite3.Connection) -> dict[int, tuple[int, int, str]]:
    """group id -> (count, person id, name) of the person (not hidden) most of its faces
    wait to be confirmed as, in one statement over the stored suggestions."""
    rows = conn.execute(
        _WAITING + "SELECT f.group_id, COUNT(*), w.person_id, p.name FROM waiting w"
        " CROSS JOIN faces f ON f.id = w.face_id JOIN people p ON p.id = w.person_id"
        " WHERE f.group_id IS NOT NULL AND p.hidden = 0 GROUP BY f.group_id, w.person_id"
    )
    out: dict[int, tuple[int, int, str]] = {}
    for gid, count, pid, name in rows:
        if count > out.get(gid, (0, 0, ""))[0]:
            out[gid] = (count, pid, name)
    return out
