"""People page: named people and unnamed groups; name, merge, hide, open a person."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
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
from facealbum.ui.not_a_face import NOT_A_FACE_KEY, NOT_A_FACE_TEXT, mark_groups
from facealbum.ui.pages.name_hints import NameHints
from facealbum.ui.pages.people_loading import PeopleTiles, load_people_and_groups
from facealbum.ui.pages.person_view import PersonView
from facealbum.ui.style import plural
from facealbum.ui.tasks import run_task
from facealbum.ui.widgets.image_loader import ImageLoader
from facealbum.ui.widgets.tiles import (
    TILE_KEY_ROLE,
    TileModel,
    TileView,
    keys_from_mime,
    tile_mime_type,
)

if TYPE_CHECKING:
    from facealbum.album import Album


class PeopleView(TileView):
    """People tiles. Dropping people onto a person asks to merge them; dropping a group
    onto a person names the group as them."""

    merge_requested = Signal(list, int)  # source person ids, target person id
    group_dropped = Signal(int, int)  # group id, person id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDropIndicatorShown(True)

    def _accepts(self, event: QDropEvent | QDragMoveEvent) -> bool:
        mime = event.mimeData()
        return mime.hasFormat(tile_mime_type("person")) or mime.hasFormat(tile_mime_type("group"))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt API
        if self._accepts(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802 - Qt API
        on_person = self.indexAt(event.position().toPoint()).isValid()
        if self._accepts(event) and on_person:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt API
        target = self.indexAt(event.position().toPoint())
        event.setDropAction(Qt.DropAction.IgnoreAction)
        event.accept()  # the model never moves rows; the action refreshes it instead
        if not target.isValid():
            return
        target_id = target.data(TILE_KEY_ROLE)
        mime = event.mimeData()
        sources = [k for k in keys_from_mime(mime, "person") if k != target_id]
        if sources:
            self.merge_requested.emit(sources, target_id)
        for group_id in keys_from_mime(mime, "group"):
            self.group_dropped.emit(group_id, target_id)


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
        self.group_view.setDragEnabled(True)
        self.group_view.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.hints = NameHints(context, self.loader)
        self._names: list[str] = []

        self.show_hidden = QCheckBox("Show hidden")
        self.show_hidden.setToolTip("Also list the people and groups you hid")
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
        self.people_empty = QLabel("Nobody is named yet. Select a group below and type who it is.")
        self.people_empty.setProperty("role", "hint")
        self.people_empty.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.groups_label = QLabel("Unnamed groups")
        self.groups_label.setProperty("role", "title")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("Select a group and type who it is, then press Enter")
        self.name_button = QPushButton("Name")
        self.not_a_face_button = QPushButton(NOT_A_FACE_TEXT)
        self.not_a_face_button.setShortcut(NOT_A_FACE_KEY)
        self.not_a_face_button.setToolTip(
            f"Not faces: the selected groups are pets, posters or patterns ({NOT_A_FACE_KEY})\n"
            "They are never grouped, suggested or found again; Ctrl+Z undoes"
        )
        self.not_a_face_button.setEnabled(False)
        naming = QHBoxLayout()
        naming.addWidget(self.name_edit, 1)
        naming.addWidget(self.name_button)
        naming.addWidget(self.not_a_face_button)
        # "Probably Mom?" of the selected group, answered in one click.
        self.probably_label = QLabel()
        bold = self.probably_label.font()
        bold.setBold(True)
        self.probably_label.setFont(bold)
        self.yes_button = QPushButton("&Yes")
        self.no_button = QPushButton("&No")
        self.yes_button.setToolTip("Yes: the selected group is who it probably is (Alt+Y)")
        self.no_button.setToolTip("No: it is not them, and is not suggested as them again (Alt+N)")
        self.probably_bar = QWidget()
        probably = QHBoxLayout(self.probably_bar)
        probably.setContentsMargins(0, 0, 0, 0)
        probably.addWidget(self.probably_label, 1)
        probably.addWidget(self.yes_button)
        probably.addWidget(self.no_button)
        self.probably_bar.setVisible(False)
        # After naming a group: the group to select next, and the row to select if it is gone.
        self._select_next: tuple[int | None, int] | None = None

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(bar)
        top_layout.addWidget(self.people_empty)
        top_layout.addWidget(self.people_view, 1)
        top_layout.addWidget(self.hints)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(self.groups_label)
        bottom_layout.addWidget(self.group_view, 1)
        bottom_layout.addWidget(self.probably_bar)
        bottom_layout.addLayout(naming)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(bottom)
        splitter.setChildrenCollapsible(False)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        for view in (self.people_view, self.group_view):
            view.setMinimumHeight(view.gridSize().height() + 12)  # one whole row of faces

        self.overview = QWidget()
        overview_layout = QVBoxLayout(self.overview)
        overview_layout.setContentsMargins(0, 0, 0, 0)
        overview_layout.addWidget(splitter)
        self.unavailable = QLabel("Open or create a library on the Library page to see people.")
        self.unavailable.setProperty("role", "hint")
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
        self.not_a_face_button.clicked.connect(self.mark_selected_groups_not_faces)
        self.yes_button.clicked.connect(self.accept_probable)
        self.no_button.clicked.connect(self.reject_probable)
        self.group_view.selectionModel().selectionChanged.connect(self._group_selection_changed)
        self.group_view.doubleClicked.connect(self._ask_group_name)
        self.people_view.activated.connect(self._open_person)
        self.people_view.merge_requested.connect(self.confirm_merge)
        self.people_view.group_dropped.connect(self.give_group)
        self.person_view.back.connect(self.show_overview)
        context.album_changed.connect(self._album_changed)
        context.data_changed.connect(self.refresh)
        context.scan.finished.connect(lambda _p: self.refresh())
        self._album_changed(context.album)

    def _album_changed(self, album: Album | None) -> None:
        self.loader.set_cache(self._context.thumbnail_cache())
        self.people_model.set_tiles([])
        self.group_model.set_tiles([])
        self.hints.set_tiles([])
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
            lambda result: self._arrived(album, hidden, result),
            lambda e: self._context.error.emit("Could not load people", e),
            owner=self,
        )

    def _arrived(self, album: Album, hidden: bool, tiles: PeopleTiles) -> None:
        if album is not self._context.album or hidden != self.show_hidden.isChecked():
            return  # a newer refresh is on its way
        self.people_model.set_tiles(tiles.people)
        self.group_model.set_tiles(tiles.groups)
        self._select_after_naming()
        self._group_selection_changed()
        self.hints.set_tiles(tiles.hints)
        self._names = tiles.names
        completer = QCompleter(self._names, self.name_edit)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.name_edit.setCompleter(completer)
        self.people_label.setText(f"People ({len(tiles.people)})")
        self.people_empty.setVisible(not tiles.people)
        self.people_view.setVisible(bool(tiles.people))
        self.groups_label.setText(
            f"Unnamed groups ({len(tiles.groups)}) — largest first"
            if tiles.groups
            else "No unnamed groups: everyone found is named"
        )

    def _select_after_naming(self) -> None:
        """Select the group to name next and put the cursor in the name field: groups are
        named one after another from the keyboard."""
        if self._select_next is None:
            return
        key, row = self._select_next
        self._select_next = None
        found = self.group_model.row_of(key) if key is not None else None
        row = found if found is not None else min(row, self.group_model.rowCount() - 1)
        if row < 0:
            return
        index = self.group_model.index(row)
        self.group_view.setCurrentIndex(index)
        self.group_view.scrollTo(index)
        self.name_edit.setFocus()

    def _group_selection_changed(self) -> None:
        tiles = self.group_view.selected_tiles()
        self.not_a_face_button.setEnabled(bool(tiles))
        probably = tiles[0].payload.probably if len(tiles) == 1 else None
        self.probably_bar.setVisible(probably is not None)
        if probably is not None:
            name = probably[1]
            self.probably_label.setText(f"Probably {name}?")
            self.yes_button.setToolTip(f"Yes: these faces are {name} (Alt+Y)")
            self.no_button.setToolTip(
                f"No: none of these faces is {name}; they are not suggested again (Alt+N)"
            )

    # -- actions ---------------------------------------------------------------
    def mark_selected_groups_not_faces(self) -> None:
        """A group of dog faces (or posters): every face of the selected groups is no face."""
        groups = [t.key for t in self.group_view.selected_tiles()]
        if groups:
            mark_groups(self._context, groups, self)

    def name_selected_group(self) -> None:
        tiles = self.group_view.selected_tiles()
        name = self.name_edit.text().strip()
        if not tiles or not name:
            return
        self.name_edit.clear()
        self.name_group(tiles[0].key, name)

    def name_group(self, group_id: int, name: str) -> None:
        """Name the group; then the group after it is the one to name."""
        tiles = self.group_model.tiles()
        row = self.group_model.row_of(group_id)
        others = [] if row is None else tiles[row + 1 :] + tiles[:row][::-1]
        following = (others[0].key if others else None, row or 0)
        self._context.act(
            lambda a: a.name_group(group_id, name),
            f"Named {name}",
            lambda _pid: self._select_later(*following),
            owner=self,
            failure=f"Could not name them {name}",
        )

    def _select_later(self, group_id: int | None, row: int) -> None:
        """Once the groups are loaded again, select this one (or the one at `row`)."""
        self._select_next = (group_id, row)

    def _probable(self) -> tuple[int, int, str] | None:
        """(group id, person id, name) of the selected group's "Probably ...?"."""
        tiles = self.group_view.selected_tiles()
        if len(tiles) != 1 or tiles[0].payload.probably is None:
            return None
        return (tiles[0].key, *tiles[0].payload.probably)

    def accept_probable(self) -> None:
        probable = self._probable()
        if probable is not None:
            self.name_group(probable[0], probable[2])

    def reject_probable(self) -> None:
        """None of them is that person: the group stays selected, to name it otherwise."""
        probable = self._probable()
        if probable is None:
            return
        group_id, person_id, name = probable
        row = self.group_model.row_of(group_id) or 0
        self._context.act(
            lambda a: a.reject_group(group_id, person_id),
            f"Not {name} (Ctrl+Z undoes)",
            lambda _none: self._select_later(group_id, row),
            owner=self,
            failure=f"Could not say they are not {name}",
        )

    def give_group(self, group_id: int, person_id: int) -> None:
        """A group dropped on a person: its faces are that person."""
        by_id = {t.key: t.payload.name for t in self.people_model.tiles()}
        if person_id in by_id:
            self.name_group(group_id, by_id[person_id])

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
        name, ok = QInputDialog.getItem(
            self, "Merge people", f"Merge {len(tiles)} people into one, called:", names, 0, False
        )
        if ok and name in names:
            target = tiles[names.index(name)].key
            self.merge([t.key for t in tiles if t.key != target], target, name)

    def confirm_merge(self, sources: list[int], target: int) -> None:
        by_id = {t.key: t.payload.name for t in self.people_model.tiles()}
        if target not in by_id or not all(s in by_id for s in sources):
            return  # dropped from an older list; the names are gone
        who = ", ".join(by_id[s] for s in sources)
        answer = QMessageBox.question(
            self,
            "Merge people",
            f"Merge {who} into {by_id[target]}?\nAll their faces become {by_id[target]}.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.merge(sources, target, by_id[target])

    def merge(self, sources: list[int], target: int, name: str) -> None:
        self._context.act(
            lambda a: a.merge_people(sources, target),
            f"Merged into {name}",
            owner=self,
            failure="Could not merge",
        )

    def toggle_hidden_selected(self) -> None:
        """Hide what is shown and show what is hidden, in one go."""
        people_tiles = self.people_view.selected_tiles()
        group_tiles = self.group_view.selected_tiles()
        people = [(t.key, not t.payload.hidden) for t in people_tiles]
        groups = [(t.key, not t.payload.hidden) for t in group_tiles]
        if not people and not groups:
            QMessageBox.information(self, "Hide", "Select the people or groups to hide first.")
            return

        def work(album: Album) -> None:
            for pid, hide in people:
                album.set_person_hidden(pid, hide)
            for gid, hide in groups:
                album.set_group_hidden(gid, hide)

        what = [t.payload.name for t in people_tiles] + [plural(len(groups), "group")] * bool(
            groups
        )
        hides = {hide for _, hide in people + groups}
        verb = "Hid" if hides == {True} else "Showed" if hides == {False} else "Hid or showed"
        self._context.act(work, f"{verb} {', '.join(what)}", owner=self)

    def _open_person(self, index: QModelIndex) -> None:
        self.open_person(index.data(TILE_KEY_ROLE))

    def open_person(self, person_id: int) -> None:
        self.person_view.show_person(person_id)
        self.stack.setCurrentWidget(self.person_view)
