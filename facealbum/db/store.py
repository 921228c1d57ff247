"""The library database: one SQLite connection per thread, one writer at a time.

Readers never block each other (WAL); every write goes through `Store.write()`,
which holds the single writer lock for one transaction. A write that fails for a
reason of the disk (busy, full, read-only, I/O) is rolled back and raised as a
StoreError whose text says what happened and that nothing was changed.
"""

from __future__ import annotations

import errno
import gc
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from facealbum.config import PRIVATE_FILE_MODE
from facealbum.db.migrations import migrate, schema_version
from facealbum.db.schema import LATEST_VERSION

GENERATION_KEY = "index_generation"
# How long a write waits for another process's write to end before giving up. Writers
# commit in short batches, so this is only reached when something is badly stuck; it is
# generous because the wait never blocks a window (the app writes on worker threads) and
# a user's change that gives up is a change the user must make again.
BUSY_TIMEOUT_S = 30.0
NOTHING_CHANGED = "nothing was changed"  # what a failed write did, said in its message

# SQLite's primary result codes (sqlite3.SQLITE_* exist only from Python 3.11).
_BUSY, _LOCKED, _READONLY, _IOERR, _FULL, _CANTOPEN = 5, 6, 8, 10, 13, 14
# Python 3.10 has no error code on the exception; SQLite's message for each code is fixed.
_CODE_OF_MESSAGE = {
    "database is locked": _BUSY,
    "database table is locked": _LOCKED,
    "attempt to write a readonly database": _READONLY,
    "disk I/O error": _IOERR,
    "database or disk is full": _FULL,
    "unable to open database file": _CANTOPEN,
}

# A full disk, or the user's quota of it (not every platform has EDQUOT).
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}

# Database files a Store of this process has open (a restore must not replace one).
_open_here: Counter[str] = Counter()
_open_here_lock = threading.Lock()


class StoreError(Exception):
    """The library's disk failed a read or write; str(e) is a readable message."""


class StoreBusy(StoreError):
    """Another process held the write lock for longer than the busy timeout."""


class StoreFull(StoreError):
    """The disk (or the database's size limit) is full."""


class StoreReadOnly(StoreError):
    """The library cannot be written: read-only folder, file or disk."""


class StoreDamaged(StoreError):
    """The database file is there but cannot be a library (e.g. empty)."""


def _error_code(error: sqlite3.Error) -> int | None:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF  # extended codes carry the primary one in their low byte
    return _CODE_OF_MESSAGE.get(str(error))


def failure(
    kind: type[StoreError], directory: Path, what: str = NOTHING_CHANGED, reason: str = ""
) -> StoreError:
    """A StoreError of this kind with its message; `what` says what became of the change,
    `reason` names the failure of a plain StoreError."""
    where = f"the library in {directory}"
    if kind is StoreBusy:
        return kind(f"{where} is busy: another facealbum is writing to it; {what}, try again")
    if kind is StoreFull:
        return kind(f"the disk of {where} is full; {what}: free some space")
    if kind is StoreReadOnly:
        return kind(f"{where} is read-only; {what}")
    return kind(f"{where} could not be read or written ({reason}); {what}")


def sqlite_failure(
    error: sqlite3.Error, directory: Path, what: str = NOTHING_CHANGED
) -> StoreError | None:
    """The StoreError for a failure of the disk, None for other errors (bugs, constraints)."""
    code = _error_code(error)
    if code in (_BUSY, _LOCKED):
        return failure(StoreBusy, directory, what)
    if code == _FULL:
        return failure(StoreFull, directory, what)
    if code in (_READONLY, _CANTOPEN):
        return failure(StoreReadOnly, directory, what)
    if code == _IOERR:
        return failure(StoreError, directory, what, "disk I/O error")
    return None


def os_failure(error: OSError, directory: Path, what: str = NOTHING_CHANGED) -> StoreError:
    """The StoreError for a file of the library that could not be written."""
    if error.errno in _DISK_FULL:
        return failure(StoreFull, directory, what)
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return failure(StoreReadOnly, directory, what)
    return failure(StoreError, directory, what, error.strerror or str(error))


def is_open_here(db_path: Path) -> bool:
    """Whether a Store of this process has this database open."""
    with _open_here_lock:
        return _open_here[os.path.realpath(db_path)] > 0


def _connect(path: Path, read_only: bool, busy_timeout_s: float) -> sqlite3.Connection:
    if read_only:
        # mode=ro reads a WAL database as long as its -wal and -shm can be opened (they
        # exist, or the folder is writable); immutable=1 is the fallback for a library
        # nobody can write (read-only folder or disk), where no writer can exist.
        uri = path.absolute().as_uri()
        conn = _open(f"{uri}?mode=ro", busy_timeout_s)
        try:
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        except sqlite3.OperationalError as e:
            conn.close()
            if _error_code(e) not in (_READONLY, _CANTOPEN):  # no -shm could be made
                raise
            conn = _open(f"{uri}?mode=ro&immutable=1", busy_timeout_s)
    else:
        conn = _open(str(path), busy_timeout_s)
        conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _open(target: str, busy_timeout_s: float) -> sqlite3.Connection:
    # Autocommit mode: transactions are opened explicitly by write().
    return sqlite3.connect(
        target,
        uri=target.startswith("file:"),
        isolation_level=None,
        check_same_thread=False,
        timeout=busy_timeout_s,
    )


def _cannot_write(path: Path) -> bool:
    """A database that exists but that this user cannot change (it, or its folder, where
    SQLite must create the -wal and -shm files)."""
    return path.exists() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


class Store:
    """Owns the database file of one library.

    `read_only`: None opens read-only when the file or its folder cannot be written.
    `busy_timeout_s`: how long a write waits for another process's write (None: the
    module's BUSY_TIMEOUT_S, read when the store opens, so that tests can shorten it).
    """

    def __init__(
        self,
        db_path: Path,
        *,
        read_only: bool | None = None,
        busy_timeout_s: float | None = None,
    ) -> None:
        self.path = Path(db_path)
        self.read_only = _cannot_write(self.path) if read_only is None else read_only
        self.busy_timeout_s = BUSY_TIMEOUT_S if busy_timeout_s is None else busy_timeout_s
        # Thread ident -> that thread's connection (a dict, not threading.local, so that
        # close() can let go of every connection at once).
        self._conns: dict[int, sqlite3.Connection] = {}
        self._conns_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._depth = 0
        self._closed = False
        self._registered = False  # counted in _open_here
        self._check_not_empty()
        created = not self.path.exists()
        try:
            self._prepare(created)
        except BaseException:
            self.close()
            if created:  # a library that never got its tables is not worth keeping
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            raise
        with _open_here_lock:
            _open_here[os.path.realpath(self.path)] += 1
            self._registered = True

    def _check_not_empty(self) -> None:
        # SQLite takes a 0-byte file for a new, empty database: a library whose file was
        # truncated (a full disk, a bad copy) would silently open with nothing in it.
        if self.path.is_file() and self.path.stat().st_size == 0:
            raise StoreDamaged(
                f"{self.path} is empty (0 bytes): the library database may be damaged; "
                "nothing was opened. Restore a backup (`facealbum restore --latest`, or "
                "File ▸ Restore from backup…), or move the file away to start a new library"
            )

    def _prepare(self, created: bool) -> None:
        try:
            conn = self.conn
            if created:
                # Still empty: nothing was readable before this. The -wal and -shm files
                # SQLite creates later take the database file's mode.
                os.chmod(self.path, PRIVATE_FILE_MODE)
            if self.read_only:
                self._check_schema_readable(conn)
                return
            conn.execute("PRAGMA journal_mode = WAL")
            migrate(conn, self.path)
        except sqlite3.OperationalError as e:
            translated = sqlite_failure(e, self.path.parent)
            if translated is None:
                raise
            raise translated from e

    def _check_schema_readable(self, conn: sqlite3.Connection) -> None:
        if schema_version(conn) < LATEST_VERSION:
            raise StoreReadOnly(
                f"the library in {self.path.parent} is read-only and was made by an older "
                "facealbum: it can only be opened where it can be upgraded (made writable)"
            )
        migrate(conn, self.path)  # raises MigrationError for a newer library; writes nothing

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        ident = threading.get_ident()
        conn = self._conns.get(ident)
        if conn is None:
            with self._conns_lock:
                if self._closed:
                    raise sqlite3.ProgrammingError("the library is closed")
                conn = self._conns[ident] = _connect(self.path, self.read_only, self.busy_timeout_s)
        return conn

    def check_writable(self) -> None:
        """Raise StoreReadOnly when the library was opened read-only."""
        if self.read_only:
            raise failure(StoreReadOnly, self.path.parent)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; nested calls join the outer one. A failure of the disk
        rolls it back and raises StoreBusy, StoreFull, StoreReadOnly or StoreError."""
        self.check_writable()
        with self._write_lock:
            conn = self.conn
            if self._depth:
                self._depth += 1
                try:
                    yield conn
                finally:
                    self._depth -= 1
                return
            try:
                conn.execute("BEGIN IMMEDIATE")
                self._depth = 1
                try:
                    yield conn
                    conn.execute("COMMIT")
                finally:
                    self._depth = 0
                    _roll_back(conn)  # only when COMMIT was not reached or failed
            except sqlite3.Error as e:
                translated = sqlite_failure(e, self.path.parent)
                if translated is None:
                    raise
                raise translated from e

    @staticmethod
    @contextmanager
    def step(conn: sqlite3.Connection) -> Iterator[None]:
        """A step inside a write transaction that is undone alone when it raises (the
        error goes on), so that one bad item need not cost its whole batch."""
        conn.execute("SAVEPOINT step")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK TO step")
            raise
        finally:
            conn.execute("RELEASE step")

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
        let go, and each one closes as soon as no query holds it. A connection sits in a
        reference cycle (its statement cache), so the cycle collector runs here: idle
        ones close at once, releasing their locks (a restore needs them released). Any
        later use raises "the library is closed".
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
        gc.collect()
        with _open_here_lock:
            if self._registered:
                self._registered = False
                _open_here[os.path.realpath(self.path)] -= 1


def _roll_back(conn: sqlite3.Connection) -> None:
    # SQLite may already have rolled back by itself (a full disk, an I/O error).
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
