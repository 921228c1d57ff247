"""The facade: one object, Album, that the UI and the command line share.

library opens a library and answers about its folders, photos and searches; index_sync
keeps the database and the vector index in step; scan, people, grouping and xmp_names
do one job each behind it.

The names below are imported on first use, so that the command line can start a scan's
workers (scan_workers) before it pays for the rest of the facade.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from facealbum.album.library import Album, LibraryError, StoreBusy, StoreError

__all__ = ["Album", "LibraryError", "StoreBusy", "StoreError"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("facealbum.album.library"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
