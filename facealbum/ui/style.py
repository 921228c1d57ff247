"""Shared look: placeholder images, the style sheet and small text formatters."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPixmap

from facealbum.model import PHOTO_EXTENSIONS, similarity

ACCENT = "#2a8c9e"

STYLE_SHEET = f"""
QListWidget#sidebar {{
    background: palette(window); border: none; font-size: 14px; outline: 0;
}}
QListWidget#sidebar::item {{ padding: 10px 14px; border-radius: 6px; margin: 2px 6px; }}
QListWidget#sidebar::item:selected {{ background: {ACCENT}; color: white; }}
QLabel[role="title"] {{ font-size: 20px; font-weight: 600; }}
QLabel[role="hint"] {{ color: #555; }}
QPushButton[role="primary"] {{
    background: {ACCENT}; color: white; padding: 8px 18px; border-radius: 6px;
    font-weight: 600; border: none;
}}
QPushButton[role="primary"]:hover {{ background: #237686; }}
QLabel[role="maybe"] {{ font-size: 15px; font-weight: 600; color: #8a6d1f; }}
QListView#maybeResults {{ background: #fbf6e9; border: 1px dashed #d8c48f; }}
QToolButton[role="problem"] {{ color: #a33; font-weight: 600; border: none; }}
"""


@lru_cache(maxsize=8)
def placeholder_pixmap(size: int) -> QPixmap:
    """A soft grey tile shown until a thumbnail arrives (needs a QGuiApplication)."""
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(128, 128, 128, 40))
    p.drawRoundedRect(QRectF(4, 4, size - 8, size - 8), 8, 8)
    p.end()
    return pm


def format_duration(seconds: float | None) -> str:
    """'about 3 min left' style: rough on purpose, estimates jump around."""
    if seconds is None:
        return ""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s left"
    if seconds < 3600:
        return f"{round(seconds / 60)} min left"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min left"


def similarity_percent(distance: float, tolerance: float) -> int:
    """model.similarity as a whole percentage: 100 = identical encodings, 50 = at the
    tolerance, 0 = twice as far (the look-alike camera's reach)."""
    return int(round(similarity(distance, tolerance) * 100))


def photo_file_filter() -> str:
    """A file dialog's filter for every kind of photo facealbum reads."""
    patterns = " ".join(f"*{ext}" for ext in sorted(PHOTO_EXTENSIONS))
    return f"Photos ({patterns});;All files (*)"


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"
