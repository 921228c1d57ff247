"""A grid of face crops that stays smooth with a hundred thousand faces (the Faces page;
lazy like the photo grid: lazy_grid)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, QSize, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from facealbum.model import Box, FaceInfo, readable_path
from facealbum.ui.widgets.icon_list import set_up_icon_list
from facealbum.ui.widgets.lazy_grid import ID_ROLE, INFO_ROLE, LazyGridModel

if TYPE_CHECKING:
    from facealbum.album import Album

FACE_ID_ROLE = ID_ROLE
FACE_INFO_ROLE = INFO_ROLE
FACE_TILE = 112


class FaceGridModel(LazyGridModel[FaceInfo]):
    """Rows = face ids; decoration = the face crop; text = its person's name, if any."""

    kind = "face"

    def __init__(self, loader, parent=None) -> None:
        super().__init__(loader, FACE_TILE, parent)

    def fetch(self, album: Album, ids: list[int]) -> dict[int, FaceInfo]:
        return album.faces_by_id(ids)

    def image_source(self, info: FaceInfo) -> tuple[str | Path, Box | None]:
        return info.photo, info.box

    def text(self, info: FaceInfo) -> str:
        return info.person_name or ""

    def tooltip(self, info: FaceInfo) -> str:
        who = info.person_name or ("In a group" if info.group_id is not None else "Unnamed")
        return f"{who}\n{Path(readable_path(info.photo)).name}"


class FaceGridView(QListView):
    """Icon-mode list over a FaceGridModel: one face at a time, arrows move, Enter (or a
    double-click) activates."""

    face_activated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        set_up_icon_list(self, FACE_TILE, QSize(FACE_TILE + 14, FACE_TILE + 30), spacing=4)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(500)
        self.setDragEnabled(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.activated.connect(self._activated)

    def _activated(self, index: QModelIndex) -> None:
        fid = index.data(FACE_ID_ROLE)
        if fid is not None:
            self.face_activated.emit(int(fid))

    def current_face_id(self) -> int | None:
        index = self.currentIndex()
        return int(index.data(FACE_ID_ROLE)) if index.isValid() else None
