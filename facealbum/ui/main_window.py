"""The main window: a sidebar of pages, the menus, the scan status, drops and paste."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QAbstractButton,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from facealbum.album import StoreError
from facealbum.model import PHOTO_EXTENSIONS
from facealbum.ui import library_tools
from facealbum.ui.context import LibraryContext
from facealbum.ui.dialogs.about import show_about
from facealbum.ui.dialogs.messages import describe_error, show_error
from facealbum.ui.dialogs.restore import RestoreDialog, made_at
from facealbum.ui.dialogs.settings import SettingsDialog
from facealbum.ui.pages.faces import FacesPage
from facealbum.ui.pages.library import LibraryPage
from facealbum.ui.pages.people import PeoplePage
from facealbum.ui.pages.search import SearchPage, qimage_to_rgb
from facealbum.ui.recent import RecentLibraries
from facealbum.ui.scan_status import ScanStatus
from facealbum.ui.shortcuts import ShortcutsDialog, collect_shortcuts
from facealbum.ui.style import plural
from facealbum.ui.tasks import run_task
from facealbum.ui.widgets.photo_viewer import PhotoViewer

if TYPE_CHECKING:
    import numpy as np

    from facealbum.album import Album
    from facealbum.album.backup import BackupInfo
    from facealbum.model import HeldBack, ScanProgress

log = logging.getLogger(__name__)
PAGES = ("Library", "People", "Faces", "Search", "Look-alike")


def _open_album(directory: Path, create: bool) -> Album:
    from facealbum.album import Album  # heavy imports (numpy, hnswlib) stay off the GUI start

    # Query images are analysed in a helper process: dlib would freeze (or crash) the window.
    return Album.open(directory, create=create, isolate_engine=True)


def _make_lookalike_page(parent: QWidget) -> QWidget:
    """The camera page, written separately; a clear message if it cannot load."""
    try:
        from facealbum.ui.pages.lookalike import LookalikePage

        return LookalikePage(parent)
    except Exception as e:  # an optional camera stack must not keep the app from starting
        log.warning("look-alike page unavailable: %s", e)
        label = QLabel(
            "The look-alike camera could not be loaded on this system.\n\n"
            f"Reason: {e}\n\nEverything else works; search with a photo on the Search page."
        )
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setWordWrap(True)
        return label


class MainWindow(QMainWindow):
    def __init__(self, recent: RecentLibraries, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.recent = recent
        self.context = LibraryContext(self)
        self._pending_open: tuple[Path, bool] | None = None
        self._failed_library: Path | None = None  # to restore a backup of, when it is damaged
        self._closing = False
        self.prune_question: QMessageBox | None = None  # asks before removing many photos
        self.about_box: QMessageBox | None = None
        self.setWindowTitle("facealbum")
        self.resize(1200, 800)
        self.setAcceptDrops(True)

        self.library_page = LibraryPage(self.context)
        self.people_page = PeoplePage(self.context)
        self.faces_page = FacesPage(self.context)
        self.search_page = SearchPage(self.context)
        self.lookalike_page = _make_lookalike_page(self)
        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setFixedWidth(170)
        self.sidebar.setIconSize(QSize(20, 20))
        self.pages = QStackedWidget()
        for name, page in zip(
            PAGES,
            (
                self.library_page,
                self.people_page,
                self.faces_page,
                self.search_page,
                self.lookalike_page,
            ),
            strict=True,
        ):
            self.sidebar.addItem(QListWidgetItem(name))
            self.pages.addWidget(page)
        self.sidebar.currentRowChanged.connect(self._page_changed)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addWidget(self.sidebar)
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(central)

        self.scan_status = ScanStatus(self.context.scan)
        self.statusBar().addPermanentWidget(self.scan_status)
        self._build_menus()
        self._connect()
        self.sidebar.setCurrentRow(0)

    # -- construction --------------------------------------------------------------
    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&New library…", self.new_library, QKeySequence.StandardKey.New)
        self._action(file, "&Open library…", self.choose_library, QKeySequence.StandardKey.Open)
        self.recent_menu = file.addMenu("Recent libraries")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self._action(
            file,
            "Restore from &backup…",
            self.restore_backup,
            tip="Put the library back as it was on an earlier day or before a risky change",
        )
        file.addSeparator()
        self._action(file, "&Add photo folder…", self.library_page.choose_folder, "Ctrl+Shift+O")
        self._action(file, "&Rescan", self.library_page.rescan, "F5")
        self._action(file, "Find people in a &photo…", self._choose_search_file, "Ctrl+F")
        file.addSeparator()
        self._action(file, "&Settings…", self.edit_settings, _standard_key("Preferences", "Ctrl+,"))
        self._action(file, "&Quit", self.close, _standard_key("Quit", "Ctrl+Q"))
        edit = bar.addMenu("&Edit")
        self.undo_action = self._action(edit, "&Undo", self.undo, QKeySequence.StandardKey.Undo)
        self._action(edit, "&Paste photo", self.paste, QKeySequence.StandardKey.Paste)
        view = bar.addMenu("&View")
        for row, name in enumerate(PAGES):
            self._action(view, name, lambda _=False, r=row: self.show_page(r), f"Ctrl+{row + 1}")
        tools = bar.addMenu("&Tools")
        self.regroup_action = self._action(
            tools,
            "&Regroup faces",
            lambda: library_tools.regroup(self.context, self),
            tip="Group the unnamed faces again from scratch (named people stay as they are)",
        )
        self._action(
            tools,
            "&Find faces again…",
            lambda: library_tools.find_faces_again(self.context, self),
            tip="Look for faces in every photo again with the best detector, keeping every name",
        )
        self.export_action = self._action(
            tools,
            "&Write names to XMP sidecars…",
            lambda: library_tools.export_xmp(self.context, self),
            tip="Save who is in each photo beside it, for digiKam, Lightroom and others",
        )
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "Keyboard shortcuts", self._show_shortcuts, "F1")
        self._action(help_menu, "About facealbum", self._about)

    def _connect(self) -> None:
        c = self.context
        c.open_photo.connect(self.open_photo)
        c.find_similar_face.connect(self._find_similar)
        c.status_message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        c.error.connect(lambda title, err: show_error(self, title, err))
        c.scan.finished.connect(self._scan_finished)
        # Every unreadable photo of a scan, with its reason, for the report at its end.
        self._scan_problems: list[str] = []
        c.scan.started.connect(self._scan_problems.clear)
        c.scan.progress.connect(lambda p: self._scan_problems.extend(p.new_errors))
        c.scan.failed.connect(lambda msg: show_error(self, "The scan stopped", msg))
        c.album_changed.connect(self._album_changed)
        c.data_changed.connect(self._update_undo)
        snapshot = getattr(self.lookalike_page, "snapshot_taken", None)
        if snapshot is not None:
            snapshot.connect(self.search_array)

    # -- pages ------------------------------------------------------------------------
    def show_page(self, row: int) -> None:
        self.sidebar.setCurrentRow(row)

    def _page_changed(self, row: int) -> None:
        leaving = self.pages.currentWidget()
        if leaving is self.lookalike_page and row != PAGES.index("Look-alike"):
            self._shutdown_lookalike()
        self.pages.setCurrentIndex(row)

    def _shutdown_lookalike(self) -> None:
        shutdown = getattr(self.lookalike_page, "shutdown", None)
        if shutdown is not None:
            try:
                shutdown()
            except Exception as e:  # closing must go on even if the camera misbehaves
                log.warning("look-alike shutdown failed: %s", e)

    # -- libraries -------------------------------------------------------------------
    def open_library(self, directory: Path, create: bool = True) -> None:
        """Open (or create) a library on a worker; a running scan is cancelled first."""
        if self.context.scan.is_running():
            self._pending_open = (directory, create)
            self.context.scan.cancel()
            self.statusBar().showMessage("Stopping the scan before switching libraries…")
            return
        self.statusBar().showMessage(f"Opening {directory}…")
        run_task(
            lambda: _open_album(directory, create),
            lambda album: self._library_opened(directory, album),
            lambda e: self._library_failed(directory, e),
            owner=self,
        )

    def _library_opened(self, directory: Path, album: Album) -> None:
        old = self.context.album
        self._failed_library = None
        self.context.set_album(album)
        if old is not None:
            run_task(
                old.close, None, lambda e: show_error(self, "Closing the library", e), owner=self
            )
        self.recent.add(directory)
        self.statusBar().showMessage(f"Opened {directory}", 4000)

    def _library_failed(self, directory: Path, error: BaseException) -> None:
        self.statusBar().clearMessage()
        self._failed_library = directory
        show_error(self, "Cannot open the library", f"{directory}\n\n{describe_error(error)}")

    def _album_changed(self, album: Album | None) -> None:
        name = Path(album.directory).name if album is not None else ""
        if getattr(album, "read_only", False):
            name += " (read-only)"
        self.setWindowTitle(f"{name} — facealbum" if name else "facealbum")
        for action in (self.regroup_action, self.export_action):
            action.setEnabled(album is not None)
        self._update_undo()
        setter = getattr(self.lookalike_page, "set_library", None)
        if setter is not None:
            setter(album)

    def new_library(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Choose an empty folder for the new library", str(Path.home())
        )
        if path:
            self.open_library(Path(path), create=True)

    def choose_library(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a library folder", str(Path.home()))
        if path:
            self.open_library(Path(path), create=False)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        items = self.recent.load()
        for path in items:
            self.recent_menu.addAction(str(path)).triggered.connect(
                lambda _=False, p=path: self.open_library(p, create=False)
            )
        if not items:
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    def _scan_finished(self, progress: ScanProgress | None) -> None:
        if self._pending_open is not None:
            directory, create = self._pending_open
            self._pending_open = None
            self.open_library(directory, create)
            return
        if progress is not None:
            word = "Scan cancelled" if progress.phase == "cancelled" else "Scan finished"
            self.statusBar().showMessage(
                f"{word}: {progress.done:,} photos, {progress.faces_found:,} faces, "
                f"{progress.errors} unreadable",
                10000,
            )
        if progress is not None and progress.offline:
            self.statusBar().showMessage(
                f"{plural(len(progress.offline), 'folder')} offline: "
                + "; ".join(f"{f.path} ({f.reason})" for f in progress.offline)
                + ". Their photos and names are kept.",
                15000,
            )
        if progress is not None and progress.held_back:
            self._ask_to_prune(progress.held_back)
        if self._scan_problems:
            problems, self._scan_problems = self._scan_problems, []
            self.scan_report = library_tools.show_problems(
                self,
                "Some photos could not be read",
                f"{plural(len(problems), 'photo')} could not be read. They are left out of "
                "the library until they change; the files themselves are untouched.",
                problems,
            )

    def restore_backup(self) -> None:
        """Choose a backup of the open library (or of one that failed to open)."""
        album = self.context.album
        directory = Path(album.directory) if album is not None else self._failed_library
        if directory is None:
            self.statusBar().showMessage("Open a library first", 4000)
            return
        if self.context.scan.is_running():
            show_error(self, "Restore from backup", "Stop the scan first, then restore.")
            return
        self.restore_dialog = RestoreDialog(directory, self)
        self.restore_dialog.restore_chosen.connect(lambda name: self._restore(directory, name))
        self.restore_dialog.open()

    def _restore(self, directory: Path, name: str) -> None:
        """Close the library, restore the backup on a worker, then open the library again
        (restored, or as it was when the restore failed)."""
        from facealbum.album import backup as album_backup

        album = self.context.album
        if album is not None and Path(album.directory) == directory:
            self.context.set_album(None)  # the pages let go of it before it closes
        else:
            album = None
        self.statusBar().showMessage("Restoring the backup…")

        def work() -> tuple[BackupInfo, Path | None]:
            if album is not None:
                try:
                    album.close()
                except StoreError as e:  # its index only: the restore replaces it anyway
                    log.warning("closing before the restore: %s", e)
            return album_backup.restore(directory, name)

        def restored(result: tuple[BackupInfo, Path | None]) -> None:
            self.open_library(directory, create=False)
            self.restore_report = QMessageBox(
                QMessageBox.Icon.Information,
                "Restore from backup",
                f"Restored the backup made {made_at(result[0])}. The library as it was is "
                "kept as a backup too: restore that one to go back.",
                QMessageBox.StandardButton.Ok,
                self,
            )
            self.restore_report.open()

        def failed(error: BaseException) -> None:
            self.open_library(directory, create=False)
            show_error(self, "The backup was not restored", error)

        run_task(work, restored, failed, owner=self)

    def _ask_to_prune(self, held_back: tuple[HeldBack, ...]) -> None:
        """Photos the scan found gone, too many to remove without asking: ask."""
        gone = sum(h.gone for h in held_back)
        where = "\n".join(f"• {h.folder}: {h.gone:,} of {h.known:,} photos" for h in held_back)
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Photos are gone",
            f"{plural(gone, 'photo')} could not be found any more:\n{where}",
            parent=self,
        )
        box.setInformativeText(
            "They may have been deleted or moved away, or the drive holding them may not be "
            "working right. Until you say so, they stay in the library. If they are removed "
            "and turn up again later, their names come back with them."
        )
        remove = box.addButton("Remove from library", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep them", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)  # Enter must not remove photos
        folders = [Path(h.folder) for h in held_back]

        def answered(button: QAbstractButton) -> None:
            if button is remove:
                self.library_page.start_scan(folders, prune=True)

        box.buttonClicked.connect(answered)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.prune_question = box  # window-modal, not blocking: tests can answer it
        box.open()

    # -- actions --------------------------------------------------------------------------
    def edit_settings(self) -> None:
        album = self.context.album
        if album is None:
            return
        dialog = SettingsDialog(album.settings, self)
        if dialog.exec():
            settings = dialog.settings()
            self.context.act(lambda a: a.update_settings(settings), "Saved the settings")

    def undo(self) -> None:
        if not self.context.has("undo"):
            self.statusBar().showMessage("Nothing to undo", 3000)
            return
        self.context.act(
            lambda a: a.undo(),
            "",
            lambda what: self.statusBar().showMessage(
                f"Undone: {what}" if what else "Nothing to undo", 5000
            ),
        )

    def _update_undo(self) -> None:
        """Name the action Ctrl+Z would reverse, as the menu's Undo item."""
        album = self.context.album
        if album is None or not self.context.has("undo_description"):
            self.undo_action.setText("&Undo")
            return

        def show(what: str | None) -> None:
            if album is self.context.album:
                self.undo_action.setText(f"&Undo {what}" if what else "&Undo")

        run_task(album.undo_description, show, owner=self)

    def open_photo(self, photo_id: int) -> None:
        if self.context.album is not None:
            PhotoViewer(self.context, photo_id, self).show()

    def _find_similar(self, face_id: int) -> None:
        self.show_page(PAGES.index("Search"))
        self.search_page.search_face(face_id)

    def search_file(self, path: Path) -> None:
        self.show_page(PAGES.index("Search"))
        self.search_page.search_source(path)

    def search_array(self, rgb: np.ndarray) -> None:
        self.show_page(PAGES.index("Search"))
        self.search_page.search_source(rgb)

    def _choose_search_file(self) -> None:
        self.show_page(PAGES.index("Search"))
        self.search_page.choose_file()

    def paste(self) -> None:
        if self.pages.currentWidget() is self.lookalike_page:
            self.lookalike_page.paste()  # a photo to find look-alikes of, not to search with
            return
        data = QGuiApplication.clipboard().mimeData()
        files = [Path(u.toLocalFile()) for u in data.urls() if u.isLocalFile()] if data else []
        if files and files[0].is_file():
            self.search_file(files[0])
        elif data is not None and data.hasImage():
            self.search_array(qimage_to_rgb(QGuiApplication.clipboard().image()))
        else:
            self.statusBar().showMessage("The clipboard holds no photo", 3000)

    # -- drag and drop ------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt API
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        event.acceptProposedAction()
        self.handle_dropped(paths)

    def handle_dropped(self, paths: list[Path]) -> None:
        """A folder becomes a library folder; an image file starts a search."""
        for path in paths:
            if path.is_dir():
                self.show_page(PAGES.index("Library"))
                self.library_page.add_folder(path)
            elif path.suffix.lower() in PHOTO_EXTENSIONS:
                self.search_file(path)
                return
            else:
                show_error(self, "Not a photo", f"{path.name} is not a folder or a photo.")

    # -- help and closing -------------------------------------------------------------------
    def _show_shortcuts(self) -> None:
        rows = collect_shortcuts(self, self.pages, list(PAGES))
        self.shortcuts_dialog = ShortcutsDialog(rows, self)
        self.shortcuts_dialog.open()

    def _about(self) -> None:
        self.about_box = show_about(self)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        self._shutdown_lookalike()
        self.context.scan.cancel()
        library_tools.stop_regroup(self)
        album = self.context.album
        if album is not None:
            from facealbum.ui.tasks import wait_for_pool

            wait_for_pool("scan", 10.0)  # a cancelled scan stops after its current photos
            # ...and a cancelled regroup at once, or after its writes; the library's other
            # changes being written finish before it is closed
            wait_for_pool("work", 10.0)
            self.context.scan.release_workers()
            try:
                album.close()
            except StoreError as e:  # the window goes; the message must not go unseen
                QMessageBox.warning(self, "Closing the library", describe_error(e))
        event.accept()


def _standard_key(name: str, fallback: str) -> QKeySequence:
    """The platform's key for a standard action; some desktops define none for these."""
    key = QKeySequence(getattr(QKeySequence.StandardKey, name))
    return QKeySequence(fallback) if key.isEmpty() else key
