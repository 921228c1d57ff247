"""Small frozen values the Album facade returns to the UI and the command line."""

from __future__ import annotations

from dataclasses import dataclass

from facealbum.engine.types import Box


class LibraryError(Exception):
    """A problem the user caused or can fix; str(e) is a readable message."""


@dataclass(frozen=True)
class FolderInfo:
    id: int
    path: str
    photo_count: int
    face_count: int
    available: bool  # False while the folder is missing (e.g. an unplugged drive)


@dataclass(frozen=True)
class PhotoInfo:
    id: int
    path: str
    folder_id: int
    width: int | None
    height: int | None
    taken_at: str | None
    status: str  # "ok" | "error" ("pending" only between a crash and the next scan)
    error: str | None
    face_count: int


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
    assigned_by: str | None  # "user" | "auto" | "suggested" | None


@dataclass(frozen=True)
class ScanProgress:
    phase: str  # "walking" | "scanning" | "done" | "cancelled"
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


@dataclass(frozen=True)
class PersonInfo:
    id: int
    name: str
    hidden: bool
    face_count: int
    photo_count: int
    cover_face_id: int | None


@dataclass(frozen=True)
class GroupInfo:
    id: int
    face_ids: tuple[int, ...]
    hidden: bool


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
