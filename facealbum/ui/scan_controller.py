"""Runs one library scan in the background with pause, resume and cancel.

The facade's scan is blocking and reports progress from its own thread; this object
turns those reports into queued Qt signals so that any page can show them.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from facealbum.ui.tasks import run_task

if TYPE_CHECKING:
    from facealbum.album import Album
    from facealbum.model import ScanProgress


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
        self.started.emit()
        self.paused_changed.emit(False)
        # progress.emit runs on the scanning thread; the signal queues it to the GUI.
        feedback = {"progress": self.progress.emit, "cancel": cancel, "pause": pause}
        run_task(
            lambda: (
                album.find_faces_again(folders, detector=redetect_with, **feedback)
                if redetect_with
                else album.scan(folders, prune=prune, **feedback)
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

    def _done(self, result: ScanProgress) -> None:
        self._running = False
        self.finished.emit(result)

    def _error(self, error: BaseException) -> None:
        self._running = False
        self.failed.emit(str(error) or type(error).__name__)
