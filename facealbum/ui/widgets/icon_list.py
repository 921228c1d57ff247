"""What the photo grid and the face tile lists share: an icon-mode list of square pictures."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QAbstractItemView, QListView


def set_up_icon_list(view: QListView, icon_size: int, cell: QSize, spacing: int) -> None:
    """Static icon mode with `icon_size` pictures in cells of `cell`, reflowed on resize."""
    view.setViewMode(QListView.ViewMode.IconMode)
    view.setResizeMode(QListView.ResizeMode.Adjust)
    view.setMovement(QListView.Movement.Static)
    # Uniform sizes let Qt lay out 100,000 rows without asking each one for its size.
    view.setUniformItemSizes(True)
    view.setIconSize(QSize(icon_size, icon_size))
    view.setGridSize(cell)
    view.setSpacing(spacing)
    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)


def selected_values(view: QListView, role: int) -> list[Any]:
    """`role` of each selected row, in row order."""
    rows = sorted(i.row() for i in view.selectionModel().selectedIndexes())
    return [view.model().index(r, 0).data(role) for r in rows]
