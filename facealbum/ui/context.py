"""What every page shares: the open library, the scan, and cross-page requests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QObject, Signal

from facealbum.config import THUMBNAIL_DIR_NAME
from facealbum.ui.scan_controller import ScanController
from facealbum.ui.tasks import run_task
from facealbum.ui.widgets.thumbnails import ThumbnailCache

if TYPE_CHECKING:
    from facealbum.album import Album


class LibraryContext(QObject):
    """Holds the open Album; pages listen to its signals instead of to each other."""

    album_changed = Signal(object)  # Album or None
    data_changed = Signal()  # people, faces or folders changed: views refresh
    open_photo = Signal(int)  # photo id
    find_similar_face = Signal(int)  # face id
    search_source = Signal(object)  # a path or an RGB numpy array
    status_message = Signal(str)
    error = Signal(str, object)  # title, exception or message

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.album: Album | None = None
        self.scan = ScanController(self)

    def set_album(self, album: Album | None) -> None:
        self.album = album
        self.album_changed.emit(album)

    def thumbnail_cache(self) -> ThumbnailCache | None:
        if self.album is None:
            return None
        return ThumbnailCache(Path(self.album.directory) / THUMBNAIL_DIR_NAME)

    def has(self, method: str) -> bool:
        """Whether a library is open and offers this action."""
        return self.album is not None and hasattr(self.album, method)

    def act(
        self,
        fn,
        description: str,
        on_done=None,
        *,
        owner: QObject | None = None,
        failure: str = "That did not work",
        on_end: Callable[[], None] | None = None,
    ) -> None:
        """Run a changing action on a worker; then refresh every view, or show the error
        (titled `failure`; its text says what went wrong). The error is shown even when
        `owner` is gone by then: a change that was not saved must not vanish with the
        window it was made in; only `on_done` is skipped. `on_end` is called first either
        way (to close a progress dialog, say)."""
        album = self.album

        def done(result: Any) -> None:
            if on_end is not None:
                on_end()
            if album is not self.album:
                return  # the library was switched meanwhile
            if description:
                self.status_message.emit(description)
            if on_done is not None and (owner is None or shiboken6.isValid(owner)):
                on_done(result)
            self.data_changed.emit()

        def failed(error: BaseException) -> None:
            if on_end is not None:
                on_end()
            self.error.emit(failure, error)

        run_task(lambda: fn(album), done, failed, owner=self)
