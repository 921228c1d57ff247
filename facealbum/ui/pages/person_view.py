"""One person: their photos and the faces the library suggests are them."""

from __future__ import annotations

from typing import TYPE_CHECKING

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

from facealbum.model import FaceInfo, PersonInfo, Suggestion, readable_path
from facealbum.ui.context import LibraryContext
from facealbum.ui.style import plural
from facealbum.ui.tasks import run_task
from facealbum.ui.widgets.image_loader import ImageLoader
from facealbum.ui.widgets.photo_actions import PhotoActions
from facealbum.ui.widgets.photo_grid import PhotoGridModel, PhotoGridView
from facealbum.ui.widgets.tiles import Tile, TileModel, TileView

if TYPE_CHECKING:
    from facealbum.album import Album

SUGGESTION_TILE = 96
REMOVE_KEY = "Delete"


def suggestion_tile(suggestion: Suggestion, face: FaceInfo) -> Tile:
    """A suggested face, captioned with how sure the library is or where the name came from."""
    if suggestion.source == "xmp":
        title = "Named in XMP"
        why = f"Another app named this face {suggestion.name}"
    else:
        title = f"{round(suggestion.confidence * 100)}% sure"
        why = f"Looks like {suggestion.name}"
    return Tile(
        suggestion.face_id,
        title,
        "",
        face.photo,
        face.box,
        f"{readable_path(face.photo)}\n{why}",
        suggestion,
    )


def load_person(album: Album, person_id: int) -> tuple[PersonInfo | None, list[int], list[Tile]]:
    """The person, their photo ids and suggestion tiles (runs on a worker thread)."""
    person = next((p for p in album.people(include_hidden=True) if p.id == person_id), None)
    if person is None:
        return None, [], []
    photo_ids = album.photo_ids(person_id=person_id)
    suggestions = album.suggestions(person_id)
    faces = album.faces_by_id([s.face_id for s in suggestions])
    tiles = [suggestion_tile(s, faces[s.face_id]) for s in suggestions if s.face_id in faces]
    return person, photo_ids, tiles


class PersonView(QWidget):
    back = Signal()

    def __init__(self, context: LibraryContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self.person: PersonInfo | None = None
        self.person_id: int | None = None
        # Opened with faces waiting for a yes or no: the first one is selected, Y or N away.
        self._land_on_suggestions = False
        self.loader = ImageLoader(None, parent=self)
        self.photos_model = PhotoGridModel(self.loader, self)
        self.photos = PhotoGridView()
        self.photos.setModel(self.photos_model)
        self._photo_actions = PhotoActions(context, self.photos, self, self._extend_photo_menu)
        self.suggest_model = TileModel(self.loader, "suggestion", self, SUGGESTION_TILE)
        self.suggestions = TileView(tile_size=SUGGESTION_TILE)
        self.suggestions.setModel(self.suggest_model)

        back = QPushButton("← People")
        back.setShortcut("Alt+Left")
        back.setToolTip("Back to everyone (Alt+Left)")
        back.clicked.connect(self.back)
        self.title = QLabel()
        self.title.setProperty("role", "title")
        self.rename_button = QPushButton("Rename…")
        self.hide_button = QPushButton("Hide")
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setToolTip("Forget this person; their faces become unnamed again")
        self.remove_button = QPushButton("Not them")
        self.remove_button.setShortcut(REMOVE_KEY)
        self.remove_button.setToolTip(
            "Not them: take this person out of the selected photos for good (Delete)"
        )
        self.remove_button.setEnabled(False)
        header = QHBoxLayout()
        header.addWidget(back)
        header.addWidget(self.title, 1)
        for b in (self.remove_button, self.rename_button, self.hide_button, self.delete_button):
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

        self.remove_button.clicked.connect(self.remove_selected_photos)
        self.photos.selectionModel().selectionChanged.connect(self._photo_selection_changed)
        self.suggestions.selectionModel().selectionChanged.connect(self._update_buttons)
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

    def _album_changed(self, album: Album | None) -> None:
        self.person_id = None
        self.loader.set_cache(self._context.thumbnail_cache())
        self.photos_model.set_album(album)
        self.suggest_model.set_tiles([])

    def show_person(self, person_id: int) -> None:
        self._land_on_suggestions = True
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

    def _arrived(
        self, album: Album, pid: int, person: PersonInfo | None, ids: list[int], tiles: list[Tile]
    ) -> None:
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
        if self._land_on_suggestions and tiles:
            self.suggestions.setCurrentIndex(self.suggest_model.index(0))
            self.suggestions.setFocus()
        self._land_on_suggestions = False
        self._update_buttons()
        self._photo_selection_changed()

    def _update_buttons(self) -> None:
        any_tile = self.suggest_model.rowCount() > 0
        chosen = bool(self.suggestions.selectionModel().selectedIndexes())
        self.confirm_button.setEnabled(chosen)
        self.reject_button.setEnabled(chosen)
        self.confirm_all_button.setEnabled(any_tile)
        self.reject_all_button.setEnabled(any_tile)

    def _photo_selection_changed(self) -> None:
        count = len(self.photos.selectionModel().selectedIndexes())
        name = self.person.name if self.person is not None else "them"
        self.remove_button.setText(f"Not {name}" + (f" ({count})" if count > 1 else ""))
        self.remove_button.setShortcut(REMOVE_KEY)  # setText dropped it for the text's mnemonic
        self.remove_button.setEnabled(count > 0)

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
            self._context.act(
                lambda a: a.rename_person(pid, name.strip()), f"Renamed to {name}", owner=self
            )

    def toggle_hidden(self) -> None:
        if self.person is None:
            return
        pid, hide = self.person.id, not self.person.hidden
        self._context.act(
            lambda a: a.set_person_hidden(pid, hide),
            f"{'Hid' if hide else 'Showed'} {self.person.name}",
            owner=self,
        )

    def delete(self) -> None:
        if self.person is None:
            return
        pid, name = self.person.id, self.person.name
        answer = QMessageBox.question(
            self, "Delete person", f"Forget {name}? Their faces become unnamed (Ctrl+Z undoes)."
        )
        if answer == QMessageBox.StandardButton.Yes:
            self._context.act(lambda a: a.delete_person(pid), f"Deleted {name}", owner=self)

    def _extend_photo_menu(self, menu: QMenu, ids: list[int]) -> None:
        if self.person is None:
            return
        pid, name = self.person.id, self.person.name
        menu.addAction(f"{name} is not in {plural(len(ids), 'photo')}").triggered.connect(
            lambda: self.remove_from_photos(pid, ids)
        )
        if len(ids) == 1:
            menu.addAction(f"Use as {name}'s picture").triggered.connect(
                lambda: self.use_as_cover(pid, ids[0])
            )

    def remove_selected_photos(self) -> None:
        ids = self.photos.selected_photo_ids()
        if self.person is not None and ids:
            self.remove_from_photos(self.person.id, ids)

    def use_as_cover(self, person_id: int, photo_id: int) -> None:
        def work(album: Album) -> None:
            face = next(f for f in album.faces_in_photo(photo_id) if f.person_id == person_id)
            album.set_cover(person_id, face.id)

        self._context.act(work, "Changed the picture", owner=self)

    def remove_from_photos(self, person_id: int, photo_ids: list[int]) -> None:
        """Unassign this person's faces in those photos and remember the rejection."""

        def work(album: Album) -> int:
            faces = [
                face.id
                for photo_id in photo_ids
                for face in album.faces_in_photo(photo_id)
                if face.person_id == person_id
            ]
            album.remove_faces(faces)  # one undo step for all of them
            return len(faces)

        name = self.person.name if self.person is not None else "them"
        self._context.act(
            work,
            f"Took {name} out of {plural(len(photo_ids), 'photo')}",
            owner=self,
        )

    def _open_suggestion(self, tile: Tile) -> None:
        album = self._context.album
        run_task(
            lambda: album.face(tile.key),
            lambda face: face and self._context.open_photo.emit(face.photo_id),
            owner=self,
        )
