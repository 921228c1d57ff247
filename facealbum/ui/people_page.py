"""People page: named people and unnamed groups; name, merge, hide, open a person."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QCompleter,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from facealbum.ui.context import LibraryContext
from facealbum.ui.image_loader import ImageLoader
from facealbum.ui.person_view import PersonView
from facealbum.ui.style import plural
from facealbum.ui.tasks import run_task
from facealbum.ui.tiles import TILE_KEY_ROLE, Tile, TileModel, TileView

MAX_GROUPS = 400  # the largest groups; the rest are mostly single stray faces


def load_people_and_groups(album: Any, include_hidden: bool) -> tuple[list[Tile], list[Tile]]:
    """Tiles for every person and the largest groups (runs on a worker thread)."""
    people = album.people(include_hidden=include_hidden)
    groups = album.groups(include_hidden=include_hidden)[:MAX_GROUPS]
    wanted = [p.cover_face_id for p in people if p.cover_face_id is not None]
    wanted += [g.face_ids[0] for g in groups if g.face_ids]
    faces = {fid: album.face(fid) for fid in wanted}
    person_tiles = []
    for p in people:
        cover = faces.get(p.cover_face_id) if p.cover_face_id is not None else None
        hidden = " (hidden)" if p.hidden else ""
        person_tiles.append(
            Tile(
                p.id,
                p.name + hidden,
                plural(p.photo_count, "photo"),
                cover.photo if cover else None,
                cover.box if cover else None,
                f"{p.name}: {plural(p.face_count, 'face')} in {plural(p.photo_count, 'photo')}",
                p,
            )
        )
    group_tiles = []
    for g in groups:
        cover = faces.get(g.face_ids[0]) if g.face_ids else None
        group_tiles.append(
            Tile(
                g.id,
                "Hidden group" if g.hidden else "Who is this?",
                plural(len(g.face_ids), "face"),
                cover.photo if cover else None,
                cover.box if cover else None,
                "Select, then type a name below; double-click to name",
                g,
            )
        )
    return person_tiles, group_tiles


class PeopleView(TileView):
    """People tiles; dropping people onto another person asks to merge them."""

    merge_requested = Signal(list, int)  # source person ids, target person id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt API
        target = self.indexAt(event.position().toPoint())
        event.setDropAction(Qt.DropAction.IgnoreAction)
        event.accept()  # the model never moves rows; a merge refreshes it instead
        if not target.isValid():
            return
        target_id = target.data(TILE_KEY_ROLE)
        sources = [t.key for t in self.selected_tiles() if t.key != target_id]
        if sources:
            self.merge_requested.emit(sources, target_id)


class PeoplePage(QWidget):
    def __init__(self, context: LibraryContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self.loader = ImageLoader(None, parent=self)
        self.people_model = TileModel(self.loader, "person", self)
        self.group_model = TileModel(self.loader, "group", self)
        self.people_view = PeopleView()
        self.people_view.setModel(self.people_model)
        self.group_view = TileView()
        self.group_view.setModel(self.group_model)
        self._names: list[str] = []

        self.show_hidden = QCheckBox("Show hidden")
        self.merge_button = QPushButton("Merge…")
        self.merge_button.setToolTip(
            "Merge the selected people into one (or drag one onto another)"
        )
        self.hide_button = QPushButton("Hide")
        self.hide_button.setToolTip("Hide or show again the selected people or groups")
        self.people_label = QLabel("People")
        self.people_label.setProperty("role", "title")
        bar = QHBoxLayout()
        bar.addWidget(self.people_label, 1)
        for w in (self.show_hidden, self.merge_button, self.hide_button):
            bar.addWidget(w)

        self.groups_label = QLabel("Unnamed groups")
        self.groups_label.setProperty("role", "title")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("Select a group and type who it is, then press Enter")
        self.name_button = QPushButton("Name")
        naming = QHBoxLayout()
        naming.addWidget(self.name_edit, 1)
        naming.addWidget(self.name_button)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(bar)
        top_layout.addWidget(self.people_view)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(self.groups_label)
        bottom_layout.addWidget(self.group_view, 1)
        bottom_layout.addLayout(naming)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(bottom)

        self.overview = QWidget()
        QVBoxLayout(self.overview).addWidget(splitter)
        self.unavailable = QLabel(
            "Naming people arrives with the people features of the library.\n"
            "Scanned photos are already searchable on the Search page."
        )
        self.unavailable.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.person_view = PersonView(context)
        self.stack = QStackedWidget()
        for w in (self.overview, self.person_view, self.unavailable):
            self.stack.addWidget(w)
        QVBoxLayout(self).addWidget(self.stack)

        self.show_hidden.toggled.connect(lambda _on: self.refresh())
        self.merge_button.clicked.connect(self.merge_selected)
        self.hide_button.clicked.connect(self.toggle_hidden_selected)
        self.name_edit.returnPressed.connect(self.name_selected_group)
        self.name_button.clicked.connect(self.name_selected_group)
        self.group_view.doubleClicked.connect(self._ask_group_name)
        self.people_view.activated.connect(self._open_person)
        self.people_view.merge_requested.connect(self.confirm_merge)
        self.person_view.back.connect(self.show_overview)
        context.album_changed.connect(self._album_changed)
        context.data_changed.connect(self.refresh)
        context.scan.finished.connect(lambda _p: self.refresh())
        self._album_changed(context.album)

    def _album_changed(self, album: Any) -> None:
        self.loader.set_cache(self._context.thumbnail_cache())
        self.people_model.set_tiles([])
        self.group_model.set_tiles([])
        self.show_overview()
        self.refresh()

    def show_overview(self) -> None:
        self.stack.setCurrentWidget(
            self.overview if self._context.has("people") else self.unavailable
        )

    def refresh(self) -> None:
        album = self._context.album
        if album is None or not self._context.has("people"):
            self.show_overview()
            return
        hidden = self.show_hidden.isChecked()
        run_task(
            lambda: load_people_and_groups(album, hidden),
            lambda result: self._arrived(album, *result),
            lambda e: self._context.error.emit("Could not load people", e),
            owner=self,
        )

    def _arrived(self, album: Any, people: list[Tile], groups: list[Tile]) -> None:
        if album is not self._context.album:
            return
        self.people_model.set_tiles(people)
        self.group_model.set_tiles(groups)
        self._names = [t.payload.name for t in people]
        completer = QCompleter(sorted(self._names, key=str.casefold), self.name_edit)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.name_edit.setCompleter(completer)
        self.people_label.setText(f"People ({len(people)})")
        self.groups_label.setText(f"Unnamed groups ({len(groups)}) — largest first")

    # -- actions ---------------------------------------------------------------
    def name_selected_group(self) -> None:
        tiles = self.group_view.selected_tiles()
        name = self.name_edit.text().strip()
        if not tiles or not name:
            return
        self.name_edit.clear()
        self.name_group(tiles[0].key, name)

    def name_group(self, group_id: int, name: str) -> None:
        self._context.act(lambda a: a.name_group(group_id, name), f"Named {name}", owner=self)

    def _ask_group_name(self, index: QModelIndex) -> None:
        group_id = index.data(TILE_KEY_ROLE)
        name, ok = QInputDialog.getItem(
            self, "Name this person", "Who is this?", self._names, -1, True
        )
        if ok and name.strip():
            self.name_group(group_id, name.strip())

    def merge_selected(self) -> None:
        tiles = self.people_view.selected_tiles()
        if len(tiles) < 2:
            QMessageBox.information(
                self, "Merge people", "Select two or more people (Ctrl+click), then Merge."
            )
            return
        names = [t.payload.name for t in tiles]
        name, ok = QInputDialog.getItem(self, "Merge people", "Keep the name:", names, 0, False)
        if ok:
            target = tiles[names.index(name)].key
            self.merge([t.key for t in tiles if t.key != target], target, name)

    def confirm_merge(self, sources: list[int], target: int) -> None:
        by_id = {t.key: t.payload.name for t in self.people_model.tiles()}
        who = ", ".join(by_id.get(s, "?") for s in sources)
        answer = QMessageBox.question(
            self, "Merge people", f"Merge {who} into {by_id.get(target, '?')}?"
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.merge(sources, target, by_id.get(target, "?"))

    def merge(self, sources: list[int], target: int, name: str) -> None:
        self._context.act(
            lambda a: a.merge_people(sources, target), f"Merged into {name}", owner=self
        )

    def toggle_hidden_selected(self) -> None:
        for tile in self.people_view.selected_tiles():
            hide = not tile.payload.hidden
            pid = tile.key
            self._context.act(
                lambda a, pid=pid, hide=hide: a.set_person_hidden(pid, hide),
                f"{'Hid' if hide else 'Showed'} {tile.payload.name}",
                owner=self,
            )
        for tile in self.group_view.selected_tiles():
            hide = not tile.payload.hidden
            gid = tile.key
            self._context.act(
                lambda a, gid=gid, hide=hide: a.set_group_hidden(gid, hide),
                "Hid a group" if hide else "Showed a group",
                owner=self,
            )

    def _open_person(self, index: QModelIndex) -> None:
        self.open_person(index.data(TILE_KEY_ROLE))

    def open_person(self, person_id: int) -> None:
        self.person_view.show_person(person_id)
        self.stack.setCurrentWidget(self.person_view)
