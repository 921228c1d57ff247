"""Faces page: every face of the library as a grid of crops, to browse and correct.

All, Unnamed, or Not in a group; newest photo first, or shuffled (a new random order each
time: a sample of a large library). The grid is lazy, like the photo grid. The face
chosen shows its similar faces (the same person first, then those that may be) and what
can be done with it: open its photo, name it, take it from its person, mark it as no face,
hide its person or group. Arrows move, Enter opens the photo.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, Qt, QTimer
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from facealbum.model import FaceInfo, Match, Tier, readable_path
from facealbum.ui.context import LibraryContext
from facealbum.ui.dialogs.naming import NameDialog, name_face
from facealbum.ui.not_a_face import NOT_A_FACE_KEY, NOT_A_FACE_TEXT, UNDO_HINT, mark_faces
from facealbum.ui.style import placeholder_pixmap, plural
from facealbum.ui.tasks import run_task
from facealbum.ui.widgets.face_grid import FaceGridModel, FaceGridView
from facealbum.ui.widgets.image_loader import ImageLoader
from facealbum.ui.widgets.tiles import TILE_ROLE, Tile, TileModel, TileView

if TYPE_CHECKING:
    from facealbum.album import Album

FILTERS = (("all", "All"), ("unnamed", "Unnamed"), ("ungrouped", "Not in a group"))
DETAIL_FACE = 200
SIDE_WIDTH = 380
SIMILAR_TILE = 88
SIMILAR_TOP = 60
STALE_THUMBNAIL_REQUESTS = 200  # a fast scroll skips the crops of rows it passed
DETAILS_DELAY_MS = 120  # holding an arrow key down does not load every face on the way
REMOVE_KEY = "Delete"


@dataclass(frozen=True)
class FaceDetails:
    """The face chosen, as the side panel shows it (loaded on a worker)."""

    face: FaceInfo
    hidden: bool  # its person, or its group, is hidden
    names: list[str]  # everyone named: the naming dialog offers them
    similar: list[Tile]  # the same person first, then the maybes


def similar_tile(m: Match, name: str) -> Tile:
    """A similar face captioned with how sure the library is; a maybe never with a name."""
    sure = f"{round((m.confidence or 0.0) * 100)}%"
    photo = Path(readable_path(m.photo)).name
    if m.tier == Tier.MAYBE:
        title, subtitle = f"Maybe, {sure}", photo
    else:
        title, subtitle = f"{sure} sure", name or photo
    return Tile(m.face_id, title, subtitle, m.photo, m.box, readable_path(m.photo), m)


def load_details(album: Album, face_id: int) -> FaceDetails | None:
    """The face, whether it is hidden, the names, and its similar faces (on a worker)."""
    face = album.face(face_id)
    if face is None:
        return None
    people = album.people(include_hidden=True)
    if face.person_id is not None:
        hidden = any(p.id == face.person_id and p.hidden for p in people)
    elif face.group_id is not None:
        groups = album.groups(include_hidden=True)
        hidden = any(g.id == face.group_id and g.hidden for g in groups)
    else:
        hidden = False
    matches = album.similar_to_face(face_id, top=SIMILAR_TOP)
    tiles = [
        similar_tile(m, (m.person_name or "") if m.tier != Tier.MAYBE else "") for m in matches
    ]
    return FaceDetails(face, hidden, sorted((p.name for p in people), key=str.casefold), tiles)


class FacesPage(QWidget):
    def __init__(self, context: LibraryContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self.which = "all"
        self.seed: int | None = None  # None: newest first
        self.details: FaceDetails | None = None
        self.name_dialog: NameDialog | None = None
        self._stale = True  # the list is loaded again when next shown
        self._request = 0
        self._details_request = 0
        # (face, row) to select once the list is loaded again (the face, else the one now
        # at its row); None: the face chosen now.
        self._keep: tuple[int | None, int] | None = None

        self.loader = ImageLoader(None, parent=self, stale_after=STALE_THUMBNAIL_REQUESTS)
        self.model = FaceGridModel(self.loader, self)
        self.grid = FaceGridView()
        self.grid.setModel(self.model)
        self.similar_model = TileModel(self.loader, "similar", self, SIMILAR_TILE)
        self.similar = TileView(tile_size=SIMILAR_TILE)
        self.similar.setModel(self.similar_model)

        title = QLabel("Faces")
        title.setProperty("role", "title")
        self.filter_buttons = QButtonGroup(self)
        bar = QHBoxLayout()
        bar.addWidget(title)
        bar.addSpacing(16)
        for key, text in FILTERS:
            button = QPushButton(text)
            button.setCheckable(True)
            button.setChecked(key == self.which)
            button.setProperty("which", key)
            self.filter_buttons.addButton(button)
            bar.addWidget(button)
        bar.addSpacing(16)
        self.newest_button = QPushButton("Newest first")
        self.newest_button.setCheckable(True)
        self.newest_button.setChecked(True)
        self.shuffle_button = QPushButton("Shuffle")
        self.shuffle_button.setCheckable(True)
        self.shuffle_button.setToolTip("A new random order: a sample of the whole library")
        order = QButtonGroup(self)
        order.addButton(self.newest_button)
        order.addButton(self.shuffle_button)
        bar.addWidget(self.newest_button)
        bar.addWidget(self.shuffle_button)
        bar.addStretch(1)
        self.count_label = QLabel()
        self.count_label.setProperty("role", "hint")
        bar.addWidget(self.count_label)

        self.picture = QLabel()
        self.picture.setFixedSize(DETAIL_FACE, DETAIL_FACE)
        self.picture.setScaledContents(True)
        self.about = QLabel("Click a face to see who it may be and what to do with it.")
        self.about.setWordWrap(True)
        self.open_button = QPushButton("Open photo")
        self.open_button.setToolTip("Open the photo of this face (Enter)")
        self.name_button = QPushButton("Name…")
        self.name_button.setShortcut("F2")
        self.name_button.setToolTip("Say who this is (F2)")
        self.remove_button = QPushButton("Not this person")
        self.remove_button.setShortcut(REMOVE_KEY)
        self.remove_button.setToolTip(
            f"This face is not its person: taken away and remembered ({REMOVE_KEY})"
        )
        self.not_a_face_button = QPushButton(NOT_A_FACE_TEXT)
        self.not_a_face_button.setShortcut(NOT_A_FACE_KEY)
        self.not_a_face_button.setToolTip(
            f"A pet, a poster or a pattern: never grouped, suggested or found again "
            f"({NOT_A_FACE_KEY})"
        )
        self.hide_button = QPushButton("Hide")
        actions = QGridLayout()
        actions.addWidget(self.open_button, 0, 0)
        actions.addWidget(self.name_button, 0, 1)
        actions.addWidget(self.remove_button, 1, 0)
        actions.addWidget(self.not_a_face_button, 1, 1)
        actions.addWidget(self.hide_button, 2, 0)
        self.similar_label = QLabel("Similar faces")
        bold = self.similar_label.font()
        bold.setBold(True)
        self.similar_label.setFont(bold)
        side = QWidget()
        side.setFixedWidth(SIDE_WIDTH)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.picture, 0, Qt.AlignmentFlag.AlignHCenter)
        side_layout.addWidget(self.about)
        side_layout.addLayout(actions)
        side_layout.addWidget(self.similar_label)
        side_layout.addWidget(self.similar, 1)
        splitter = QSplitter()
        splitter.addWidget(self.grid)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 1)
        splitter.setChildrenCollapsible(False)

        self.empty = QLabel()
        self.empty.setProperty("role", "hint")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.browser = QWidget()
        browser = QVBoxLayout(self.browser)
        browser.setContentsMargins(0, 0, 0, 0)
        browser.addWidget(splitter)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.browser)
        self.stack.addWidget(self.empty)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.stack, 1)

        self._details_timer = QTimer(self, singleShot=True, interval=DETAILS_DELAY_MS)
        self._details_timer.timeout.connect(self._load_details)
        self.filter_buttons.buttonClicked.connect(
            lambda button: self.set_filter(button.property("which"))
        )
        self.newest_button.clicked.connect(self.newest_first)
        self.shuffle_button.clicked.connect(self.shuffle)
        self.grid.selectionModel().currentChanged.connect(self._current_changed)
        self.grid.face_activated.connect(lambda _fid: self.open_photo())
        self.similar.doubleClicked.connect(self._open_similar)
        self.loader.ready.connect(self._picture_arrived)
        self.open_button.clicked.connect(lambda: self.open_photo())
        self.name_button.clicked.connect(self.ask_name)
        self.remove_button.clicked.connect(self.not_this_person)
        self.not_a_face_button.clicked.connect(self.not_a_face)
        self.hide_button.clicked.connect(self.toggle_hidden)
        context.album_changed.connect(self._album_changed)
        context.data_changed.connect(self.refresh)
        context.scan.finished.connect(lambda _p: self.refresh())
        self._album_changed(context.album)

    # -- the list ---------------------------------------------------------------------

    def _album_changed(self, album: Album | None) -> None:
        self.loader.set_cache(self._context.thumbnail_cache())
        self.model.set_album(album)
        self._keep = (None, 0)
        self._show_details(None)
        self.refresh()

    def set_filter(self, which: str) -> None:
        """All, unnamed, or ungrouped faces ("all", "unnamed", "ungrouped")."""
        self.which = which
        for button in self.filter_buttons.buttons():
            button.setChecked(button.property("which") == which)
        self._keep = (None, 0)
        self.refresh()

    def shuffle(self) -> None:
        """A new random order."""
        self.seed = random.randrange(1, 2**31)
        self.shuffle_button.setChecked(True)
        self._keep = (None, 0)
        self.refresh()

    def newest_first(self) -> None:
        self.seed = None
        self.newest_button.setChecked(True)
        self._keep = (None, 0)
        self.refresh()

    def refresh(self) -> None:
        """List the faces again (now if the page is shown, else when it is next)."""
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        album = self._context.album
        self._request += 1
        if album is None:
            self.model.set_ids([])
            self._show_empty("Open or create a library on the Library page to see its faces.")
            return
        request, which, seed = self._request, self.which, self.seed
        run_task(
            lambda: album.face_ids(which, shuffle_seed=seed),
            lambda ids: self._ids_arrived(request, ids),
            lambda e: self._context.error.emit("Could not list the faces", e),
            owner=self,
        )

    def _ids_arrived(self, request: int, ids: list[int]) -> None:
        if request != self._request:
            return
        face, row = self._keep or (self.grid.current_face_id(), self._row())
        self._keep = None
        self.model.set_ids(ids)
        order = "shuffled" if self.seed is not None else "newest first"
        self.count_label.setText(f"{plural(len(ids), 'face')}, {order}")
        if not ids:
            self._show_empty(
                {
                    "all": "No faces yet: add a folder of photos on the Library page.",
                    "unnamed": "Every face has a name.",
                    "ungrouped": "Every unnamed face is in a group.",
                }[self.which]
            )
            self._show_details(None)
            return
        self.stack.setCurrentWidget(self.browser)
        # The face chosen before stays chosen; gone (marked, named away), the next one.
        found = self.model.row_of(face) if face is not None else None
        index = self.model.index(found if found is not None else min(row, len(ids) - 1))
        self.grid.setCurrentIndex(index)
        self.grid.scrollTo(index)
        self._details_timer.start()

    def _row(self) -> int:
        return max(self.grid.currentIndex().row(), 0)

    def _show_empty(self, text: str) -> None:
        self.empty.setText(text)
        self.stack.setCurrentWidget(self.empty)

    # -- the face chosen -------------------------------------------------------------------

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self._details_timer.start()

    def _load_details(self) -> None:
        album, face_id = self._context.album, self.grid.current_face_id()
        if album is None or face_id is None:
            return
        self._details_request += 1
        request = self._details_request
        run_task(
            lambda: load_details(album, face_id),
            lambda details: self._details_arrived(request, details),
            lambda e: self._context.error.emit("Could not load the face", e),
            owner=self,
        )

    def _details_arrived(self, request: int, details: FaceDetails | None) -> None:
        if request == self._details_request:
            self._show_details(details)

    def _show_details(self, details: FaceDetails | None) -> None:
        self.details = details
        face = details.face if details is not None else None
        for button in (self.open_button, self.name_button, self.not_a_face_button):
            button.setEnabled(face is not None)
        self.remove_button.setEnabled(face is not None and face.person_id is not None)
        self.hide_button.setEnabled(
            face is not None and (face.person_id is not None or face.group_id is not None)
        )
        if details is None or face is None:
            self.picture.setPixmap(placeholder_pixmap(DETAIL_FACE))
            self.about.setText("Click a face to see who it may be and what to do with it.")
            self.similar_model.set_tiles([])
            self.similar_label.setText("Similar faces")
            return
        self._show_picture()
        who = face.person_name or ("In an unnamed group" if face.group_id else "Unnamed, alone")
        hidden = " (hidden)" if details.hidden else ""
        self.about.setText(f"{who}{hidden}\n{Path(readable_path(face.photo)).name}")
        self.remove_button.setText(f"Not {face.person_name}" if face.person_name else "Not them")
        self.remove_button.setShortcut(REMOVE_KEY)  # setText dropped it for the text's mnemonic
        what = "person" if face.person_id is not None else "group"
        self.hide_button.setText(f"Show this {what}" if details.hidden else f"Hide this {what}")
        self.similar_model.set_tiles(details.similar)
        same = sum(1 for t in details.similar if t.payload.tier != Tier.MAYBE)
        maybe = len(details.similar) - same
        self.similar_label.setText(
            f"Similar faces: {same} the same person, {maybe} maybe"
            if details.similar
            else "No similar faces"
        )

    def _show_picture(self) -> None:
        """The chosen face, big; the grid's smaller crop until it is made."""
        face = self._face()
        if face is None:
            return
        key = ("face-big", face.id)
        pm = self.loader.pixmap(key)
        if pm is None:
            self.loader.request(key, face.photo, DETAIL_FACE, face.box)
            pm = self.loader.pixmap(("face", face.id))
        self.picture.setPixmap(pm or placeholder_pixmap(DETAIL_FACE))

    def _picture_arrived(self, key: object) -> None:
        face = self._face()
        if face is not None and key == ("face-big", face.id):
            self._show_picture()

    # -- actions --------------------------------------------------------------------------

    def _face(self) -> FaceInfo | None:
        return self.details.face if self.details is not None else None

    def _act(self, call: Callable[[Album], object], done: str, failure: str) -> None:
        """A change to the library; the list keeps its place (the next face if this one
        leaves it)."""
        self._keep = (self.grid.current_face_id(), self._row())
        self._context.act(call, f"{done} ({UNDO_HINT})", owner=self, failure=failure)

    def open_photo(self) -> None:
        """The photo of the face chosen in the grid."""
        album, face_id = self._context.album, self.grid.current_face_id()
        if album is None or face_id is None:
            return
        info = self.model.info(face_id)
        if info is not None:
            self._context.open_photo.emit(info.photo_id)
            return
        # Its row was not fetched yet (Enter pressed as the grid filled): ask the library.
        run_task(lambda: album.face(face_id), self._open_photo_of, owner=self)

    def _open_photo_of(self, face: FaceInfo | None) -> None:
        if face is not None:  # gone meanwhile: nothing to open
            self._context.open_photo.emit(face.photo_id)

    def ask_name(self) -> None:
        """The naming dialog, completing from the names there are."""
        details = self.details
        if details is None:
            return
        face = details.face
        dialog = NameDialog(details.names, "Name this face", face.person_name or "", self)
        dialog.accepted.connect(lambda: self.give_name(face, dialog.name()))
        self.name_dialog = dialog
        dialog.open()

    def give_name(self, face: FaceInfo, name: str) -> None:
        if name and name != face.person_name:
            self._act(
                lambda a: name_face(a, face, name), f"Named {name}", f"Could not name it {name}"
            )

    def not_this_person(self) -> None:
        face = self._face()
        if face is None or face.person_id is None:
            return
        face_id, name = face.id, face.person_name
        self._act(
            lambda a: a.remove_faces([face_id]),
            f"Took a face from {name}",
            f"Could not take the face from {name}",
        )

    def not_a_face(self) -> None:
        face = self._face()
        if face is not None:
            self._keep = (face.id, self._row())
            mark_faces(self._context, [face.id], self)

    def toggle_hidden(self) -> None:
        """Hide the face's person (or its unnamed group) from People, or show it again."""
        details = self.details
        if details is None:
            return
        face, hide = details.face, not details.hidden
        verb = "Hid" if hide else "Showed"
        if face.person_id is not None:
            person_id = face.person_id
            self._act(
                lambda a: a.set_person_hidden(person_id, hide),
                f"{verb} {face.person_name}",
                "Could not hide them" if hide else "Could not show them",
            )
        elif face.group_id is not None:
            group_id = face.group_id
            self._act(
                lambda a: a.set_group_hidden(group_id, hide),
                f"{verb} a group",
                "Could not hide the group" if hide else "Could not show the group",
            )

    def _open_similar(self, index: QModelIndex) -> None:
        tile = index.data(TILE_ROLE)
        if tile is not None:
            self._context.open_photo.emit(tile.payload.photo_id)

    # -- visibility -------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt API
        super().hideEvent(event)
        self._details_timer.stop()
