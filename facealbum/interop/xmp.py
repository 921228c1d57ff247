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

Safety: only a regular file in the photo's folder is written. A sidecar that is a symbolic
link, a folder or a special file is refused, and the new sidecar is renamed into place from
a temp file of ours, so nothing outside the folder is ever written through a link.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import stat
import time
from collections.abc import Iterable
from pathlib import Path
from xml.etree.ElementTree import Element, SubElement

from facealbum.interop.embedded import MAX_PACKET_BYTES, read_header
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
    "UnsafeSidecarError",
    "XmpError",
    "mwg_orientation",
    "read_regions",
    "remove_stale_temp_files",
    "sidecar_path",
    "write_regions",
]

log = logging.getLogger(__name__)

# Where the platform has them: never follow a link in the sidecar's own name, never wait
# for a writer on a FIFO.
_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NO_BLOCK = getattr(os, "O_NONBLOCK", 0)
# A new sidecar gets what the umask leaves of this, as any new file does.
_NEW_FILE_MODE = 0o666

# Our temp files are hidden and carry the sidecar's name, this mark and the process id, so a
# later export can tell the leftovers of a killed one from anyone else's files.
_TEMP_MARK = "facealbum"
_TEMP_NAME = re.compile(rf"\..+\.xmp\.{_TEMP_MARK}-\d+-[0-9a-f]{{8}}\.tmp")
# A temp file lives while one sidecar is written: milliseconds, seconds on a slow network
# share. One untouched for an hour belongs to no running export, even one on another
# computer writing to the same share with its clock a little off.
STALE_TEMP_SECONDS = 60 * 60


class UnsafeSidecarError(XmpError):
    """The sidecar is a symbolic link, a folder or a special file: never written through."""


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
    is), UnsafeSidecarError (an XmpError) when it is not a regular file, OSError when the
    sidecar cannot be written. The photo file is never opened.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"photo size must be positive, got {width}x{height}")
    orientation = valid_orientation(orientation)
    named = [FaceRegion(r.name.strip(), clamp_box(r.box)) for r in regions if r.name.strip()]
    stored = [upright_to_stored(r.box, orientation) for r in named]
    target = sidecar_path(photo)
    packet, mode = _existing_or_new(target)
    replace_regions(
        packet,
        regions_element(named, stored, stored_size(width, height, orientation)),
        [r.name for r in named],
    )
    _write_atomically(target, serialize_packet(packet), mode)
    return target


def _existing_or_new(sidecar: Path) -> tuple[Packet, int]:
    """The sidecar's packet and the permission bits to keep; a new packet when there is none."""
    existing = _read_own_sidecar(sidecar)
    if existing is None:
        return _empty_packet(), _NEW_FILE_MODE
    data, mode = existing
    try:
        return parse_packet(data), mode
    except XmpError as exc:
        raise XmpError(f"{sidecar.name} is not XMP that can be updated: {exc}") from exc


def _read_own_sidecar(sidecar: Path) -> tuple[bytes, int] | None:
    """The bytes and permission bits of the sidecar we are about to replace, None if none.

    Only a regular file is updated: writing through a symbolic link would change a file
    outside the photo's folder. O_NOFOLLOW refuses a link put there after the check.
    """
    try:
        _refuse_unless_regular(sidecar, sidecar.lstat().st_mode)
        fd = os.open(sidecar, os.O_RDONLY | _NO_FOLLOW | _NO_BLOCK)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        _refuse_unless_regular(sidecar, info.st_mode)
        return f.read(), stat.S_IMODE(info.st_mode)


def _refuse_unless_regular(sidecar: Path, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISLNK(mode):
        kind = "a symbolic link"
    elif stat.S_ISDIR(mode):
        kind = "a folder"
    else:
        kind = "not a regular file"
    raise UnsafeSidecarError(f"sidecar {sidecar.name} is {kind}; not written")


def _empty_packet() -> Packet:
    root = Element(qn("x:xmpmeta"), {qn("x:xmptk"): XMP_TOOLKIT})
    rdf = SubElement(root, qn("rdf:RDF"))
    SubElement(rdf, qn("rdf:Description"), {qn("rdf:about"): ""})
    return Packet(root, {})


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Readers see the old sidecar or the new one, never half of one.

    The temp file is created new (O_EXCL: never a file or link already there) beside the
    sidecar, and renamed over it: the rename replaces the directory entry, so even a link
    put in the sidecar's place meanwhile is replaced itself and its target left alone.
    """
    tmp = path.with_name(f".{path.name}.{_TEMP_MARK}-{os.getpid()}-{secrets.token_hex(4)}.tmp")
    # os.open applies the umask, as a normal file creation would.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NO_FOLLOW, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_stale_temp_files(folder: Path) -> int:
    """Remove the temp files killed exports left in folder; returns how many.

    Only files named exactly as ours are, and only once no running export can still be
    writing them (older than STALE_TEMP_SECONDS).
    """
    cutoff = time.time() - STALE_TEMP_SECONDS
    try:
        with os.scandir(folder) as entries:
            ours = [e for e in entries if _TEMP_NAME.fullmatch(e.name)]
    except OSError:
        return 0  # writing the sidecars will report what is wrong with the folder
    removed = 0
    for entry in ours:
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except OSError as exc:  # gone meanwhile, or a read-only folder
            log.debug("cannot remove %s: %s", entry.path, exc)
    return removed


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
        return parse_packet(_read_for_names(sidecar))
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read sidecar %s: %s", sidecar, exc)
    except XmpError as exc:
        log.warning("ignoring sidecar %s: %s", sidecar, exc)
    return None


def _read_for_names(sidecar: Path) -> bytes:
    """A sidecar's bytes, through a symbolic link too.

    Following a link only to read is harmless when it ends at a regular file of packet
    size: the names found are only offered, and the user confirms them. Anything else is
    refused unread: a FIFO or a device would hang the scan, a huge file fill its memory.
    """
    fd = os.open(sidecar, os.O_RDONLY | _NO_BLOCK)
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise XmpError("not a regular file")
        if info.st_size > MAX_PACKET_BYTES:
            raise XmpError(f"{info.st_size:,} bytes, larger than any XMP packet")
        return f.read()
