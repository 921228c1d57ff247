"""Builds small photo folders for album and CLI tests from the real development photos.

Photos are written reduced (long side LONG_SIDE) so that dlib spends little time on
each; a test never touches the originals.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from PIL import Image

LONG_SIDE = 640

# Small, single-face portraits (plus one group photo) that HOG finds reliably when reduced.
OBAMA = ("people/barack_obama/obama_1.jpg", "people/barack_obama/obama_2.jpg")
OTHERS = (
    "people/joe_biden/biden_2.jpg",
    "people/guido_van_rossum/guido_3.jpg",
    "people/eric_clapton/clapton_1.jpg",
)
GROUP = "groups/kit_with_rose.jpg"  # two faces
NO_FACE = "no_faces/noise.jpg"
# Four people, one group photo of two: the People and Faces pages' library.
FOUR_PEOPLE_PHOTOS = (
    "people/barack_obama/obama_1.jpg",
    "people/barack_obama/obama_2.jpg",
    "people/barack_obama/obama_3.jpg",
    "people/joe_biden/biden_1.jpg",
    "people/joe_biden/biden_2.jpg",
    "groups/two_people.jpg",  # Obama and Biden
    "people/guido_van_rossum/guido_1.jpg",
    "people/guido_van_rossum/guido_2.jpg",
    "people/rose_leslie/rose_1.jpg",
)


def reduced_copy(
    source: Path, dest: Path, long_side: int = LONG_SIDE, quality: int = 90, angle: int = 0
) -> Path:
    """`source` written to `dest` as a JPEG whose long side is `long_side`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(source) as im:
        im = im.convert("RGB")
        scale = long_side / max(im.size)
        if scale < 1:
            im = im.resize((round(im.width * scale), round(im.height * scale)), Image.LANCZOS)
        if angle:
            im = im.rotate(angle, expand=True)
        im.save(dest, "JPEG", quality=quality)
    return dest


def build_folder(faces_dir: Path, dest: Path, relative_paths: Iterable[str]) -> list[Path]:
    """Reduced copies of the named development photos, flat in `dest`."""
    return [
        reduced_copy(faces_dir / rel, dest / (Path(rel).stem + ".jpg")) for rel in relative_paths
    ]


def corrupt_photo(dest: Path) -> Path:
    """A file named like a photo that is not one (a truncated download, say)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    return dest


def move(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.move(path, folder / path.name))
