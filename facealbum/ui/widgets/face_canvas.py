"""A picture scaled to fit, with labelled face boxes that can be clicked."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QMouseEvent, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from facealbum.model import Box
from facealbum.ui.style import ACCENT

NOT_A_FACE_COLOR = "#9a9a9a"  # marked "not a face": drawn dashed and grey, set apart


@dataclass(frozen=True)
class CanvasFace:
    key: int  # a face id, or an index into a list of faces
    box: Box
    label: str  # "" for an unnamed face
    not_a_face: bool = False  # the user said it is none: its label says so instead


class FaceCanvas(QWidget):
    """Shows a pixmap with face boxes; ``face_clicked(key, global_pos)`` on a click;
    ``hovered_key`` is the face under the pointer (None when there is none)."""

    face_clicked = Signal(int, QPointF)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pixmap: QPixmap | None = None
        self._faces: list[CanvasFace] = []
        self._selected: int | None = None
        self.hovered_key: int | None = None
        self._message = ""
        self.setMinimumSize(240, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)

    def set_message(self, text: str) -> None:
        self._pixmap, self._faces, self._message = None, [], text
        self.hovered_key = None
        self.update()

    def set_picture(self, pixmap: QPixmap, faces: list[CanvasFace]) -> None:
        self._pixmap, self._faces, self._message = pixmap, faces, ""
        if self.hovered_key not in {f.key for f in faces}:
            self.hovered_key = None
        self.update()

    def faces(self) -> list[CanvasFace]:
        return list(self._faces)

    def set_selected(self, key: int | None) -> None:
        self._selected = key
        self.update()

    def _image_rect(self) -> QRectF:
        if self._pixmap is None or self._pixmap.isNull():
            return QRectF()
        pw, ph = self._pixmap.width(), self._pixmap.height()
        scale = min(self.width() / pw, self.height() / ph)
        w, h = pw * scale, ph * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def _face_rect(self, box: Box, area: QRectF) -> QRectF:
        return QRectF(
            area.left() + box.left * area.width(),
            area.top() + box.top * area.height(),
            (box.right - box.left) * area.width(),
            (box.bottom - box.top) * area.height(),
        )

    def face_at(self, pos: QPointF) -> CanvasFace | None:
        area = self._image_rect()
        hits = [f for f in self._faces if self._face_rect(f.box, area).contains(pos)]
        return min(hits, key=lambda f: f.box.area) if hits else None

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if self._pixmap is None:
            p.setPen(self.palette().color(self.foregroundRole()))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._message)
            return
        area = self._image_rect()
        p.drawPixmap(area.toRect(), self._pixmap)
        metrics = QFontMetrics(self.font())
        for face in self._faces:
            rect = self._face_rect(face.box, area)
            chosen = face.key == self._selected
            color = QColor("#ff7a2f") if chosen else QColor(ACCENT if face.label else "#ffffff")
            pen = QPen(color, 3 if chosen else 2)
            if face.not_a_face and not chosen:
                pen = QPen(QColor(NOT_A_FACE_COLOR), 2, Qt.PenStyle.DashLine)
            p.setPen(pen)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(rect, 4, 4)
            text = face.label or "Unnamed"
            tw = metrics.horizontalAdvance(text) + 10
            tag = QRectF(rect.left(), rect.bottom() + 3, tw, metrics.height() + 4)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(0, 0, 0, 160))
            p.drawRoundedRect(tag, 3, 3)
            p.setPen(QColor("white"))
            p.drawText(tag, Qt.AlignmentFlag.AlignCenter, text)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        over = self.face_at(event.position())
        self.hovered_key = over.key if over is not None else None
        self.setCursor(Qt.CursorShape.PointingHandCursor if over else Qt.CursorShape.ArrowCursor)

    def leaveEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.hovered_key = None
        super().leaveEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        face = self.face_at(event.position())
        if face is not None and event.button() == Qt.MouseButton.LeftButton:
            self.face_clicked.emit(face.key, event.globalPosition())
