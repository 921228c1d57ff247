"""Read queries for views: folders, photos and faces, by id sets."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from facealbum.db.paths import from_db, key
from facealbum.model import (
    ENCODING_DIM,
    AssignedBy,
    Box,
    FaceInfo,
    FolderInfo,
    PhotoInfo,
    PhotoStatus,
)

# SQLite's default limit on host parameters is 999 on old builds.
_CHUNK = 900

_FACE_COLUMNS = (
    "f.id, f.photo_id, p.path, f.box_left, f.box_top, f.box_right, f.box_bottom, f.score,"
    " f.size_px, f.sharpness, f.person_id, pe.name, f.group_id, f.assigned_by, p.path_bytes,"
    " f.not_a_face"
)
_FACE_FROM = "faces f JOIN photos p ON p.id = f.photo_id LEFT JOIN people pe ON pe.id = f.person_id"


def chunks(ids: Sequence[int], size: int = _CHUNK) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def marks(n: int) -> str:
    return ",".join("?" * n)


def folder_paths(conn: sqlite3.Connection) -> list[tuple[int, str]]:
    """(id, path) of every library folder."""
    return conn.execute("SELECT id, path FROM folders").fetchall()


def folder_exists(conn: sqlite3.Connection, folder_id: int) -> bool:
    return conn.execute("SELECT 1 FROM folders WHERE id = ?", (folder_id,)).fetchone() is not None


def folders(conn: sqlite3.Connection) -> list[tuple[int, str, int, int]]:
    """(id, path, photo_count, face_count) of every folder, by path; faces marked not a
    face are not counted."""
    return conn.execute(
        "SELECT fo.id, fo.path,"
        " (SELECT COUNT(*) FROM photos p WHERE p.folder_id = fo.id),"
        " (SELECT COUNT(*) FROM faces f JOIN photos p ON p.id = f.photo_id"
        "  WHERE p.folder_id = fo.id AND f.not_a_face = 0)"
        " FROM folders fo ORDER BY fo.path"
    ).fetchall()


def folder_info(row: tuple[int, str, int, int], offline: str | None) -> FolderInfo:
    return FolderInfo(row[0], row[1], row[2], row[3], offline)


def photo_ids(
    conn: sqlite3.Connection, folder_id: int | None = None, person_id: int | None = None
) -> list[int]:
    """Newest taken_at first (undated last), then path: one indexed query."""
    where, args = [], []
    if folder_id is not None:
        where.append("p.folder_id = ?")
        args.append(folder_id)
    if person_id is not None:
        where.append("p.id IN (SELECT photo_id FROM faces WHERE person_id = ?)")
        args.append(person_id)
    sql = "SELECT p.id FROM photos p"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY p.taken_at DESC, p.path"
    return [r[0] for r in conn.execute(sql, args)]


def unreadable_photo_ids(conn: sqlite3.Connection, folder_id: int | None = None) -> list[int]:
    """The photos a scan could not read (of one folder, or all), by path."""
    sql = "SELECT id FROM photos WHERE status = 'error'"
    args: list[int] = []
    if folder_id is not None:
        sql += " AND folder_id = ?"
        args.append(folder_id)
    return [r[0] for r in conn.execute(sql + " ORDER BY path", args)]


# Which faces a face browser lists: every face, those with no person, those in no group.
# Faces the user marked as no face are never among them.
_FACE_FILTERS = {
    "all": "",
    "unnamed": " AND f.person_id IS NULL",
    "ungrouped": " AND f.person_id IS NULL AND f.group_id IS NULL",
}


def face_ids(
    conn: sqlite3.Connection, which: str = "all", *, shuffle_seed: int | None = None
) -> list[int]:
    """Face ids `which` (a key of _FACE_FILTERS): newest photo first, as photo_ids orders
    photos; or in a random order fixed by `shuffle_seed` (the same seed, the same order)."""
    if which not in _FACE_FILTERS:
        raise ValueError(f"unknown face filter {which!r}")
    sql = (
        "SELECT f.id FROM faces f JOIN photos p ON p.id = f.photo_id WHERE f.not_a_face = 0"
        + _FACE_FILTERS[which]
    )
    if shuffle_seed is None:
        return [r[0] for r in conn.execute(sql + " ORDER BY p.taken_at DESC, p.path, f.id")]
    ids = [r[0] for r in conn.execute(sql + " ORDER BY f.id")]
    random.Random(shuffle_seed).shuffle(ids)
    return ids


def photos(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, PhotoInfo]:
    out: dict[int, PhotoInfo] = {}
    ids = list(dict.fromkeys(ids))
    for part in chunks(ids):
        rows = conn.execute(
            "SELECT p.id, p.path, p.folder_id, p.width, p.height, p.taken_at, p.status, p.error,"
            " (SELECT COUNT(*) FROM faces f WHERE f.photo_id = p.id AND f.not_a_face = 0),"
            " p.path_bytes"
            f" FROM photos p WHERE p.id IN ({marks(len(part))})",
            part,
        )
        for r in rows:
            width, height, taken_at, status, error, face_count = r[3:9]
            out[r[0]] = PhotoInfo(
                r[0], from_db(r[1], r[9]), r[2], width, height, taken_at, PhotoStatus(status),
                error, face_count,
            )  # fmt: skip
    return out


def _face(r: tuple) -> FaceInfo:
    return FaceInfo(
        id=r[0],
        photo_id=r[1],
        photo=from_db(r[2], r[14]),
        box=Box(r[3], r[4], r[5], r[6]),
        score=r[7],
        size_px=r[8],
        sharpness=r[9],
        person_id=r[10],
        person_name=r[11],
        group_id=r[12],
        assigned_by=AssignedBy(r[13]) if r[13] is not None else None,
        not_a_face=bool(r[15]),
    )


def faces_in_photo(conn: sqlite3.Connection, photo_id: int) -> list[FaceInfo]:
    rows = conn.execute(
        f"SELECT {_FACE_COLUMNS} FROM {_FACE_FROM} WHERE f.photo_id = ? ORDER BY f.box_left",
        (photo_id,),
    )
    return [_face(r) for r in rows]


def faces(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, FaceInfo]:
    out: dict[int, FaceInfo] = {}
    ids = list(dict.fromkeys(int(i) for i in ids))
    for part in chunks(ids):
        rows = conn.execute(
            f"SELECT {_FACE_COLUMNS} FROM {_FACE_FROM} WHERE f.id IN ({marks(len(part))})", part
        )
        for r in rows:
            out[r[0]] = _face(r)
    return out


def encoding_of(conn: sqlite3.Connection, face_id: int) -> np.ndarray | None:
    row = conn.execute("SELECT encoding FROM faces WHERE id = ?", (face_id,)).fetchone()
    return None if row is None else np.frombuffer(row[0], dtype=np.float32).copy()


def face_ids_of_photo(conn: sqlite3.Connection, photo_id: int) -> list[int]:
    return [r[0] for r in conn.execute("SELECT id FROM faces WHERE photo_id = ?", (photo_id,))]


def all_encodings(conn: sqlite3.Connection) -> tuple[np.ndarray, np.ndarray]:
    """(ids int64, vectors float32 (n, 128)) of every face: what the index is built from."""
    rows = conn.execute("SELECT id, encoding FROM faces ORDER BY id").fetchall()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    if not rows:
        return ids, np.empty((0, ENCODING_DIM), dtype=np.float32)
    flat = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
    return ids, flat.reshape(len(rows), ENCODING_DIM)


def encodings_written_since(
    conn: sqlite3.Connection, generation: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What an index saved at `generation` lacks: (ids int64, encodings float32 (n, 128)) of
    the faces whose encoding was written after it (or at an unknown generation), and the
    id of every face now in the database (int64, ascending). Read in one snapshot, so a
    write committed meanwhile by another process is either wholly in it or not at all."""
    with _snapshot(conn):
        rows = conn.execute(
            "SELECT id, encoding FROM faces"
            " WHERE encoding_generation > ? OR encoding_generation IS NULL",
            (int(generation),),
        ).fetchall()
        # Straight from the cursor: a list of 1M one-tuples would cost more than the query.
        cursor = conn.execute("SELECT id FROM faces ORDER BY id")
        all_ids = np.fromiter((r[0] for r in cursor), dtype=np.int64)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    flat = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
    return ids, flat.reshape(len(rows), ENCODING_DIM), all_ids


@contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction (WAL: a consistent snapshot), unless one is already open."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def known_photos(
    conn: sqlite3.Connection, folder_id: int, under: str | None = None
) -> dict[str, tuple[int, float, str | None, str, str | None]]:
    """path -> (size, mtime, fingerprint, status, detector) of a folder's photos, optionally
    under a sub-directory (a path prefix ending in the separator)."""
    sql = (
        "SELECT path, size, mtime, fingerprint, status, detector, path_bytes FROM photos"
        " WHERE folder_id = ?"
    )
    args: list = [folder_id]
    if under:
        under = key(under)
        # Range on the UNIQUE path index instead of LIKE, which would treat _ and % as wildcards.
        sql += " AND path >= ? AND path < ?"
        args += [under, under[:-1] + chr(ord(under[-1]) + 1)]
    return {from_db(r[0], r[6]): r[1:6] for r in conn.execute(sql, args)}


def face_boxes(conn: sqlite3.Connection, face_ids: Sequence[int]) -> list[tuple[int, str, Box]]:
    """(face id, its photo's path, its box) of each of these faces."""
    out: list[tuple[int, str, Box]] = []
    for part in chunks(list(face_ids)):
        rows = conn.execute(
            "SELECT f.id, p.path, f.box_left, f.box_top, f.box_right, f.box_bottom"
            f" FROM faces f JOIN photos p ON p.id = f.photo_id WHERE f.id IN ({marks(len(part))})",
            part,
        )
        out += [(face_id, path, Box(*box)) for face_id, path, *box in rows]
    return out


def named_boxes(conn: sqlite3.Connection, photo_id: int) -> list[tuple[str, Box]]:
    """(name, box) of the named faces of a photo, left to right."""
    rows = conn.execute(
        "SELECT pe.name, f.box_left, f.box_top, f.box_right, f.box_bottom FROM faces f"
        " JOIN people pe ON pe.id = f.person_id WHERE f.photo_id = ? ORDER BY f.box_left",
        (photo_id,),
    )
    return [(r[0], Box(*r[1:])) for r in rows]


def photos_with_names(conn: sqlite3.Connection) -> list[int]:
    """The photos with at least one named face, by id."""
    rows = conn.execute(
        "SELECT DISTINCT photo_id FROM faces WHERE person_id IS NOT NULL ORDER BY 1"
    )
    return [r[0] for r in rows]


def analysed_photo_size(conn: sqlite3.Connection, photo_id: int) -> tuple[str, int, int] | None:
    """(path, width, height) of a photo analysed without error; None for any other."""
    row = conn.execute(
        "SELECT path, width, height FROM photos WHERE id = ? AND status = 'ok'", (photo_id,)
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2])


def most_used_detector(conn: sqlite3.Connection) -> tuple[bool, str | None]:
    """(whether the library has analysed photos, the detector recorded for most of them);
    None is the detector of photos analysed before detectors were recorded."""
    row = conn.execute(
        "SELECT detector FROM photos WHERE status = 'ok'"
        " GROUP BY detector ORDER BY COUNT(*) DESC LIMIT 1"
    ).fetchone()
    return (row is not None, row[0] if row else None)


def vanished_fingerprints(conn: sqlite3.Connection) -> dict[str, str]:
    """fingerprint -> former path of every photo kept as vanished."""
    return dict(conn.execute("SELECT fingerprint, path FROM vanished_photos ORDER BY id"))


def stats(conn: sqlite3.Connection) -> dict[str, int]:
    one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
    return {
        "folders": one("SELECT COUNT(*) FROM folders"),
        "photos": one("SELECT COUNT(*) FROM photos"),
        "errors": one("SELECT COUNT(*) FROM photos WHERE status = 'error'"),
        "faces": one("SELECT COUNT(*) FROM faces"),
        "people": one("SELECT COUNT(*) FROM people"),
        "named_faces": one("SELECT COUNT(*) FROM faces WHERE person_id IS NOT NULL"),
        # Of "faces": the ones the user marked as no face (pets, posters).
        "not_a_face": one("SELECT COUNT(*) FROM faces WHERE not_a_face = 1"),
        # Gone from disk, kept for a while in case they turn up elsewhere.
        "vanished_photos": one("SELECT COUNT(*) FROM vanished_photos"),
    }


def scanned_at(conn: sqlite3.Connection, photo_id: int) -> str | None:
    """When a photo was last analysed (as stored: SQLite's UTC time); None for no such photo."""
    row = conn.execute("SELECT scanned_at FROM photos WHERE id = ?", (photo_id,)).fetchone()
    return None if row is None else row[0]


def quick_check(conn: sqlite3.Connection) -> str:
    """SQLite's quick check of the database file: "ok", else what is wrong with it."""
    return "\n".join(r[0] for r in conn.execute("PRAGMA quick_check"))
