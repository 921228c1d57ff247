"""Small libraries with known content for the storage and backup tests, made without dlib."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import numpy as np

from facealbum.album import Album
from facealbum.album.index_sync import FaceWrite
from facealbum.db import scan_writes
from facealbum.db.store import Store
from facealbum.model import Box, Face, PhotoAnalysis

BOX = Box(0.2, 0.2, 0.5, 0.6)


def library_store(album: Album) -> Store:
    """The library's database: tests read it with db/ functions, and set up states the
    facade never makes (a library from before a migration, a write cut short)."""
    return album._store


def write_as_scan(album: Album, write: FaceWrite) -> scan_writes.FaceChanges:
    """Write faces as a scan writes them (database and index together), without dlib."""
    return album._sync.write_faces(write)


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
    """The names in a library, read straight from its database."""
    with closing(sqlite3.connect(directory / "library.sqlite3")) as conn:
        return sorted(r[0] for r in conn.execute("SELECT name FROM people"))
