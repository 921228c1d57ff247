"""The live picture: the newest frame of a LivePipeline with face boxes and look-alike cards.

The view polls the pipeline's newest frame at screen rate; older frames were already
dropped by the pipeline, so drawing never lags behind the camera. Thumbnails of the
matched faces come from an ImageLoader (thumbnail pool) and repaint when they arrive.
"""

from __future__ import annotations

from collections.abc import Hashable

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from facealbum.album.live import LiveFace, LiveFrame, LiveMatch, LivePipeline
from facealbum.config import Settings
from facealbum.ui.style import ACCENT, similarity_percent
from facealbum.ui.widgets.image_loader import ImageLoader

POLL_MS = 15  # look for a new frame about 60 times a second
CARD_THUMB = 44  # face thumbnails beside each live face
PANEL_THUMB = 88  # ...and in the side panel
THUMB_PIXELS = 96  # thumbnails are made once at this size and scaled down


class MatchThumbnails:
    """Face crops of the library being matched against, keyed by (library, face id)."""

    def __init__(self, loader: ImageLoader) -> None:
        self.loader = loader
        self.library_key: Hashable = None

    def key(self, face_id: int) -> Hashable:
        return (self.library_key, face_id)

    def request(self, matches: tuple[LiveMatch, ...]) -> None:
        for m in matches:
            self.loader.request(self.key(m.match.face_id), m.match.photo, THUMB_PIXELS, m.match.box)

    def pixmap(self, face_id: int) -> QPixmap | None:
        return self.loader.pixmap(self.key(face_id))

    def draw(
        self, p: QPainter, rect: QRectF, face_id: int, radius: float, empty_alpha: int
    ) -> None:
        """The face's thumbnail in `rect` with rounded corners; a grey tile until it arrives."""
        path = QPainterPath()
        path.addRoundedRect(rect, radius, radius)
        pm = self.pixmap(face_id)
        p.save()
        p.setClipPath(path)
        if pm is None:
            p.fillRect(rect, QColor(128, 128, 128, empty_alpha))
        else:
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            p.drawPixmap(rect.toRect(), pm)
        p.restore()


def frame_to_qimage(rgb: np.ndarray) -> tuple[QImage, np.ndarray]:
    """A QImage of the frame and the pixels it uses (keep them alive while it is drawn).

    32-bit pixels: Qt scales them several times faster than 24-bit RGB (about 2 ms
    instead of 5-6 ms for a full-screen frame), and the conversion costs well under 1 ms.
    """
    bgra = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA)
    h, w = bgra.shape[:2]
    return QImage(bgra.data, w, h, bgra.strides[0], QImage.Format.Format_RGB32), bgra


def match_label(m: LiveMatch) -> str:
    return m.name or "Unnamed"


def photo_name(m: LiveMatch) -> str:
    return m.match.photo.replace("\\", "/").rsplit("/", 1)[-1]


class CameraView(QWidget):
    """Draws the newest frame, a box on every face and its best matches beside it."""

    frame_shown = Signal(int)  # seq of the frame just drawn
    matches_changed = Signal(object)  # the largest face's matches, when they change

    def __init__(self, thumbnails: MatchThumbnails, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 200)
        self._thumbs = thumbnails
        self._thumbs.loader.ready.connect(lambda _key: self.update())
        self._pipeline: LivePipeline | None = None
        self._frame: LiveFrame | None = None
        self._image: QImage | None = None
        self._pixels: np.ndarray | None = None  # the memory under _image
        self._last_main: tuple = ()
        self.tolerance = Settings.tolerance  # the library's, once one is chosen
        self.displayed_frames = 0
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(800, 450)

    def set_pipeline(self, pipeline: LivePipeline | None) -> None:
        self._pipeline = pipeline
        self._frame, self._image, self._last_main = None, None, ()
        if pipeline is None:
            self._timer.stop()
        else:
            self._timer.start()
        self.update()

    def current_frame(self) -> LiveFrame | None:
        return self._frame

    def _poll(self) -> None:
        pipeline = self._pipeline
        frame = pipeline.latest() if pipeline is not None else None
        if frame is None or (self._frame is not None and frame.seq == self._frame.seq):
            return
        self._frame = frame
        self._image, self._pixels = frame_to_qimage(frame.rgb)
        for face in frame.faces:
            self._thumbs.request(face.matches)
        main = max(frame.faces, key=lambda f: f.box.area).matches if frame.faces else ()
        key = tuple((m.match.face_id, round(m.match.distance, 3)) for m in main)
        if key != self._last_main:
            self._last_main = key
            self.matches_changed.emit(main)
        self.displayed_frames += 1
        self.update()
        self.frame_shown.emit(frame.seq)

    # -- painting ---------------------------------------------------------------------

    def _image_rect(self) -> QRectF:
        assert self._image is not None
        iw, ih = self._image.width(), self._image.height()
        scale = min(self.width() / iw, self.height() / ih)
        w, h = iw * scale, ih * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(24, 24, 26))
        if self._image is None or self._frame is None:
            p.end()
            return
        target = self._image_rect()
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.drawImage(target, self._image)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        for face in self._frame.faces:
            self._draw_face(p, target, face)
        p.end()

    def _draw_face(self, p: QPainter, target: QRectF, face: LiveFace) -> None:
        b = face.box
        rect = QRectF(
            target.left() + b.left * target.width(),
            target.top() + b.top * target.height(),
            (b.right - b.left) * target.width(),
            (b.bottom - b.top) * target.height(),
        )
        p.setPen(QPen(QColor(ACCENT), 3))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRoundedRect(rect, 6, 6)
        if face.matches:
            self._draw_card(p, target, rect, face.matches)

    def _draw_card(
        self, p: QPainter, target: QRectF, face: QRectF, matches: tuple[LiveMatch, ...]
    ) -> None:
        row, pad, text_w = CARD_THUMB + 6, 6, 120
        w, h = CARD_THUMB + text_w + 3 * pad, len(matches) * row + pad
        x = face.right() + 10
        if x + w > self.width():  # no room on the right: the left side
            x = max(0.0, face.left() - 10 - w)
        y = min(max(0.0, face.top()), max(0.0, self.height() - h))
        card = QRectF(x, y, w, h)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(20, 20, 22, 200))
        p.drawRoundedRect(card, 8, 8)
        small, bold, italic = QFont(self.font()), QFont(self.font()), QFont(self.font())
        bold.setBold(True)
        italic.setItalic(True)
        for i, m in enumerate(matches):
            top = y + pad + i * row
            thumb = QRectF(x + pad, top, CARD_THUMB, CARD_THUMB)
            self._thumbs.draw(p, thumb, m.match.face_id, radius=6, empty_alpha=90)
            text_x = thumb.right() + pad
            # Unnamed faces are told apart by their photo, in a quieter style than names.
            p.setPen(QColor("white") if m.name else QColor(200, 200, 200))
            p.setFont(bold if m.name else italic)
            label = m.name or photo_name(m)
            name = p.fontMetrics().elidedText(label, Qt.TextElideMode.ElideMiddle, text_w)
            p.drawText(QPointF(text_x, top + 17), name)
            p.setFont(small)
            p.setPen(QColor(210, 230, 235))
            percent = similarity_percent(m.match.distance, self.tolerance)
            p.drawText(QPointF(text_x, top + 36), f"{percent}% alike")


class MatchPanel(QWidget):
    """The best look-alikes of the largest face, big enough to recognise."""

    def __init__(self, thumbnails: MatchThumbnails, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._thumbs = thumbnails
        self._thumbs.loader.ready.connect(lambda _key: self.update())
        self._matches: tuple[LiveMatch, ...] = ()
        self.tolerance = Settings.tolerance  # the library's, once one is chosen
        self.placeholder = "Look-alikes appear here when a face is in view."
        self.setMinimumWidth(240)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)

    def set_matches(self, matches: tuple[LiveMatch, ...]) -> None:
        if matches or not self._matches:
            self._matches = tuple(matches)
        self.update()  # keeps the last look-alikes while the face is briefly lost

    def clear(self) -> None:
        self._matches = ()
        self.update()

    def matches(self) -> tuple[LiveMatch, ...]:
        return self._matches

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        title = QFont(self.font())
        title.setBold(True)
        title.setPointSizeF(self.font().pointSizeF() * 1.2)
        p.setFont(title)
        p.setPen(pal.windowText().color())
        p.drawText(QPointF(12, 24), "Best look-alikes")
        p.setFont(self.font())
        if not self._matches:
            p.setPen(pal.placeholderText().color())
            p.drawText(
                QRectF(12, 40, self.width() - 24, 80), Qt.TextFlag.TextWordWrap, self.placeholder
            )
            p.end()
            return
        y = 40.0
        for m in self._matches:
            self._draw_row(p, y, m)
            y += PANEL_THUMB + 14
        p.end()

    def _draw_row(self, p: QPainter, y: float, m: LiveMatch) -> None:
        rect = QRectF(12, y, PANEL_THUMB, PANEL_THUMB)
        self._thumbs.draw(p, rect, m.match.face_id, radius=8, empty_alpha=60)
        x, width = rect.right() + 12, self.width() - rect.right() - 24
        bold = QFont(self.font())
        bold.setBold(True)
        p.setFont(bold)
        p.setPen(self.palette().windowText().color())
        name = p.fontMetrics().elidedText(match_label(m), Qt.TextElideMode.ElideRight, int(width))
        p.drawText(QPointF(x, y + 20), name)
        p.setFont(self.font())
        percent = similarity_percent(m.match.distance, self.tolerance)
        p.setPen(QColor(ACCENT))
        p.drawText(QPointF(x, y + 42), f"{percent}% alike")
        self._draw_bar(p, QRectF(x, y + 50, width, 6), percent / 100)
        p.setPen(self.palette().placeholderText().color())
        photo = photo_name(m)
        p.drawText(
            QPointF(x, y + 76),
            p.fontMetrics().elidedText(photo, Qt.TextElideMode.ElideMiddle, int(width)),
        )

    @staticmethod
    def _draw_bar(p: QPainter, rect: QRectF, fraction: float) -> None:
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(128, 128, 128, 60))
        p.drawRoundedRect(rect, 3, 3)
        p.setBrush(QColor(ACCENT))
        p.drawRoundedRect(QRectF(rect.left(), rect.top(), rect.width() * fraction, 6), 3, 3)
