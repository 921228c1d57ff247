"""The saved index's files: checked reads, checksums, durable writes.

Kept apart from the index itself: none of this knows about searching.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np

DATA_PREFIX = "faces-"
_CRC_CHUNK = 1 << 22


class IndexCorrupt(Exception):
    """The saved index cannot be trusted; the message says why."""


def load_ids(path: Path, count: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            live, dead = data["ids"], data["dead"]
    except (OSError, ValueError, KeyError) as e:
        raise IndexCorrupt(f"unreadable ids: {e}") from e
    if live.dtype != np.int64 or live.shape != (count,) or dead.dtype != np.int64:
        raise IndexCorrupt(f"ids file holds {live.shape} {live.dtype}, expected {count}")
    return live, dead


def load_vectors(path: Path, count: int, dim: int) -> np.ndarray:
    try:
        vecs = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise IndexCorrupt(f"unreadable vectors: {e}") from e
    if vecs.dtype != np.float32 or vecs.shape != (count, dim):
        raise IndexCorrupt(f"vectors are {vecs.shape} {vecs.dtype}, expected ({count}, {dim})")
    return vecs


def file_generation(name: str) -> int:
    """The generation in a data file's name (faces-<generation>-<token>.<ext>), else -1."""
    try:
        return int(name[len(DATA_PREFIX) :].split("-", 1)[0])
    except ValueError:
        return -1


def crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CRC_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


def describe_file(path: Path) -> dict[str, object]:
    return {"name": path.name, "size": path.stat().st_size, "crc32": crc32(path)}


def sync(f) -> None:
    f.flush()
    os.fsync(f.fileno())
