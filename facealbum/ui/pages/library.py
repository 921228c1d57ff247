"""Library page: the photo folders, the photo grid, and the first-start welcome."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from facealbum.ui.context import LibraryContext
from facealbum.ui.pages.detector_hint import DetectorHint
from facealbum.ui.pages.unreadable import (
    Sorted,
    UnreadablePhotos,
    sort_out_unreadable,
    split_photos,
)
from facealbum.ui.style import plural
from facealbum.ui.tasks import run_task
from facealbum.ui.widgets.image_loader import ImageLoader
from facealbum.ui.widgets.photo_actions import PhotoActions
from facealbum.ui.widgets.photo_grid import PhotoGridModel, PhotoGridView

if TYPE_CHECKING:
    from facealbum.album import Album
    from facealbum.model import FolderInfo, PhotoInfo, ScanProgress

ALL_PHOTOS = -1
FOLDER_COUNTS_EVERY_S = 3.0
STALE_THUMBNAIL_REQUESTS = 200


class Welcome(QWidget):
    """One screen that says how to start, with the button that does it."""

    add_folder = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("Welcome to facealbum")
        title.setProperty("role", "title")
        text = QLabel(
            "Add a folder of your photos: facealbum finds every face in it, groups the "
            "faces of each person, and lets you name them.<br><br>"
            "Click <b>Add a photo folder…</b> below, or drag a folder onto this window. "
            "Your photos are only read, never changed, and nothing leaves this computer."
        )
        text.setWordWrap(True)
        text.setFixedWidth(520)
        text.setTextFormat(Qt.TextFormat.RichText)
        text.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        # A centred label in a layout gets its one-line height; give it the wrapped one.
        text.setMinimumHeight(text.heightForWidth(520))
        button = QPushButton("Add a photo folder…")
        button.setProperty("role", "primary")
        button.clicked.connect(self.add_folder)
        self.button = button
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        for w in (title, text, button):
            layout.addWidget(w, 0, Qt.AlignmentFlag.AlignHCenter)
            layout.addSpacing(12)
        layout.addStretch(2)


class LibraryPage(QWidget):
    def __init__(self, context: LibraryContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self._folders_request = 0
        self._photos_request = 0
        self._counts_due = 0.0  # time.monotonic() when the folder counts may refresh again
        # A fast scroll skips the thumbnails of rows it passed (a few screens' worth of
        # requests later), so the screen it stops on is not kept waiting behind them.
        self.loader = ImageLoader(None, parent=self, stale_after=STALE_THUMBNAIL_REQUESTS)
        self.model = PhotoGridModel(self.loader, self)
        self.grid = PhotoGridView()
        self.grid.setModel(self.model)
        self.actions_helper = PhotoActions(context, self.grid, self)
        self.folders = QListWidget()
        self.folders.setMinimumWidth(200)
        self.folders.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.count_label = QLabel()
        self.count_label.setProperty("role", "hint")

        self.add_button = QPushButton("Add folder…")
        self.remove_button = QPushButton("Remove")
        self.rescan_button = QPushButton("Rescan")
        self.add_button.setToolTip("Add a folder of photos to the library (Ctrl+Shift+O)")
        self.rescan_button.setToolTip("Look for new, changed and deleted photos (F5)")
        self.remove_button.setToolTip("Forget the selected folder (the photos stay on disk)")
        buttons = QHBoxLayout()
        for b in (self.add_button, self.remove_button, self.rescan_button):
            buttons.addWidget(b)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(QLabel("Folders"))
        left_layout.addWidget(self.folders, 1)
        left_layout.addLayout(buttons)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        header.addWidget(self.count_label, 1)
        copy = QToolButton()
        copy.setText("Copy selected to…")
        copy.clicked.connect(self.actions_helper.copy_selected)
        header.addWidget(copy)
        right_layout.addLayout(header)
        self.detector_hint = DetectorHint(context)
        right_layout.addWidget(self.detector_hint)
        right_layout.addWidget(self.grid, 1)
        self.unreadable = UnreadablePhotos()
        right_layout.addWidget(self.unreadable)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([240, 800])

        self.welcome = Welcome()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(splitter)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack)

        self.welcome.add_folder.connect(self.choose_folder)
        self.add_button.clicked.connect(self.choose_folder)
        self.remove_button.clicked.connect(self.remove_selected_folder)
        self.rescan_button.clicked.connect(self.rescan)
        self.folders.currentItemChanged.connect(lambda *_: self._show_photos())
        self.folders.customContextMenuRequested.connect(self._folder_menu)
        self.grid.photo_activated.connect(context.open_photo)
        context.album_changed.connect(self._album_changed)
        context.data_changed.connect(self.refresh_folders)
        context.scan.progress.connect(self._scan_progress)
        context.scan.finished.connect(lambda _p: self.refresh())
        self._album_changed(context.album)

    # -- library -------------------------------------------------------------
    def _album_changed(self, album: Album | None) -> None:
        self.loader.set_cache(self._context.thumbnail_cache())
        self.model.set_album(album)
        self.folders.clear()
        self._folders_request += 1
        self._photos_request += 1
        self.stack.setCurrentIndex(0)
        self.setEnabled(album is not None)
        if album is not None:
            self.refresh()

    def refresh(self) -> None:
        self.refresh_folders()
        self._show_photos()

    def refresh_folders(self) -> None:
        album = self._context.album
        if album is None:
            return
        self._folders_request += 1
        request = self._folders_request
        run_task(album.folders, lambda fs: self._folders_arrived(request, fs), owner=self)

    def _folders_arrived(self, request: int, folders: list[FolderInfo]) -> None:
        if request != self._folders_request:
            return  # an older answer overtaken by a newer request
        selected = self.selected_folder_id()
        self.folders.blockSignals(True)
        self.folders.clear()
        total = sum(f.photo_count for f in folders)
        everything = QListWidgetItem(f"All photos  ({total:,})")
        everything.setData(Qt.ItemDataRole.UserRole, ALL_PHOTOS)
        self.folders.addItem(everything)
        for f in folders:
            item = QListWidgetItem(f"{Path(f.path).name}  ({f.photo_count:,})")
            item.setData(Qt.ItemDataRole.UserRole, f.id)
            tip = f"{f.path}\n{plural(f.photo_count, 'photo')}, {plural(f.face_count, 'face')}"
            if f.offline:
                item.setText(item.text() + "  — offline")
                item.setForeground(Qt.GlobalColor.gray)
                tip += f"\nOffline: {f.offline}.\nIts photos and names are kept until it is back."
            item.setToolTip(tip)
            self.folders.addItem(item)
        row = next(
            (
                i
                for i in range(self.folders.count())
                if self.folders.item(i).data(Qt.ItemDataRole.UserRole) == selected
            ),
            0,
        )
        self.folders.setCurrentRow(row)
        self.folders.blockSignals(False)
        self.stack.setCurrentIndex(1 if folders else 0)

    def selected_folder_id(self) -> int:
        item = self.folders.currentItem()
        return ALL_PHOTOS if item is None else int(item.data(Qt.ItemDataRole.UserRole))

    def _show_photos(self) -> None:
        album = self._context.album
        if album is None:
            return
        folder = self.selected_folder_id()
        query = {} if folder == ALL_PHOTOS else {"folder_id": folder}
        self._photos_request += 1
        request = self._photos_request
        run_task(
            lambda: sort_out_unreadable(album, album.photo_ids(**query), query.get("folder_id")),
            lambda photos: self._ids_arrived(request, photos),
            owner=self,
        )

    def _ids_arrived(self, request: int, photos: Sorted) -> None:
        if request != self._photos_request:
            return
        self.model.set_ids(photos.readable)
        self.unreadable.set_photos(photos.unreadable)
        self.count_label.setText(plural(len(photos.readable), "photo"))

    def _scan_progress(self, p: ScanProgress) -> None:
        # New photos appear while the scan runs (only in "All photos": a folder filter
        # would need a lookup per photo), the unreadable ones in their list.
        album = self._context.album
        if p.new_photo_ids and album is not None and self.selected_folder_id() == ALL_PHOTOS:
            request, ids = self._photos_request, p.new_photo_ids
            run_task(
                lambda: album.photos(ids),
                lambda infos: self._new_photos(request, ids, infos),
                owner=self,
            )
            if self.stack.currentIndex() == 0 or time.monotonic() > self._counts_due:
                # The folder counts follow the scan too, a few times a minute at most.
                self._counts_due = time.monotonic() + FOLDER_COUNTS_EVERY_S
                self.refresh_folders()

    def _new_photos(self, request: int, ids: tuple[int, ...], infos: dict[int, PhotoInfo]) -> None:
        if request != self._photos_request:
            return  # another folder is shown, or the list was read again since
        photos = split_photos(infos, ids)
        self.model.append_ids(photos.readable)
        self.unreadable.add_photos(photos.unreadable)
        self.count_label.setText(plural(self.model.rowCount(), "photo"))

    # -- folder actions -------------------------------------------------------
    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Add a folder of photos", str(Path.home()))
        if path:
            self.add_folder(Path(path))

    def add_folder(self, path: Path) -> None:
        """Add a folder and scan it right away."""

        def added(_info: FolderInfo) -> None:
            self.refresh_folders()
            self.start_scan([path])

        self._context.act(lambda a: a.add_folder(path), f"Added {path.name}", added, owner=self)

    def remove_selected_folder(self) -> None:
        folder = self.selected_folder_id()
        if folder == ALL_PHOTOS:
            return
        if self._context.scan.is_running():
            QMessageBox.information(self, "Scan running", "Wait for the scan or cancel it first.")
            return
        name = self.folders.currentItem().text().split("  (")[0]
        answer = QMessageBox.question(
            self,
            "Remove folder",
            f"Forget “{name}” and the faces found in it?\nThe photos themselves stay on disk.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self._context.act(lambda a: a.remove_folder(folder), f"Removed {name}", owner=self)

    def rescan(self) -> None:
        self.start_scan(None)

    def start_scan(self, folders: list[Path] | None, prune: bool = False) -> None:
        if self._context.album is None:
            return
        if not self._context.scan.start(self._context.album, folders, prune):
            self._context.status_message.emit("A scan is already running")

    def _folder_menu(self, pos) -> None:
        folder = self.selected_folder_id()
        menu = QMenu(self)
        menu.addAction(
            "Rescan this folder" if folder != ALL_PHOTOS else "Rescan all"
        ).triggered.connect(self._rescan_current)
        if folder != ALL_PHOTOS:
            menu.addAction("Remove from library…").triggered.connect(self.remove_selected_folder)
        menu.exec(self.folders.mapToGlobal(pos))

    def _rescan_current(self) -> None:
        item = self.folders.currentItem()
        if item is None or self.selected_folder_id() == ALL_PHOTOS:
            self.rescan()
            return
        path = item.toolTip().splitlines()[0]
        self.start_scan([Path(path)])
