"""Named faces as MWG face regions in XMP sidecars, readable by digiKam, Lightroom and darktable.

Writing never touches the photo: regions go into a sidecar beside it, created or
updated in place of only our part (the face regions and the matching people tags),
so ratings, tags and edit history another tool keeps there survive.

Sidecar name: "photo.jpg.xmp". digiKam writes that by default, darktable only
reads and writes that form, and Immich looks for it first. The other convention,
"photo.xmp" (Lightroom, Capture One), cannot tell photo.jpg from photo.cr2 beside
it, and Lightroom reads sidecars only for raw files anyway (it expects XMP inside
JPEGs). So we write "photo.jpg.xmp" and, when reading, fall back to "photo.xmp".

Coordinates: MWG areas refer to the stored pixels; facealbum boxes to the upright
photo. Both conversions happen here, so callers only ever see upright boxes.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from xml.etree.ElementTree import Element, SubElement

from facealbum.interop.embedded import read_header
from facealbum.interop.mwg import (
    FaceRegion,
    packet_orientation,
    regions_element,
    replace_regions,
    stored_regions,
    to_upright,
)
from facealbum.interop.orientation import (
    clamp_box,
    stored_size,
    upright_to_stored,
    valid_orientation,
)
from facealbum.interop.rdf import (
    XMP_TOOLKIT,
    Packet,
    XmpError,
    parse_packet,
    qn,
    serialize_packet,
)

__all__ = [
    "FaceRegion",
    "XmpError",
    "mwg_orientation",
    "read_regions",
    "sidecar_path",
    "write_regions",
]

log = logging.getLogger(__name__)


def sidecar_path(photo: Path) -> Path:
    """The sidecar we write for a photo: the full file name plus ".xmp" (see module docs)."""
    photo = Path(photo)
    return photo.with_name(photo.name + ".xmp")


def mwg_orientation(photo: Path) -> int:
    """The orientation to pass to write_regions for this photo (1 when it cannot be read).

    Usually the EXIF orientation. For HEIC, pillow-heif rotates the pixels itself and
    reports orientation 1, but other tools still expect regions of the unrotated image.
    """
    return read_header(Path(photo)).orientation or 1


def _sidecar_candidates(photo: Path) -> list[Path]:
    return [sidecar_path(photo), photo.with_suffix(".xmp")]


def write_regions(
    photo: Path,
    regions: Iterable[FaceRegion],
    width: int,
    height: int,
    orientation: int = 1,
) -> Path:
    """Write the named faces of one photo into its sidecar and return the sidecar's path.

    width, height: the photo's upright size in pixels; orientation: its EXIF orientation
    (boxes are converted to the stored image as MWG requires). Unnamed faces are skipped.
    An existing sidecar is updated, keeping everything but our regions and people tags.
    Raises XmpError when an existing sidecar is not XMP we can update (it is left as it
    is), OSError when the sidecar cannot be written. The photo file is never opened.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"photo size must be positive, got {width}x{height}")
    orientation = valid_orientation(orientation)
    named = [FaceRegion(r.name.strip(), clamp_box(r.box)) for r in regions if r.name.strip()]
    stored = [upright_to_stored(r.box, orientation) for r in named]
    target = sidecar_path(photo)
    if target.is_symlink():
        target = target.resolve()
    packet = _existing_or_new(target)
    replace_regions(
        packet,
        regions_element(named, stored, stored_size(width, height, orientation)),
        [r.name for r in named],
    )
    _write_atomically(target, serialize_packet(packet))
    return sidecar_path(photo)


def _existing_or_new(sidecar: Path) -> Packet:
    try:
        data = sidecar.read_bytes()
    except FileNotFoundError:
        return _empty_packet()
    try:
        return parse_packet(data)
    except XmpError as exc:
        raise XmpError(f"{sidecar.name} is not XMP that can be updated: {exc}") from exc


def _empty_packet() -> Packet:
    root = Element(qn("x:xmpmeta"), {qn("x:xmptk"): XMP_TOOLKIT})
    rdf = SubElement(root, qn("rdf:RDF"))
    SubElement(rdf, qn("rdf:Description"), {qn("rdf:about"): ""})
    return Packet(root, {})


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers see the old sidecar or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    # os.open applies the umask, as a normal file creation would; keep an old file's mode.
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_regions(photo: Path) -> list[FaceRegion]:
    """The named face regions other tools stored for a photo, as upright normalised boxes.

    A sidecar with region info wins; otherwise the XMP embedded in the photo (JPEG
    APP1, PNG iTXt, WebP, TIFF, HEIC, or a raw packet scan for other files).
    Unreadable or malformed XMP gives [] and a logged warning, never an exception.
    """
    photo = Path(photo)
    header = read_header(photo)
    for candidate in _sidecar_candidates(photo):
        packet = _parse_file(candidate)
        if packet is None:
            continue
        regions = stored_regions(packet)
        if regions.found:
            orientation = header.orientation or packet_orientation(packet) or 1
            return to_upright(regions, orientation, header.stored_size)
        break  # a sidecar without regions (darktable's) defers to the embedded XMP
    if header.xmp is None:
        return []
    try:
        packet = parse_packet(header.xmp)
    except XmpError as exc:
        log.warning("ignoring the XMP embedded in %s: %s", photo, exc)
        return []
    return to_upright(stored_regions(packet), header.orientation or 1, header.stored_size)


def _parse_file(sidecar: Path) -> Packet | None:
    try:
        data = sidecar.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read sidecar %s: %s", sidecar, exc)
        return None
    try:
        return parse_packet(data)
    except XmpError as exc:
        log.warning("ignoring malformed sidecar %s: %s", sidecar, exc)
        return None
