"""The live picture: the newest frame of a LivePipeline with face boxes and look-alike cards.

The view polls the pipeline's newest frame at screen rate; older frames were already
dropped by the pipeline, so drawing never lags behind the camera (or it shows one still
photo with its faces). Thumbnails of the matched faces come from an ImageLoader
(thumbnail pool), their titles from the library (Album.artwork, read once per photo on
the same pool); both repaint when they arrive.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
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
from facealbum.ui.tasks import run_task
from facealbum.ui.widgets.image_loader import ImageLoader

if TYPE_CHECKING:
    from facealbum.album import Album

POLL_MS = 15  # look for a new frame about 60 times a second
# A matched photo's caption is read again this long after the last read (Album.artwork
# reads its files again only when they changed: a stat or two on a worker thread).
CAPTION_FRESH_S = 10.0
CARD_THUMB = 44  # face thumbnails beside each live face
PANEL_THUMB = 88  # ...and in the side panel
THUMB_PIXELS = 96  # thumbnails are made once at this size and scaled down
PANEL_WIDTH = 300
TITLE_LINES = 3  # a portrait's title, maker and date wrap over at most this many lines


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


def photo_name(m: LiveMatch) -> str:
    return m.match.photo.replace("\\", "/").rsplit("/", 1)[-1]


class MatchCaptions(QObject):
    """What each matched photo is called: "Portrait of a Young Man, Frans Hals, 1650" from
    the collection's metadata, else a title made from its file name (Album.artwork, read
    off the GUI thread). The file name stands in until it arrives. A photo still matched
    CAPTION_FRESH_S later is asked for again, so that an edited collection.csv shows while
    the camera runs; the last caption stays up meanwhile."""

    ready = Signal()

    def __init__(
        self, parent: QObject | None = None, now: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(parent)
        self._album: Album | None = None
        self._captions: dict[int, str] = {}  # photo id -> caption
        self._asked: dict[int, float] = {}  # photo id -> when its caption was last asked for
        self._now = now
        self._generation = 0

    def set_album(self, album: Album | None) -> None:
        self._album = album
        self._captions.clear()
        self._asked.clear()
        self._generation += 1

    def request(self, matches: tuple[LiveMatch, ...]) -> None:
        now = self._now()
        for m in matches:
            asked = self._asked.get(m.match.photo_id)
            if asked is None or now - asked >= CAPTION_FRESH_S:
                self._fetch(m.match.photo_id, now)

    def _fetch(self, photo_id: int, now: float) -> None:
        album, generation = self._album, self._generation
        if album is None:
            return
        self._asked[photo_id] = now  # asked for: not again until it may have changed
        run_task(
            lambda: album.artwork(photo_id).caption(),
            lambda caption: self._arrived(generation, photo_id, caption),
            owner=self,
            pool_name="thumbs",
        )

    def _arrived(self, generation: int, photo_id: int, caption: str) -> None:
        if generation == self._generation and self._captions.get(photo_id) != caption:
            self._captions[photo_id] = caption
            self.ready.emit()

    def caption(self, m: LiveMatch) -> str:
        return self._captions.get(m.match.photo_id) or photo_name(m)

    def title(self, m: LiveMatch) -> str:
        """The person's name where the library has one, else the photo's caption."""
        return m.name or self.caption(m)


def wrap_lines(fm: QFontMetrics, text: str, width: int, most: int) -> list[str]:
    """`text` broken into lines at most `width` wide, at most `most` of them: the last one
    elided when it does not all fit."""
    lines: list[str] = []
    words = text.split()
    while words and len(lines) < most:
        n = 1
        while n < len(words) and fm.horizontalAdvance(" ".join(words[: n + 1])) <= width:
            n += 1
        line, words = " ".join(words[:n]), words[n:]
        if words and len(lines) == most - 1:
            line = " ".join([line, *words])
            words = []
        lines.append(fm.elidedText(line, Qt.TextElideMode.ElideRight, width))
    return lines


class CameraView(QWidget):
    """Draws the newest frame, a box on every face and its best matches beside it."""

    frame_shown = Signal(int)  # seq of the frame just drawn
    matches_changed = Signal(object)  # the largest face's matches, when they change

    def __init__(
        self,
        thumbnails: MatchThumbnails,
        captions: MatchCaptions,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 200)
        self._thumbs = thumbnails
        self._thumbs.loader.ready.connect(lambda _key: self.update())
        self._captions = captions
        captions.ready.connect(self.update)
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

    def show_still(self, frame: LiveFrame) -> None:
        """One picture with its faces and matches (a photo), instead of a pipeline's."""
        self.set_pipeline(None)
        self._show(frame)

    def _poll(self) -> None:
        pipeline = self._pipeline
        frame = pipeline.latest() if pipeline is not None else None
        if frame is None or (self._frame is not None and frame.seq == self._frame.seq):
            return
        self._show(frame)
        self.displayed_frames += 1
        self.frame_shown.emit(frame.seq)

    def _show(self, frame: LiveFrame) -> None:
        self._frame = frame
        self._image, self._pixels = frame_to_qimage(frame.rgb)
        for face in frame.faces:
            self._thumbs.request(face.matches)
            self._captions.request(face.matches)
        main = max(frame.faces, key=lambda f: f.box.area).matches if frame.faces else ()
        key = tuple((m.match.face_id, round(m.match.distance, 3)) for m in main)
        if key != self._last_main:
            self._last_main = key
            self.matches_changed.emit(main)
        self.update()

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
        row, pad, text_w = CARD_THUMB + 6, 6, 150
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
            # Unnamed faces are told apart by their photo's title, quieter than names.
            p.setPen(QColor("white") if m.name else QColor(200, 200, 200))
            p.setFont(bold if m.name else italic)
            label = self._captions.title(m)
            name = p.fontMetrics().elidedText(label, Qt.TextElideMode.ElideRight, text_w)
            p.drawText(QPointF(text_x, top + 17), name)
            p.setFont(small)
            p.setPen(QColor(210, 230, 235))
            percent = similarity_percent(m.match.distance, self.tolerance)
            p.drawText(QPointF(text_x, top + 36), f"{percent}% alike")


class MatchPanel(QWidget):
    """The best look-alikes of the largest face, big enough to recognise, with their titles."""

    def __init__(
        self,
        thumbnails: MatchThumbnails,
        captions: MatchCaptions,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._thumbs = thumbnails
        self._thumbs.loader.ready.connect(lambda _key: self.update())
        self._captions = captions
        captions.ready.connect(self.update)
        self._matches: tuple[LiveMatch, ...] = ()
        self.tolerance = Settings.tolerance  # the library's, once one is chosen
        self.placeholder = "Look-alikes appear here when a face is in view."
        self.setFixedWidth(PANEL_WIDTH)
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

    def lines(self) -> list[str]:
        """Each look-alike as a line of text: "Portrait of a Young Man, Frans Hals, 1650 ·
        61% alike" (a named person: "Mom · photo title · 61% alike")."""
        out = []
        for m in self._matches:
            caption = self._captions.caption(m)
            parts = [m.name, caption] if m.name and m.name != caption else [caption]
            percent = similarity_percent(m.match.distance, self.tolerance)
            out.append(" · ".join([*parts, f"{percent}% alike"]))
        return out

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
        """The face; beside it the name (if any) and the title, wrapped; then how alike."""
        rect = QRectF(12, y, PANEL_THUMB, PANEL_THUMB)
        self._thumbs.draw(p, rect, m.match.face_id, radius=8, empty_alpha=60)
        x, width = rect.right() + 12, int(self.width() - rect.right() - 24)
        bold = QFont(self.font())
        bold.setBold(True)
        ink = self.palette().windowText().color()
        lines: list[tuple[QFont, QColor, str]] = []
        font, colour = bold, ink  # an unnamed face's title stands in for the name
        if m.name:
            name = QFontMetrics(bold).elidedText(m.name, Qt.TextElideMode.ElideRight, width)
            lines.append((bold, ink, name))
            font, colour = self.font(), self.palette().placeholderText().color()
        caption = self._captions.caption(m)
        for line in wrap_lines(QFontMetrics(font), caption, width, TITLE_LINES - len(lines)):
            lines.append((font, colour, line))
        step = QFontMetrics(self.font()).height()
        for n, (font, colour, text) in enumerate(lines):
            p.setFont(font)
            p.setPen(colour)
            p.drawText(QPointF(x, y + 14 + n * step), text)
        p.setFont(self.font())
        percent = similarity_percent(m.match.distance, self.tolerance)
        p.setPen(QColor(ACCENT))
        p.drawText(QPointF(x, y + PANEL_THUMB - 14), f"{percent}% alike")
        self._draw_bar(p, QRectF(x, y + PANEL_THUMB - 7, width, 6), percent / 100)

    @staticmethod
    def _draw_bar(p: QPainter, rect: QRectF, fraction: float) -> None:
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(128, 128, 128, 60))
        p.drawRoundedRect(rect, 3, 3)
        p.setBrush(QColor(ACCENT))
        p.drawRoundedRect(QRectF(rect.left(), rect.top(), rect.width() * fraction, 6), 3, 3)
