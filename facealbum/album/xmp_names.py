"""XMP face regions for the library: names read at scan time, sidecars written on request.

Reading: MWG regions other tools stored (sidecar or embedded) are matched to the faces
dlib found by box overlap; a matched name becomes a hint, offered as a suggestion.
Writing: the named faces of a photo go into its sidecar; the photo is never opened for
writing, and a sidecar that is a link or not a regular file is never written through.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from facealbum.db import queries
from facealbum.interop.xmp import (
    FaceRegion,
    XmpError,
    mwg_orientation,
    read_regions,
    remove_stale_temp_files,
    write_regions,
)
from facealbum.model import Box

log = logging.getLogger(__name__)

# An XMP region names a detected face when their boxes overlap this much (intersection over
# union). Tools draw boxes of their own size around a face; 0.3 still never pairs neighbours.
MIN_REGION_OVERLAP = 0.3


def match_regions(
    faces: Sequence[tuple[int, Box]], regions: Sequence[FaceRegion]
) -> list[tuple[int, str]]:
    """(face id, name) pairs, best overlaps first, each face and region used once."""
    pairs = sorted(
        (
            (box.iou(region.box), face_id, i)
            for face_id, box in faces
            for i, region in enumerate(regions)
            if region.name.strip()
        ),
        reverse=True,
    )
    out: list[tuple[int, str]] = []
    used_faces: set[int] = set()
    used_regions: set[int] = set()
    for score, face_id, i in pairs:
        if score < MIN_REGION_OVERLAP or face_id in used_faces or i in used_regions:
            continue
        used_faces.add(face_id)
        used_regions.add(i)
        out.append((face_id, " ".join(regions[i].name.split())))
    return out


def read_hints(
    conn: sqlite3.Connection,
    face_ids: Sequence[int],
    known: Mapping[str, list[FaceRegion]] | None = None,
) -> list[tuple[int, str]]:
    """Names from the XMP of the photos these faces are in, matched to the faces. `known`:
    the regions of photos already read (path -> regions); the others are read now."""
    by_photo: dict[str, list[tuple[int, Box]]] = {}
    for face_id, path, box in queries.face_boxes(conn, face_ids):
        by_photo.setdefault(path, []).append((face_id, box))
    hints: list[tuple[int, str]] = []
    for path, faces in by_photo.items():
        regions = known.get(path) if known is not None else None
        if regions is None:
            regions = photo_regions(path)
        if regions:
            hints += match_regions(faces, regions)
    return hints


def photo_regions(path: str) -> list[FaceRegion]:
    """The named face regions other tools stored for one photo; [] when it cannot be read."""
    try:
        return read_regions(Path(path))
    except OSError as e:  # a vanished file: nothing to offer
        log.warning("cannot read XMP of %s: %s", path, e)
        return []


def named_regions(conn: sqlite3.Connection, photo_id: int) -> list[FaceRegion]:
    return [FaceRegion(name, box) for name, box in queries.named_boxes(conn, photo_id)]


def export(
    conn: sqlite3.Connection,
    photo_ids: Sequence[int] | None,
    on_error: Callable[[str], None],
) -> int:
    """Write the sidecars; each failure is reported as one line. Returns how many written."""
    if photo_ids is None:
        photo_ids = queries.photos_with_names(conn)
    written = 0
    tidied: set[Path] = set()
    for photo_id in photo_ids:
        row = queries.analysed_photo_size(conn, photo_id)
        if row is None:
            on_error(f"photo {photo_id}: not a scanned photo of this library")
            continue
        path, width, height = Path(row[0]), row[1], row[2]
        if path.parent not in tidied:  # once a folder: an export killed there left temp files
            remove_stale_temp_files(path.parent)
            tidied.add(path.parent)
        if _write_sidecar(path, named_regions(conn, photo_id), width, height, on_error):
            written += 1
    return written


def _write_sidecar(
    path: Path,
    regions: list[FaceRegion],
    width: int,
    height: int,
    on_error: Callable[[str], None],
) -> bool:
    try:
        write_regions(path, regions, width, height, mwg_orientation(path))
    except XmpError as e:
        on_error(f"{path}: {e}")
    except OSError as e:
        on_error(f"{path}: cannot write its sidecar: {e.strerror or e}")
    else:
        return True
    return False
