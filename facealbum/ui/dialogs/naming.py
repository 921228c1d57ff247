"""Giving a face or a group a name, with the existing names offered as you type."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from facealbum.model import FaceInfo, PersonInfo

if TYPE_CHECKING:
    from facealbum.album import Album


def person_by_name(people: list[PersonInfo], name: str) -> PersonInfo | None:
    wanted = name.strip().casefold()
    return next((p for p in people if p.name.casefold() == wanted), None)


def name_face(album: Album, face: FaceInfo, name: str) -> str:
    """Assign one face to the person called ``name`` (runs on a worker thread).

    An existing name gets the face; a new name names the face's group, which is how
    the facade creates people.
    """
    name = name.strip()
    existing = person_by_name(album.people(include_hidden=True), name)
    if existing is not None:
        album.assign_faces([face.id], existing.id)
        return f"Named {name}"
    if face.group_id is not None:
        album.name_group(face.group_id, name)
        return f"Named {name}"
    if hasattr(album, "create_person"):
        person_id = album.create_person(name)
        album.assign_faces([face.id], person_id)
        return f"Named {name}"
    raise ValueError(f"This face is in no group yet; rescan or regroup before naming it {name}.")


class NameDialog(QDialog):
    """One line to type a name, completing from the people already named."""

    def __init__(
        self, names: list[str], title: str, current: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Who is this?"))
        self.edit = QLineEdit(current)
        self.edit.setPlaceholderText("Type a name")
        completer = QCompleter(sorted(names, key=str.casefold), self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.edit.setCompleter(completer)
        layout.addWidget(self.edit)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.edit.textChanged.connect(
            lambda t: buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(t.strip()))
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(current.strip()))

    def name(self) -> str:
        return self.edit.text().strip()
