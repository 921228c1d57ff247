"""Small frozen value types that the engine takes and returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ENCODING_DIM = 128


@dataclass(frozen=True)
class Box:
    """A face rectangle in normalised coordinates (0..1) of the upright photo."""

    left: float
    top: float
    right: float
    bottom: float

    def to_pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) in pixels of an upright image of that size."""
        return (
            round(self.left * width),
            round(self.top * height),
            round(self.right * width),
            round(self.bottom * height),
        )

    def as_list(self) -> list[float]:
        return [self.left, self.top, self.right, self.bottom]

    @property
    def area(self) -> float:
        return max(0.0, self.right - self.left) * max(0.0, self.bottom - self.top)

    def iou(self, other: Box) -> float:
        """Intersection over union with another box (0 = apart, 1 = the same box)."""
        w = min(self.right, other.right) - max(self.left, other.left)
        h = min(self.bottom, other.bottom) - max(self.top, other.top)
        inter = max(0.0, w) * max(0.0, h)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


@dataclass(frozen=True, eq=False)
class Face:
    """One detected and encoded face."""

    box: Box
    score: float  # detector confidence (HOG margin or CNN score)
    size_px: int  # face width in pixels of the full-resolution upright photo
    sharpness: float  # variance of the Laplacian of the aligned face chip; higher is sharper
    encoding: np.ndarray = field(repr=False)  # float32, shape (128,)


@dataclass(frozen=True, eq=False)
class PhotoAnalysis:
    """Everything a scan worker learns about one photo file."""

    path: str
    size: int  # bytes
    mtime: float
    fingerprint: str  # hex digest of the file's content
    width: int  # full-resolution, upright
    height: int
    taken_at: str | None  # ISO 8601 from EXIF DateTimeOriginal, when present
    faces: tuple[Face, ...]
    detector: str | None = None  # which face detector found the faces (config.DETECTORS)


@dataclass(frozen=True)
class Match:
    """A library face found by a search, nearest first."""

    face_id: int
    photo_id: int
    photo: str  # path of the photo
    distance: float  # Euclidean distance between encodings (0.6 = default tolerance)
    box: Box
