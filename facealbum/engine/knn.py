"""k-nearest-neighbour sources for grouping when the library's vector index is not at hand.

Grouping only needs a callable ``knn(vectors, k) -> (ids, distances)``: for each query row,
the ids of its k nearest indexed faces and their Euclidean distances, nearest first, id -1
where fewer than k exist. The library's FaceIndex.search_many fits; these two build one from
arrays, for tests, benchmarks and subsets such as the faces of named people.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

KnnFn = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]

# Below this many vectors an exact search is both fast and free of approximation.
EXACT_LIMIT = 20_000
# Distance-matrix cells computed at once by the exact search (64 MB of float32).
_BLOCK_CELLS = 16_000_000


def exact_knn(vectors: np.ndarray, ids: np.ndarray) -> KnnFn:
    """Exact Euclidean kNN over `vectors` (n, d), answering with `ids` (n,), blockwise in numpy."""
    base = np.ascontiguousarray(vectors, dtype=np.float32)
    ids = np.asarray(ids, dtype=np.int64)
    base_sq = np.einsum("ij,ij->i", base, base)

    def search(queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        m, n = len(queries), len(base)
        out_ids = np.full((m, k), -1, dtype=np.int64)
        out_dist = np.full((m, k), np.inf, dtype=np.float32)
        kk = min(k, n)
        if kk == 0 or m == 0:
            return out_ids, out_dist
        block = max(1, _BLOCK_CELLS // max(n, 1))
        for start in range(0, m, block):
            q = queries[start : start + block]
            d2 = base_sq[None, :] - 2.0 * (q @ base.T)
            d2 += np.einsum("ij,ij->i", q, q)[:, None]
            part = (
                np.argpartition(d2, kk - 1, axis=1)[:, :kk]
                if kk < n
                else np.tile(np.arange(n), (len(q), 1))
            )
            part_d2 = np.take_along_axis(d2, part, axis=1)
            order = np.argsort(part_d2, axis=1)
            rows = slice(start, start + len(q))
            out_ids[rows, :kk] = ids[np.take_along_axis(part, order, axis=1)]
            out_dist[rows, :kk] = np.sqrt(np.maximum(np.take_along_axis(part_d2, order, 1), 0))
        return out_ids, out_dist

    return search


def hnsw_knn(vectors: np.ndarray, ids: np.ndarray, threads: int = -1) -> KnnFn:
    """Approximate Euclidean kNN through an in-memory hnswlib index (for large sets)."""
    import hnswlib

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index = hnswlib.Index(space="l2", dim=vectors.shape[1])
    index.init_index(max_elements=max(len(vectors), 1), ef_construction=100, M=16)
    if len(vectors):
        index.add_items(vectors, np.asarray(ids, dtype=np.int64), num_threads=threads)
    count = len(vectors)

    def search(queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        m = len(queries)
        out_ids = np.full((m, k), -1, dtype=np.int64)
        out_dist = np.full((m, k), np.inf, dtype=np.float32)
        kk = min(k, count)
        if kk == 0 or m == 0:
            return out_ids, out_dist
        index.set_ef(max(64, 2 * kk))
        labels, d2 = index.knn_query(np.asarray(queries, np.float32), k=kk, num_threads=threads)
        out_ids[:, :kk] = labels.astype(np.int64)
        out_dist[:, :kk] = np.sqrt(np.maximum(d2, 0))  # hnswlib's l2 is squared
        return out_ids, out_dist

    return search


def build_knn(vectors: np.ndarray, ids: np.ndarray) -> KnnFn:
    """Exact search for small sets, hnswlib beyond EXACT_LIMIT vectors."""
    if len(vectors) <= EXACT_LIMIT:
        return exact_knn(vectors, ids)
    return hnsw_knn(vectors, ids)


def restricted_knn(knn: KnnFn, allowed_ids: np.ndarray, share: float, max_k: int = 128) -> KnnFn:
    """A search over a subset of an index: only `allowed_ids` are answered.

    `share` is the subset's part of the index (0..1]: each query asks `knn` for about k /
    share neighbours (at most max_k) so that some k of them are allowed, then keeps the
    first k allowed ones; rows may come back shorter than k (padded with id -1) when the
    subset is sparse around a query. Lets a regroup of most of a library reuse the
    library's index instead of building a second one.
    """
    allowed = np.unique(np.asarray(allowed_ids, dtype=np.int64))
    share = min(max(float(share), 1e-3), 1.0)

    def search(queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        ask = min(max(k, int(np.ceil(k / share)) + 2), max(k, max_k))
        found, dist = knn(queries, ask)
        ok = np.zeros(found.shape, bool)
        if len(allowed):
            at = np.clip(np.searchsorted(allowed, found), 0, len(allowed) - 1)
            ok = (found >= 0) & (allowed[at] == found)
        rank = np.cumsum(ok, axis=1) - 1
        ok &= rank < k
        rows = np.broadcast_to(np.arange(len(found))[:, None], found.shape)
        out_ids = np.full((len(found), k), -1, np.int64)
        out_dist = np.full((len(found), k), np.inf, np.float32)
        out_ids[rows[ok], rank[ok]] = found[ok]
        out_dist[rows[ok], rank[ok]] = dist[ok]
        return out_ids, out_dist

    return search
