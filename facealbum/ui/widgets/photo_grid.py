"""A grid of photos that stays smooth with a hundred thousand of them.

The model holds only photo ids. Rows are filled lazily: the first time the view asks
for a row, its id joins a batch whose PhotoInfo is fetched on a pool thread, then its
thumbnail is made on the thumbnail pool. Until then the row shows a placeholder.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import QListView, QWidget

from facealbum.ui.style import placeholder_pixmap
from facealbum.ui.tasks import run_task

if TYPE_CHECKING:
    from facealbum.album import Album
from facealbum.model import PhotoInfo
from facealbum.ui.widgets.icon_list import selected_values, set_up_icon_list
from facealbum.ui.widgets.image_loader import ImageLoader

PHOTO_ID_ROLE = Qt.ItemDataRole.UserRole + 1
PHOTO_INFO_ROLE = Qt.ItemDataRole.UserRole + 2
THUMB_SIZE = 160
_BATCH = 64


class PhotoGridModel(QAbstractListModel):
    """Rows = photo ids; decoration = thumbnail; tooltip = path and faces."""

    def __init__(self, loader: ImageLoader, parent=None) -> None:
        super().__init__(parent)
        self._loader = loader
        self._album: Album | None = None
        self._ids: list[int] = []
        self._row_of: dict[int, int] = {}
        self._infos: dict[int, PhotoInfo] = {}
        self._wanted: set[int] = set()
        self._fetching: set[int] = set()
        self._generation = 0
        self._placeholder = placeholder_pixmap(THUMB_SIZE)
        self._flush = QTimer(self, singleShot=True, interval=0)
        self._flush.timeout.connect(self._fetch_wanted)
        loader.ready.connect(self._image_ready)
        loader.dropped.connect(self._image_ready)  # repaint: a row still shown asks again
        loader.failed.connect(lambda key, _reason: self._image_ready(key))

    # -- content -----------------------------------------------------------
    def set_album(self, album: Album | None) -> None:
        self._album = album
        self.set_ids([])

    def set_ids(self, ids: Sequence[int]) -> None:
        """Replace every row (a new folder, person or search)."""
        self.beginResetModel()
        self._generation += 1
        self._ids = list(ids)
        self._row_of = {pid: row for row, pid in enumerate(self._ids)}
        self._wanted.clear()
        self._fetching.clear()
        self._loader.clear()
        self.endResetModel()

    def append_ids(self, ids: Iterable[int]) -> None:
        """Add photos that a running scan just committed, skipping ones already shown."""
        fresh = [pid for pid in dict.fromkeys(ids) if pid not in self._row_of]
        if not fresh:
            return
        first = len(self._ids)
        self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
        for offset, pid in enumerate(fresh):
            self._row_of[pid] = first + offset
        self._ids.extend(fresh)
        self.endInsertRows()

    def ids(self) -> list[int]:
        return list(self._ids)

    def photo_id(self, row: int) -> int:
        return self._ids[row]

    def info(self, photo_id: int) -> PhotoInfo | None:
        return self._infos.get(photo_id)

    def fetched_count(self) -> int:
        """How many rows' PhotoInfo has been fetched so far (the rest are ids only)."""
        return len(self._infos)

    # -- Qt model API -------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._ids)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid() or index.row() >= len(self._ids):
            return None
        pid = self._ids[index.row()]
        if role == PHOTO_ID_ROLE:
            return pid
        info = self._infos.get(pid)
        if role == PHOTO_INFO_ROLE:
            return info
        if role == Qt.ItemDataRole.DecorationRole:
            if info is None:
                self._want(pid)
                return self._placeholder
            pm = self._loader.pixmap(("photo", pid))
            if pm is None:
                if info.status == "ok" and not self._loader.is_broken(("photo", pid)):
                    self._loader.request(("photo", pid), info.path, THUMB_SIZE)
                return self._placeholder
            return pm
        if role == Qt.ItemDataRole.ToolTipRole and info is not None:
            faces = f"{info.face_count} face{'s' if info.face_count != 1 else ''}"
            extra = f"\n{info.error}" if info.status == "error" and info.error else ""
            return f"{Path(info.path).name}\n{faces}{extra}"
        return None

    # -- lazy rows -----------------------------------------------------------
    def _want(self, pid: int) -> None:
        if pid not in self._fetching:
            self._wanted.add(pid)
            self._flush.start()

    def _fetch_wanted(self) -> None:
        album = self._album
        if album is None or not self._wanted:
            return
        batch = list(self._wanted)[:_BATCH]
        self._wanted.difference_update(batch)
        self._fetching.update(batch)
        generation = self._generation
        run_task(
            lambda: album.photos(batch),
            lambda infos: self._infos_arrived(generation, infos),
            owner=self,
        )
        if self._wanted:
            self._flush.start()

    def _infos_arrived(self, generation: int, infos: dict[int, PhotoInfo]) -> None:
        if generation != self._generation:
            return
        self._infos.update(infos)
        self._fetching.difference_update(infos)
        for pid in infos:
            self._row_changed(pid)

    def _image_ready(self, key: Hashable) -> None:
        if isinstance(key, tuple) and key[0] == "photo":
            self._row_changed(key[1])

    def _row_changed(self, pid: int) -> None:
        row = self._row_of.get(pid)
        if row is not None:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])


class PhotoGridView(QListView):
    """Icon-mode list over a PhotoGridModel; double-click or Enter opens a photo."""

    photo_activated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        set_up_icon_list(self, THUMB_SIZE, QSize(THUMB_SIZE + 12, THUMB_SIZE + 12), spacing=4)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(500)
        self.setDragEnabled(False)
        self.activated.connect(self._activated)

    def _activated(self, index: QModelIndex) -> None:
        pid = index.data(PHOTO_ID_ROLE)
        if pid is not None:
            self.photo_activated.emit(int(pid))

    def selected_photo_ids(self) -> list[int]:
        return selected_values(self, PHOTO_ID_ROLE)
