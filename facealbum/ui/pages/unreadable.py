"""Photos a scan could not read: kept out of the photo grid (they have no picture to
show), listed apart on the Library page with the reason of each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QToolButton, QVBoxLayout, QWidget

from facealbum.model import PhotoInfo, PhotoStatus
from facealbum.ui.style import plural

if TYPE_CHECKING:
    from facealbum.album import Album

LIST_ROWS = 6  # rows the opened list shows before it scrolls


@dataclass(frozen=True)
class Sorted:
    """A list of photos split into the readable ones (for the grid, in the list's order)
    and the unreadable ones."""

    readable: list[int]
    unreadable: list[PhotoInfo]


def sort_out_unreadable(
    album: Album, photo_ids: Sequence[int], folder_id: int | None = None
) -> Sorted:
    """The unreadable photos among `photo_ids` (of `folder_id`, or of the library), apart,
    by path (on a worker thread)."""
    listed = set(photo_ids)
    found = [p for p in album.unreadable_photos(folder_id) if p.id in listed]
    unreadable = {p.id for p in found}
    return Sorted([p for p in photo_ids if p not in unreadable], found)


def split_photos(infos: dict[int, PhotoInfo], photo_ids: Sequence[int]) -> Sorted:
    """Photos a running scan just committed, split the same way (their infos at hand)."""
    unreadable = [
        infos[p] for p in photo_ids if p in infos and infos[p].status == PhotoStatus.ERROR
    ]
    bad = {p.id for p in unreadable}
    return Sorted([p for p in photo_ids if p not in bad], unreadable)


class UnreadablePhotos(QWidget):
    """A bar saying how many photos could not be read, which opens their list; hidden
    while there are none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.toggle = QToolButton()
        self.toggle.setProperty("role", "problem")
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setToolTip(
            "These files are left out until they change; the files themselves are untouched"
        )
        self.list = QListWidget()
        self.list.setAlternatingRowColors(True)
        self.list.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.list)
        self.toggle.toggled.connect(self._opened)
        self._photos: list[PhotoInfo] = []
        self.set_photos([])

    def set_photos(self, photos: Sequence[PhotoInfo]) -> None:
        self._photos = list(photos)
        self.list.clear()
        for photo in self._photos:
            path = photo.display_path
            reason = photo.error or "unknown reason"
            item = QListWidgetItem(f"{Path(path).name} — {reason}")
            item.setToolTip(f"{path}\n{reason}")
            self.list.addItem(item)
        if self._photos:
            rows = min(len(self._photos), LIST_ROWS)
            self.list.setFixedHeight(
                rows * self.list.sizeHintForRow(0) + 2 * self.list.frameWidth()
            )
        self._update_toggle()
        self.setVisible(bool(self._photos))

    def add_photos(self, photos: Sequence[PhotoInfo]) -> None:
        known = {p.id for p in self._photos}
        fresh = [p for p in photos if p.id not in known]
        if fresh:
            self.set_photos(sorted(self._photos + fresh, key=lambda p: p.display_path))

    def photos(self) -> list[PhotoInfo]:
        return list(self._photos)

    def _opened(self, _on: bool) -> None:
        self.list.setVisible(self.toggle.isChecked())
        self._update_toggle()

    def _update_toggle(self) -> None:
        opened = self.toggle.isChecked()
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if opened else Qt.ArrowType.RightArrow)
        self.toggle.setText(f"Could not be read: {plural(len(self._photos), 'photo')}")
