"""Small libraries with known content, made without dlib, and the tests' way into a
library's database: read with db/ functions, written as a scan writes, or put in a state
the facade never makes (the only SQL of the tests that is not itself under test)."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from facealbum import config
from facealbum.album import Album
from facealbum.album.index_sync import FaceWrite
from facealbum.db import people_queries, scan_writes
from facealbum.db.store import Store
from facealbum.model import Box, Face, FaceInfo, PhotoAnalysis

BOX = Box(0.2, 0.2, 0.5, 0.6)


def library_store(album: Album) -> Store:
    """The library's database: tests read it with db/ functions, and set up states the
    facade never makes (a library from before a migration, a write cut short)."""
    return album._store


def write_as_scan(album: Album, write: FaceWrite) -> scan_writes.FaceChanges:
    """Write faces as a scan writes them (database and index together), without dlib."""
    return album._sync.write_faces(write)


def group_new_faces(album: Album, read_xmp: bool = True, *, batch_size: int | None = None) -> int:
    """What a scan does after writing: group the new faces and suggest their people;
    returns how many faces it processed."""
    kw = {"batch_size": batch_size} if batch_size is not None else {}
    return album._update_people_after_scan(read_xmp, **kw)


def encoding(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return v / np.linalg.norm(v) * 0.9


def add_photos(album: Album, folder: Path, names: Sequence[str], seed: int = 0) -> list[int]:
    """One photo per name, each with one face, written as a scan writes them (the files
    need not exist); returns the new face ids."""
    folder_id = next(f.id for f in album.folders() if Path(f.path) == folder.resolve())

    def write(conn: sqlite3.Connection) -> scan_writes.FaceChanges:
        changes = scan_writes.FaceChanges()
        for n, name in enumerate(names):
            face = Face(BOX, 1.2, 120, 55.0, encoding(seed + n))
            fingerprint = f"{name}-{seed}"
            photo = PhotoAnalysis(
                str(folder / name), 1000, 1.0, fingerprint, 640, 480, None, (face,)
            )
            changes.extend(scan_writes.save_analysis(conn, folder_id, photo)[1])
        return changes

    return list(write_as_scan(album, write).added_ids)


def small_library(directory: Path, photos: int = 3, person: str = "Alice") -> Path:
    """A closed library of `photos` photos, one face each, all of them `person`; no backups
    yet (the day's backup may have raced the photos in)."""
    folder = directory.parent / f"{directory.name}-photos"
    folder.mkdir(parents=True)
    with Album.open(directory) as album:
        album.add_folder(folder)
        faces = add_photos(album, folder, [f"p{i}.jpg" for i in range(photos)])
        album.assign_faces(faces, album.create_person(person))
    shutil.rmtree(directory / "backups", ignore_errors=True)
    return directory


def people(directory: Path) -> list[str]:
    """The names in a closed library, read from its database (opening it as an album
    would make the day's backup)."""
    store = Store(directory / config.DATABASE_NAME)
    try:
        found = people_queries.people(store.conn, include_hidden=True, sharp=0.0)
    finally:
        store.close()
    return sorted(p.name for p in found)


def every_face(album: Album) -> list[FaceInfo]:
    """Every face of the library, by id, read through the facade."""
    faces = [f for photo in album.photo_ids() for f in album.faces_in_photo(photo)]
    return sorted(faces, key=lambda f: f.id)


# -- states the facade never makes: set up in SQL, here only -------------------------------


def forget_detectors(album: Album) -> None:
    """A library whose photos were analysed before detectors were recorded."""
    with library_store(album).write() as conn:
        conn.execute("UPDATE photos SET detector = NULL")


def stamp_analysed_at(album: Album, stamp: str) -> None:
    """Every photo recorded as analysed at `stamp` (a scan records the time it analysed a
    photo, nothing else does), to tell which photos a rescan analyses again."""
    with library_store(album).write() as conn:
        conn.execute("UPDATE photos SET scanned_at = ?", (stamp,))


@contextmanager
def write_lock_held(db: Path) -> Iterator[None]:
    """Another facealbum in the middle of a long write: it holds the library's write lock
    until the block ends, then lets go without having written anything."""
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


@contextmanager
def disk_full(album: Album) -> Iterator[None]:
    """The library's disk is full until the block ends, for the writes of this thread
    (they run on this thread's connection, whose page limit stands for the disk)."""
    conn = library_store(album).conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA max_page_count = {2**30}")  # space was freed
