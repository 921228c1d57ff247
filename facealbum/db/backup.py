"""Backups of a library database: copied with SQLite's online backup API, checked, rotated.

Each backup is a complete SQLite file of its own in the library's `backups/` folder,
named `<UTC time>-<reason>.sqlite3` (`20250114T093012Z-daily.sqlite3`). It is written
under a hidden temporary name, checked (`PRAGMA quick_check`) and only then renamed,
so a backup that was killed halfway never looks like a good one.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from facealbum.config import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE
from facealbum.db.store import (
    StoreBusy,
    StoreDamaged,
    StoreError,
    is_open_here,
    os_failure,
    sqlite_failure,
)
from facealbum.files import sync_dir

BACKUP_DIR_NAME = "backups"
DAILY = "daily"
BEFORE_RESTORE = "before-restore"
# A week of daily copies lets a mistake noticed days later be undone; five copies made
# before risky operations (full regroup, removing a folder, pruning photos, a restore)
# cover a bad afternoon beyond the day's copy. Twelve copies of a 100,000-face library
# take about 1 GB; fewer days would save space but lose the week.
KEEP_DAILY = 7
KEEP_BEFORE = 5
# A little under a day, so that a library opened at about the same hour every day gets
# a copy every day.
DAILY_INTERVAL = timedelta(hours=20)
# How long a restore waits for another facealbum to let go of the library.
RESTORE_WAIT_S = 2.0
# A temporary file this old belongs to a backup that was killed, not one in progress.
STALE_TEMP_S = 3600

_SUFFIX = ".sqlite3"
_TEMP_SUFFIX = ".partial"
_STAMP = "%Y%m%dT%H%M%SZ"
_NAME = re.compile(r"^(\d{8}T\d{6}Z)-([a-z]+(?:-[a-z]+)*)(?:-(\d+))?$")
# One backup or restore at a time in this process: rotation must not race a new copy.
_lock = threading.RLock()


@dataclass(frozen=True)
class BackupInfo:
    name: str  # what `facealbum restore` takes: the file name without .sqlite3
    path: Path
    created: datetime  # UTC
    reason: str  # "daily", "before-restore", "before-regroup", ...
    size: int  # bytes
    photos: int | None  # None when the file cannot be read (then `problem` says why)
    faces: int | None
    people: int | None
    problem: str | None = None


def backup_folder(db_path: Path) -> Path:
    return db_path.parent / BACKUP_DIR_NAME


def make_backup(db_path: Path, reason: str) -> Path:
    """Copy the database into the backups folder now; returns the new file. Raises
    StoreError (StoreFull, StoreReadOnly, StoreDamaged) when no backup could be made."""
    if not db_path.is_file():
        raise StoreError(f"there is no library database in {db_path.parent}; no backup was made")
    with _lock, closing(_open_read_only(db_path)) as source:
        return _backup_from(source, db_path, reason)


def backup_if_due(db_path: Path, now: datetime | None = None) -> Path | None:
    """The daily backup, when the newest one is older than DAILY_INTERVAL and the library
    holds photos (an empty library has nothing to lose)."""
    now = now or datetime.now(timezone.utc)
    with _lock:
        daily = [b for b in _parsed(backup_folder(db_path)) if b.reason == DAILY]
        if daily and now - daily[0].created < DAILY_INTERVAL:
            return None
        with closing(_open_read_only(db_path)) as source:
            if source.execute("SELECT 1 FROM photos LIMIT 1").fetchone() is None:
                return None
            return _backup_from(source, db_path, DAILY)


def list_backups(db_path: Path) -> list[BackupInfo]:
    """Every backup, newest first, with the counts read from it."""
    return [_with_counts(b) for b in _parsed(backup_folder(db_path))]


def find_backup(db_path: Path, name: str | None) -> BackupInfo:
    """The backup called `name` (with or without .sqlite3); None = the newest good one."""
    backups = list_backups(db_path)
    if name is None:
        good = [b for b in backups if b.problem is None]
        if not good:
            raise StoreError(f"there is no usable backup in {backup_folder(db_path)}")
        return good[0]
    wanted = name.removesuffix(_SUFFIX)
    for info in backups:
        if info.name == wanted:
            return info
    raise StoreError(f"no backup called {name} in {backup_folder(db_path)}")


def restore(db_path: Path, name: str | None) -> tuple[BackupInfo, Path | None]:
    """Replace the database with a backup (None = the newest good one). What it replaces
    is kept first: backed up as "before-restore", or, when it cannot be read, renamed
    beside it. Returns (the backup restored, where the replaced database went).

    The library must not be open: not in this process (StoreError) nor in another
    (StoreBusy). Nothing is changed when the restore cannot be done.
    """
    directory = db_path.parent
    if is_open_here(db_path):
        raise StoreError(f"the library in {directory} is open: close it before restoring")
    chosen = find_backup(db_path, name)
    if chosen.problem is not None:
        raise StoreDamaged(f"backup {chosen.name} cannot be restored: {chosen.problem}")
    with _lock:
        if db_path.is_file() and db_path.stat().st_size > 0:
            try:
                return chosen, _restore_over(db_path, chosen.path)
            except StoreDamaged:
                pass  # the current database is damaged: set it aside instead
        kept = _move_aside(db_path)
        try:
            _copy_to_new_file(chosen.path, db_path)
        except BaseException:
            if kept is not None:
                _move_back(kept, db_path)
            raise
        return chosen, kept


# -- copying ----------------------------------------------------------------------------


def _open_read_only(path: Path) -> sqlite3.Connection:
    # Read-only never creates a file where there was none; WAL readers block no writer.
    return sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, isolation_level=None)


def _backup_from(source: sqlite3.Connection, db_path: Path, reason: str) -> Path:
    """Copy the database `source` reads into a new checked file of the backups folder."""
    folder = backup_folder(db_path)
    what = "no backup was made"
    try:
        folder.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
        target = _free_name(folder, _clean_reason(reason))
        temp = folder / f".{target.name}{_TEMP_SUFFIX}"
        try:
            _copy(source, temp)
            _check(temp)
            os.replace(temp, target)
            sync_dir(folder)
        finally:
            temp.unlink(missing_ok=True)
    except OSError as e:
        raise os_failure(e, db_path.parent, what) from e
    except sqlite3.Error as e:
        raise _failure(e, db_path, what) from e
    _rotate(folder)
    return target


def _copy(source: sqlite3.Connection, target: Path) -> None:
    with closing(sqlite3.connect(target, isolation_level=None)) as copy:
        os.chmod(target, PRIVATE_FILE_MODE)  # still empty: nothing was readable before
        source.backup(copy)  # all pages in one step: one consistent snapshot
        # A backup stands alone: no -wal beside it to lose, readable where it lies.
        copy.execute("PRAGMA journal_mode = DELETE")
    with open(target, "rb+") as f:
        os.fsync(f.fileno())


def _check(path: Path) -> None:
    with closing(_open_read_only(path)) as conn:
        result = conn.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        raise StoreDamaged(f"{path.name} failed its check ({result})")


def _failure(error: sqlite3.Error, db_path: Path, what: str) -> StoreError:
    translated = sqlite_failure(error, db_path.parent, what)
    if translated is not None:
        return translated
    return StoreDamaged(f"the library database {db_path} is damaged ({error}); {what}")


# -- names and rotation -------------------------------------------------------------------


def _clean_reason(reason: str) -> str:
    words = re.findall(r"[a-z]+", reason.lower())
    return "-".join(words) or "manual"


def _free_name(folder: Path, reason: str) -> Path:
    """A new name; backups made within one second are numbered in the order they were made."""
    stamp = datetime.now(timezone.utc).strftime(_STAMP)
    same_second = [_NAME.match(p.stem) for p in folder.glob(f"{stamp}-*{_SUFFIX}")]
    taken = [int(m[3] or 1) for m in same_second if m is not None]
    if not taken:
        return folder / f"{stamp}-{reason}{_SUFFIX}"
    return folder / f"{stamp}-{reason}-{max(taken) + 1}{_SUFFIX}"


def _parsed(folder: Path) -> list[BackupInfo]:
    """The backups of a folder by their names alone, newest first."""
    found = []
    for path in folder.glob(f"*{_SUFFIX}"):
        match = _NAME.match(path.name.removesuffix(_SUFFIX))
        if match is None:
            continue
        created = datetime.strptime(match[1], _STAMP).replace(tzinfo=timezone.utc)
        order = (created, int(match[3] or 1))
        try:
            size = path.stat().st_size
        except OSError:
            continue
        info = BackupInfo(path.stem, path, created, match[2], size, None, None, None)
        found.append((order, info))
    return [info for _, info in sorted(found, key=lambda item: item[0], reverse=True)]


def _with_counts(info: BackupInfo) -> BackupInfo:
    try:
        with closing(_open_read_only(info.path)) as conn:
            photos, faces, people = conn.execute(
                "SELECT (SELECT COUNT(*) FROM photos), (SELECT COUNT(*) FROM faces),"
                " (SELECT COUNT(*) FROM people)"
            ).fetchone()
    except sqlite3.Error as e:
        return replace(info, problem=f"cannot be read ({e})")
    return replace(info, photos=photos, faces=faces, people=people)


def _rotate(folder: Path) -> None:
    backups = _parsed(folder)
    daily = [b for b in backups if b.reason == DAILY]
    before = [b for b in backups if b.reason != DAILY]
    for old in daily[KEEP_DAILY:] + before[KEEP_BEFORE:]:
        old.path.unlink(missing_ok=True)
    for temp in folder.glob(f".*{_TEMP_SUFFIX}"):
        try:
            if time.time() - temp.stat().st_mtime > STALE_TEMP_S:
                temp.unlink()
        except OSError:
            pass


# -- restoring ----------------------------------------------------------------------------


def _restore_over(db_path: Path, backup: Path) -> Path:
    """Copy `backup` into the live database through SQLite, which keeps its -wal and -shm
    consistent; returns the before-restore backup. StoreDamaged: the live one is damaged."""
    what = "nothing was changed"
    live = sqlite3.connect(db_path, isolation_level=None, timeout=RESTORE_WAIT_S)
    try:
        # Exclusive locking cannot begin while another connection (another facealbum)
        # has the library open, and keeps every other one out until the restore is done.
        live.execute("PRAGMA locking_mode = EXCLUSIVE")
        live.execute("BEGIN EXCLUSIVE")
        live.execute("COMMIT")
        kept = _backup_from(live, db_path, BEFORE_RESTORE)
        with closing(_open_read_only(backup)) as source:
            source.backup(live)
        live.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.OperationalError as e:
        translated = sqlite_failure(e, db_path.parent, what)
        if isinstance(translated, StoreBusy):
            raise StoreBusy(
                f"the library in {db_path.parent} is open in another facealbum (the app or "
                "a command): close it, then restore again; nothing was changed"
            ) from e
        raise _failure(e, db_path, what) from e
    except sqlite3.DatabaseError as e:
        raise _failure(e, db_path, what) from e
    finally:
        live.close()
    return kept


def _move_aside(db_path: Path) -> Path | None:
    """Rename a database that cannot be read (with its -wal and -shm, which may hold the
    rest of it) so that nothing of it is lost; None when there is none."""
    if not db_path.exists():
        return None
    stamp = datetime.now(timezone.utc).strftime(_STAMP)
    aside = db_path.with_name(f"{db_path.name}.damaged-{stamp}")
    try:
        for suffix in ("-wal", "-shm", ""):
            old = Path(f"{db_path}{suffix}")
            if old.exists():
                os.replace(old, f"{aside}{suffix}")
    except OSError as e:
        _move_back(aside, db_path)
        raise os_failure(e, db_path.parent) from e
    return aside


def _move_back(aside: Path, db_path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        try:
            os.replace(f"{aside}{suffix}", f"{db_path}{suffix}")
        except OSError:
            pass  # not moved (or never there)


def _copy_to_new_file(backup: Path, db_path: Path) -> None:
    temp = db_path.with_name(f".{db_path.name}{_TEMP_SUFFIX}")
    try:
        with closing(_open_read_only(backup)) as source:
            _copy(source, temp)
        os.replace(temp, db_path)
        sync_dir(db_path.parent)
    except OSError as e:
        raise os_failure(e, db_path.parent) from e
    except sqlite3.Error as e:
        raise _failure(e, backup, "nothing was changed") from e
    finally:
        temp.unlink(missing_ok=True)
