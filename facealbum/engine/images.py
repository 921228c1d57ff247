"""Read photo files into upright RGB pixels, small when only a small copy is needed.

Every failure becomes an ``ImageLoadError`` with a reason a user can read, so the
scanner can record it against the photo and carry on.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import threading
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

# Larger photos are refused: decoding one would take gigabytes of memory. 200 MP
# is above any camera a family album meets (medium format tops out near 100 MP).
MAX_PIXELS = 200_000_000

# The largest file such a photo can be: stored uncompressed at 16-bit RGBA (8 bytes a pixel,
# the widest layout we decode), plus room for metadata and embedded previews. A larger file
# is no photo we would decode, and reading it whole would cost its size in memory.
_WIDEST_PIXEL_BYTES = 8
_METADATA_ALLOWANCE = 64 * 1024 * 1024
MAX_FILE_BYTES = MAX_PIXELS * _WIDEST_PIXEL_BYTES + _METADATA_ALLOWANCE

# Enough of a file's start to tell every format below apart (an ftyp box brand ends at 12).
_HEADER_BYTES = 32
# TIFF as Pillow accepts it: both byte orders, classic and BigTIFF, and the swapped
# headers some writers produce.
_TIFF_PREFIXES = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+", b"MM*\0", b"II\0*")
# Major brands of the ISO media files pillow-heif (HEIC, HEIF) and Pillow (AVIF) decode;
# an MP4 or QuickTime video has an ftyp box too, with another brand.
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
    | {b"avif", b"avis"}  # AVIF's own brands; it also uses mif1 and msf1
)

_ORIENTATION_TAG = 0x0112
_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011

# EXIF orientation -> the transposition that makes the stored pixels upright.
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})


class ImageLoadError(Exception):
    """A photo could not be loaded; ``reason`` says why in words a user understands."""

    def __init__(self, path: str | Path | None, reason: str) -> None:
        self.path = str(path) if path is not None else None
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path else reason)


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """Upright RGB pixels of a photo, possibly reduced, with the photo's full size."""

    pixels: np.ndarray  # (H, W, 3) uint8 RGB, upright
    width: int  # full-resolution upright width of the photo
    height: int  # full-resolution upright height
    taken_at: str | None = None  # ISO 8601 from EXIF DateTimeOriginal

    @property
    def scale(self) -> float:
        """Pixels per full-resolution pixel (1.0 when not reduced)."""
        return self.pixels.shape[1] / self.width


def read_photo_bytes(path: str | Path) -> bytes:
    """The whole file, read once (the scanner fingerprints and decodes the same bytes).

    A file that does not start like an image, or is larger than any photo can be, is
    refused after reading only its first bytes: a renamed video of gigabytes costs nothing.
    """
    try:
        with open(path, "rb", buffering=0) as f:
            header = f.read(_HEADER_BYTES)
            _check_photo_file(path, header, os.fstat(f.fileno()).st_size)
            f.seek(0)  # the header again, from the page cache: the data stays one object
            return f.read()
    except PermissionError as exc:
        raise ImageLoadError(path, "unreadable: permission denied") from exc
    except FileNotFoundError as exc:
        raise ImageLoadError(path, "file not found") from exc
    except IsADirectoryError as exc:
        raise ImageLoadError(path, "is a folder, not a photo") from exc
    except OSError as exc:
        raise ImageLoadError(path, f"unreadable: {exc.strerror or exc}") from exc


def _check_photo_file(path: str | Path, header: bytes, size: int) -> None:
    if not header:
        raise ImageLoadError(path, "file is empty")
    if _format_of(header) is None:
        raise ImageLoadError(path, f"not an image ({_describe_non_image(header)})")
    if size > MAX_FILE_BYTES:
        raise ImageLoadError(
            path,
            f"file too large for a photo ({size / 1e9:.1f} GB; one of {MAX_PIXELS // 10**6}"
            f" megapixels takes at most {MAX_FILE_BYTES / 1e9:.1f} GB)",
        )


def _format_of(header: bytes) -> str | None:
    """The image format a file's first bytes announce; None when none we decode.

    The same tests the decoders (Pillow, pillow-heif) make before they read a file.
    """
    if header.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if header.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if header.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if header.startswith(b"RIFF") and header[8:12] == b"WEBP":
        return "WebP"
    if header.startswith(_TIFF_PREFIXES):
        return "TIFF"
    if header.startswith(b"BM"):
        return "BMP"
    if _looks_like_heif(header) and header[8:12] in _HEIF_BRANDS:
        return "HEIF"
    return None


def _describe_non_image(header: bytes) -> str:
    if _looks_like_heif(header):
        brand = header[8:12].decode("ascii", "replace").strip()
        return f"ISO media of brand '{brand}', such as a video"
    return "its first bytes match no image format"


def fingerprint(data: bytes) -> str:
    """Content hash of a file: finds the same photo after a move or rename."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def load_image(source: str | Path | bytes, max_side: int | None = None) -> LoadedImage:
    """Decode a photo into upright RGB pixels, reduced to at most ``max_side`` pixels.

    ``source`` is a path or the file's bytes. JPEGs are decoded directly at a
    reduced size (DCT scaling) when ``max_side`` allows it. ``width``/``height``
    of the result are always the photo's full upright size.
    Raises ``ImageLoadError`` for every kind of failure.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        path, data = None, bytes(source)
        if not data:
            raise ImageLoadError(None, "file is empty")
    else:
        path, data = source, read_photo_bytes(source)
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be positive, got {max_side}")
    _init_pillow(data)
    try:
        return _decode(data, max_side)
    except ImageLoadError as exc:
        raise ImageLoadError(path, exc.reason) from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError(path, "not an image") from exc
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(found.group(1)):,} pixels" if found else f"over {MAX_PIXELS:,} pixels"
        raise ImageLoadError(path, f"image too large ({size})") from exc
    except MemoryError as exc:
        raise ImageLoadError(path, "image too large to decode in memory") from exc
    except Exception as exc:  # decoders raise many types; none may escape
        raise ImageLoadError(path, _describe_decode_error(data, exc)) from exc


_init_lock = threading.Lock()
_pillow_ready = False
_heif_ready = False


def _init_pillow(data: bytes) -> None:
    """Configure Pillow once, and register the HEIF opener the first time one is seen."""
    global _pillow_ready, _heif_ready
    if _pillow_ready and (_heif_ready or not _looks_like_heif(data)):
        return
    with _init_lock:
        if not _pillow_ready:
            # Pillow's own guard raises at twice its limit: put that on our limit and
            # keep its warning quiet, since we refuse large photos with a clear reason.
            Image.MAX_IMAGE_PIXELS = MAX_PIXELS // 2
            warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
            _pillow_ready = True
        if not _heif_ready and _looks_like_heif(data):
            import pillow_heif  # imported late: most libraries hold no HEIC at all

            pillow_heif.register_heif_opener()
            _heif_ready = True


def _looks_like_heif(data: bytes) -> bool:
    return data[4:8] == b"ftyp"


def _decode(data: bytes, max_side: int | None) -> LoadedImage:
    im = Image.open(io.BytesIO(data))
    stored_w, stored_h = im.size
    if stored_w * stored_h > MAX_PIXELS:
        raise ImageLoadError(None, f"image too large ({stored_w * stored_h:,} pixels)")
    orientation, taken_at = _read_exif(im)
    target = _target_size(stored_w, stored_h, max_side)
    if target is not None and im.format == "JPEG":
        # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: much faster than full decode.
        im.draft("RGB", target)
    im.load()
    rgb = _to_rgb(im)
    if target is not None and rgb.size != target:
        rgb = rgb.resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)
    transpose = _UPRIGHT.get(orientation)
    if transpose is not None:
        rgb = rgb.transpose(transpose)
    width, height = (stored_h, stored_w) if orientation in (5, 6, 7, 8) else (stored_w, stored_h)
    pixels = np.asarray(rgb, dtype=np.uint8)
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ImageLoadError(None, f"unsupported pixel layout {pixels.shape}")
    return LoadedImage(pixels=pixels, width=width, height=height, taken_at=taken_at)


def _target_size(width: int, height: int, max_side: int | None) -> tuple[int, int] | None:
    """Stored size to reduce to, keeping the aspect ratio; None when no reduction is due."""
    long_side = max(width, height)
    if max_side is None or long_side <= max_side:
        return None
    factor = max_side / long_side
    return max(1, round(width * factor)), max(1, round(height * factor))


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparency is laid on white, as a viewer shows it."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode == "P" and "transparency" in im.info:
        im, mode = im.convert("RGBA"), "RGBA"
    if mode in _ALPHA_MODES:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode.startswith("I;16") or mode in ("I", "F"):
        return Image.fromarray(_to_8bit(np.asarray(im)), "L").convert("RGB")
    if mode.startswith("RGB") or mode.startswith("BGR"):
        # Wide RGB layouts (e.g. 16-bit TIFF as RGB;16) arrive as arrays of more than 8 bits.
        array = np.asarray(im)
        if array.dtype != np.uint8:
            return Image.fromarray(_to_8bit(array), "RGB")
    return im.convert("RGB")


def _to_8bit(array: np.ndarray) -> np.ndarray:
    """Scale 16-bit or float samples to 0..255 (Pillow's convert would clip them)."""
    if np.issubdtype(array.dtype, np.floating):
        samples = np.nan_to_num(array.astype(np.float64), nan=0.0)
        peak = float(samples.max()) if samples.size else 0.0
        if peak <= 1.0:
            samples = samples * 255.0  # the usual 0..1 float range
        elif peak > 255.0:
            samples = samples * (255.0 / peak)
        return np.clip(samples, 0, 255).astype(np.uint8)
    values = array.astype(np.int64)
    if values.size and values.max() > 255:
        values = values // 257  # 0..65535 -> 0..255
    return np.clip(values, 0, 255).astype(np.uint8)


def _read_exif(im: Image.Image) -> tuple[int, str | None]:
    """(orientation, taken_at); a broken EXIF block costs only these, never the photo."""
    try:
        exif = im.getexif()
        orientation = exif.get(_ORIENTATION_TAG, 1)
        return (orientation if orientation in _UPRIGHT else 1), _taken_at(exif)
    except Exception:  # EXIF parsers raise many types on damaged blocks
        return 1, None


def _taken_at(exif: Image.Exif) -> str | None:
    """EXIF DateTimeOriginal as ISO 8601, with its UTC offset when the camera wrote one."""
    try:
        sub = exif.get_ifd(_EXIF_IFD)
    except Exception:  # a broken EXIF block only loses the date
        return None
    raw = sub.get(_DATETIME_ORIGINAL)
    if not isinstance(raw, str):
        return None
    try:
        taken = datetime.strptime(raw.strip().rstrip("\x00"), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None  # e.g. "0000:00:00 00:00:00" from cameras without a clock
    iso = taken.isoformat()
    offset = sub.get(_OFFSET_TIME_ORIGINAL)
    if isinstance(offset, str) and len(offset.strip()) == 6 and offset.strip()[0] in "+-":
        iso += offset.strip()
    return iso


def _describe_decode_error(data: bytes, exc: Exception) -> str:
    kind = _format_name(data)
    text = str(exc).lower()
    if "truncated" in text or "premature end" in text or "broken data stream" in text:
        return f"truncated or corrupt {kind}"
    return f"corrupt {kind} ({exc.__class__.__name__}: {exc})"


def _format_name(data: bytes) -> str:
    return _format_of(data[:_HEADER_BYTES]) or "image"
