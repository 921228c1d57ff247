"""The application icon, drawn in code so that an installed package never lacks it.

The same drawing is written to resources/ as PNGs (and an .ico for the Windows bundle)
by ``python -m facealbum.ui.icon OUTPUT_DIR``; resources/facealbum.svg is its vector twin.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QIcon,
    QImage,
    QLinearGradient,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
)

ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render_icon(size: int) -> QImage:
    """The icon on a transparent square of ``size`` pixels (the SVG uses a 256 grid)."""
    img = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(Qt.GlobalColor.transparent)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.scale(size / 256, size / 256)
    # Rounded tile with a warm-to-teal gradient.
    grad = QLinearGradient(0, 0, 256, 256)
    grad.setColorAt(0, QColor("#ff9a5a"))
    grad.setColorAt(1, QColor("#2a8c9e"))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QBrush(grad))
    p.drawRoundedRect(QRectF(8, 8, 240, 240), 52, 52)
    # A photo print, slightly tilted.
    p.save()
    p.translate(128, 132)
    p.rotate(-6)
    p.setBrush(QColor("#fffaf2"))
    p.drawRoundedRect(QRectF(-84, -84, 168, 168), 14, 14)
    p.setBrush(QColor("#cfe7ea"))
    p.drawRect(QRectF(-70, -70, 140, 140))
    # A person: head and shoulders.
    p.setBrush(QColor("#2a6f7e"))
    p.drawEllipse(QPointF(0, -14), 30, 34)
    shoulders = QPainterPath()
    shoulders.moveTo(-58, 70)
    shoulders.cubicTo(-54, 28, -28, 22, 0, 22)
    shoulders.cubicTo(28, 22, 54, 28, 58, 70)
    shoulders.closeSubpath()
    p.drawPath(shoulders)
    # Face-detection corner brackets around the head.
    pen = QPen(QColor("#ff7a2f"), 9, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    for sx, sy in ((-1, -1), (1, -1), (-1, 1), (1, 1)):
        x, y = 44 * sx, -14 + 48 * sy
        p.drawLine(QPointF(x, y), QPointF(x - 16 * sx, y))
        p.drawLine(QPointF(x, y), QPointF(x, y - 16 * sy))
    p.restore()
    p.end()
    return img


def app_icon() -> QIcon:
    """The icon at every size, for the window and the task bar (needs a QGuiApplication)."""
    icon = QIcon()
    for size in ICON_SIZES:
        icon.addPixmap(QPixmap.fromImage(render_icon(size)))
    return icon


def write_icon_files(directory: Path) -> list[Path]:
    """Write facealbum-<size>.png for every size, facealbum.png and facealbum.ico."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for size in ICON_SIZES:
        path = directory / f"facealbum-{size}.png"
        render_icon(size).save(str(path))
        written.append(path)
    main = directory / "facealbum.png"
    render_icon(256).save(str(main))
    written.append(main)
    from PIL import Image

    ico = directory / "facealbum.ico"
    with Image.open(main) as im:
        im.save(ico, sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    written.append(ico)
    return written


if __name__ == "__main__":  # regenerate resources/ after changing the drawing
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication(sys.argv[:1])
    for written_path in write_icon_files(Path(sys.argv[1] if len(sys.argv) > 1 else "resources")):
        print(written_path)
