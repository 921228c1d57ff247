"""A small scanned library of the development clip's performer and three others."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# One photo each; the first is the performer in the development video clip.
FOUR_PEOPLE = (
    "people/lin_manuel_miranda/lmm_1.png",
    "people/alex_lacamoire/alex_1.jpg",
    "people/barack_obama/obama_1.jpg",
    "people/joe_biden/biden_1.jpg",
)


@contextmanager
def four_people_library(root: Path, faces_dir: Path) -> Iterator[Any]:
    """An Album in `root` holding FOUR_PEOPLE, scanned through the facade; closed on exit."""
    from facealbum.album import Album
    from facealbum.config import Settings

    photos = root / "photos"
    photos.mkdir()
    for rel in FOUR_PEOPLE:
        shutil.copy(faces_dir / rel, photos / Path(rel).name)
    album = Album.open(root / "library")
    try:
        album.update_settings(Settings(workers=1))
        album.add_folder(photos)
        album.scan()
        yield album
    finally:
        album.close()
