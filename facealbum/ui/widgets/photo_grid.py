"""A grid of photos that stays smooth with a hundred thousand of them (lazy_grid)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, QSize, Signal
from PySide6.QtWidgets import QListView, QWidget

from facealbum.model import Box, PhotoInfo, PhotoStatus
from facealbum.ui.widgets.icon_list import selected_values, set_up_icon_list
from facealbum.ui.widgets.lazy_grid import ID_ROLE, INFO_ROLE, LazyGridModel

if TYPE_CHECKING:
    from facealbum.album import Album

PHOTO_ID_ROLE = ID_ROLE
PHOTO_INFO_ROLE = INFO_ROLE
THUMB_SIZE = 160


class PhotoGridModel(LazyGridModel[PhotoInfo]):
    """Rows = photo ids; decoration = thumbnail; tooltip = path and faces."""

    kind = "photo"

    def __init__(self, loader, parent=None) -> None:
        super().__init__(loader, THUMB_SIZE, parent)

    def fetch(self, album: Album, ids: list[int]) -> dict[int, PhotoInfo]:
        return album.photos(ids)

    def image_source(self, info: PhotoInfo) -> tuple[str | Path, Box | None] | None:
        return (info.path, None) if info.status == PhotoStatus.OK else None

    def tooltip(self, info: PhotoInfo) -> str:
        faces = f"{info.face_count} face{'s' if info.face_count != 1 else ''}"
        extra = f"\n{info.error}" if info.status == PhotoStatus.ERROR and info.error else ""
        return f"{Path(info.path).name}\n{faces}{extra}"


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
