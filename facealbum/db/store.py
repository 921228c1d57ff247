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
        # Thread ident -> that thread's connection (a dict, not threading.local, so that
        # close() can let go of every connection at once).
        self._conns: dict[int, sqlite3.Connection] = {}
        self._conns_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._depth = 0
        self._closed = False
        conn = self.conn
        conn.execute("PRAGMA journal_mode = WAL")
        migrate(conn, self.path)

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        ident = threading.get_ident()
        conn = self._conns.get(ident)
        if conn is None:
            with self._conns_lock:
                if self._closed:
                    raise sqlite3.ProgrammingError("the library is closed")
                conn = self._conns[ident] = _connect(self.path)
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
        """Close the store; waits for a write in progress, never cuts a read short.

        Closing a connection while another thread is inside a query on it crashes the
        interpreter, so only this thread's connection is closed here; the others are
        let go, and reference counting closes each one as soon as no query holds it
        (at once for idle ones). Any later use raises "the library is closed".
        """
        with self._write_lock, self._conns_lock:
            self._closed = True
            conns, self._conns = self._conns, {}
        mine = conns.pop(threading.get_ident(), None)
        if mine is not None:
            try:
                mine.close()
            except sqlite3.Error:
                pass
        conns.clear()
