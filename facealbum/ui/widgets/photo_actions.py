"""Actions on the photos selected in a grid: open, copy to a folder, show on disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox

from facealbum.ui.context import LibraryContext
from facealbum.ui.dialogs.messages import copy_files
from facealbum.ui.style import plural
from facealbum.ui.tasks import run_task
from facealbum.ui.widgets.photo_grid import PhotoGridView


class PhotoActions(QObject):
    """Adds a context menu to a photo grid and implements "Copy selected to…"."""

    def __init__(
        self,
        context: LibraryContext,
        grid: PhotoGridView,
        parent: QObject,
        extend_menu: Callable[[QMenu, list[int]], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self._context = context
        self._grid = grid
        self._extend_menu = extend_menu
        grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        grid.customContextMenuRequested.connect(self._menu)

    def _menu(self, pos) -> None:
        ids = self._grid.selected_photo_ids()
        if not ids:
            return
        menu = QMenu(self._grid)
        menu.addAction("Open").triggered.connect(lambda: self._context.open_photo.emit(ids[0]))
        menu.addAction(f"Copy {plural(len(ids), 'photo')} to…").triggered.connect(
            self.copy_selected
        )
        menu.addAction("Show in file manager").triggered.connect(lambda: self._reveal(ids[0]))
        if self._extend_menu is not None:
            menu.addSeparator()
            self._extend_menu(menu, ids)
        menu.exec(self._grid.viewport().mapToGlobal(pos))

    def _reveal(self, photo_id: int) -> None:
        album = self._context.album
        run_task(
            lambda: album.photo(photo_id),
            lambda info: (
                info and QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(info.path).parent)))
            ),
            owner=self,
        )

    def copy_selected(self) -> None:
        ids = self._grid.selected_photo_ids()
        if not ids:
            QMessageBox.information(
                self._grid, "Copy photos", "Select photos first (Ctrl+A selects all)."
            )
            return
        target = QFileDialog.getExistingDirectory(
            self._grid, f"Copy {plural(len(ids), 'photo')} to"
        )
        if target:
            self.copy_to(ids, Path(target))

    def copy_to(self, ids: list[int], target: Path) -> None:
        album = self._context.album

        def work() -> tuple[int, list[str]]:
            infos = album.photos(ids)
            return copy_files((infos[i].path for i in ids if i in infos), target)

        run_task(work, lambda r: self._copied(target, *r), self._failed, owner=self)

    def _copied(self, target: Path, copied: int, problems: list[str]) -> None:
        self._context.status_message.emit(f"Copied {plural(copied, 'photo')} to {target}")
        if problems:
            self._context.error.emit("Some photos were not copied", "\n".join(problems[:20]))

    def _failed(self, error: BaseException) -> None:
        self._context.error.emit("Could not copy the photos", error)
