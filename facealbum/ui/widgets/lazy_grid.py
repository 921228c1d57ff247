"""A grid model that stays smooth with a hundred thousand items (photos, faces).

The model holds only ids. Rows are filled lazily: the first time the view asks for a
row (only rows on screen are asked for), its id joins a batch whose info is fetched on a
pool thread, then its image is made on the thumbnail pool. Until then the row shows a
placeholder. Subclasses say how to fetch infos and what to show of one.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, QTimer

from facealbum.model import Box
from facealbum.ui.style import placeholder_pixmap
from facealbum.ui.tasks import run_task
from facealbum.ui.widgets.image_loader import ImageLoader

if TYPE_CHECKING:
    from facealbum.album import Album

ID_ROLE = Qt.ItemDataRole.UserRole + 1
INFO_ROLE = Qt.ItemDataRole.UserRole + 2
_BATCH = 64

Info = TypeVar("Info")


class LazyGridModel(QAbstractListModel, Generic[Info]):
    """Rows = ids; decoration = the item's image, made in the background at `tile` px."""

    kind = "item"  # the first part of the image loader's key for each row

    def __init__(self, loader: ImageLoader, tile: int, parent=None) -> None:
        super().__init__(parent)
        self._loader = loader
        self._tile = tile
        self._album: Album | None = None
        self._ids: list[int] = []
        self._row_of: dict[int, int] = {}
        self._infos: dict[int, Info] = {}
        self._wanted: set[int] = set()
        self._fetching: set[int] = set()
        self._generation = 0
        self._placeholder = placeholder_pixmap(tile)
        self._flush = QTimer(self, singleShot=True, interval=0)
        self._flush.timeout.connect(self._fetch_wanted)
        loader.ready.connect(self._image_ready)
        loader.dropped.connect(self._image_ready)  # repaint: a row still shown asks again
        loader.failed.connect(lambda key, _reason: self._image_ready(key))

    # -- what a subclass says ---------------------------------------------------------
    def fetch(self, album: Album, ids: list[int]) -> dict[int, Info]:
        """The infos of these ids (on a pool thread)."""
        raise NotImplementedError

    def image_source(self, info: Info) -> tuple[str | Path, Box | None] | None:
        """The file (and the part of it) to show for an item; None when there is none."""
        raise NotImplementedError

    def text(self, info: Info) -> str | None:
        """The caption under the image (None: no caption)."""
        return None

    def tooltip(self, info: Info) -> str | None:
        return None

    # -- content -----------------------------------------------------------------------
    def set_album(self, album: Album | None) -> None:
        self._album = album
        self.set_ids([])

    def set_ids(self, ids: Sequence[int]) -> None:
        """Replace every row; what was known of each item is fetched again (a name, a
        group or a photo's state may have changed)."""
        self.beginResetModel()
        self._generation += 1
        self._ids = list(ids)
        self._row_of = {item: row for row, item in enumerate(self._ids)}
        self._infos.clear()
        self._wanted.clear()
        self._fetching.clear()
        self._loader.clear()
        self.endResetModel()

    def append_ids(self, ids: Iterable[int]) -> None:
        """Add items (a running scan's new photos), skipping ones already shown."""
        fresh = [item for item in dict.fromkeys(ids) if item not in self._row_of]
        if not fresh:
            return
        first = len(self._ids)
        self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
        for offset, item in enumerate(fresh):
            self._row_of[item] = first + offset
        self._ids.extend(fresh)
        self.endInsertRows()

    def ids(self) -> list[int]:
        return list(self._ids)

    def id_at(self, row: int) -> int:
        return self._ids[row]

    def row_of(self, item: int) -> int | None:
        return self._row_of.get(item)

    def info(self, item: int) -> Info | None:
        return self._infos.get(item)

    def fetched_count(self) -> int:
        """How many rows' info has been fetched so far (the rest are ids only)."""
        return len(self._infos)

    # -- Qt model API ------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._ids)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid() or index.row() >= len(self._ids):
            return None
        item = self._ids[index.row()]
        if role == ID_ROLE:
            return item
        info = self._infos.get(item)
        if role == INFO_ROLE:
            return info
        if role == Qt.ItemDataRole.DecorationRole:
            return self._image(item, info)
        if info is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(info)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tooltip(info)
        return None

    def _image(self, item: int, info: Info | None) -> Any:
        if info is None:
            self._want(item)
            return self._placeholder
        key = (self.kind, item)
        pm = self._loader.pixmap(key)
        if pm is not None:
            return pm
        source = self.image_source(info)
        if source is not None and not self._loader.is_broken(key):
            self._loader.request(key, source[0], self._tile, source[1])
        return self._placeholder

    # -- lazy rows ---------------------------------------------------------------------
    def _want(self, item: int) -> None:
        if item not in self._fetching:
            self._wanted.add(item)
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
            lambda: self.fetch(album, batch),
            lambda infos: self._infos_arrived(generation, infos),
            owner=self,
        )
        if self._wanted:
            self._flush.start()

    def _infos_arrived(self, generation: int, infos: dict[int, Info]) -> None:
        if generation != self._generation:
            return
        self._infos.update(infos)
        self._fetching.difference_update(infos)
        for item in infos:
            self._row_changed(item)

    def _image_ready(self, key: Hashable) -> None:
        if isinstance(key, tuple) and key[0] == self.kind:
            self._row_changed(key[1])

    def _row_changed(self, item: int) -> None:
        row = self._row_of.get(item)
        if row is not None:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx)
