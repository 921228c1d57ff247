"""A bar on the library page for a library whose faces another detector found than the one
recommended (a library made with HOG): what it misses, and the button that looks again.

A user who made a library before YuNet would otherwise never learn that Tools ▸ Find faces
again finds the faces their library lacks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from facealbum.config import DETECTORS, RECOMMENDED_DETECTOR
from facealbum.ui import library_tools
from facealbum.ui.context import LibraryContext
from facealbum.ui.tasks import run_task

if TYPE_CHECKING:
    from facealbum.album import Album


class DetectorHint(QFrame):
    """Shown while the open library's detector is not the recommended one, until closed."""

    def __init__(self, context: LibraryContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self._dismissed_for: Album | None = None  # the album the user closed the bar for
        self.setFrameShape(QFrame.Shape.StyledPanel)
        name, good_at = DETECTORS[RECOMMENDED_DETECTOR]
        self.label = QLabel()
        self.label.setWordWrap(True)
        self._good_at = f"{name} {good_at}"
        self.button = QPushButton(f"Find faces again with {name}…")
        self.button.setProperty("role", "primary")
        self.button.clicked.connect(self.find_faces_again)
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setToolTip("Not now (Tools ▸ Find faces again does it later)")
        self.close_button.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
        layout.addWidget(self.close_button)
        context.album_changed.connect(lambda _album: self.refresh())
        context.scan.finished.connect(lambda _progress: self.refresh())
        self.setVisible(False)  # until the library says which detector found its faces
        self.refresh()

    def refresh(self) -> None:
        album = self._context.album
        if (
            album is None
            or album.settings.detector == RECOMMENDED_DETECTOR
            or album is self._dismissed_for
            or album.read_only
        ):
            self.setVisible(False)
            return
        run_task(album.detector_of_photos, lambda used: self._arrived(album, used), owner=self)

    def _arrived(self, album: Album, used: str | None) -> None:
        if album is not self._context.album or album is self._dismissed_for:
            return  # another library was opened, or the bar closed, meanwhile
        if used is None or used == RECOMMENDED_DETECTOR:
            self.setVisible(False)  # nothing analysed yet, or already the recommended one
            return
        name = DETECTORS.get(used, (used, ""))[0]
        self.label.setText(
            f"The faces of this library were found with {name}. {self._good_at}: "
            "looking again keeps every name you gave."
        )
        self.setVisible(True)

    def find_faces_again(self) -> None:
        library_tools.find_faces_again(self._context, self.window())

    def dismiss(self) -> None:
        self._dismissed_for = self._context.album
        self.setVisible(False)
