"""Small images of photos and faces, made with Pillow and cached on disk.

Pure Pillow (no Qt) so that it runs on any pool thread. The cache key includes the
file's size and mtime, so an edited photo gets a fresh thumbnail.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from PIL import Image, ImageOps

from facealbum.config import PRIVATE_DIR_MODE
from facealbum.model import Box

try:  # HEIC/HEIF photos from phones
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - optional at runtime
    pass

# How much of the surroundings a face crop keeps, as a fraction of the face size.
FACE_MARGIN = 0.35


def _decode(path: Path, want: int) -> Image.Image:
    """Open an image upright in RGB, decoding JPEGs at a reduced scale when possible."""
    with Image.open(path) as im:
        # draft() lets libjpeg decode at 1/2, 1/4 or 1/8 size: much faster for thumbnails.
        im.draft("RGB", (want, want))
        im = ImageOps.exif_transpose(im)
        if im.mode not in ("RGB", "L"):
            background = Image.new("RGB", im.size, (255, 255, 255))
            rgba = im.convert("RGBA")
            background.paste(rgba, mask=rgba.getchannel("A"))
            im = background
        return im.convert("RGB")


def make_photo_thumbnail(path: Path, size: int) -> Image.Image:
    """The whole photo scaled to fit in ``size`` x ``size`` pixels."""
    im = _decode(path, size)
    im.thumbnail((size, size), Image.Resampling.LANCZOS)
    return im


def make_face_crop(path: Path, box: Box, size: int) -> Image.Image:
    """A square crop around a face, ``size`` pixels wide."""
    with Image.open(path) as probe:
        full_w, full_h = probe.size
    face_w = max(1e-6, (box.right - box.left) * full_w)
    # Decode only as large as the crop needs.
    want = int(max(full_w, full_h) * size / (face_w * (1 + 2 * FACE_MARGIN)))
    im = _decode(path, max(size, want))
    w, h = im.size
    cx = (box.left + box.right) / 2 * w
    cy = (box.top + box.bottom) / 2 * h
    half = max(box.right - box.left, (box.bottom - box.top) * h / w) * w * (0.5 + FACE_MARGIN)
    crop = im.crop((int(cx - half), int(cy - half), int(cx + half), int(cy + half)))
    return crop.resize((size, size), Image.Resampling.LANCZOS)


class ThumbnailCache:
    """JPEG thumbnails in one folder of the library, two levels deep to keep folders small."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def key(self, path: Path, size: int, box: Box | None = None) -> str:
        st = os.stat(path)
        parts = [os.fspath(path), str(st.st_size), str(st.st_mtime_ns), str(size)]
        if box is not None:
            parts.append(",".join(f"{v:.4f}" for v in box.as_list()))
        return hashlib.sha1("|".join(parts).encode("utf-8", "surrogateescape")).hexdigest()

    def cache_path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.jpg"

    def get(self, path: Path, size: int, box: Box | None = None) -> Image.Image:
        """The cached thumbnail, made and stored first if needed. Raises OSError for bad files."""
        target = self.cache_path(self.key(path, size, box))
        if target.is_file():
            try:
                with Image.open(target) as cached:
                    return cached.convert("RGB")
            except OSError:
                pass  # a truncated cache file: make it again
        im = make_photo_thumbnail(path, size) if box is None else make_face_crop(path, box, size)
        self._store(target, im)
        return im

    def _store(self, target: Path, im: Image.Image) -> None:
        try:
            # Private like the library: faces of a family are nobody else's to browse.
            self.directory.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
            target.parent.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
            tmp = target.with_suffix(f".{os.getpid()}.{id(im)}.tmp")
            im.save(tmp, "JPEG", quality=85)
            os.replace(tmp, target)
        except OSError:
            pass  # a read-only library still shows thumbnails, it just cannot keep them
