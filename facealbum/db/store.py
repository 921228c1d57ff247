"""The library database: one SQLite connection per thread, one writer at a time.

Readers never block each other (WAL); every write goes through `Store.write()`,
which holds the single writer lock for one transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from facealbum.db.migrations import migrate

GENERATION_KEY = "index_generation"


def _connect(path: Path) -> sqlite3.Connection:
    # Autocommit mode: transactions are opened explicitly by write().
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


class Store:
    """Owns the database file of one library."""

    def __init__(self, db_path: Path) -> None:
        self.path = Path(db_path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._depth = 0
        self._closed = False
        conn = self.conn
        conn.execute("PRAGMA journal_mode = WAL")
        migrate(conn, self.path)

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise sqlite3.ProgrammingError("the library is closed")
            conn = _connect(self.path)
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; nested calls join the outer one."""
        with self._write_lock:
            conn = self.conn
            if self._depth:
                self._depth += 1
                try:
                    yield conn
                finally:
                    self._depth -= 1
                return
            conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield conn
            except BaseException:
                self._depth = 0
                conn.execute("ROLLBACK")
                raise
            self._depth = 0
            conn.execute("COMMIT")

    @property
    def writer_lock(self) -> threading.RLock:
        """Held by every write; hold it longer to keep derived data (the index) in step."""
        return self._write_lock

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.write() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def generation(self) -> int:
        """Counter bumped by every face insert or delete; the index is saved with it."""
        return int(self.meta(GENERATION_KEY, "0") or 0)

    def bump_generation(self, conn: sqlite3.Connection) -> tuple[int, int]:
        """Call inside the write transaction that changed faces; returns (before, after)."""
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (GENERATION_KEY,)).fetchone()
        before = int(row[0]) if row else 0
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            (GENERATION_KEY, str(before + 1)),
        )
        return before, before + 1

    def close(self) -> None:
        with self._write_lock, self._all_lock:
            self._closed = True
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
            self._local = threading.local()
