"""Pictures stored the way a camera stores them for each EXIF orientation."""

from __future__ import annotations

from PIL import Image

# The transposition that turns an upright picture into the pixels a camera stores
# with each EXIF orientation (the inverse of what a viewer applies).
TO_STORED = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def as_stored(upright: Image.Image, orientation: int) -> Image.Image:
    """The pixels a camera writes for `upright` when it tags them with `orientation`."""
    method = TO_STORED[orientation]
    return upright if method is None else upright.transpose(method)
