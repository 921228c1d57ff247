"""Small frozen values the Album facade returns to the UI and the command line."""

from __future__ import annotations

import os
from dataclasses import dataclass

from facealbum.engine.types import Box


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
    assigned_by: str | None  # "user" | "auto" | "suggested" | None
    # The user said this is no face (a pet, a poster): it has no person and no group, and
    # searches and suggestions leave it out.
    not_a_face: bool = False


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
