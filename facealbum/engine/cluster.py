"""Group unassigned faces into candidate people over a k-nearest-neighbour graph.

The method is a constrained agglomeration: kNN edges shorter than `link_distance` are taken
shortest first (Kruskal), and two groups merge along an edge only when

- they share no photo (two faces of one photo are never one person), and
- (average linkage, the default) the root-mean-square distance over all pairs of their
  faces stays within `group_distance`. It is computed exactly from each group's size, sum
  and sum of squared norms (mean gap squared + both spreads), so no pairs are visited.
  A look-alike chain (siblings, a blurry bridge face) cannot glue two people together,
  as plain connected components do, and near-duplicate photos count as one tight face.

Measured with bench/cluster.py (BCubed precision/recall): labelled photos and augmented
copies 1.00/0.98 and 1.00/1.00 for average and single linkage, recall 0.95/0.92 for
centroid; 20k synthetic
faces with a tenth of the people given a look-alike 0.55 away: single 0.79/0.99, centroid
(0.40) 0.97/0.93, average (0.55) 1.00/0.99. 100k faces: bench/results/cluster.json.

Only the kNN lists are read, never all pairs: memory and time grow with n * k.
Faces assigned to a person (by the user or automatically) never take part; the grouping only
ever touches unassigned, groupable faces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from facealbum.engine.faceset import FaceTable
from facealbum.engine.knn import KnnFn, build_knn

UNGROUPED = -1

# A grouping looks at its caller's `cancelled()` between parts of its work, each well
# under a second on 100,000 faces (the neighbour search ~0.5 s a part, the merges ~0.1 s),
# so that a cancelled regroup stops soon instead of after its whole plan.
QUERIES_PER_PART = 10_000
MERGES_PER_PART = 50_000


class Cancelled(Exception):
    """The grouping stopped because its caller's `cancelled()` turned true."""


def _never() -> bool:
    return False


def _search_in_parts(
    knn: KnnFn, queries: np.ndarray, k: int, cancelled: Callable[[], bool]
) -> tuple[np.ndarray, np.ndarray]:
    found, dist = [], []
    for start in range(0, len(queries), QUERIES_PER_PART):
        if cancelled():
            raise Cancelled
        ids, d = knn(queries[start : start + QUERIES_PER_PART], k)
        found.append(ids)
        dist.append(d)
    return np.concatenate(found), np.concatenate(dist)


@dataclass(frozen=True)
class GroupingParams:
    """Knobs of the grouping; the defaults were chosen on real and synthetic faces
    (bench/cluster.py)."""

    k: int = 16  # neighbours per face read from the index
    link_distance: float = 0.5  # an edge longer than this never joins two faces
    # "average": groups merge while the root-mean-square distance between their faces stays
    # within group_distance; "centroid": while their means are within group_distance (or the
    # edge's own allowance for small groups); "single": any edge merges (connected components).
    linkage: str = "average"
    group_distance: float = 0.55
    min_group_size: int = 2  # smaller groups are reported as ungrouped


class _Merger:
    """Union-find over nodes that carry a face count, encoding sum, sum of squared norms and
    photo set, enough to know the mean and spread of every group without its members."""

    def __init__(
        self,
        counts: np.ndarray,
        sums: np.ndarray,
        sumsq: np.ndarray,
        photos: list[set[int]],
        locked: np.ndarray,
        params: GroupingParams,
    ) -> None:
        self.parent = list(range(len(counts)))
        self.counts = [int(c) for c in counts]
        self.sums = np.array(sums, dtype=np.float64)
        self.sumsq = [float(x) for x in sumsq]
        self.photos = photos
        # A locked node is an existing group; two of them never merge (incremental joins).
        self.locked = [bool(x) for x in locked]
        self.linkage = params.linkage
        self.link_sq = params.link_distance**2
        self.group_sq = params.group_distance**2

    @classmethod
    def of_faces(
        cls, encodings: np.ndarray, photo_ids: np.ndarray, params: GroupingParams
    ) -> _Merger:
        enc = np.asarray(encodings, dtype=np.float64)
        return cls(
            counts=np.ones(len(enc), np.int64),
            sums=enc,
            sumsq=np.einsum("ij,ij->i", enc, enc),
            photos=[{p} for p in np.asarray(photo_ids).tolist()],
            locked=np.zeros(len(enc), bool),
            params=params,
        )

    def _close_enough(self, a: int, b: int) -> bool:
        na, nb = self.counts[a], self.counts[b]
        mean_a, mean_b = self.sums[a] / na, self.sums[b] / nb
        diff = mean_a - mean_b
        between = float(diff @ diff)
        if self.linkage == "average":
            # Mean squared distance over all cross pairs = |mean gap|^2 + both spreads.
            spread_a = self.sumsq[a] / na - float(mean_a @ mean_a)
            spread_b = self.sumsq[b] / nb - float(mean_b @ mean_b)
            return between + spread_a + spread_b <= self.group_sq
        if self.linkage == "centroid":
            return between <= max(self.group_sq, self.link_sq * (1 / na + 1 / nb) / 2)
        return True

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    def merge(self, i: int, j: int) -> bool:
        a, b = self.find(i), self.find(j)
        if a == b or (self.locked[a] and self.locked[b]):
            return False
        if self.counts[a] < self.counts[b]:
            a, b = b, a
        if not self.photos[b].isdisjoint(self.photos[a]):
            return False
        if not self._close_enough(a, b):
            return False
        self.parent[b] = a
        self.counts[a] += self.counts[b]
        self.sums[a] += self.sums[b]
        self.sumsq[a] += self.sumsq[b]
        self.photos[a] |= self.photos[b]
        self.photos[b] = set()
        self.locked[a] = self.locked[a] or self.locked[b]
        return True

    def roots(self) -> np.ndarray:
        return np.array([self.find(i) for i in range(len(self.parent))], dtype=np.int64)


def graph_edges(
    neighbours: np.ndarray, distances: np.ndarray, photo_ids: np.ndarray, link_distance: float
) -> tuple[np.ndarray, np.ndarray]:
    """Undirected edges (a, b) with a < b, shortest first, from kNN rows.

    `neighbours` (m, k) holds node indices (-1 = none) of the m query nodes 0..m-1; edges
    longer than `link_distance` and edges inside one photo are dropped.
    """
    m, k = neighbours.shape
    rows = np.repeat(np.arange(m, dtype=np.int64), k)
    cols = neighbours.reshape(-1)
    dist = distances.reshape(-1)
    keep = (cols >= 0) & (cols != rows) & (dist < link_distance)
    rows, cols, dist = rows[keep], cols[keep], dist[keep]
    keep = photo_ids[rows] != photo_ids[cols]
    a = np.minimum(rows[keep], cols[keep])
    b = np.maximum(rows[keep], cols[keep])
    dist = dist[keep]
    order = np.argsort(dist, kind="stable")
    a, b = a[order], b[order]
    # Each pair once, at its first (shortest) occurrence, keeping the distance order.
    _, first = np.unique(a * (len(photo_ids) + 1) + b, return_index=True)
    first.sort()
    return a[first], b[first]


def group_faces(
    encodings: np.ndarray,
    photo_ids: np.ndarray,
    knn: KnnFn | None = None,
    face_ids: np.ndarray | None = None,
    params: GroupingParams | None = None,
    cancelled: Callable[[], bool] = _never,
) -> np.ndarray:
    """Group n faces; returns labels (n,) int64: 0..g-1 per group, UNGROUPED (-1) otherwise.

    `knn(vectors, k)` answers with face ids (of `face_ids`, default 0..n-1) and Euclidean
    distances; ids it returns that are not among these faces are ignored, so an index over
    the whole library may be passed. Without one, an exact/hnswlib search is built here.
    Raises Cancelled once `cancelled()` is true, asked between parts of the work.
    """
    params = params or GroupingParams()
    encodings = np.ascontiguousarray(encodings, dtype=np.float32)
    n = len(encodings)
    photo_ids = np.asarray(photo_ids, dtype=np.int64)
    ids = np.arange(n, dtype=np.int64) if face_ids is None else np.asarray(face_ids, np.int64)
    if n == 0:
        return np.zeros(0, np.int64)
    if knn is None:
        knn = build_knn(encodings, ids)
    found, dist = _search_in_parts(knn, encodings, params.k + 1, cancelled)  # +1: itself
    nodes = FaceTable.of(ids, encodings, photo_ids).rows_of(found)
    a, b = graph_edges(nodes, dist, photo_ids, params.link_distance)
    merger = _Merger.of_faces(encodings, photo_ids, params)
    for start in range(0, len(a), MERGES_PER_PART):
        if cancelled():
            raise Cancelled
        part = slice(start, start + MERGES_PER_PART)
        for i, j in zip(a[part].tolist(), b[part].tolist(), strict=True):
            merger.merge(i, j)
    return compact_labels(merger.roots(), params.min_group_size)


def compact_labels(roots: np.ndarray, min_size: int) -> np.ndarray:
    """Renumber component roots to 0..g-1 (largest group first); small ones UNGROUPED."""
    uniq, inverse, counts = np.unique(roots, return_inverse=True, return_counts=True)
    big = counts >= min_size
    order = np.argsort(-counts[big], kind="stable")
    label_of = np.full(len(uniq), UNGROUPED, np.int64)
    label_of[np.flatnonzero(big)[order]] = np.arange(int(big.sum()), dtype=np.int64)
    return label_of[inverse.reshape(-1)]


def carry_group_ids(
    labels: np.ndarray, previous: np.ndarray, next_id: int
) -> tuple[np.ndarray, int]:
    """Turn fresh labels into group ids, keeping an old id where a group kept most of it.

    labels: (n,) from group_faces; previous: (n,) the faces' old group ids, 0 = none;
    next_id: the first id never used before. A new group inherits the old id whose members
    it holds the most of, provided it holds more than half of that old group (as far as it
    is among these faces); each old id goes to one new group at most. Returns
    (group ids (n,) with 0 for ungrouped faces, the next unused id).
    """
    labels = np.asarray(labels, np.int64)
    previous = np.asarray(previous, np.int64)
    out = np.zeros(len(labels), np.int64)
    grouped = labels >= 0
    old_ids, old_counts = np.unique(previous[previous > 0], return_counts=True)
    old_sizes = dict(zip(old_ids.tolist(), old_counts.tolist(), strict=True))
    pairs = np.stack([labels[grouped], previous[grouped]], axis=1)
    pairs = pairs[pairs[:, 1] > 0]
    new_id: dict[int, int] = {}
    taken: set[int] = set()
    if len(pairs):
        uniq, overlap = np.unique(pairs, axis=0, return_counts=True)
        for idx in np.argsort(-overlap, kind="stable"):
            label, old = int(uniq[idx, 0]), int(uniq[idx, 1])
            if label in new_id or old in taken or 2 * overlap[idx] <= old_sizes[old]:
                continue
            new_id[label] = old
            taken.add(old)
    next_id = max(int(next_id), int(previous.max(initial=0)) + 1)
    for label in np.unique(labels[grouped]).tolist():
        if label not in new_id:
            new_id[label] = next_id
            next_id += 1
    if grouped.any():
        lookup = np.array([new_id[int(x)] for x in range(int(labels.max()) + 1)], np.int64)
        out[grouped] = lookup[labels[grouped]]
    return out, next_id


def regroup(
    table: FaceTable,
    knn: KnnFn | None = None,
    next_group_id: int = 1,
    params: GroupingParams | None = None,
    cancelled: Callable[[], bool] = _never,
) -> tuple[np.ndarray, int]:
    """Full regroup of the library's unassigned, groupable faces.

    Returns (group ids (n,) for every row of `table`, 0 for assigned, ungroupable and lone
    faces; the next unused group id). Person assignments are neither read for grouping nor
    changed; suggest.suggest_people turns unassigned faces near a person into suggestions.
    Raises Cancelled once `cancelled()` is true (see group_faces).
    """
    rows = np.flatnonzero(~table.assigned & table.groupable)
    part = table.subset(rows)
    labels = group_faces(
        part.encodings, part.photo_ids, knn, part.face_ids, params, cancelled=cancelled
    )
    ids, next_id = carry_group_ids(labels, part.group_ids, next_group_id)
    out = np.zeros(len(table), np.int64)
    out[rows] = ids
    return out, next_id


def bcubed(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """BCubed (precision, recall) of a clustering; every label value names one cluster.

    Give each ungrouped face a label of its own (see singletons_apart) before calling.
    """
    truth = np.unique(np.asarray(truth), return_inverse=True)[1].reshape(-1)
    predicted = np.unique(np.asarray(predicted), return_inverse=True)[1].reshape(-1)
    _, pair, joint = np.unique(
        np.stack([truth, predicted], 1), axis=0, return_inverse=True, return_counts=True
    )
    joint = joint[pair.reshape(-1)].astype(float)
    precision = float(np.mean(joint / np.bincount(predicted)[predicted]))
    recall = float(np.mean(joint / np.bincount(truth)[truth]))
    return precision, recall


def singletons_apart(labels: np.ndarray) -> np.ndarray:
    """Labels where each UNGROUPED (-1) face gets a cluster of its own, for scoring."""
    labels = np.asarray(labels, np.int64).copy()
    lone = labels < 0
    labels[lone] = labels.max(initial=-1) + 1 + np.arange(int(lone.sum()))
    return labels
