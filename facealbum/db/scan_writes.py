"""Writing scan results: each function runs inside the caller's write transaction
and reports which face ids the vector index must add or drop."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from facealbum.db.paths import key, to_db
from facealbum.model import Box, Face, PhotoAnalysis

# An edited photo keeps a face's person when the new face sits in the same
# place and is this close (same person, same shot; 0.6 would be "same person").
CARRY_MAX_DISTANCE = 0.3
CARRY_MIN_OVERLAP = 0.4
# A new face this much over a face the user marked "not a face" is that same thing: the
# mark carries by place alone, since what is not a face has no trustworthy encoding (a
# dog's "face" encodes far apart under two detectors).
NOT_A_FACE_MIN_OVERLAP = CARRY_MIN_OVERLAP
_CHUNK = 900  # host parameters per statement: old SQLite builds allow 999


@dataclass
class FaceChanges:
    """What the vector index has to mirror after a write."""

    added_ids: list[int] = field(default_factory=list)
    added_vectors: list[np.ndarray] = field(default_factory=list)
    removed_ids: list[int] = field(default_factory=list)

    def extend(self, other: FaceChanges) -> None:
        self.added_ids += other.added_ids
        self.added_vectors += other.added_vectors
        self.removed_ids += other.removed_ids

    def __bool__(self) -> bool:
        return bool(self.added_ids or self.removed_ids)


def stamp_encodings(conn: sqlite3.Connection, face_ids: Iterable[int], generation: int) -> None:
    """Record that these faces' encodings were written at `generation`: call it in the
    same transaction as the write, with the generation that transaction bumps to (every
    FaceChanges.added_ids: inserted faces, re-encoded ones, copies). An index saved at an
    older generation then catches up on exactly these faces."""
    ids = list(dict.fromkeys(int(i) for i in face_ids))
    for start in range(0, len(ids), _CHUNK):
        part = ids[start : start + _CHUNK]
        conn.execute(
            f"UPDATE faces SET encoding_generation = ? WHERE id IN ({','.join('?' * len(part))})",
            (int(generation), *part),
        )


def _blob(encoding: np.ndarray) -> bytes:
    return np.ascontiguousarray(encoding, dtype=np.float32).tobytes()


def _face_values(face: Face) -> tuple:
    b = face.box
    return (
        b.left, b.top, b.right, b.bottom,
        float(face.score), int(face.size_px), float(face.sharpness), _blob(face.encoding),
    )  # fmt: skip


def _insert_faces(conn: sqlite3.Connection, photo_id: int, faces: Iterable[Face]) -> FaceChanges:
    changes = FaceChanges()
    for face in faces:
        cur = conn.execute(
            "INSERT INTO faces (photo_id, box_left, box_top, box_right, box_bottom, score,"
            " size_px, sharpness, encoding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (photo_id, *_face_values(face)),
        )
        changes.added_ids.append(cur.lastrowid)
        changes.added_vectors.append(np.asarray(face.encoding, dtype=np.float32))
    return changes


def _replace_faces(
    conn: sqlite3.Connection, photo_id: int, faces: Iterable[Face], keep_decided: bool = False
) -> FaceChanges:
    """New faces for an edited or re-analysed photo. A new face matching an old one (same
    place, very close encoding) takes over the old row, so its id, person, rejections and
    "not a face" survive; any other new face over an old face marked not a face is marked
    too. `keep_decided`: an old face with a person, a rejection or a "not a face" that no
    new face took over stays (the user's word outlives a detector that misses the face)."""
    old = conn.execute(
        "SELECT id, box_left, box_top, box_right, box_bottom, encoding, not_a_face FROM faces"
        " WHERE photo_id = ?",
        (photo_id,),
    ).fetchall()
    old_boxes = {r[0]: Box(*r[1:5]) for r in old}
    old_vecs = {r[0]: np.frombuffer(r[5], dtype=np.float32) for r in old}
    old_not_faces = {r[0] for r in old if r[6]}
    pairs = []
    faces = list(faces)
    for i, face in enumerate(faces):
        for face_id, box in old_boxes.items():
            dist = float(np.linalg.norm(old_vecs[face_id] - face.encoding))
            if dist < CARRY_MAX_DISTANCE and box.iou(face.box) >= CARRY_MIN_OVERLAP:
                pairs.append((dist, i, face_id))
    kept: dict[int, int] = {}  # new face index -> old face id, closest pairs first
    for _, i, face_id in sorted(pairs):
        if i not in kept and face_id not in kept.values():
            kept[i] = face_id
    changes = FaceChanges()
    inserted = [i for i in range(len(faces)) if i not in kept]
    marked, carried = _carry_not_a_face(
        {i: faces[i].box for i in inserted},
        {fid: old_boxes[fid] for fid in old_not_faces if fid not in kept.values()},
    )
    gone = [fid for fid in old_boxes if fid not in kept.values()]
    if keep_decided:
        decided = _decided_faces(conn, gone) - carried
        gone = [fid for fid in gone if fid not in decided]
    for fid in gone:
        conn.execute("DELETE FROM faces WHERE id = ?", (fid,))
    changes.removed_ids += gone
    for i, face_id in kept.items():
        conn.execute(
            "UPDATE faces SET box_left = ?, box_top = ?, box_right = ?, box_bottom = ?,"
            " score = ?, size_px = ?, sharpness = ?, encoding = ? WHERE id = ?",
            (*_face_values(faces[i]), face_id),
        )
        # The vector changed: drop and re-add it in the index.
        changes.removed_ids.append(face_id)
        changes.added_ids.append(face_id)
        changes.added_vectors.append(np.asarray(faces[i].encoding, dtype=np.float32))
    added = _insert_faces(conn, photo_id, (faces[i] for i in inserted))
    new_ids = dict(zip(inserted, added.added_ids, strict=True))
    _mark_not_a_face(conn, [new_ids[i] for i in sorted(marked)])
    changes.extend(added)
    return changes


def _carry_not_a_face(
    new_boxes: dict[int, Box], not_face_boxes: dict[int, Box]
) -> tuple[set[int], set[int]]:
    """(indexes of the new boxes lying over a face marked not a face, ids of the marked
    faces some new box lies over)."""
    marked: set[int] = set()
    carried: set[int] = set()
    for index, box in new_boxes.items():
        for face_id, old in not_face_boxes.items():
            if box.iou(old) >= NOT_A_FACE_MIN_OVERLAP:
                marked.add(index)
                carried.add(face_id)
    return marked, carried


def _mark_not_a_face(conn: sqlite3.Connection, face_ids: list[int]) -> None:
    for start in range(0, len(face_ids), _CHUNK):
        part = face_ids[start : start + _CHUNK]
        conn.execute(
            f"UPDATE faces SET not_a_face = 1 WHERE id IN ({','.join('?' * len(part))})", part
        )


def save_analysis(
    conn: sqlite3.Connection, folder_id: int, a: PhotoAnalysis, keep_decided: bool = False
) -> tuple[int, FaceChanges]:
    """Insert a new photo or refresh a changed one, with its faces. `keep_decided`: the
    same photo analysed again (another detector): a face the user decided about that the
    new analysis does not find is kept as it is."""
    row = conn.execute("SELECT id FROM photos WHERE path = ?", (key(a.path),)).fetchone()
    values = (folder_id, a.size, a.mtime, a.fingerprint, a.width, a.height, a.taken_at)
    if row is None:
        cur = conn.execute(
            "INSERT INTO photos (folder_id, size, mtime, fingerprint, width, height, taken_at,"
            " detector, status, path, path_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'ok', ?, ?)",
            (*values, a.detector, *to_db(a.path)),
        )
        photo_id = cur.lastrowid
        changes = _insert_faces(conn, photo_id, a.faces)
    else:
        photo_id = row[0]
        conn.execute(
            "UPDATE photos SET folder_id = ?, size = ?, mtime = ?, fingerprint = ?, width = ?,"
            " height = ?, taken_at = ?, detector = ?, status = 'ok', error = NULL,"
            " scanned_at = datetime('now') WHERE id = ?",
            (*values, a.detector, photo_id),
        )
        changes = _replace_faces(conn, photo_id, a.faces, keep_decided)
    return photo_id, changes


def _decided_faces(conn: sqlite3.Connection, face_ids: list[int]) -> set[int]:
    """Those of these faces the user (or an automatic assignment) gave a person, a "not
    this person" or a "not a face"."""
    decided: set[int] = set()
    for start in range(0, len(face_ids), _CHUNK):
        part = face_ids[start : start + _CHUNK]
        marks = ",".join("?" * len(part))
        decided.update(
            r[0]
            for r in conn.execute(
                f"SELECT id FROM faces WHERE id IN ({marks})"
                " AND (person_id IS NOT NULL OR not_a_face = 1)"
                f" UNION SELECT face_id FROM rejections WHERE face_id IN ({marks})",
                (*part, *part),
            )
        )
    return decided


def save_failure(
    conn: sqlite3.Connection, folder_id: int, path: str, size: int, mtime: float, reason: str
) -> tuple[int, FaceChanges]:
    """Record a photo that cannot be read; it is not retried until the file changes."""
    row = conn.execute("SELECT id FROM photos WHERE path = ?", (key(path),)).fetchone()
    if row is None:
        cur = conn.execute(
            "INSERT INTO photos (folder_id, path, path_bytes, size, mtime, status, error)"
            " VALUES (?, ?, ?, ?, ?, 'error', ?)",
            (folder_id, *to_db(path), size, mtime, reason),
        )
        return cur.lastrowid, FaceChanges()
    photo_id = row[0]
    conn.execute(
        "UPDATE photos SET size = ?, mtime = ?, fingerprint = NULL, status = 'error', error = ?,"
        " scanned_at = datetime('now') WHERE id = ?",
        (size, mtime, reason, photo_id),
    )
    return photo_id, _delete_faces_where(conn, "photo_id = ?", (photo_id,))


def save_move(
    conn: sqlite3.Connection,
    folder_id: int,
    path: str,
    size: int,
    mtime: float,
    fingerprint: str,
    old_path: str,
    may_repoint: bool,
) -> tuple[int | None, FaceChanges]:
    """A file whose content the library already knows.

    Same path: only its stat changed. `may_repoint`: the old path vanished, so its
    row (faces, people) moves to the new path. A photo that vanished in an earlier scan
    comes back with its faces, people and rejections. Otherwise the file is a copy: its
    faces are copied from the known photo. Returns (None, ...) when no known photo
    has that content any more (the caller re-analyses it).
    """
    source = conn.execute(
        "SELECT id FROM photos WHERE path = ? AND fingerprint = ?", (key(old_path), fingerprint)
    ).fetchone()
    changes = FaceChanges()
    if source is not None and path == old_path:
        conn.execute("UPDATE photos SET size = ?, mtime = ? WHERE id = ?", (size, mtime, source[0]))
        return source[0], changes
    target = conn.execute("SELECT id FROM photos WHERE path = ?", (key(path),)).fetchone()
    if target is not None:
        # The new path held other content before; that photo is gone.
        changes.extend(_delete_photos_where(conn, "id = ?", (target[0],)))
    if source is None:
        restored = _restore_vanished(conn, folder_id, path, size, mtime, fingerprint)
        if restored is not None:
            photo_id, more = restored
            changes.extend(more)
            return photo_id, changes
        may_repoint = False
        source = conn.execute(
            "SELECT id FROM photos WHERE fingerprint = ? AND status = 'ok' LIMIT 1", (fingerprint,)
        ).fetchone()
        if source is None:
            return None, changes
    source_id = source[0]
    if may_repoint:
        conn.execute(
            "UPDATE photos SET path = ?, path_bytes = ?, folder_id = ?, size = ?, mtime = ?"
            " WHERE id = ?",
            (*to_db(path), folder_id, size, mtime, source_id),
        )
        return source_id, changes
    cur = conn.execute(
        "INSERT INTO photos (folder_id, path, path_bytes, size, mtime, fingerprint, width,"
        " height, taken_at, status) SELECT ?, ?, ?, ?, ?, fingerprint, width, height, taken_at,"
        " 'ok' FROM photos WHERE id = ?",
        (folder_id, *to_db(path), size, mtime, source_id),
    )
    photo_id = cur.lastrowid
    rows = conn.execute(
        "SELECT box_left, box_top, box_right, box_bottom, score, size_px, sharpness, encoding,"
        " person_id, assigned_by, not_a_face FROM faces WHERE photo_id = ? ORDER BY id",
        (source_id,),
    ).fetchall()
    for r in rows:
        cur = conn.execute(
            "INSERT INTO faces (photo_id, box_left, box_top, box_right, box_bottom, score,"
            " size_px, sharpness, encoding, person_id, assigned_by, not_a_face)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (photo_id, *r),
        )
        changes.added_ids.append(cur.lastrowid)
        changes.added_vectors.append(np.frombuffer(r[7], dtype=np.float32))
    return photo_id, changes


# -- vanished photos --------------------------------------------------------------------

_VANISHED_FACE_COLUMNS = (
    "box_left, box_top, box_right, box_bottom, score, size_px, sharpness, encoding,"
    " person_id, assigned_by, confidence, not_a_face"
)
_VANISHED_FACE_MARKS = ",".join("?" * len(_VANISHED_FACE_COLUMNS.split(",")))


def _keep_vanished(conn: sqlite3.Connection, photo_id: int) -> None:
    """Copy a photo about to be removed, with its faces and the user's word on them, into
    the vanished tables (the one copy of a content: an older one is replaced)."""
    row = conn.execute(
        "SELECT fingerprint, path, width, height, taken_at FROM photos"
        " WHERE id = ? AND status = 'ok' AND fingerprint IS NOT NULL",
        (photo_id,),
    ).fetchone()
    if row is None:
        return  # never analysed, or unreadable: nothing worth keeping
    conn.execute("DELETE FROM vanished_photos WHERE fingerprint = ?", (row[0],))
    vanished_id = conn.execute(
        "INSERT INTO vanished_photos (fingerprint, path, width, height, taken_at)"
        " VALUES (?, ?, ?, ?, ?)",
        row,
    ).lastrowid
    faces = conn.execute(
        f"SELECT f.id, {_VANISHED_FACE_COLUMNS}, h.name, h.rejected FROM faces f"
        " LEFT JOIN face_hints h ON h.face_id = f.id WHERE f.photo_id = ? ORDER BY f.id",
        (photo_id,),
    ).fetchall()
    for face_id, *values in faces:
        kept_id = conn.execute(
            f"INSERT INTO vanished_faces (vanished_id, {_VANISHED_FACE_COLUMNS}, hint_name,"
            f" hint_rejected) VALUES (?, {_VANISHED_FACE_MARKS}, ?, ?)",
            (vanished_id, *values),
        ).lastrowid
        conn.execute(
            "INSERT INTO vanished_rejections (face_id, person_id)"
            " SELECT ?, person_id FROM rejections WHERE face_id = ?",
            (kept_id, face_id),
        )


def _restore_vanished(
    conn: sqlite3.Connection, folder_id: int, path: str, size: int, mtime: float, fingerprint: str
) -> tuple[int, FaceChanges] | None:
    """Bring back a vanished photo at its new path, with its faces, people, rejections and
    XMP names; None when no vanished photo has this content."""
    row = conn.execute(
        "SELECT id, width, height, taken_at FROM vanished_photos WHERE fingerprint = ?"
        " ORDER BY id DESC LIMIT 1",
        (fingerprint,),
    ).fetchone()
    if row is None:
        return None
    vanished_id, width, height, taken_at = row
    photo_id = conn.execute(
        "INSERT INTO photos (folder_id, path, path_bytes, size, mtime, fingerprint, width,"
        " height, taken_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok')",
        (folder_id, *to_db(path), size, mtime, fingerprint, width, height, taken_at),
    ).lastrowid
    changes = FaceChanges()
    faces = conn.execute(
        f"SELECT id, {_VANISHED_FACE_COLUMNS}, hint_name, hint_rejected FROM vanished_faces"
        " WHERE vanished_id = ? ORDER BY id",
        (vanished_id,),
    ).fetchall()
    for kept_id, *values, hint_name, hint_rejected in faces:
        if values[8] is None:
            values[9] = values[10] = None  # its person was deleted meanwhile
        face_id = conn.execute(
            f"INSERT INTO faces (photo_id, {_VANISHED_FACE_COLUMNS})"
            f" VALUES (?, {_VANISHED_FACE_MARKS})",
            (photo_id, *values),
        ).lastrowid
        conn.execute(
            "INSERT INTO rejections (face_id, person_id)"
            " SELECT ?, person_id FROM vanished_rejections WHERE face_id = ?",
            (face_id, kept_id),
        )
        if hint_name is not None:
            conn.execute(
                "INSERT INTO face_hints (face_id, name, rejected) VALUES (?, ?, ?)",
                (face_id, hint_name, hint_rejected or 0),
            )
        changes.added_ids.append(face_id)
        changes.added_vectors.append(np.frombuffer(values[7], dtype=np.float32))
    conn.execute("DELETE FROM vanished_photos WHERE id = ?", (vanished_id,))
    return photo_id, changes


def expire_vanished(conn: sqlite3.Connection, keep_days: int) -> int:
    """Forget vanished photos older than keep_days for good; returns how many."""
    cur = conn.execute(
        "DELETE FROM vanished_photos WHERE vanished_at < datetime('now', ?)",
        (f"-{keep_days} days",),
    )
    return cur.rowcount


def _delete_faces_where(conn: sqlite3.Connection, where: str, args: tuple) -> FaceChanges:
    ids = [r[0] for r in conn.execute(f"SELECT id FROM faces WHERE {where}", args)]
    if ids:
        conn.execute(f"DELETE FROM faces WHERE {where}", args)
    return FaceChanges(removed_ids=ids)


def _delete_photos_where(conn: sqlite3.Connection, where: str, args: tuple) -> FaceChanges:
    changes = _delete_faces_where(conn, f"photo_id IN (SELECT id FROM photos WHERE {where})", args)
    conn.execute(f"DELETE FROM photos WHERE {where}", args)
    return changes


def remove_photos(conn: sqlite3.Connection, paths: Iterable[str]) -> FaceChanges:
    """Remove photos that are gone from disk; each is kept as vanished for a while, so
    that it gets its faces and names back if it turns up again."""
    changes = FaceChanges()
    for path in paths:
        row = conn.execute("SELECT id FROM photos WHERE path = ?", (key(path),)).fetchone()
        if row is None:
            continue
        _keep_vanished(conn, row[0])
        changes.extend(_delete_photos_where(conn, "id = ?", (row[0],)))
    return changes


def add_folder(conn: sqlite3.Connection, path: str, absorbed: Iterable[int]) -> int:
    """A new library folder, by id; the library folders inside it (`absorbed`) hand it
    their photos and go."""
    folder_id = conn.execute("INSERT INTO folders (path) VALUES (?)", (path,)).lastrowid
    for inner in absorbed:
        conn.execute("UPDATE photos SET folder_id = ? WHERE folder_id = ?", (folder_id, inner))
        conn.execute("DELETE FROM folders WHERE id = ?", (inner,))
    return folder_id


def remove_folder(conn: sqlite3.Connection, folder_id: int) -> FaceChanges:
    changes = _delete_photos_where(conn, "folder_id = ?", (folder_id,))
    conn.execute("DELETE FROM folders WHERE id = ?", (folder_id,))
    return changes
