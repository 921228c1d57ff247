"""Map normalised boxes between a photo's stored pixels and its upright (displayed) view.

MWG regions describe the stored image ("region metadata is applied to the stored
image; when applying Exif Orientation the rotation must be applied to the regions
as well"), while facealbum keeps boxes of the upright photo.
"""

from __future__ import annotations

from facealbum.model import Box

# Orientations whose upright view swaps width and height.
SWAPS_AXES = frozenset((5, 6, 7, 8))


def valid_orientation(value: object) -> int:
    """The EXIF orientation as 1..8; anything else (0, missing, garbage) means upright."""
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 1
    return number if 1 <= number <= 8 else 1


def stored_size(width: int, height: int, orientation: int) -> tuple[int, int]:
    """Stored pixel size of a photo whose upright size is width x height (and vice versa)."""
    return (height, width) if orientation in SWAPS_AXES else (width, height)


def _to_upright(x: float, y: float, orientation: int) -> tuple[float, float]:
    # Where a stored point appears once the orientation is applied (EXIF 0th row/column rules).
    return {
        1: (x, y),
        2: (1 - x, y),
        3: (1 - x, 1 - y),
        4: (x, 1 - y),
        5: (y, x),
        6: (1 - y, x),
        7: (1 - y, 1 - x),
        8: (y, 1 - x),
    }[orientation]


def _to_stored(u: float, v: float, orientation: int) -> tuple[float, float]:
    return {
        1: (u, v),
        2: (1 - u, v),
        3: (1 - u, 1 - v),
        4: (u, 1 - v),
        5: (v, u),
        6: (v, 1 - u),
        7: (1 - v, 1 - u),
        8: (1 - v, u),
    }[orientation]


def _map_box(box: Box, orientation: int, point_map) -> Box:
    x1, y1 = point_map(box.left, box.top, orientation)
    x2, y2 = point_map(box.right, box.bottom, orientation)
    return Box(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def stored_to_upright(box: Box, orientation: int) -> Box:
    """A box in normalised stored-image coordinates, seen in the upright photo."""
    return _map_box(box, valid_orientation(orientation), _to_upright)


def upright_to_stored(box: Box, orientation: int) -> Box:
    """A box of the upright photo in normalised coordinates of the stored pixels."""
    return _map_box(box, valid_orientation(orientation), _to_stored)


def clamp_box(box: Box) -> Box:
    """The box cut to the photo (0..1 on both axes)."""

    def clamp(value: float) -> float:
        return min(max(value, 0.0), 1.0)

    return Box(clamp(box.left), clamp(box.top), clamp(box.right), clamp(box.bottom))
