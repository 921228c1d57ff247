"""One scan of library folders: walk, plan against the store, analyse, write in batches.

Results are committed every BATCH_PHOTOS photos or BATCH_SECONDS, whichever comes
first, each batch in one transaction: a killed scan loses at most one batch, and
the next scan redoes nothing that was committed.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from facealbum.album import xmp_names
from facealbum.db import queries, scan_writes
from facealbum.engine.faces import usable_detector
from facealbum.engine.scanner import (
    Analysed,
    DiskPhoto,
    Failed,
    KnownPhoto,
    Moved,
    PhotoWalk,
    ScanClock,
    ScanPool,
    ScanResult,
    WorkerStartError,
    is_under,
    plan_scan,
)
from facealbum.model import (
    HeldBack,
    LibraryError,
    OfflineFolder,
    PhotoStatus,
    ScanPhase,
    ScanProgress,
    readable_path,
)

if TYPE_CHECKING:
    from facealbum.album.index_sync import IndexSync
    from facealbum.album.scan_workers import ScanWorkers
    from facealbum.config import Settings
    from facealbum.interop.xmp import FaceRegion

BATCH_PHOTOS = 50
BATCH_SECONDS = 1.0
REPORT_SECONDS = 0.1  # progress reports at most ~10 times a second
# A long scan also saves the index now and then, so that after a kill the next open has
# little to catch up on; a big index takes seconds to save, so saves are spaced out to
# take at most INDEX_SAVE_SHARE of the scan's time.
INDEX_SAVE_SECONDS = 60.0
INDEX_SAVE_SHARE = 0.05
# A photo gone from disk keeps its faces and names this long, in case it turns up again
# (moved to a folder that is scanned later, or added to the library later): long enough
# for a reorganisation done over a holiday, short enough that deleted photos do not
# linger in the database for good.
VANISHED_KEEP_DAYS = 90
_FINAL = (ScanPhase.DONE, ScanPhase.CANCELLED)  # the reports that list offline folders


class ScanJob:
    """One scan: `targets` (folder id, path to walk) of a library whose folders are
    `folders` (id -> root), written through `sync`; `backup(reason)` is called before a
    large removal the user agreed to."""

    def __init__(
        self,
        sync: IndexSync,
        settings: Settings,
        library_dir: Path,
        folders: dict[int, Path],
        targets: list[tuple[int, Path]],
        backup: Callable[[str], object],
        progress: Callable[[ScanProgress], None] | None,
        cancel: threading.Event | None,
        pause: threading.Event | None,
        given_workers: ScanWorkers | None = None,
        prune: bool = False,
        redetect: bool = False,
    ) -> None:
        self.sync = sync
        self.given_workers = given_workers
        self.settings = settings
        self.library_dir = library_dir
        self.folders = folders
        self.backup = backup
        self.prune = prune
        # Find faces again in unchanged photos whose faces another detector found.
        self.redetect = redetect
        self.redetecting: set[str] = set()
        self.store = sync.store
        self.targets = targets
        self.progress = progress
        self.cancel = cancel or threading.Event()
        self.pause = pause
        self.folder_of: dict[str, int] = {}
        self.offline: list[OfflineFolder] = []
        self.notes: list[str] = []
        self.held_back: list[HeldBack] = []
        self.vanished: set[str] = set()
        self.claimed: set[str] = set()
        # The XMP regions of each photo analysed with faces, read as its result arrives:
        # its file is fresh in the disk cache then, and the end of the scan need not read
        # every photo again (on a slow drive, a pause of its own after the last photo).
        self.xmp_regions: dict[str, list[FaceRegion]] = {}
        self.batch: list[ScanResult] = []
        self.batch_started = time.monotonic()
        self.retry: list[DiskPhoto] = []
        self.clock = ScanClock(0)
        self.faces_found = 0
        self.errors = 0
        self.last_error: str | None = None
        self.new_errors: list[str] = []
        self.new_photo_ids: list[int] = []
        self.last_report = 0.0
        self.last_index_save = time.monotonic()
        self.index_save_every = INDEX_SAVE_SECONDS

    # -- reporting ------------------------------------------------------------------------

    def _report(self, phase: ScanPhase, force: bool = False) -> ScanProgress:
        now = time.monotonic()
        report = ScanProgress(
            phase=phase,
            done=self.clock.done,
            total=self.clock.total,
            faces_found=self.faces_found,
            errors=self.errors,
            photos_per_second=self.clock.photos_per_second,
            eta_seconds=self.clock.eta_seconds if phase == ScanPhase.SCANNING else None,
            new_photo_ids=tuple(self.new_photo_ids),
            last_error=self.last_error,
            new_errors=tuple(self.new_errors),
            offline=tuple(self.offline) if phase in _FINAL else (),
            held_back=tuple(self.held_back) if phase in _FINAL else (),
            notes=tuple(self.notes),
        )
        if self.progress is not None and (force or now - self.last_report >= REPORT_SECONDS):
            self.last_report = now
            self.new_photo_ids.clear()
            self.new_errors.clear()
            self.progress(report)
        return report

    def _error(self, text: str) -> None:
        self.errors += 1
        self.last_error = text
        self.new_errors.append(text)

    # -- the scan -------------------------------------------------------------------------

    def run(self) -> ScanProgress:
        to_analyse, removed, known = self._plan()
        if self.cancel.is_set():
            return self._report(ScanPhase.CANCELLED, force=True)
        self.vanished = set(removed)
        # Photos analysed again as they are must never be taken for a copy of themselves.
        again = [p for p in to_analyse if p.path in self.redetecting]
        to_analyse = [p for p in to_analyse if p.path not in self.redetecting]
        candidates = self._moved_candidates(removed, to_analyse, known)
        self.clock = ScanClock(len(to_analyse) + len(again))
        self._report(ScanPhase.SCANNING, force=True)
        detector = self._usable_detector()
        try:
            if to_analyse or again:
                with self._pool(detector, len(to_analyse) + len(again)) as pool:
                    self._analyse(pool, to_analyse, candidates)
                    if again and not self.cancel.is_set():
                        self._analyse(pool, again, None)
                    if self.retry and not self.cancel.is_set():
                        retry, self.retry = self.retry, []
                        self._analyse(pool, retry, None)
        except WorkerStartError as e:
            # Nothing can be analysed (e.g. the face models are missing): one message for
            # the whole scan, and the photos stay unscanned rather than marked unreadable.
            raise LibraryError(f"cannot analyse photos: {_start_failure(e)}") from e
        finally:
            # Whatever happens (cancel, Ctrl-C, an error), keep what was analysed.
            self._flush()
            if not self.cancel.is_set():
                self._remove_vanished()
            self.sync.save()
        final = ScanPhase.CANCELLED if self.cancel.is_set() else ScanPhase.DONE
        return self._report(final, force=True)

    def _pool(self, detector: str, photos: int) -> AbstractContextManager[ScanPool]:
        """The workers the scan was given when they find faces as it must (they keep
        running after it), else workers of its own, no more than there are photos."""
        given, min_face_px = self.given_workers, self.settings.min_face_px
        if given is not None and given.fits(detector, min_face_px):
            return nullcontext(given.pool)
        workers = min(self.settings.effective_workers(), max(1, photos))
        return ScanPool(workers, detector, min_face_px)

    def _plan(self) -> tuple[list[DiskPhoto], list[str], dict[str, KnownPhoto]]:
        """Walk each target and compare it with the library: (photos to analyse, paths
        gone for sure, what the library knew of the walked folders)."""
        to_analyse: list[DiskPhoto] = []
        removed: list[str] = []
        known_all: dict[str, KnownPhoto] = {}
        # The library's own folder may sit inside a photo folder: never index its thumbnails.
        skip = [str(self.library_dir)]
        for folder_id, root in self.targets:
            known = self._known(folder_id, root)
            walk = PhotoWalk(root, skip)
            disk: list[DiskPhoto] = []
            try:
                for photo in walk:
                    disk.append(photo)
                    self.folder_of[photo.path] = folder_id
                    self.clock.done += 1
                    self._report(ScanPhase.WALKING)
                    if self.cancel.is_set():
                        return to_analyse, removed, known_all
            except OSError:
                # Missing (an unplugged drive?): its photos stay in the library untouched.
                self._went_offline(str(root), "not found (an unplugged drive?)", len(known))
                continue
            detector = self.settings.detector if self.redetect else None
            plan = plan_scan(disk, known, walk.unread, prune=self.prune, detector=detector)
            self.redetecting.update(plan.redetect)
            for unread in walk.unread:
                kept = sum(1 for p in known if is_under(p, unread.path))
                if not unread.empty or kept:
                    self._went_offline(unread.path, unread.reason, kept)
            if plan.held_back:
                self.held_back.append(HeldBack(str(root), len(plan.held_back), len(known)))
            to_analyse += plan.to_analyse
            removed += plan.removed
            known_all.update(known)
        return to_analyse, removed, known_all

    def _usable_detector(self) -> str:
        """The library's detector, or HOG when YuNet's model cannot be loaded (said once)."""
        detector, problem = usable_detector(self.settings.detector)
        if problem is not None:
            self.notes.append(problem)
        return detector

    def _went_offline(self, path: str, reason: str, photos_kept: int) -> None:
        self.offline.append(OfflineFolder(readable_path(path), reason, photos_kept))

    def _known(self, folder_id: int, root: Path) -> dict[str, KnownPhoto]:
        under = None if self.folders.get(folder_id) == root else str(root).rstrip("/") + "/"
        rows = queries.known_photos(self.store.conn, folder_id, under)
        return {path: KnownPhoto(*row) for path, row in rows.items()}

    def _moved_candidates(
        self, removed: list[str], to_analyse: list[DiskPhoto], known: dict[str, KnownPhoto]
    ) -> dict[str, str]:
        """fingerprint -> old path: photos that vanished in earlier scans, photos that
        vanished in this one (moves: they win, so that the row keeps its ids), and changed
        known photos (a touched file whose content is the same needs only its stat
        updated)."""
        candidates = queries.vanished_fingerprints(self.store.conn)
        for path in [p.path for p in to_analyse] + removed:
            k = known.get(path)
            if k is not None and k.fingerprint and k.status == PhotoStatus.OK:
                candidates[k.fingerprint] = path  # vanished paths win: listed last
        return candidates

    def _analyse(self, pool: ScanPool, photos: list[DiskPhoto], candidates: dict | None) -> None:
        for result in pool.run(photos, candidates, cancel=self.cancel, pause=self.pause):
            if isinstance(result, Analysed) and result.analysis.faces:
                path = result.analysis.path
                self.xmp_regions[path] = xmp_names.photo_regions(path)
            self.batch.append(result)
            self.clock.tick()
            if (
                len(self.batch) >= BATCH_PHOTOS
                or time.monotonic() - self.batch_started >= BATCH_SECONDS
            ):
                self._flush()
            self._report(ScanPhase.SCANNING)

    # -- writing --------------------------------------------------------------------------

    def _flush(self) -> None:
        batch, self.batch = self.batch, []
        self.batch_started = time.monotonic()
        if not batch:
            return
        changes = scan_writes.FaceChanges()
        committed: list[int] = []
        errors: list[str] = []
        retry: list[DiskPhoto] = []

        def write(conn) -> scan_writes.FaceChanges:
            for result in batch:
                # One photo that cannot be stored fails alone, not its whole batch.
                try:
                    with self.store.step(conn):
                        photo_id, change = self._write(conn, result, errors, retry)
                except (sqlite3.IntegrityError, ValueError) as e:
                    errors.append(f"{readable_path(result.path)}: could not be stored: {e}")
                    continue
                if photo_id is not None:
                    committed.append(photo_id)
                changes.extend(change)
            return changes

        save = time.monotonic() - self.last_index_save >= self.index_save_every
        started = time.monotonic()
        self.sync.write_faces(write, then_save=save)
        if save:  # a batch's write takes milliseconds: this is the save's time
            self.last_index_save = time.monotonic()
            took = self.last_index_save - started
            self.index_save_every = max(INDEX_SAVE_SECONDS, took / INDEX_SAVE_SHARE)
        self.faces_found += len(set(changes.added_ids) - set(changes.removed_ids))
        self.new_photo_ids += committed
        self.retry += retry
        for text in errors:
            self._error(text)

    def _write(self, conn, result: ScanResult, errors: list[str], retry: list[DiskPhoto]):
        if isinstance(result, Analysed):
            a = result.analysis
            keep_decided = a.path in self.redetecting
            return scan_writes.save_analysis(conn, self.folder_of[a.path], a, keep_decided)
        if isinstance(result, Failed):
            errors.append(f"{readable_path(result.path)}: {result.reason}")
            return scan_writes.save_failure(
                conn, self.folder_of[result.path], result.path, result.size, result.mtime,
                result.reason,
            )  # fmt: skip
        assert isinstance(result, Moved)
        may_repoint = result.old_path in self.vanished and result.old_path not in self.claimed
        photo_id, change = scan_writes.save_move(
            conn, self.folder_of[result.path], result.path, result.size, result.mtime,
            result.fingerprint, result.old_path, may_repoint,
        )  # fmt: skip
        if photo_id is None:  # the photo it matched is gone: analyse it after all
            retry.append(DiskPhoto(result.path, result.size, result.mtime))
        elif may_repoint:
            self.claimed.add(result.old_path)
        return photo_id, change

    def _remove_vanished(self) -> None:
        """Remove what is gone for sure (kept as vanished for a while) and forget what
        vanished long ago."""
        gone = sorted(self.vanished - self.claimed)
        if self.prune and gone:
            self.backup("before-prune")  # the user said yes to a large removal

        def write(conn) -> scan_writes.FaceChanges:
            scan_writes.expire_vanished(conn, VANISHED_KEEP_DAYS)
            return scan_writes.remove_photos(conn, gone)

        self.sync.write_faces(write)


def _start_failure(error: WorkerStartError) -> str:
    """The worker's reason without the exception class name it was reported with."""
    text = str(error)
    kind, sep, rest = text.partition(": ")
    return rest if sep and kind.isidentifier() and kind[:1].isupper() else text
