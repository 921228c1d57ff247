"""Collections: a folder of portraits (or any photos) to find look-alikes in.

A collection is a library like any other (same store, same scan), made for one folder
and kept in the user's data folder unless the caller says where. Opening it scans the
folder: the first time it finds every face, later only what changed. Titles, makers and
dates come from the images' metadata or a collection.csv beside them (interop.titles).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from pathlib import Path

from facealbum import config
from facealbum.album.library import Album
from facealbum.model import LibraryError, ScanProgress

COLLECTIONS_DIR_NAME = "collections"


def collection_dir(folder: Path) -> Path:
    """Where the collection of `folder` lives: the user data folder, one per folder (its
    name for the eye, a hash of its path so that two folders named alike never share)."""
    folder = Path(folder).expanduser().resolve()
    digest = hashlib.sha256(str(folder).encode("utf-8", "surrogateescape")).hexdigest()[:10]
    slug = re.sub(r"[^\w-]+", "-", folder.name).strip("-")[:40] or "folder"
    return config.user_data_dir() / COLLECTIONS_DIR_NAME / f"{slug}-{digest}"


def is_library(path: Path) -> bool:
    return (Path(path) / config.DATABASE_NAME).is_file()


def open_collection(
    folder: Path,
    *,
    directory: Path | None = None,
    progress: Callable[[ScanProgress], None] | None = None,
    cancel: threading.Event | None = None,
    isolate_engine: bool = False,
) -> Album:
    """The collection of `folder`, made or brought up to date with the folder (blocking:
    run it off the GUI thread). `directory`: where to keep it (default: collection_dir).
    Raises LibraryError when the folder cannot be read."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise LibraryError(f"{folder}: no such folder")
    album = Album.open(directory or collection_dir(folder), isolate_engine=isolate_engine)
    try:
        real = folder.resolve()
        if not any(Path(f.path) == real for f in album.folders()):
            album.add_folder(real)
        album.scan([real], progress=progress, cancel=cancel)
    except BaseException:
        album.close()
        raise
    return album
