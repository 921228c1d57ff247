"""File paths as the database stores them.

SQLite text is UTF-8, but a file name on Linux is any bytes: one that is not valid UTF-8
reaches Python with lone surrogates (os.fsdecode) and cannot be bound as text. Such a
path is stored as its readable form in `path` (unique, shown to the user) and its exact
bytes in `path_bytes`, so that the file can be opened again; every other path is stored
as it is, with path_bytes NULL.
"""

from __future__ import annotations

import os

from facealbum.model import readable_path


def to_db(path: str) -> tuple[str, bytes | None]:
    """(path text, exact bytes or None) to store for a file path."""
    text = readable_path(path)
    return (path, None) if text == path else (text, os.fsencode(path))


def key(path: str) -> str:
    """The stored path text of a file path, for lookups by path."""
    return readable_path(path)


def from_db(text: str, raw: bytes | None) -> str:
    """The file path, as os functions take it, of a stored (path, path_bytes) pair."""
    return text if raw is None else os.fsdecode(raw)
