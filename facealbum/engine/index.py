"""Nearest faces by Euclidean distance between encodings, exact when small, HNSW when large.

The index is derived data: SQLite holds every encoding. `FaceIndex.open` loads the saved
index, catches it up when the database moved on since it was saved (only the faces
written or removed since then), and rebuilds it from the database when the saved files
are missing, damaged or newer than the database.

Distances are Euclidean, the numbers face_recognition reports (0.6 = its tolerance);
hnswlib's "l2" space gives squared distances, converted here.

Thread safety: any number of threads may search while one writer adds, removes or
saves. Changes are serialised; a search waits only while a change is applied, not
while the index is saved or built.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import hnswlib
import numpy as np

from facealbum.engine.index_files import (
    DATA_PREFIX,
    IndexCorrupt,
    crc32,
    describe_file,
    file_generation,
    load_ids,
    load_vectors,
    sync,
)
from facealbum.engine.rwlock import ReadWriteLock
from facealbum.files import sync_dir

__all__ = ["EXACT_LIMIT", "META_NAME", "FaceIndex", "IndexCorrupt"]

# Measured by bench/search.py (bench/results/search.json): below this many faces a
# numpy scan answers a top-10 query faster than HNSW does, with perfect recall.
EXACT_LIMIT = 2_000
# HNSW parameters, measured on synthetic dlib-like encodings: recall@10 >= 0.99
# against exact search up to 1M faces at well under 1 ms per query (at 1M: 0.9997 at
# 0.38 ms; ef 32 would give 0.996 at 0.23 ms).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 200
HNSW_EF = 64

FORMAT_VERSION = 1
META_NAME = "index.json"
_GROWTH = 1.5  # hnswlib needs a capacity up front: grow it geometrically
# (ids, encodings written since a generation, every id the database holds now)
Changes = tuple[np.ndarray, np.ndarray, np.ndarray]
# OpenBLAS spreads a larger matrix-vector product over threads, which on busy cores
# turns 0.1 ms into tens of ms; blocks this small stay on the calling thread.
_GEMV_ROWS = 2048


class FaceIndex:
    """Face id (int >= 0) -> float32 encoding, searchable by Euclidean distance.

    Up to `exact_limit` faces it keeps a numpy matrix and searches it exactly; past that
    it moves to an hnswlib graph (approximate, recall@10 >= 0.99) and stays there until
    it is rebuilt.
    """

    def __init__(
        self,
        directory: Path,
        dim: int = 128,
        *,
        exact_limit: int = EXACT_LIMIT,
        m: int = HNSW_M,
        ef_construction: int = HNSW_EF_CONSTRUCTION,
        ef: int = HNSW_EF,
        read_only: bool = False,
    ) -> None:
        self.directory = Path(directory)
        self.read_only = read_only  # of a read-only library: save() writes nothing
        self.dim = dim
        self.exact_limit = exact_limit
        self.m = m
        self.ef_construction = ef_construction
        self.ef = ef
        self._lock = ReadWriteLock()  # searches read; applying a change writes
        self._mutate = threading.Lock()  # one change (or save) at a time
        self._changes = 0  # bumped by every change: a save with nothing new is skipped
        self._saved: tuple[int, int] | None = None  # (generation, _changes) on disk
        self._reset_exact(0)

    # ----------------------------------------------------------------- state

    def _reset_exact(self, capacity: int) -> None:
        self._hnsw: hnswlib.Index | None = None
        self._live: set[int] = set()  # HNSW mode: ids present
        self._dead: set[int] = set()  # HNSW mode: ids marked deleted in the graph
        self._n = 0  # exact mode: rows in use
        self._ids = np.empty(capacity, dtype=np.int64)
        self._vecs = np.empty((capacity, self.dim), dtype=np.float32)
        self._sqnorms = np.empty(capacity, dtype=np.float32)
        self._row: dict[int, int] = {}

    @property
    def mode(self) -> str:
        """ "exact" or "hnsw"."""
        return "exact" if self._hnsw is None else "hnsw"

    def __len__(self) -> int:
        return self._n if self._hnsw is None else len(self._live)

    def __contains__(self, face_id: object) -> bool:
        key = int(face_id)  # type: ignore[call-overload]
        return key in self._row if self._hnsw is None else key in self._live

    def ids(self) -> np.ndarray:
        """Every face id in the index, int64, in no particular order."""
        with self._lock.read():
            if self._hnsw is None:
                return self._ids[: self._n].copy()
            return np.fromiter(self._live, dtype=np.int64, count=len(self._live))

    # ------------------------------------------------------------ open, save

    def open(
        self,
        generation: int,
        load_all: Callable[[], tuple[np.ndarray, np.ndarray]],
        load_changes: Callable[[int], Changes] | None = None,
    ) -> str:
        """Load the saved index and bring it to the database's `generation`; says how.

        "loaded": it was saved at `generation`. "caught up: +A -R": it was saved at an
        older generation, so `load_changes(saved)` -> (ids, encodings, current ids) gave
        the faces written since then and every face id the database holds now; A faces
        were added or re-encoded, R removed, and the result saved. "rebuilt: <why>": it
        was missing, damaged, newer than the database (a restored backup), or older with
        no `load_changes`; it was rebuilt from `load_all()` -> (ids int64 (n,), encodings
        float32 (n, dim)) and saved.
        """
        with self._mutate:
            try:
                saved = self._load(generation, allow_older=load_changes is not None)
                why = None
            except FileNotFoundError:
                why = "missing"
            except _Stale as e:
                why = f"stale ({e})"
            except IndexCorrupt as e:
                why = f"corrupt ({e})"
        if why is None and saved == generation:
            return "loaded"
        if why is None and load_changes is not None:
            try:
                added, removed = self.catch_up(*load_changes(saved))
            except IndexCorrupt as e:
                why = f"out of step ({e})"
            else:
                self.save(generation)
                return f"caught up: +{added} -{removed}"
        ids, vectors = load_all()
        self.rebuild(ids, vectors)
        self.save(generation)
        return f"rebuilt: {why}"

    def rebuild(self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Replace the whole content; exact or HNSW by size."""
        ids_arr, vecs = self._check_batch(ids, vectors)
        with self._mutate:
            self._changes += 1
            if len(ids_arr) <= self.exact_limit:
                with self._lock.write():
                    self._reset_exact(len(ids_arr))
                    self._exact_add(ids_arr, vecs)
                return
            graph = self._build_hnsw(ids_arr, vecs)
            with self._lock.write():
                self._reset_exact(0)
                self._hnsw = graph
                self._live = set(ids_arr.tolist())

    def save(self, generation: int) -> None:
        """Write the index atomically, recording `generation`.

        Data files get fresh names and the small metadata file naming them is replaced
        last, so a crash at any point leaves either the old or the new index. Nothing is
        written when the files on disk already hold this content at this generation.
        """
        if self.read_only:
            return
        with self._mutate:
            if self._saved == (generation, self._changes) and self._saved_meta() == generation:
                return
            self.directory.mkdir(parents=True, exist_ok=True)
            token = f"{DATA_PREFIX}{generation}-{uuid.uuid4().hex[:12]}"
            try:
                written = self._write_files(token, generation)
            except OSError:
                # A full disk: the old index stays whole; its half-written successor
                # would only hold on to the space the user is short of.
                for path in [*self.directory.glob(f"{token}.*"), self._meta_tmp()]:
                    path.unlink(missing_ok=True)
                raise
            sync_dir(self.directory)
            self._saved = (int(generation), self._changes)
            self._remove_unreferenced(written, generation)

    def _write_files(self, token: str, generation: int) -> set[str]:
        """Write the data files and replace the metadata naming them; returns their names."""
        ids_path = self.directory / f"{token}.ids.npz"
        if self._hnsw is None:
            data_path = self.directory / f"{token}.vectors.npy"
            live = self._ids[: self._n]
            with open(data_path, "wb") as f:
                np.save(f, self._vecs[: self._n], allow_pickle=False)
                sync(f)
            dead = np.empty(0, dtype=np.int64)
            elements = self._n
        else:
            data_path = self.directory / f"{token}.hnsw"
            live = np.fromiter(self._live, dtype=np.int64, count=len(self._live))
            dead = np.fromiter(self._dead, dtype=np.int64, count=len(self._dead))
            self._hnsw.save_index(str(data_path))
            with open(data_path, "rb+") as f:
                sync(f)
            elements = self._hnsw.element_count
        with open(ids_path, "wb") as f:
            np.savez(f, ids=live, dead=dead)
            sync(f)
        meta = {
            "format": FORMAT_VERSION,
            "generation": int(generation),
            "mode": self.mode,
            "metric": "euclidean",
            "dim": self.dim,
            "count": int(len(live)),
            "elements": int(elements),
            "params": {"M": self.m, "ef_construction": self.ef_construction, "ef": self.ef},
            "files": {"ids": describe_file(ids_path), "data": describe_file(data_path)},
        }
        tmp = self._meta_tmp()
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1)
            sync(f)
        os.replace(tmp, self.directory / META_NAME)
        return {ids_path.name, data_path.name}

    def _meta_tmp(self) -> Path:
        return self.directory / f"{META_NAME}.tmp"

    def _remove_unreferenced(self, keep: set[str], generation: int) -> None:
        """Delete the data files of earlier saves. Another process may save into this
        folder at the same time: keep the files the metadata on disk names now (they may
        be its), and files of this or a later generation (its save in progress)."""
        try:
            meta = json.loads((self.directory / META_NAME).read_text(encoding="utf-8"))
            keep = keep | {str(v["name"]) for v in meta["files"].values()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
        for path in self.directory.glob(f"{DATA_PREFIX}*"):
            if path.name not in keep and file_generation(path.name) < generation:
                path.unlink(missing_ok=True)

    def _saved_meta(self) -> int | None:
        """The generation the metadata on disk records, if it and its files are there."""
        try:
            meta = json.loads((self.directory / META_NAME).read_text(encoding="utf-8"))
            names = [str(v["name"]) for v in meta["files"].values()]
            if all((self.directory / name).is_file() for name in names):
                return int(meta["generation"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
        return None

    def _load(self, generation: int, allow_older: bool = False) -> int:
        """Load the saved index; returns the generation it was saved at."""
        meta_path = self.directory / META_NAME
        if not meta_path.is_file():
            raise FileNotFoundError(meta_path)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            saved = int(meta["generation"])
            files = {
                k: (str(v["name"]), int(v["size"]), int(v["crc32"]))
                for k, v in meta["files"].items()
            }
            mode, count, elements = str(meta["mode"]), int(meta["count"]), int(meta["elements"])
            fmt, dim = meta["format"], meta["dim"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise IndexCorrupt(f"unreadable {META_NAME}: {e}") from e
        if set(files) != {"ids", "data"}:
            raise IndexCorrupt(f"{META_NAME} names files {sorted(files)}")
        if fmt != FORMAT_VERSION or dim != self.dim or mode not in ("exact", "hnsw"):
            raise IndexCorrupt(f"format {fmt}, dim {dim}, mode {mode}")
        if saved > generation:
            raise _Stale(f"saved at generation {saved}, newer than the database at {generation}")
        if saved < generation and not allow_older:
            raise _Stale(f"saved at generation {saved}, database at {generation}")
        paths = {key: self._verified(*spec) for key, spec in files.items()}
        live, dead = load_ids(paths["ids"], count)
        if mode == "exact":
            vecs = load_vectors(paths["data"], count, self.dim)
            with self._lock.write():
                self._reset_exact(count)
                self._exact_add(live, vecs)
                repeated = len(self._row) != count
        else:
            graph = self._load_hnsw(paths["data"], elements, count)
            with self._lock.write():
                self._reset_exact(0)
                self._hnsw = graph
                self._live = set(live.tolist())
                self._dead = set(dead.tolist())
                repeated = len(self._live) != count
        if repeated:
            self._reset_exact(0)
            raise IndexCorrupt("ids file repeats an id")
        self._changes += 1
        self._saved = (saved, self._changes)
        self._remove_unreferenced({p.name for p in paths.values()}, generation)
        return saved

    def _verified(self, name: str, size: int, crc: int) -> Path:
        """The path of a data file whose size and checksum match what was saved."""
        path = self.directory / name
        if Path(name).name != name or not path.is_file():
            raise FileNotFoundError(path)
        if path.stat().st_size != size or crc32(path) != crc:
            raise IndexCorrupt(f"{name} does not match its checksum")
        return path

    def _load_hnsw(self, path: Path, elements: int, count: int) -> hnswlib.Index:
        graph = hnswlib.Index(space="l2", dim=self.dim)
        try:
            graph.load_index(str(path), allow_replace_deleted=True)
        except (RuntimeError, ValueError, MemoryError) as e:
            raise IndexCorrupt(f"hnswlib cannot load it: {e}") from e
        if graph.dim != self.dim or graph.element_count != elements or elements < count:
            raise IndexCorrupt(f"graph holds {graph.element_count} elements, saved {elements}")
        graph.set_ef(self.ef)
        return graph

    # ------------------------------------------------------------- changes

    def add(self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Add encodings; an id already present gets its new encoding."""
        ids_arr, vecs = self._check_batch(ids, vectors)
        with self._mutate:
            self._add_locked(ids_arr, vecs, threads=1)

    def remove(self, ids: Iterable[int] | np.ndarray) -> None:
        """Forget faces; ids not in the index are ignored."""
        raw = ids if isinstance(ids, np.ndarray) else list(ids)
        with self._mutate:
            self._remove_locked(np.asarray(raw, dtype=np.int64).ravel())

    def catch_up(
        self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray, current_ids: np.ndarray
    ) -> tuple[int, int]:
        """Bring the index in line with the database without rebuilding it.

        `ids`/`vectors`: the encodings written since the index was last in step (new faces
        and re-encoded ones); `current_ids`: every face id the database holds now. Faces
        not in `current_ids` are removed; a written face is added unless the index already
        holds that exact encoding. Returns (added or re-encoded, removed). Raises
        IndexCorrupt, changing nothing, when the database holds faces that the index lacks
        and `ids` does not bring: then it is not the older state of this database.
        """
        ids_arr, vecs = self._check_batch(ids, vectors)  # ids now unique
        current = np.sort(np.asarray(current_ids, dtype=np.int64))
        if len(current) > 1 and not (current[1:] > current[:-1]).all():
            current = np.unique(current)
        with self._mutate:
            held = np.sort(self.ids())  # unique: ids() never repeats one
            gone = np.setdiff1d(held, current, assume_unique=True)
            wanted = np.isin(ids_arr, current, assume_unique=True)  # written, then removed
            ids_arr, vecs = ids_arr[wanted], vecs[wanted]
            lacking = np.setdiff1d(current, held, assume_unique=True)
            unseen = np.setdiff1d(lacking, ids_arr, assume_unique=True)
            if len(unseen):
                raise IndexCorrupt(f"{len(unseen)} faces of the database are neither in it nor new")
            fresh = self._differs(ids_arr, vecs)
            self._remove_locked(gone)
            # Every core: this runs while a person waits for the library to open.
            self._add_locked(ids_arr[fresh], vecs[fresh], threads=-1)
        return int(fresh.sum()), len(gone)

    def _differs(self, ids: np.ndarray, vecs: np.ndarray) -> np.ndarray:
        """Which rows are absent from the index or held with another encoding."""
        with self._lock.read():
            if self._hnsw is None:
                rows = np.fromiter((self._row.get(i, -1) for i in ids.tolist()), np.int64, len(ids))
                held, old = rows >= 0, self._vecs[rows[rows >= 0]]
            else:
                held = np.fromiter((i in self._live for i in ids.tolist()), bool, len(ids))
                old = np.empty((0, self.dim), dtype=np.float32)
                if held.any():
                    old = np.asarray(self._hnsw.get_items(ids[held]), dtype=np.float32)
        differs = ~held
        if held.any():
            # Re-encoding in the graph is costly (it re-links the neighbours): skip no-ops.
            differs[held] = (old.reshape(-1, self.dim) != vecs[held]).any(axis=1)
        return differs

    def _add_locked(self, ids_arr: np.ndarray, vecs: np.ndarray, threads: int) -> None:
        if not len(ids_arr):
            return
        self._changes += 1
        if self._hnsw is None:
            if self._n + len(ids_arr) > self.exact_limit:
                new = np.fromiter((i not in self._row for i in ids_arr.tolist()), bool)
                if self._n + int(new.sum()) > self.exact_limit:
                    self._grow_into_hnsw(ids_arr, vecs)
                    return
            with self._lock.write():
                self._exact_add(ids_arr, vecs)
        else:
            self._hnsw_add(ids_arr, vecs, threads)

    def _remove_locked(self, ids: np.ndarray) -> None:
        wanted = ids.tolist()
        if not wanted:
            return
        self._changes += 1
        with self._lock.write():
            if self._hnsw is None:
                for face_id in wanted:
                    self._exact_remove(face_id)
                return
            for face_id in wanted:
                if face_id in self._live:
                    self._hnsw.mark_deleted(face_id)
                    self._live.discard(face_id)
                    self._dead.add(face_id)

    def _check_batch(
        self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Validated int64 ids and float32 (n, dim) rows; a repeated id keeps its last row."""
        ids_arr = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids), dtype=np.int64)
        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        if vecs.ndim == 1 and vecs.size == self.dim:
            vecs = vecs.reshape(1, self.dim)
        ids_arr = ids_arr.reshape(-1)
        if vecs.ndim != 2 or vecs.shape[1] != self.dim or len(vecs) != len(ids_arr):
            raise ValueError(f"need (n, {self.dim}) encodings for n ids, got {vecs.shape}")
        if len(ids_arr) and ids_arr.min() < 0:
            raise ValueError("face ids must be >= 0")
        if not np.isfinite(vecs).all():
            raise ValueError("encodings must be finite")
        uniq, first_from_end = np.unique(ids_arr[::-1], return_index=True)
        if len(uniq) != len(ids_arr):
            keep = np.sort(len(ids_arr) - 1 - first_from_end)
            ids_arr, vecs = ids_arr[keep], vecs[keep]
        return ids_arr, vecs

    def _exact_add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        rows = np.fromiter((self._row.get(i, -1) for i in ids.tolist()), np.int64, len(ids))
        old = rows >= 0
        self._vecs[rows[old]] = vecs[old]
        self._sqnorms[rows[old]] = np.einsum("ij,ij->i", vecs[old], vecs[old])
        new_ids, new_vecs = ids[~old], vecs[~old]
        end = self._n + len(new_ids)
        if end > len(self._ids):
            self._grow_exact(max(end, int(len(self._ids) * _GROWTH) + 16))
        self._ids[self._n : end] = new_ids
        self._vecs[self._n : end] = new_vecs
        self._sqnorms[self._n : end] = np.einsum("ij,ij->i", new_vecs, new_vecs)
        self._row.update(zip(new_ids.tolist(), range(self._n, end), strict=True))
        self._n = end

    def _grow_exact(self, capacity: int) -> None:
        n = self._n
        ids = np.empty(capacity, dtype=np.int64)
        vecs = np.empty((capacity, self.dim), dtype=np.float32)
        norms = np.empty(capacity, dtype=np.float32)
        ids[:n], vecs[:n], norms[:n] = self._ids[:n], self._vecs[:n], self._sqnorms[:n]
        self._ids, self._vecs, self._sqnorms = ids, vecs, norms

    def _exact_remove(self, face_id: int) -> None:
        row = self._row.pop(face_id, None)
        if row is None:
            return
        last = self._n - 1
        if row != last:  # move the last row into the hole to stay contiguous
            moved = int(self._ids[last])
            self._ids[row] = moved
            self._vecs[row] = self._vecs[last]
            self._sqnorms[row] = self._sqnorms[last]
            self._row[moved] = row
        self._n = last

    def _grow_into_hnsw(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        """Past the exact limit: build the graph beside the matrix, then swap."""
        with self._lock.read():  # the matrix cannot change: we hold _mutate
            incoming = set(ids.tolist())
            old_ids = self._ids[: self._n]
            keep = np.fromiter((i not in incoming for i in old_ids.tolist()), bool, self._n)
            all_ids = np.concatenate([old_ids[keep], ids])
            all_vecs = np.concatenate([self._vecs[: self._n][keep], vecs])
        graph = self._build_hnsw(all_ids, all_vecs)
        with self._lock.write():
            self._reset_exact(0)
            self._hnsw = graph
            self._live = set(all_ids.tolist())

    def _build_hnsw(self, ids: np.ndarray, vecs: np.ndarray) -> hnswlib.Index:
        graph = hnswlib.Index(space="l2", dim=self.dim)
        graph.init_index(
            max_elements=max(int(len(ids) * _GROWTH), 1024),
            M=self.m,
            ef_construction=self.ef_construction,
            allow_replace_deleted=True,
        )
        graph.add_items(vecs, ids, num_threads=-1)
        graph.set_ef(self.ef)
        return graph

    def _hnsw_add(self, ids: np.ndarray, vecs: np.ndarray, threads: int) -> None:
        graph = self._hnsw
        assert graph is not None
        with self._lock.write():
            present = np.fromiter((i in self._live for i in ids.tolist()), bool, len(ids))
            for face_id in ids[~present].tolist():
                if face_id in self._dead:
                    self._dead.discard(face_id)
                    try:  # a removed id comes back into its old slot
                        graph.unmark_deleted(face_id)
                        present[ids == face_id] = True
                    except RuntimeError:  # its slot was reused by another face
                        pass
            if present.any():
                graph.add_items(vecs[present], ids[present], num_threads=threads)
            new = ~present
            if new.any():
                needed = graph.element_count + int(new.sum())
                if needed > graph.max_elements:
                    graph.resize_index(max(needed, int(graph.max_elements * _GROWTH)))
                # Fill the slots of removed faces first so churn does not grow the file.
                graph.add_items(vecs[new], ids[new], num_threads=threads, replace_deleted=True)
            self._live.update(ids.tolist())
            self._prune_dead(graph)

    def _prune_dead(self, graph: hnswlib.Index) -> None:
        """Drop ids whose deleted slots were reused, once they clearly outnumber the slots."""
        slots = graph.element_count - len(self._live)
        if len(self._dead) > 2 * slots + 1024:
            labels = np.asarray(graph.get_ids_list(), dtype=np.int64)
            self._dead = set(labels.tolist()) - self._live

    # -------------------------------------------------------------- search

    def search(
        self, vector: np.ndarray, k: int, exclude: set[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The `k` nearest faces: (ids int64, Euclidean distances float32), nearest first.

        Fewer than `k` when the index holds fewer faces; ids in `exclude` never appear.
        """
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, self.dim)
        exclude = exclude or set()
        with self._lock.read():
            if self._hnsw is None:
                mask = None
                if exclude:
                    rows = [self._row[i] for i in exclude if i in self._row]
                    mask = np.array(rows, dtype=np.int64)
                return self._exact_search_one(query[0], k, mask)
            excluded = len(exclude) if len(exclude) < 64 else len(exclude & self._live)
            want = min(k + excluded, len(self._live))
            ids, dist = self._hnsw_search(query, want, num_threads=1)
        ids, dist = ids[0], dist[0]
        if exclude:
            keep = np.fromiter((i not in exclude for i in ids.tolist()), bool, len(ids))
            ids, dist = ids[keep], dist[keep]
        return ids[:k], dist[:k]

    def search_many(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` nearest faces of each row: ids int64 (m, k'), distances float32 (m, k').

        k' = min(k, len(self)). A query that is itself in the index finds itself first
        (distance 0): ask for k + 1 to build a kNN graph. Uses every core in HNSW mode.
        """
        queries = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        with self._lock.read():
            if self._hnsw is None:
                return self._exact_search(queries, k, None)
            return self._hnsw_search(queries, min(k, len(self._live)), num_threads=-1)

    def _exact_search_one(
        self, query: np.ndarray, k: int, excluded_rows: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One query: a matrix-vector product, cheaper than the batched path's overhead."""
        n = self._n
        kk = max(0, min(k, n - (len(excluded_rows) if excluded_rows is not None else 0)))
        if kk == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        vecs = self._vecs[:n]
        # |v - q|^2 - |q|^2 by expansion ranks the rows fast; exact distances follow.
        proj = np.empty(n, dtype=np.float32)
        for start in range(0, n, _GEMV_ROWS):
            np.dot(vecs[start : start + _GEMV_ROWS], query, out=proj[start : start + _GEMV_ROWS])
        d2 = self._sqnorms[:n] - 2.0 * proj
        if excluded_rows is not None and len(excluded_rows):
            d2[excluded_rows] = np.inf
        cand = np.argpartition(d2, kk - 1)[:kk] if kk < n else np.arange(n)
        diff = vecs[cand] - query
        dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        order = np.argsort(dist, kind="stable")
        return self._ids[cand[order]], dist[order]

    def _exact_search(
        self, queries: np.ndarray, k: int, excluded_rows: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        n = self._n
        kk = max(0, min(k, n - (len(excluded_rows) if excluded_rows is not None else 0)))
        out_ids = np.empty((len(queries), kk), dtype=np.int64)
        out_dist = np.empty((len(queries), kk), dtype=np.float32)
        if kk == 0:
            return out_ids, out_dist
        vecs, norms = self._vecs[:n], self._sqnorms[:n]
        # Bounds the (chunk, n) distance matrix and the (chunk, k, dim) candidates.
        chunk = max(1, min((1 << 22) // n, (1 << 22) // (kk * self.dim)))
        for start in range(0, len(queries), chunk):
            q = queries[start : start + chunk]
            # |v - q|^2 by expansion picks the candidates fast; exact distances follow.
            d2 = norms[None, :] - 2.0 * (q @ vecs.T)
            if excluded_rows is not None and len(excluded_rows):
                d2[:, excluded_rows] = np.inf
            if kk < n:
                cand = np.argpartition(d2, kk - 1, axis=1)[:, :kk]
            else:
                cand = np.broadcast_to(np.arange(n), (len(q), n))
            dist = np.linalg.norm(vecs[cand] - q[:, None, :], axis=2)
            order = np.argsort(dist, axis=1, kind="stable")
            out_ids[start : start + chunk] = self._ids[np.take_along_axis(cand, order, 1)]
            out_dist[start : start + chunk] = np.take_along_axis(dist, order, 1)
        return out_ids, out_dist

    def _hnsw_search(
        self, queries: np.ndarray, k: int, num_threads: int
    ) -> tuple[np.ndarray, np.ndarray]:
        graph = self._hnsw
        assert graph is not None
        if k <= 0:
            empty = np.empty((len(queries), 0))
            return empty.astype(np.int64), empty.astype(np.float32)
        try:
            labels, sq = graph.knn_query(queries, k=k, num_threads=num_threads)
        except RuntimeError:
            # hnswlib found fewer than k live neighbours (a sparse graph after many
            # removals): answer exactly from the stored vectors instead.
            return self._hnsw_brute_force(queries, k)
        return labels.astype(np.int64), np.sqrt(np.maximum(sq, 0.0)).astype(np.float32)

    def _hnsw_brute_force(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        graph = self._hnsw
        assert graph is not None
        ids = np.fromiter(self._live, dtype=np.int64, count=len(self._live))
        vecs = np.asarray(graph.get_items(ids), dtype=np.float32)
        dist = np.linalg.norm(vecs[None, :, :] - queries[:, None, :], axis=2)
        order = np.argsort(dist, axis=1, kind="stable")[:, :k]
        return ids[order], np.take_along_axis(dist, order, 1).astype(np.float32)


class _Stale(Exception):
    """The saved index belongs to another database generation."""
