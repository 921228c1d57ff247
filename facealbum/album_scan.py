"""One scan of library folders: walk, plan against the store, analyse, write in batches.

Results are committed every BATCH_PHOTOS photos or BATCH_SECONDS, whichever comes
first, each batch in one transaction: a killed scan loses at most one batch, and
the next scan redoes nothing that was committed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from facealbum.album_types import LibraryError, ScanProgress
from facealbum.db import queries, scan_writes
from facealbum.engine.scanner import (
    Analysed,
    DiskPhoto,
    Failed,
    KnownPhoto,
    Moved,
    ScanClock,
    ScanPool,
    ScanResult,
    WorkerStartError,
    plan_scan,
    walk_photos,
)

if TYPE_CHECKING:
    from facealbum.album import Album

BATCH_PHOTOS = 50
BATCH_SECONDS = 1.0
REPORT_SECONDS = 0.1  # progress reports at most ~10 times a second
# A long scan also saves the index now and then, so that after a kill the next open has
# little to catch up on; a big index takes seconds to save, so saves are spaced out to
# take at most INDEX_SAVE_SHARE of the scan's time.
INDEX_SAVE_SECONDS = 60.0
INDEX_SAVE_SHARE = 0.05


class ScanJob:
    def __init__(
        self,
        album: Album,
        targets: list[tuple[int, Path]],
        progress: Callable[[ScanProgress], None] | None,
        cancel: threading.Event | None,
        pause: threading.Event | None,
    ) -> None:
        self.album = album
        self.store = album.store
        self.targets = targets
        self.progress = progress
        self.cancel = cancel or threading.Event()
        self.pause = pause
        self.folder_of: dict[str, int] = {}
        self.vanished: set[str] = set()
        self.claimed: set[str] = set()
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

    def _report(self, phase: str, force: bool = False) -> ScanProgress:
        now = time.monotonic()
        report = ScanProgress(
            phase=phase,
            done=self.clock.done,
            total=self.clock.total,
            faces_found=self.faces_found,
            errors=self.errors,
            photos_per_second=self.clock.photos_per_second,
            eta_seconds=self.clock.eta_seconds if phase == "scanning" else None,
            new_photo_ids=tuple(self.new_photo_ids),
            last_error=self.last_error,
            new_errors=tuple(self.new_errors),
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
        disk = self._walk()
        if self.cancel.is_set():
            return self._report("cancelled", force=True)
        known = self._known()
        plan = plan_scan(disk, known)
        self.vanished = set(plan.removed)
        candidates = self._moved_candidates(plan.removed, plan.to_analyse, known)
        self.clock = ScanClock(len(plan.to_analyse))
        self._report("scanning", force=True)
        settings = self.album.settings
        workers = min(settings.effective_workers(), max(1, len(plan.to_analyse)))
        try:
            if plan.to_analyse:
                with ScanPool(workers, settings.detector, settings.min_face_px) as pool:
                    self._analyse(pool, plan.to_analyse, candidates)
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
            self.album.save_index()
        return self._report("cancelled" if self.cancel.is_set() else "done", force=True)

    def _walk(self) -> list[DiskPhoto]:
        disk: list[DiskPhoto] = []
        self.available: list[tuple[int, Path]] = []
        for folder_id, root in self.targets:
            try:
                for photo in walk_photos(root):
                    disk.append(photo)
                    self.folder_of[photo.path] = folder_id
                    self.clock.done = len(disk)
                    self._report("walking")
                    if self.cancel.is_set():
                        return disk
            except OSError:
                # Missing (an unplugged drive?): its photos stay in the library untouched.
                self._error(f"{root}: folder not found, skipped")
                continue
            self.available.append((folder_id, root))
        return disk

    def _known(self) -> dict[str, KnownPhoto]:
        known: dict[str, KnownPhoto] = {}
        folder_roots = dict(self.album._folder_paths())
        for folder_id, root in self.available:
            under = None if folder_roots.get(folder_id) == root else str(root).rstrip("/") + "/"
            for path, row in queries.known_photos(self.store.conn, folder_id, under).items():
                known[path] = KnownPhoto(*row)
        return known

    @staticmethod
    def _moved_candidates(
        removed: list[str], to_analyse: list[DiskPhoto], known: dict[str, KnownPhoto]
    ) -> dict[str, str]:
        """fingerprint -> old path: photos that vanished (moves), and changed known photos
        (a touched file whose content is the same needs only its stat updated)."""
        candidates: dict[str, str] = {}
        for path in [p.path for p in to_analyse] + removed:
            k = known.get(path)
            if k is not None and k.fingerprint and k.status == "ok":
                candidates[k.fingerprint] = path  # vanished paths win: listed last
        return candidates

    def _analyse(self, pool: ScanPool, photos: list[DiskPhoto], candidates: dict | None) -> None:
        for result in pool.run(photos, candidates, cancel=self.cancel, pause=self.pause):
            self.batch.append(result)
            self.clock.tick()
            if (
                len(self.batch) >= BATCH_PHOTOS
                or time.monotonic() - self.batch_started >= BATCH_SECONDS
            ):
                self._flush()
            self._report("scanning")

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
                photo_id, change = self._write(conn, result, errors, retry)
                if photo_id is not None:
                    committed.append(photo_id)
                changes.extend(change)
            return changes

        with self.store.writer_lock:
            self.album.write_faces(write)
            if time.monotonic() - self.last_index_save >= self.index_save_every:
                started = time.monotonic()
                self.album.save_index()
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
            return scan_writes.save_analysis(conn, self.folder_of[a.path], a)
        if isinstance(result, Failed):
            errors.append(f"{result.path}: {result.reason}")
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
        gone = sorted(self.vanished - self.claimed)
        if not gone:
            return
        self.album.write_faces(lambda conn: scan_writes.remove_photos(conn, gone))


def _start_failure(error: WorkerStartError) -> str:
    """The worker's reason without the exception class name it was reported with."""
    text = str(error)
    kind, sep, rest = text.partition(": ")
    return rest if sep and kind.isidentifier() and kind[:1].isupper() else text
