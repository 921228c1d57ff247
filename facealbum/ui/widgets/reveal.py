"""The reveal: your face beside your look-alike's, as one picture to keep or to share.

render_pair() draws it with QPainter into a QImage from the two RGB face crops and the
caption, and nothing else (no widget, no library: a test can look at its pixels);
RevealCard shows it on the Look-alike page with Save pair… and Copy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QImage,
    QPainter,
    QPainterPath,
    QPixmap,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from facealbum.model import Box
from facealbum.ui.dialogs.messages import show_error
from facealbum.ui.style import ACCENT
from facealbum.ui.widgets.camera import frame_to_qimage
from facealbum.ui.widgets.thumbnails import FACE_MARGIN

FACE_PIXELS = 320  # each face of the picture, cropped square around it
PAD = 28
LABEL_GAP = 10
BACKGROUND = QColor(29, 31, 36)
LABELS = ("You", "Your look-alike")
PNG_FILTER = "PNG image (*.png)"
JPEG_FILTER = "JPEG image (*.jpg *.jpeg)"
_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
SHOWN_WIDTH = 300  # the card on the page; the picture itself keeps its full size


def face_crop(rgb: np.ndarray, box: Box, size: int = FACE_PIXELS) -> np.ndarray:
    """A square crop around a face of an RGB picture, `size` pixels wide, with the margin
    of the library's face thumbnails (beyond the picture's edge: black)."""
    h, w = rgb.shape[:2]
    cx, cy = (box.left + box.right) / 2 * w, (box.top + box.bottom) / 2 * h
    half = max((box.right - box.left) * w, (box.bottom - box.top) * h) * (0.5 + FACE_MARGIN)
    half = max(half, 1.0)
    crop = Image.fromarray(np.ascontiguousarray(rgb[:, :, :3])).crop(
        (int(cx - half), int(cy - half), int(cx + half), int(cy + half))
    )
    return np.asarray(crop.resize((size, size), Image.Resampling.LANCZOS))


def render_pair(
    you: np.ndarray, match: np.ndarray, caption: str, similarity: str, face: int = FACE_PIXELS
) -> QImage:
    """Two face crops side by side at the same size, a label under each, then the caption
    (wrapped) and the similarity ("61% alike") beneath (needs a QGuiApplication)."""
    width = 2 * face + 3 * PAD
    text_width = width - 2 * PAD
    label_font, caption_font, similarity_font = QFont(), QFont(), QFont()
    label_font.setPixelSize(15)
    caption_font.setPixelSize(22)
    caption_font.setBold(True)
    similarity_font.setPixelSize(19)
    flags = Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap
    caption_rect = QFontMetrics(caption_font).boundingRect(
        QRect(0, 0, text_width, 10_000), flags, caption
    )
    label_h = QFontMetrics(label_font).height()
    similarity_h = QFontMetrics(similarity_font).height()
    caption_top = PAD + face + LABEL_GAP + label_h + PAD // 2
    height = caption_top + caption_rect.height() + 6 + similarity_h + PAD

    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(BACKGROUND)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    for n, (pixels, label) in enumerate(zip((you, match), LABELS, strict=True)):
        target = QRectF(PAD + n * (face + PAD), PAD, face, face)
        qimage, _keep = frame_to_qimage(np.ascontiguousarray(pixels[:, :, :3]))
        path = QPainterPath()
        path.addRoundedRect(target, 14, 14)
        p.save()
        p.setClipPath(path)
        p.drawImage(target, qimage)
        p.restore()
        p.setFont(label_font)
        p.setPen(QColor(190, 194, 202))
        p.drawText(
            QRectF(target.left(), target.bottom() + LABEL_GAP, face, label_h),
            Qt.AlignmentFlag.AlignHCenter,
            label,
        )
    p.setFont(caption_font)
    p.setPen(QColor("white"))
    p.drawText(QRect(PAD, caption_top, text_width, caption_rect.height()), flags, caption)
    p.setFont(similarity_font)
    p.setPen(QColor(ACCENT).lighter(150))
    p.drawText(
        QRect(PAD, caption_top + caption_rect.height() + 6, text_width, similarity_h),
        Qt.AlignmentFlag.AlignHCenter,
        similarity,
    )
    p.end()
    return image


def save_image(image: QImage, path: str | Path, default_suffix: str = ".png") -> Path:
    """Write the picture as PNG or JPEG, by the file's extension (none: `default_suffix`
    is added). Returns where it went; ValueError for another extension, OSError when the
    file could not be written."""
    path = Path(path)
    if not path.suffix:
        path = path.with_name(path.name + default_suffix)
    kind = _FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"{path.name}: save the pair as .png or .jpg")
    if not image.save(str(path), kind, 92 if kind == "JPEG" else -1):
        raise OSError(f"could not write {path}")
    return path


class RevealCard(QWidget):
    """The pair, as soon as a match holds, with Save pair… and Copy."""

    saved = Signal(object)  # the Path written

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self.caption = ""  # "Portrait of a Young Man, Frans Hals, 1650 · 61% alike"
        title = QLabel("Your look-alike")
        bold = title.font()
        bold.setBold(True)
        bold.setPointSizeF(bold.pointSizeF() * 1.2)
        title.setFont(bold)
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.save_button = QPushButton("Save pair…")
        self.save_button.setToolTip("Save the two faces as one picture (PNG or JPEG)")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Put the two faces on the clipboard as one picture")
        self.save_button.clicked.connect(self.choose_file)
        self.copy_button.clicked.connect(self.copy)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.copy_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 8)
        layout.addWidget(title)
        layout.addWidget(self.picture)
        layout.addLayout(buttons)
        self.setFixedWidth(SHOWN_WIDTH)
        self.set_pair(None)

    def image(self) -> QImage | None:
        return self._image

    def set_pair(self, image: QImage | None, caption: str = "") -> None:
        """Show this pair (None: none yet; the card hides)."""
        self._image, self.caption = image, caption
        self.setVisible(image is not None)
        if image is None:
            self.picture.clear()
            return
        shown = image.scaledToWidth(SHOWN_WIDTH, Qt.TransformationMode.SmoothTransformation)
        self.picture.setPixmap(QPixmap.fromImage(shown))
        self.picture.setFixedHeight(shown.height())
        self.picture.setToolTip(caption)

    def choose_file(self) -> None:
        if self._image is None:
            return
        path, chosen = QFileDialog.getSaveFileName(
            self,
            "Save the pair",
            str(Path.home() / "lookalike.png"),
            f"{PNG_FILTER};;{JPEG_FILTER}",
        )
        if path:
            self.save(path, ".jpg" if chosen == JPEG_FILTER else ".png")

    def save(self, path: str | Path, default_suffix: str = ".png") -> Path | None:
        if self._image is None:
            return None
        try:
            written = save_image(self._image, path, default_suffix)
        except (OSError, ValueError) as e:
            show_error(self, "The pair was not saved", str(e))
            return None
        self.saved.emit(written)
        return written

    def copy(self) -> None:
        if self._image is not None:
            QGuiApplication.clipboard().setImage(self._image)
