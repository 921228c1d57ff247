"""A large view of one photo: its faces boxed and named; click a face to act on it, or
point at it and press the "not a face" key."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import QDialog, QLabel, QMenu, QVBoxLayout, QWidget

from facealbum.model import FaceInfo, PhotoInfo
from facealbum.ui.context import LibraryContext
from facealbum.ui.dialogs.naming import NameDialog, name_face
from facealbum.ui.not_a_face import (
    IS_A_FACE_TEXT,
    NOT_A_FACE_KEY,
    NOT_A_FACE_TEXT,
    mark_faces,
    unmark_faces,
)
from facealbum.ui.style import plural
from facealbum.ui.tasks import run_task
from facealbum.ui.widgets.face_canvas import CanvasFace, FaceCanvas
from facealbum.ui.widgets.image_loader import pil_to_qimage
from facealbum.ui.widgets.thumbnails import make_photo_thumbnail

if TYPE_CHECKING:
    from facealbum.album import Album

VIEW_SIZE = 1600


def _load(album: Album, photo_id: int) -> tuple[PhotoInfo, QImage, list[FaceInfo]]:
    info = album.photo(photo_id)
    if info is None:
        raise LookupError("This photo is no longer in the library.")
    image = pil_to_qimage(make_photo_thumbnail(Path(info.path), VIEW_SIZE))
    return info, image, album.faces_in_photo(photo_id)


class PhotoViewer(QDialog):
    """Non-modal: several photos may be open while the user keeps working."""

    def __init__(self, context: LibraryContext, photo_id: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._context = context
        self._album = context.album
        self.photo_id = photo_id
        self._faces: dict[int, FaceInfo] = {}
        self.canvas = FaceCanvas()
        self.canvas.set_message("Loading…")
        self.caption = QLabel()
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.caption)
        self.resize(1000, 760)
        self.setWindowTitle("Photo")
        self.canvas.face_clicked.connect(self._face_menu)
        QShortcut(QKeySequence.StandardKey.Close, self, self.close)
        QShortcut(QKeySequence(NOT_A_FACE_KEY), self, self.toggle_pointed_not_a_face)
        context.data_changed.connect(self.reload)
        context.album_changed.connect(lambda _a: self.close())
        self.reload()

    def reload(self) -> None:
        album, pid = self._album, self.photo_id
        if album is None:
            return
        run_task(lambda: _load(album, pid), self._loaded, self._failed, owner=self)

    def _loaded(self, result: tuple[PhotoInfo, QImage, list[FaceInfo]]) -> None:
        info, image, faces = result
        self._faces = {f.id: f for f in faces}
        self.setWindowTitle(Path(info.display_path).name)
        names = sorted({f.person_name for f in faces if f.person_name})
        shown = ", ".join(names) if names else "nobody named yet"
        taken = f" · {info.taken_at[:10]}" if info.taken_at else ""
        path = Path(info.path)
        not_faces = sum(f.not_a_face for f in faces)
        counted = plural(len(faces) - not_faces, "face") + (
            f" (and {not_faces} not a face)" if not_faces else ""
        )
        # Folder and file name: enough to find it; the whole path is in the tooltip.
        self.caption.setText(f"{path.parent.name} / {path.name}{taken} · {counted} · {shown}")
        self.caption.setToolTip(str(path))
        self.canvas.set_picture(
            QPixmap.fromImage(image),
            [
                CanvasFace(
                    f.id,
                    f.box,
                    NOT_A_FACE_TEXT if f.not_a_face else f.person_name or "",
                    f.not_a_face,
                )
                for f in faces
            ],
        )

    def _failed(self, error: BaseException) -> None:
        self.canvas.set_message(f"This photo cannot be shown.\n{error}")

    def _face_menu(self, face_id: int, pos: QPointF) -> None:
        face = self._faces.get(face_id)
        if face is None:
            return
        self.canvas.set_selected(face_id)
        menu = self.face_menu(face)
        menu.exec(pos.toPoint())
        menu.deleteLater()
        if self.isVisible():
            self.canvas.set_selected(None)

    def face_menu(self, face: FaceInfo) -> QMenu:
        """What can be done to one face of the photo."""
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        has = self._context.has
        who = face.person_name
        name_action = menu.addAction(f"Not {who}? Rename…" if who else "Name this face…")
        name_action.setEnabled(has("people"))
        name_action.triggered.connect(lambda: self._name(face))
        if who:
            wrong = menu.addAction(f"This is not {who}")
            wrong.setEnabled(has("remove_faces"))
            wrong.triggered.connect(
                lambda: self._context.act(lambda a: a.remove_faces([face.id]), f"Removed {who}")
            )
        # The key is the viewer's own shortcut (on the face under the pointer), shown here.
        if face.not_a_face:
            verdict = menu.addAction(f"{IS_A_FACE_TEXT}\t{NOT_A_FACE_KEY}")
            verdict.setEnabled(has("unmark_not_a_face"))
        else:
            verdict = menu.addAction(f"{NOT_A_FACE_TEXT}\t{NOT_A_FACE_KEY}")
            verdict.setEnabled(has("mark_not_a_face"))
        verdict.setToolTip("A pet, a poster or a pattern: never grouped, suggested or found")
        verdict.triggered.connect(lambda: self.toggle_not_a_face(face.id))
        similar = menu.addAction("Find similar faces")
        similar.triggered.connect(lambda: self._find_similar(face.id))
        menu.addSeparator()
        menu.addAction("Open with the system viewer").triggered.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(face.photo))
        )
        return menu

    def toggle_not_a_face(self, face_id: int) -> None:
        """Mark a face as not a face, or take the mark back (both undoable)."""
        face = self._faces.get(face_id)
        if face is None:
            return
        if face.not_a_face:
            unmark_faces(self._context, [face_id], self)
        else:
            mark_faces(self._context, [face_id], self)

    def toggle_pointed_not_a_face(self) -> None:
        pointed = self.canvas.hovered_key
        if pointed is None:
            self._context.status_message.emit(
                f"Point at a face, then press {NOT_A_FACE_KEY} to say it is not a face"
            )
            return
        self.toggle_not_a_face(pointed)

    def _find_similar(self, face_id: int) -> None:
        self._context.find_similar_face.emit(face_id)

    def _name(self, face: FaceInfo) -> None:
        album = self._album
        run_task(
            lambda: [p.name for p in album.people(include_hidden=True)],
            lambda names: self._ask_name(face, names),
            owner=self,
        )

    def _ask_name(self, face: FaceInfo, names: list[str]) -> None:
        dialog = NameDialog(names, "Name this face", face.person_name or "", self)
        if dialog.exec() == QDialog.DialogCode.Accepted and dialog.name():
            name = dialog.name()
            self._context.act(lambda a: name_face(a, face, name), f"Named {name}", owner=self)
