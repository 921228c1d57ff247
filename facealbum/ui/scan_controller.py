"""Runs one library scan in the background with pause, resume and cancel.

The facade's scan is blocking and reports progress from its own thread; this object
turns those reports into queued Qt signals so that any page can show them.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from facealbum.ui.tasks import run_task

if TYPE_CHECKING:
    from facealbum.album import Album
    from facealbum.album.scan_workers import ScanWorkers
    from facealbum.model import ScanProgress

# How long a scan's worker processes are kept after it: a user setting up a library adds
# one folder after another, and each scan would otherwise wait for new workers to load
# their models (about a second). Idle, they hold about 165 MB each.
KEEP_WORKERS_MS = 2 * 60 * 1000


class ScanController(QObject):
    started = Signal()
    progress = Signal(object)  # ScanProgress
    finished = Signal(object)  # the final ScanProgress ("done" or "cancelled")
    failed = Signal(str)
    paused_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cancel = threading.Event()
        self._pause = threading.Event()
        self._running = False
        self._album: Album | None = None
        self._workers: ScanWorkers | None = None
        self._idle = QTimer(self)
        self._idle.setSingleShot(True)
        self._idle.setInterval(KEEP_WORKERS_MS)
        self._idle.timeout.connect(self.release_workers)

    def is_running(self) -> bool:
        return self._running

    def is_paused(self) -> bool:
        return self._pause.is_set()

    def start(
        self,
        album: Album,
        folders: list[Path] | None = None,
        prune: bool = False,
        redetect_with: str | None = None,
    ) -> bool:
        """Begin scanning; False when a scan is already running. `prune`: the user said the
        photos a scan finds gone are gone, even most of a folder. `redetect_with`: find the
        faces of every photo again with this detector (Album.find_faces_again)."""
        if self._running:
            return False
        self._running = True
        self._album = album
        self._cancel = threading.Event()
        self._pause = threading.Event()
        cancel, pause = self._cancel, self._pause
        workers = self._workers_for(album, redetect_with)
        self.started.emit()
        self.paused_changed.emit(False)
        # progress.emit runs on the scanning thread; the signal queues it to the GUI.
        feedback = {"progress": self.progress.emit, "cancel": cancel, "pause": pause}
        run_task(
            lambda: (
                album.find_faces_again(folders, detector=redetect_with, workers=workers, **feedback)
                if redetect_with
                else album.scan(folders, prune=prune, workers=workers, **feedback)
            ),
            self._done,
            self._error,
            owner=self,
            pool_name="scan",
        )
        return True

    def set_paused(self, paused: bool) -> None:
        if not self._running:
            return
        if paused:
            self._pause.set()
        else:
            self._pause.clear()
        self.paused_changed.emit(paused)

    def cancel(self) -> None:
        self._cancel.set()
        self._pause.clear()  # a paused scan must wake up to notice the cancel

    def release_workers(self) -> None:
        """End the worker processes kept since the last scan (not while one runs)."""
        self._idle.stop()
        if self._workers is not None and not self._running:
            self._workers.close()
            self._workers = None

    def _workers_for(self, album: Album, detector: str | None) -> ScanWorkers:
        """The kept workers when they suit this scan, else new ones, starting now: they
        load their models while the scan walks the folders."""
        from facealbum.album.scan_workers import ScanWorkers

        self._idle.stop()
        settings = album.settings
        if detector is not None:
            settings = replace(settings, detector=detector)
        if self._workers is None or not self._workers.made_for(settings):
            if self._workers is not None:
                self._workers.close()
            self._workers = ScanWorkers(settings)
        try:
            self._workers.start()
        except OSError:  # no process to spare now: the scan tries again and says why
            pass
        return self._workers

    def _done(self, result: ScanProgress) -> None:
        self._running = False
        self._idle.start()
        self.finished.emit(result)

    def _error(self, error: BaseException) -> None:
        self._running = False
        self._idle.start()
        self.failed.emit(str(error) or type(error).__name__)
