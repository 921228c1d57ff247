"""The database and the vector index kept in step: the one owner of the write lock.

The index holds every face encoding of the database, stamped with the database
generation it matches. Every write that adds or removes faces goes through
write_faces, which bumps the generation and mirrors the change in the index before
another writer of this process can interleave; writes of other processes are caught
up from the encodings stamped since the index's generation.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np

from facealbum.db import queries, scan_writes
from facealbum.db.store import Store, os_failure
from facealbum.engine.index import FaceIndex, IndexCorrupt

FaceWrite = Callable[[sqlite3.Connection], scan_writes.FaceChanges]


class IndexSync:
    """A library's store and its face index, written together."""

    def __init__(self, store: Store, index_dir: Path) -> None:
        self.store = store
        self._index_dir = index_dir
        self._index: FaceIndex | None = None
        self.state = "not opened"  # "loaded", "caught up: +A -R" or "rebuilt: <why>"
        self._generation = -1  # the database generation the index matches

    def open(self) -> None:
        """Load the index, catch it up with the database, or rebuild it from it."""
        index = FaceIndex(self._index_dir, read_only=self.store.read_only)
        with self.store.writer_lock:
            generation = self.store.generation()
            self.state = index.open(
                generation,
                lambda: queries.all_encodings(self.store.conn),
                lambda since: queries.encodings_written_since(self.store.conn, since),
            )
            self._generation = generation
        self._index = index

    @property
    def index(self) -> FaceIndex | None:
        """The index, for searches (None before open)."""
        return self._index

    def write_faces(self, write: FaceWrite, *, then_save: bool = False) -> scan_writes.FaceChanges:
        """Run `write(conn)` in one transaction; when faces changed, bump the generation,
        stamp the written encodings with it, and mirror the change in the index before
        any other writer of this process can interleave. `then_save`: save the index
        too, before any other writer (a removal, a scan's periodic save)."""
        with self.store.writer_lock:
            missed = None
            with self.store.write() as conn:
                changes = write(conn)
                if changes:
                    before, after = self.store.bump_generation(conn)
                    scan_writes.stamp_encodings(conn, changes.added_ids, after)
                    if self._index is not None and before != self._generation:
                        # Another process wrote since the index was in step: read what it
                        # lacks (this write included) while no other writer can commit.
                        missed = queries.encodings_written_since(conn, self._generation)
            if changes:
                self._apply(changes, missed, after)
            if then_save:
                self.save()
        return changes

    def _apply(
        self, changes: scan_writes.FaceChanges, missed: tuple[np.ndarray, ...] | None, after: int
    ) -> None:
        if self._index is None:
            return
        if missed is not None:
            try:
                self._index.catch_up(*missed)
                self._generation = after
                return
            except IndexCorrupt:
                pass  # out of step: apply this write only; the next open rebuilds it
        if changes.removed_ids:
            self._index.remove(changes.removed_ids)
        if changes.added_ids:
            vectors = np.vstack(changes.added_vectors).astype(np.float32, copy=False)
            self._index.add(np.asarray(changes.added_ids, dtype=np.int64), vectors)
        # A change applied on top of an index that missed others must not advance its
        # stamp: it stays at the older generation, and the next open catches up from there.
        if missed is None:
            self._generation = after

    def save(self) -> None:
        """Catch the index up with writes of other processes, then save it stamped with the
        database generation it matches. Raises StoreError when the disk refuses."""
        if self._index is None:
            return
        with self.store.writer_lock:
            # Read before the changes: the index may then hold more than this generation
            # (harmless: catching up again is idempotent), never less.
            generation = self.store.generation()
            if generation != self._generation:
                try:
                    since = queries.encodings_written_since(self.store.conn, self._generation)
                    self._index.catch_up(*since)
                    self._generation = generation
                except IndexCorrupt:
                    pass  # keep the older stamp: the next open rebuilds it
            try:
                self._index.save(self._generation)
            except OSError as e:  # derived data: the database write before it stands
                what = "your changes are saved, not the search index (rebuilt on next open)"
                raise os_failure(e, self._index_dir.parent, what) from e
