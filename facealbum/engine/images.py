"""Read photo files into upright RGB pixels, small when only a small copy is needed.

Every failure becomes an ``ImageLoadError`` with a reason a user can read, so the
scanner can record it against the photo and carry on.
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

PHOTO_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".heic", ".heif", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
)

# Larger photos are refused: decoding one would take gigabytes of memory. 200 MP
# is above any camera a family album meets (medium format tops out near 100 MP).
MAX_PIXELS = 200_000_000

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
    """The whole file, read once (the scanner fingerprints and decodes the same bytes)."""
    try:
        data = Path(path).read_bytes()
    except PermissionError as exc:
        raise ImageLoadError(path, "unreadable: permission denied") from exc
    except FileNotFoundError as exc:
        raise ImageLoadError(path, "file not found") from exc
    except IsADirectoryError as exc:
        raise ImageLoadError(path, "is a folder, not a photo") from exc
    except OSError as exc:
        raise ImageLoadError(path, f"unreadable: {exc.strerror or exc}") from exc
    if not data:
        raise ImageLoadError(path, "file is empty")
    return data


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
    if data.startswith(b"\xff\xd8"):
        return "JPEG"
    if data.startswith(b"\x89PNG"):
        return "PNG"
    if _looks_like_heif(data):
        return "HEIF"
    return "image"
