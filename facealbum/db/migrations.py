"""Bring a library database up to the latest schema, safely.

Pending migrations run in ONE transaction, after a backup copy of the database
(library.sqlite3.bak-v<old version>, private; the copies of earlier upgrades go), so a
failed upgrade leaves the library exactly as it was and a successful one can still be
undone by hand.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from facealbum.config import PRIVATE_FILE_MODE
from facealbum.db.schema import MIGRATIONS, Migration


class MigrationError(Exception):
    """The database could not be upgraded (it is left unchanged)."""


def schema_version(conn: sqlite3.Connection) -> int:
    """The highest applied migration, 0 for an empty database."""
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if row is None:
        return 0
    return conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]


def backup_path(db_path: Path, version: int) -> Path:
    return db_path.with_name(f"{db_path.name}.bak-v{version}")


def migrate(
    conn: sqlite3.Connection,
    db_path: Path,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> list[int]:
    """Apply the migrations newer than the database; returns the versions applied.

    `conn` must be in autocommit mode (isolation_level=None) so that the
    transaction here is the only one.
    """
    current = schema_version(conn)
    latest = migrations[-1].version if migrations else 0
    if current > latest:
        raise MigrationError(
            f"this library was made by a newer facealbum (schema {current}, this one knows "
            f"{latest}); please update facealbum"
        )
    pending = [m for m in migrations if m.version > current]
    if not pending:
        return []
    if current > 0:
        _back_up(conn, db_path, current)
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TEXT NOT NULL DEFAULT (datetime('now')))"
        )
        for migration in pending:
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                (migration.version, migration.name),
            )
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
            (str(pending[-1].version),),
        )
        conn.execute("COMMIT")
    except sqlite3.Error as e:
        conn.execute("ROLLBACK")
        raise MigrationError(f"upgrading the library database failed: {e}") from e
    _forget_older_backups(db_path, current)
    return [m.version for m in pending]


def _back_up(conn: sqlite3.Connection, db_path: Path, version: int) -> None:
    """A copy of the database before the upgrade, readable by its owner only (it holds
    every face encoding, as the library does)."""
    path = backup_path(db_path, version)
    path.unlink(missing_ok=True)  # a copy left by an upgrade that failed: made again
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE_FILE_MODE))
    # The backup API copies a consistent snapshot even with WAL pages pending.
    target = sqlite3.connect(path)
    try:
        conn.backup(target)
    finally:
        target.close()


def _forget_older_backups(db_path: Path, kept: int) -> None:
    """The copies of upgrades before this one: the daily backups have long replaced them,
    and each is as large as the library."""
    for old in db_path.parent.glob(f"{db_path.name}.bak-v*"):
        suffix = old.name.rsplit("-v", 1)[-1]
        if suffix.isdigit() and int(suffix) < kept:
            old.unlink(missing_ok=True)
