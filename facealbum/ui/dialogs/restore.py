"""File ▸ Restore from backup…: the library's backups, newest first, and a confirmed restore.

The dialog only chooses; the main window closes the library, restores and reopens it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from facealbum.ui.dialogs.messages import describe_error
from facealbum.ui.style import plural
from facealbum.ui.tasks import run_task

if TYPE_CHECKING:
    from facealbum.album.backup import BackupInfo

COLUMNS = ("Made", "Why", "Photos", "Faces", "People", "Size")
COUNT_COLUMNS = (2, 3, 4)
SIZE_COLUMN = 5
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
# What each reason of the facade's backups means to a user; others read as they are.
REASONS = {
    "daily": "Daily backup",
    "before-regroup": "Before regrouping faces",
    "before-remove-folder": "Before removing a folder",
    "before-prune": "Before removing missing photos",
    "before-restore": "Before a restore",
}
INTRO = (
    "facealbum backs this library up every day you use it, and before changes that are "
    "hard to take back. Restoring replaces the library with the backup you choose; the "
    "library as it is now is backed up first, so a restore can be undone too."
)


def made_at(backup: BackupInfo) -> str:
    return backup.created.astimezone().strftime("%Y-%m-%d %H:%M")


def counts(backup: BackupInfo) -> str:
    people = f"{backup.people:,} named {'person' if backup.people == 1 else 'people'}"
    return f"{plural(backup.photos, 'photo')}, {plural(backup.faces, 'face')} and {people}"


class RestoreDialog(QDialog):
    """Lists the backups of the library in `directory`; emits restore_chosen(name) once the
    user confirmed one."""

    restore_chosen = Signal(str)

    def __init__(self, directory: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.directory = directory
        self.backups: list[BackupInfo] = []
        self.setWindowTitle("Restore from backup")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(720, 380)
        layout = QVBoxLayout(self)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.list = QTreeWidget()
        self.list.setHeaderLabels(COLUMNS)
        self.list.setRootIsDecorated(False)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setAlternatingRowColors(True)
        self.list.setStyleSheet("QTreeView::item { padding: 3px 6px; }")
        for column in (*COUNT_COLUMNS, SIZE_COLUMN):
            self.list.headerItem().setTextAlignment(column, RIGHT)
        header = self.list.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        layout.addWidget(self.list, 1)
        self.status = QLabel("Reading the backups…")
        self.status.setProperty("role", "hint")
        layout.addWidget(self.status)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.restore_button = QPushButton("Restore…")
        self.restore_button.setEnabled(False)
        buttons.addButton(self.restore_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.restore_button.clicked.connect(self.confirm_restore)
        self.list.itemSelectionChanged.connect(self._selection_changed)
        self.list.itemDoubleClicked.connect(lambda *_: self.confirm_restore())
        self._load()

    def _load(self) -> None:
        from facealbum.album.backup import backups  # reads every backup file: off the GUI

        directory = self.directory
        run_task(lambda: backups(directory), self._arrived, self._failed, owner=self)

    def _arrived(self, backups: list[BackupInfo]) -> None:
        self.backups = backups
        for backup in backups:
            self.list.addTopLevelItem(_row(backup))
        if backups:
            self.status.setText(f"{plural(len(backups), 'backup')} in {self.directory}")
            self.list.setCurrentItem(self.list.topLevelItem(0))
        else:
            self.status.setText(
                "No backups yet: the first is made the first day the library holds photos."
            )

    def _failed(self, error: BaseException) -> None:
        self.status.setText(f"The backups could not be read: {describe_error(error)}")

    def _selection_changed(self) -> None:
        chosen = self.chosen()
        self.restore_button.setEnabled(chosen is not None and chosen.problem is None)

    def chosen(self) -> BackupInfo | None:
        """The selected backup, or None."""
        items = self.list.selectedItems()
        if not items:
            return None
        return self.backups[self.list.indexOfTopLevelItem(items[0])]

    def confirm_restore(self) -> None:
        backup = self.chosen()
        if backup is None or backup.problem is not None:
            return
        answer = QMessageBox.question(
            self,
            "Restore from backup",
            f"Replace the library with the backup made {made_at(backup)}?\n\n"
            f"It holds {counts(backup)}. The library as it is now is backed up first, so "
            "you can go back to it.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.restore_chosen.emit(backup.name)
            self.accept()


def _row(backup: BackupInfo) -> QTreeWidgetItem:
    why = REASONS.get(backup.reason, backup.reason)
    item = QTreeWidgetItem([made_at(backup), why])
    if backup.problem is None:
        values = (backup.photos, backup.faces, backup.people)
        for column, n in zip(COUNT_COLUMNS, values, strict=True):
            item.setText(column, f"{n:,}")
    else:  # listed, so that the user sees it is there, but it cannot be chosen
        item.setText(1, f"{why} (damaged: cannot be read)")
        item.setToolTip(1, backup.problem)
        item.setDisabled(True)
    item.setText(SIZE_COLUMN, f"{backup.size / 1e6:.1f} MB")
    for column in (*COUNT_COLUMNS, SIZE_COLUMN):
        item.setTextAlignment(column, RIGHT)
    return item
