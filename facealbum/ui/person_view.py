"""One person: their photos and the faces the library suggests are them."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from facealbum.ui.context import LibraryContext
from facealbum.ui.image_loader import ImageLoader
from facealbum.ui.photo_actions import PhotoActions
from facealbum.ui.photo_grid import PhotoGridModel, PhotoGridView
from facealbum.ui.style import plural
from facealbum.ui.tasks import run_task
from facealbum.ui.tiles import Tile, TileModel, TileView


def load_person(album: Any, person_id: int) -> tuple[Any, list[int], list[Tile]]:
    """The person, their photo ids and suggestion tiles (runs on a worker thread)."""
    person = next((p for p in album.people(include_hidden=True) if p.id == person_id), None)
    if person is None:
        return None, [], []
    photo_ids = album.photo_ids(person_id=person_id)
    tiles = []
    if hasattr(album, "suggestions"):
        for s in album.suggestions(person_id):
            face = album.face(s.face_id)
            if face is not None:
                tiles.append(
                    Tile(
                        s.face_id,
                        f"{round(s.confidence * 100)}% sure",
                        "",
                        face.photo,
                        face.box,
                        face.photo,
                        s,
                    )
                )
    return person, photo_ids, tiles


class PersonView(QWidget):
    back = Signal()

    def __init__(self, context: LibraryContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self.person: Any = None
        self.person_id: int | None = None
        self.loader = ImageLoader(None, parent=self)
        self.photos_model = PhotoGridModel(self.loader, self)
        self.photos = PhotoGridView()
        self.photos.setModel(self.photos_model)
        self._photo_actions = PhotoActions(context, self.photos, self, self._extend_photo_menu)
        self.suggest_model = TileModel(self.loader, "suggestion", self)
        self.suggestions = TileView(tile_size=96)
        self.suggestions.setModel(self.suggest_model)

        back = QPushButton("← People")
        back.setShortcut("Alt+Left")
        back.clicked.connect(self.back)
        self.title = QLabel()
        self.title.setProperty("role", "title")
        self.rename_button = QPushButton("Rename…")
        self.hide_button = QPushButton("Hide")
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setToolTip("Forget this person; their faces become unnamed again")
        header = QHBoxLayout()
        header.addWidget(back)
        header.addWidget(self.title, 1)
        for b in (self.rename_button, self.hide_button, self.delete_button):
            header.addWidget(b)

        self.suggest_label = QLabel("Is this them?")
        self.confirm_button = QPushButton("Yes")
        self.reject_button = QPushButton("No")
        self.confirm_all_button = QPushButton("Yes to all")
        self.reject_all_button = QPushButton("No to all")
        self.confirm_button.setToolTip("Confirm the selected suggestions (Y)")
        self.reject_button.setToolTip("Reject the selected suggestions (N)")
        self.confirm_button.setShortcut("Y")
        self.reject_button.setShortcut("N")
        suggest_buttons = QHBoxLayout()
        for b in (
            self.confirm_button,
            self.reject_button,
            self.confirm_all_button,
            self.reject_all_button,
        ):
            suggest_buttons.addWidget(b)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.suggest_label)
        side_layout.addWidget(self.suggestions, 1)
        side_layout.addLayout(suggest_buttons)
        splitter = QSplitter()
        splitter.addWidget(self.photos)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(splitter, 1)

        self.rename_button.clicked.connect(self.rename)
        self.hide_button.clicked.connect(self.toggle_hidden)
        self.delete_button.clicked.connect(self.delete)
        self.confirm_button.clicked.connect(lambda: self.confirm(self._selected_faces()))
        self.reject_button.clicked.connect(lambda: self.reject(self._selected_faces()))
        self.confirm_all_button.clicked.connect(lambda: self.confirm(self._all_faces()))
        self.reject_all_button.clicked.connect(lambda: self.reject(self._all_faces()))
        self.photos.photo_activated.connect(context.open_photo)
        self.suggestions.doubleClicked.connect(
            lambda idx: self._open_suggestion(self.suggest_model.tile(idx.row()))
        )
        context.data_changed.connect(self.reload)
        context.album_changed.connect(self._album_changed)

    def _album_changed(self, album: Any) -> None:
        self.person_id = None
        self.loader.set_cache(self._context.thumbnail_cache())
        self.photos_model.set_album(album)
        self.suggest_model.set_tiles([])

    def show_person(self, person_id: int) -> None:
        if person_id != self.person_id:
            self.person_id = person_id
            self.photos_model.set_ids([])
            self.suggest_model.set_tiles([])
            self.title.setText("…")
        self.reload()

    def reload(self) -> None:
        album, pid = self._context.album, self.person_id
        if album is None or pid is None:
            return
        if self.photos_model._album is not album:
            self.photos_model.set_album(album)
        run_task(
            lambda: load_person(album, pid), lambda r: self._arrived(album, pid, *r), owner=self
        )

    def _arrived(self, album: Any, pid: int, person: Any, ids: list[int], tiles: list[Tile]):
        if album is not self._context.album or pid != self.person_id:
            return
        if person is None:  # merged away or deleted meanwhile
            self.person_id = None
            self.back.emit()
            return
        self.person = person
        hidden = " (hidden)" if person.hidden else ""
        self.title.setText(f"{person.name}{hidden} — {plural(len(ids), 'photo')}")
        self.hide_button.setText("Show" if person.hidden else "Hide")
        if ids != self.photos_model.ids():
            self.photos_model.set_ids(ids)
        self.suggest_model.set_tiles(tiles)
        self.suggest_label.setText(
            f"Is this {person.name}? {plural(len(tiles), 'suggestion')}"
            if tiles
            else "No suggestions right now"
        )
        for b in (
            self.confirm_button,
            self.reject_button,
            self.confirm_all_button,
            self.reject_all_button,
        ):
            b.setEnabled(bool(tiles))

    # -- actions ------------------------------------------------------------------
    def _selected_faces(self) -> list[int]:
        return [t.key for t in self.suggestions.selected_tiles()]

    def _all_faces(self) -> list[int]:
        return [t.key for t in self.suggest_model.tiles()]

    def confirm(self, face_ids: list[int]) -> None:
        if face_ids:
            self._context.act(
                lambda a: a.confirm(face_ids),
                f"Confirmed {plural(len(face_ids), 'face')}",
                owner=self,
            )

    def reject(self, face_ids: list[int]) -> None:
        if face_ids:
            self._context.act(
                lambda a: a.reject_suggestions(face_ids),
                f"Rejected {plural(len(face_ids), 'suggestion')}",
                owner=self,
            )

    def rename(self) -> None:
        if self.person is None:
            return
        pid = self.person.id
        name, ok = QInputDialog.getText(self, "Rename", "Name:", text=self.person.name)
        if ok and name.strip():
            self._context.act(lambda a: a.rename_person(pid, name.strip()), f"Renamed to {name}")

    def toggle_hidden(self) -> None:
        if self.person is None:
            return
        pid, hide = self.person.id, not self.person.hidden
        self._context.act(
            lambda a: a.set_person_hidden(pid, hide),
            f"{'Hid' if hide else 'Showed'} {self.person.name}",
        )

    def delete(self) -> None:
        if self.person is None:
            return
        pid, name = self.person.id, self.person.name
        answer = QMessageBox.question(
            self, "Delete person", f"Forget {name}? Their faces become unnamed (Ctrl+Z undoes)."
        )
        if answer == QMessageBox.StandardButton.Yes:
            self._context.act(lambda a: a.delete_person(pid), f"Deleted {name}")

    def _extend_photo_menu(self, menu: QMenu, ids: list[int]) -> None:
        if self.person is None:
            return
        pid, name = self.person.id, self.person.name
        menu.addAction(f"{name} is not in {plural(len(ids), 'photo')}").triggered.connect(
            lambda: self.remove_from_photos(pid, ids)
        )

    def remove_from_photos(self, person_id: int, photo_ids: list[int]) -> None:
        """Unassign this person's faces in those photos and remember the rejection."""

        def work(album: Any) -> int:
            removed = 0
            for photo_id in photo_ids:
                for face in album.faces_in_photo(photo_id):
                    if face.person_id == person_id:
                        album.remove_face(face.id)
                        removed += 1
            return removed

        self._context.act(work, "Removed the wrong faces", owner=self)

    def _open_suggestion(self, tile: Tile) -> None:
        album = self._context.album
        run_task(
            lambda: album.face(tile.key),
            lambda face: face and self._context.open_photo.emit(face.photo_id),
            owner=self,
        )
