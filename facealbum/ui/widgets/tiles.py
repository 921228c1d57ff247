"""Face tiles: a face crop with a caption, for people, groups, suggestions and results."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    Qt,
)
from PySide6.QtWidgets import QListView, QWidget

from facealbum.model import Box
from facealbum.ui.style import placeholder_pixmap
from facealbum.ui.widgets.icon_list import selected_values, set_up_icon_list
from facealbum.ui.widgets.image_loader import ImageLoader

TILE_KEY_ROLE = Qt.ItemDataRole.UserRole + 1
TILE_ROLE = Qt.ItemDataRole.UserRole + 2
FACE_SIZE = 128
MIME_PREFIX = "application/x-facealbum-"  # + the list's kind: "person", "group", ...


def tile_mime_type(kind: str) -> str:
    return MIME_PREFIX + kind


def keys_from_mime(mime: QMimeData, kind: str) -> list[int]:
    """The tile keys a drag from a TileModel of `kind` carries ([] for anything else)."""
    if not mime.hasFormat(tile_mime_type(kind)):
        return []
    text = bytes(mime.data(tile_mime_type(kind)).data()).decode("ascii")
    return [int(k) for k in text.split(",") if k.strip().isdigit()]


@dataclass(frozen=True)
class Tile:
    key: int  # person, group, face or photo id, depending on the list
    title: str
    subtitle: str
    photo: str | None  # where the face crop comes from
    box: Box | None
    tooltip: str = ""
    payload: Any = None  # what the tile stands for: a person, group, suggestion or match


class TileModel(QAbstractListModel):
    def __init__(
        self, loader: ImageLoader, kind: str, parent=None, face_size: int = FACE_SIZE
    ) -> None:
        super().__init__(parent)
        self._loader = loader
        self._kind = kind  # keeps image keys of different lists apart
        self._size = face_size  # crops are made at the size shown: list views do not shrink them
        self._tiles: list[Tile] = []
        self._placeholder = placeholder_pixmap(face_size)
        loader.ready.connect(self._ready)
        loader.failed.connect(lambda key, _why: self._ready(key))

    def set_tiles(self, tiles: Sequence[Tile]) -> None:
        self.beginResetModel()
        self._tiles = list(tiles)
        self.endResetModel()

    def tiles(self) -> list[Tile]:
        return list(self._tiles)

    def tile(self, row: int) -> Tile:
        return self._tiles[row]

    def _image_key(self, tile: Tile) -> tuple:
        return (self._kind, tile.key, tile.photo, tile.box)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._tiles)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled | Qt.ItemFlag.ItemIsDropEnabled

    def mimeTypes(self) -> list[str]:  # noqa: N802 - Qt API
        return [tile_mime_type(self._kind)]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:  # noqa: N802 - Qt API
        """The dragged tiles' keys, so a drop target knows what arrived (not row numbers,
        which a refresh may change mid-drag)."""
        rows = sorted({i.row() for i in indexes if i.isValid()})
        mime = QMimeData()
        keys = ",".join(str(self._tiles[r].key) for r in rows if r < len(self._tiles))
        mime.setData(tile_mime_type(self._kind), keys.encode("ascii"))
        return mime

    def supportedDragActions(self) -> Qt.DropAction:  # noqa: N802 - Qt API
        return Qt.DropAction.MoveAction

    def supportedDropActions(self) -> Qt.DropAction:  # noqa: N802 - Qt API
        return Qt.DropAction.MoveAction

    def row_of(self, key: int) -> int | None:
        return next((r for r, t in enumerate(self._tiles) if t.key == key), None)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid() or index.row() >= len(self._tiles):
            return None
        tile = self._tiles[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{tile.title}\n{tile.subtitle}" if tile.subtitle else tile.title
        if role == Qt.ItemDataRole.DecorationRole:
            if tile.photo is None or tile.box is None:
                return self._placeholder
            key = self._image_key(tile)
            pm = self._loader.pixmap(key)
            if pm is None:
                self._loader.request(key, tile.photo, self._size, tile.box)
                return self._placeholder
            return pm
        if role == Qt.ItemDataRole.ToolTipRole:
            return tile.tooltip or None
        if role == TILE_KEY_ROLE:
            return tile.key
        if role == TILE_ROLE:
            return tile
        return None

    def _ready(self, key: Hashable) -> None:
        if not (isinstance(key, tuple) and key and key[0] == self._kind):
            return
        for row, tile in enumerate(self._tiles):
            if self._image_key(tile) == key:
                idx = self.index(row)
                self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])


class TileView(QListView):
    """Icon-mode list of tiles with room for a two-line caption."""

    def __init__(self, parent: QWidget | None = None, tile_size: int = FACE_SIZE) -> None:
        super().__init__(parent)
        set_up_icon_list(self, tile_size, QSize(tile_size + 28, tile_size + 52), spacing=6)
        self.setWordWrap(True)

    def selected_tiles(self) -> list[Tile]:
        return selected_values(self, TILE_ROLE)
