"""The reveal picture: two face crops side by side at one size, captioned, saved by the
extension chosen; and the crop of a face from a camera frame."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pytestqt")

from PySide6.QtGui import QColor, QImage  # noqa: E402

from facealbum.model import Box  # noqa: E402
from facealbum.ui.widgets.reveal import (  # noqa: E402
    BACKGROUND,
    FACE_PIXELS,
    PAD,
    face_crop,
    render_pair,
    save_image,
)

RED, BLUE = (200, 30, 40), (20, 60, 210)


def plain(colour: tuple[int, int, int], size: int) -> np.ndarray:
    return np.full((size, size, 3), colour, np.uint8)


def pixel(image: QImage, x: float, y: float) -> tuple[int, int, int]:
    c = QColor(image.pixel(int(x), int(y)))
    return (c.red(), c.green(), c.blue())


def near(a: tuple[int, int, int], b: tuple[int, int, int], tolerance: int = 6) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def test_the_two_faces_stand_side_by_side_at_one_size_with_the_caption_beneath(qtbot):
    # A small crop and a large one: both fill a face square of the same size.
    image = render_pair(plain(RED, 90), plain(BLUE, 500), "Portrait of a Young Man", "61% alike")
    assert image.width() == 2 * FACE_PIXELS + 3 * PAD
    for n, colour in enumerate((RED, BLUE)):
        left = PAD + n * (FACE_PIXELS + PAD)
        for x, y in ((0.5, 0.5), (0.1, 0.1), (0.9, 0.9), (0.1, 0.9)):
            at = pixel(image, left + x * FACE_PIXELS, PAD + y * FACE_PIXELS)
            assert near(at, colour), (n, x, y, at)
        assert near(pixel(image, left - PAD / 2, PAD + FACE_PIXELS / 2), BACKGROUND.getRgb()[:3])

    # Beneath the faces: the caption in white, then the similarity.
    below = np.array(
        [
            [pixel(image, x, y) for x in range(0, image.width(), 2)]
            for y in range(PAD + FACE_PIXELS, image.height())
        ]
    )
    assert (below.min(axis=2) > 200).sum() > 50  # white text

    longer = render_pair(plain(RED, 90), plain(BLUE, 90), "A very long title " * 6, "61% alike")
    assert longer.height() > image.height()  # wrapped, not cut


def test_a_face_is_cropped_square_around_its_box_and_padded_at_the_edge():
    frame = np.zeros((360, 640, 3), np.uint8)
    frame[100:200, 300:380] = RED  # the face
    crop = face_crop(frame, Box(300 / 640, 100 / 360, 380 / 640, 200 / 360), size=128)
    assert crop.shape == (128, 128, 3)
    assert tuple(crop[64, 64]) == RED
    assert not crop[2, 2].any()  # the margin around it

    corner = face_crop(frame, Box(0.0, 0.0, 0.1, 0.1), size=64)  # half outside the frame
    assert corner.shape == (64, 64, 3)


def test_the_pair_is_saved_as_png_or_jpeg_by_the_extension(qtbot, tmp_path):
    image = render_pair(plain(RED, 64), plain(BLUE, 64), "Self-Portrait", "40% alike")
    cases = (("pair.png", ".jpg", "PNG"), ("pair.JPG", ".png", "JPEG"), ("pair", ".jpg", "JPEG"))
    for name, default, kind in cases:
        written = save_image(image, tmp_path / name, default)
        with Image.open(written) as saved:
            assert saved.format == kind
            assert saved.size == (image.width(), image.height())
    assert (tmp_path / "pair.jpg").is_file()  # no extension: the default one added
    with pytest.raises(ValueError, match=r"\.png or \.jpg"):
        save_image(image, tmp_path / "pair.gif")
    with pytest.raises(OSError):
        save_image(image, tmp_path / "no such folder" / "pair.png")
