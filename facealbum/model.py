"""The shared vocabulary, on the ground floor: the small frozen values that the engine,
the database, the facade, the command line and the UI pass to each other (boxes, faces,
matches, photos, people, groups, scan progress) and the error a user can act on.

It imports nothing of facealbum, so that every layer may import it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import Enum

import numpy as np


class _Word(str, Enum):
    """A value stored and printed as its word: equal to the string, and JSON writes it
    as one (str, Enum rather than StrEnum: Python 3.10 has no StrEnum)."""

    def __str__(self) -> str:
        return str(self.value)


class Tier(_Word):
    """How sure a search is that a photo shows the person searched for."""

    SAME = "same"  # the same person: the answer
    MAYBE = "maybe"  # within the tolerance, not sure: shown apart, for the user to decide


# -- what the engine finds -----------------------------------------------------------

# The files a scan reads and a dialog offers: what Pillow (with pillow-heif) decodes.
PHOTO_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".heic", ".heif", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
)

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
    """A library face found by a search. A look-alike search leaves tier and confidence
    None (nearest first, whoever it is); a search for a person's photos sets them."""

    face_id: int
    photo_id: int
    photo: str  # path of the photo
    distance: float  # Euclidean distance between encodings (0.6 = default tolerance)
    box: Box
    tier: Tier | None = None
    confidence: float | None = None  # the chance it is the person, 0..1
    person_name: str | None = None  # whom the face is named as in the library, if anyone


@dataclass(frozen=True)
class Artwork:
    """What a portrait is called, where its collection says so (interop.titles)."""

    title: str | None = None
    creator: str | None = None
    date: str | None = None
    link: str | None = None

    def caption(self) -> str:
        """'Portrait of a Young Man, Frans Hals, 1650' (the parts that are known)."""
        return ", ".join(part for part in (self.title, self.creator, self.date) if part)


def similarity(distance: float, tolerance: float) -> float:
    """A friendly 0..1 likeness: 1 = identical encodings, 0.5 = at the tolerance, 0 = twice
    as far (the look-alike camera's reach)."""
    return max(0.0, min(1.0, 1.0 - distance / (2.0 * tolerance)))


# -- what the facade returns ---------------------------------------------------------


class LibraryError(Exception):
    """A problem the user caused or can fix; str(e) is a readable message."""


def readable_path(path: str) -> str:
    r"""A path fit to show and print. A file name that is not valid UTF-8 (old zip archives
    make them) reaches Python with its odd bytes as lone surrogates, which no terminal, Qt
    label or UTF-8 file can take: those bytes are shown as \xNN escapes instead."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class FolderInfo:
    id: int
    path: str
    photo_count: int
    face_count: int  # faces marked not a face are not counted
    # Why the folder cannot be read now ("not found: an unplugged drive?", "empty, but ...",
    # "cannot be read: permission denied"), None while it can. An offline folder keeps its
    # photos, faces and names until it is back.
    offline: str | None = None

    @property
    def available(self) -> bool:
        return self.offline is None


@dataclass(frozen=True)
class OfflineFolder:
    """A folder a scan could not read: nothing under it was changed or removed."""

    path: str
    reason: str
    photos_kept: int


@dataclass(frozen=True)
class HeldBack:
    """Photos a scan found gone from a readable folder but did not remove, because they are
    a large share of what the folder held (a drive failing, a sync client emptying folders):
    removing them needs the user's yes (Album.scan(..., prune=True))."""

    folder: str
    gone: int
    known: int


class PhotoStatus(_Word):
    PENDING = "pending"  # listed, not analysed yet (only between a crash and the next scan)
    OK = "ok"
    ERROR = "error"  # could not be read: PhotoInfo.error says why


class AssignedBy(_Word):
    """How a face got its person."""

    USER = "user"  # the user named, assigned or confirmed it
    AUTO = "auto"  # close enough to the user's faces of that person to be taken as sure
    SUGGESTED = "suggested"  # proposed; the face has no person until the user says yes


class ScanPhase(_Word):
    WALKING = "walking"  # listing the folders
    SCANNING = "scanning"  # analysing the photos
    DONE = "done"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class PhotoInfo:
    id: int
    path: str
    folder_id: int
    width: int | None
    height: int | None
    taken_at: str | None
    status: PhotoStatus
    error: str | None
    face_count: int  # faces marked not a face are not counted

    @property
    def display_path(self) -> str:
        return readable_path(self.path)


@dataclass(frozen=True)
class FaceInfo:
    id: int
    photo_id: int
    photo: str
    box: Box
    score: float
    size_px: int
    sharpness: float
    person_id: int | None
    person_name: str | None
    group_id: int | None
    assigned_by: AssignedBy | None
    # The user said this is no face (a pet, a poster): it has no person and no group, and
    # searches and suggestions leave it out.
    not_a_face: bool = False


@dataclass(frozen=True)
class ScanProgress:
    phase: ScanPhase
    done: int
    total: int
    faces_found: int
    errors: int
    photos_per_second: float
    eta_seconds: float | None
    new_photo_ids: tuple[int, ...]  # photos committed since the previous report
    last_error: str | None  # "<path>: <reason>" of the latest bad file
    # Every "<path>: <reason>" since the previous report (reports are throttled,
    # so last_error alone can skip some).
    new_errors: tuple[str, ...] = ()
    # Filled in the final report: folders that were offline, removals waiting for a yes.
    offline: tuple[OfflineFolder, ...] = ()
    held_back: tuple[HeldBack, ...] = ()
    # Things the user should know about the whole scan ("the YuNet model is damaged; ...").
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PersonInfo:
    id: int
    name: str
    hidden: bool
    face_count: int
    photo_count: int
    cover_face_id: int | None
    to_review: int = 0  # suggested faces waiting for the user's yes or no


@dataclass(frozen=True)
class GroupInfo:
    id: int
    face_ids: tuple[int, ...]
    hidden: bool
    # (person id, name): most of its faces are suggested for this named person.
    probably: tuple[int, str] | None = None


@dataclass(frozen=True)
class Suggestion:
    """A face that is probably `name`. source "similar": close to that person's faces;
    "xmp": another tool named the face in the photo's XMP regions. An XMP name nobody in
    the library has yet comes with person_id None; confirming it creates the person."""

    face_id: int
    person_id: int | None
    confidence: float
    name: str = ""
    source: str = "similar"
