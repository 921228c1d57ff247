"""Backups of a library for the front ends: listed and restored without opening it.

Opening would make the day's backup and hold the database, and a restore must replace a
database nobody has open. Album.backup makes one of an open library.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from facealbum import config
from facealbum.db import backup as db_backup
from facealbum.db.backup import BackupInfo
from facealbum.model import LibraryError

__all__ = ["BackupInfo", "backups", "restore"]


def backups(directory: Path) -> list[BackupInfo]:
    """The library's backups, newest first, with the counts read from each."""
    return db_backup.list_backups(_database(directory))


def restore(directory: Path, name: str | None) -> tuple[BackupInfo, Path | None]:
    """Replace the library's database with backup `name` (None = the newest good one).
    Returns (the backup restored, where the replaced database was kept). The library must
    not be open. Raises LibraryError, or StoreError (nothing changed)."""
    db_path = _database(directory)
    result = db_backup.restore(db_path, name)
    # The vector index is derived from the database it no longer matches: the next open
    # rebuilds it from the restored encodings.
    shutil.rmtree(Path(directory) / config.INDEX_DIR_NAME, ignore_errors=True)
    return result


def _database(directory: Path) -> Path:
    directory = Path(directory).expanduser()
    db_path = directory / config.DATABASE_NAME
    if not db_path.exists() and not db_backup.backup_folder(db_path).is_dir():
        raise LibraryError(f"no facealbum library in {directory}")
    return db_path
