"""What a photo file itself says: its embedded XMP packet, EXIF orientation and stored size.

Only headers are read (Pillow opens lazily); the file is opened read-only.
"""

from __future__ import annotations

import logging
import mmap
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from facealbum.interop.orientation import stored_size, valid_orientation

log = logging.getLogger(__name__)

_ORIENTATION_TAG = 0x0112
# Formats whose XMP Pillow extracts itself; scanning their bytes could only find
# packets of embedded previews, which describe other images.
_PILLOW_XMP_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "TIFF", "HEIF", "AVIF"})
# The largest XMP packet read: sidecars and embedded packets are kilobytes, 16 MiB is ample.
MAX_PACKET_BYTES = 16 * 1024 * 1024
_heif_ready = False


@dataclass(frozen=True)
class PhotoHeader:
    xmp: bytes | None  # the main XMP packet, if the file carries one
    orientation: int | None  # EXIF orientation, None when the file could not be read
    stored_size: tuple[int, int] | None  # pixel size before orientation


def read_header(photo: Path) -> PhotoHeader:
    """The photo's XMP, orientation and size; whatever cannot be read is None."""
    _register_heif(photo)
    xmp = None
    orientation = None
    size = None
    image_format = None
    try:
        with Image.open(photo) as im:
            image_format = im.format
            size = im.size
            xmp = _pillow_xmp(im)
            orientation = _orientation(im)
            if "original_orientation" in im.info:
                # pillow-heif hands out upright pixels and resets EXIF to 1; MWG areas
                # still refer to the image before that rotation.
                orientation = valid_orientation(im.info["original_orientation"])
                size = stored_size(*im.size, orientation)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
        log.debug("Pillow cannot read %s: %s", photo, exc)
    if xmp is None and image_format not in _PILLOW_XMP_FORMATS:
        xmp = scan_for_packet(photo)
    return PhotoHeader(xmp, orientation, size)


def _orientation(im: Image.Image) -> int:
    try:
        return valid_orientation(im.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:  # a broken EXIF block costs only the orientation
        return 1


def _pillow_xmp(im: Image.Image) -> bytes | None:
    data = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if data is None and hasattr(im, "tag_v2"):
        data = im.tag_v2.get(700)  # TIFF's XMLPacket tag
    if isinstance(data, str):
        data = data.encode("utf-8")
    return bytes(data) if data else None


def scan_for_packet(photo: Path) -> bytes | None:
    """The first <x:xmpmeta>...</x:xmpmeta> in the raw bytes (RAW, HEIC without a decoder)."""
    try:
        with open(photo, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            start = data.find(b"<x:xmpmeta")
            if start < 0:
                return None
            end = data.find(b"</x:xmpmeta>", start, start + MAX_PACKET_BYTES)
            if end < 0:
                return None
            return bytes(data[start : end + len(b"</x:xmpmeta>")])
    except (OSError, ValueError) as exc:  # ValueError: mmap of an empty file
        log.debug("cannot scan %s for XMP: %s", photo, exc)
        return None


def _register_heif(photo: Path) -> None:
    # The same default registration the image loader makes; repeating it is harmless.
    global _heif_ready
    if _heif_ready or photo.suffix.lower() not in (".heic", ".heif", ".avif", ".hif"):
        return
    try:
        import pillow_heif
    except ImportError:
        return
    pillow_heif.register_heif_opener()
    _heif_ready = True
