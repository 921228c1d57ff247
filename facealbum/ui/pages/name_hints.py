"""Names other apps wrote into photos' XMP for faces nobody here is named yet: yes or no."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from facealbum.model import FaceInfo, Suggestion, readable_path
from facealbum.ui.context import LibraryContext
from facealbum.ui.style import plural
from facealbum.ui.widgets.image_loader import ImageLoader
from facealbum.ui.widgets.tiles import Tile, TileModel, TileView

HINT_TILE = 96


def hint_tile(suggestion: Suggestion, face: FaceInfo | None) -> Tile:
    """A tile for an XMP name suggestion; its title is the name the photo carries."""
    return Tile(
        suggestion.face_id,
        f"{suggestion.name}?",
        "named in XMP",
        face.photo if face else None,
        face.box if face else None,
        f"{readable_path(face.photo) if face else ''}\n"
        f"Another app named this face {suggestion.name}",
        suggestion,
    )


class NameHints(QWidget):
    """Hidden while there is nothing to ask about."""

    def __init__(
        self, context: LibraryContext, loader: ImageLoader, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._context = context
        self.model = TileModel(loader, "hint", self, HINT_TILE)
        self.view = TileView(tile_size=HINT_TILE)
        self.view.setModel(self.model)
        # One row that scrolls sideways: these are a handful, the groups below need the room.
        self.view.setFlow(TileView.Flow.LeftToRight)
        self.view.setWrapping(False)
        # The grid leaves room under the caption for the scroll bar.
        self.view.setFixedHeight(self.view.gridSize().height() + 2 * self.view.frameWidth())
        self.label = QLabel()
        self.label.setProperty("role", "subtitle")
        self.confirm_button = QPushButton("Yes, that's them")
        self.reject_button = QPushButton("No")
        self.confirm_button.setToolTip("Name the selected faces as their photos say")
        self.reject_button.setToolTip("The selected names are wrong; never offer them again")
        bar = QHBoxLayout()
        bar.addWidget(self.label, 1)
        bar.addWidget(self.confirm_button)
        bar.addWidget(self.reject_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.view)
        self.confirm_button.clicked.connect(lambda: self.confirm(self.selected_faces()))
        self.reject_button.clicked.connect(lambda: self.reject(self.selected_faces()))
        self.view.selectionModel().selectionChanged.connect(self._update_buttons)
        self.set_tiles([])

    def set_tiles(self, tiles: list[Tile]) -> None:
        self.model.set_tiles(tiles)
        self.label.setText(
            f"Names found in your photos' metadata — {plural(len(tiles), 'face')}. "
            "Select and confirm:"
        )
        self.setVisible(bool(tiles))
        self._update_buttons()

    def selected_faces(self) -> list[int]:
        return [t.key for t in self.view.selected_tiles()]

    def _update_buttons(self) -> None:
        chosen = bool(self.view.selectionModel().selectedIndexes())
        self.confirm_button.setEnabled(chosen)
        self.reject_button.setEnabled(chosen)

    def confirm(self, face_ids: list[int]) -> None:
        if face_ids:
            self._context.act(
                lambda a: a.confirm(face_ids), f"Named {plural(len(face_ids), 'face')}", owner=self
            )

    def reject(self, face_ids: list[int]) -> None:
        if face_ids:
            self._context.act(
                lambda a: a.reject_suggestions(face_ids),
                f"Rejected {plural(len(face_ids), 'name')}",
                owner=self,
            )
