"""Put the faces of a new scan into the existing groups without regrouping the library.

Each new face looks up its neighbours in the library's index; the groups those neighbours
belong to enter as single nodes carrying their size, mean, spread and photos, lone library
faces as themselves. The same agglomeration and rules as a full regroup then run over this
small graph, with one more rule: two existing groups never merge here (that is a regroup's
decision, and the UI keeps showing what the user saw). Cost: one kNN query per new face and
one pass over the library's group column.
"""

from __future__ import annotations

import numpy as np

from facealbum.engine.cluster import GroupingParams, _Merger, graph_edges
from facealbum.engine.faceset import FaceTable
from facealbum.engine.knn import KnnFn, exact_knn


def join_new_faces(
    library: FaceTable,
    new: FaceTable,
    knn: KnnFn,
    next_group_id: int,
    params: GroupingParams | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Group ids for new faces (and lone library faces they now form a group with).

    library: the faces already stored, with their group ids (new faces may be in it or not);
    new: the scan's faces; only unassigned groupable ones are placed;
    knn(vectors, k): nearest library faces by id and Euclidean distance (e.g.
    FaceIndex.search_many); next_group_id: first id never used.
    Returns (face ids, their group ids, next unused group id) for every face whose group is
    set by this call; faces that match nothing are not listed (they stay ungrouped).
    """
    params = params or GroupingParams()
    new = new.subset(np.flatnonzero(~new.assigned & new.groupable))
    m = len(new)
    if m == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), next_group_id
    library = library.subset(np.flatnonzero(new.rows_of(library.face_ids) < 0))
    found, dist = knn(new.encodings, params.k + 1)
    lib_rows = library.rows_of(found)
    is_new = new.rows_of(found)
    usable = (lib_rows >= 0) & (is_new < 0)
    usable[usable] &= ~library.assigned[lib_rows[usable]] & library.groupable[lib_rows[usable]]
    lib_rows = np.where(usable, lib_rows, -1)

    # Nodes: new faces 0..m-1, then touched existing groups, then touched lone library faces.
    touched = np.unique(lib_rows[lib_rows >= 0])
    touched_groups = np.unique(library.group_ids[touched])
    touched_groups = touched_groups[touched_groups > 0]
    lone = touched[library.group_ids[touched] == 0]
    group_node = {int(g): m + i for i, g in enumerate(touched_groups.tolist())}
    lone_node = {int(r): m + len(group_node) + i for i, r in enumerate(lone.tolist())}
    node_of_row = np.full(len(library), -1, np.int64)
    member_rows = np.flatnonzero(np.isin(library.group_ids, touched_groups))
    for row, gid in zip(member_rows.tolist(), library.group_ids[member_rows].tolist(), strict=True):
        node_of_row[row] = group_node[gid]
    for row, node in lone_node.items():
        node_of_row[row] = node

    n_nodes = m + len(group_node) + len(lone_node)
    merger = _build_merger(new, library, member_rows, node_of_row, lone, n_nodes, params)
    # graph_edges drops same-photo edges between new faces; a library node gets a photo
    # key of its own, its real photos are checked by the merger.
    photo_key = np.concatenate([new.photo_ids, -1 - np.arange(n_nodes - m, dtype=np.int64)])

    # Index only where there is a library row: on a first scan the library may be empty.
    lib_nodes = np.full(lib_rows.shape, -1, np.int64)
    hit = lib_rows >= 0
    lib_nodes[hit] = node_of_row[lib_rows[hit]]
    new_nodes = np.where(is_new >= 0, is_new, -1)
    nodes = np.where(lib_nodes >= 0, lib_nodes, new_nodes)
    own_ids, own_dist = exact_knn(new.encodings, np.arange(m))(new.encodings, params.k + 1)
    neighbours = np.concatenate([nodes, own_ids], axis=1)
    distances = np.concatenate([dist, own_dist], axis=1)
    a, b = graph_edges(neighbours, distances, photo_key, params.link_distance)
    for i, j in zip(a.tolist(), b.tolist(), strict=True):
        merger.merge(i, j)
    return _assign_ids(merger, new, library, touched_groups, lone, next_group_id, params)


def _build_merger(
    new: FaceTable,
    library: FaceTable,
    member_rows: np.ndarray,
    node_of_row: np.ndarray,
    lone: np.ndarray,
    n_nodes: int,
    params: GroupingParams,
) -> _Merger:
    """Nodes with the statistics the linkage rule needs; existing groups are locked."""
    m = len(new)
    counts = np.zeros(n_nodes, np.int64)
    sums = np.zeros((n_nodes, new.encodings.shape[1]), np.float64)
    sumsq = np.zeros(n_nodes, np.float64)
    photos: list[set[int]] = [set() for _ in range(n_nodes)]
    locked = np.zeros(n_nodes, bool)
    enc = new.encodings.astype(np.float64)
    counts[:m] = 1
    sums[:m] = enc
    sumsq[:m] = np.einsum("ij,ij->i", enc, enc)
    for node, photo in enumerate(new.photo_ids.tolist()):
        photos[node].add(photo)
    rows = np.concatenate([member_rows, lone]).astype(np.int64)
    nodes = node_of_row[rows]
    lib_enc = library.encodings[rows].astype(np.float64)
    np.add.at(counts, nodes, 1)
    np.add.at(sums, nodes, lib_enc)
    np.add.at(sumsq, nodes, np.einsum("ij,ij->i", lib_enc, lib_enc))
    for node, photo in zip(nodes.tolist(), library.photo_ids[rows].tolist(), strict=True):
        photos[node].add(photo)
    locked[np.unique(node_of_row[member_rows])] = True
    return _Merger(counts, sums, sumsq, photos, locked, params)


def _assign_ids(
    merger: _Merger,
    new: FaceTable,
    library: FaceTable,
    touched_groups: np.ndarray,
    lone: np.ndarray,
    next_id: int,
    params: GroupingParams,
) -> tuple[np.ndarray, np.ndarray, int]:
    m = len(new)
    roots = merger.roots()
    group_of_root: dict[int, int] = {}
    for i, gid in enumerate(touched_groups.tolist()):
        group_of_root[int(roots[m + i])] = int(gid)
    lone_start = m + len(touched_groups)
    ids: list[int] = []
    groups: list[int] = []
    candidates = [(int(f), int(roots[i])) for i, f in enumerate(new.face_ids.tolist())]
    candidates += [
        (int(library.face_ids[row]), int(roots[lone_start + i]))
        for i, row in enumerate(lone.tolist())
    ]
    for face_id, root in candidates:
        if root not in group_of_root:
            if merger.counts[root] < params.min_group_size:
                continue
            group_of_root[root] = next_id
            next_id += 1
        ids.append(face_id)
        groups.append(group_of_root[root])
    return np.array(ids, np.int64), np.array(groups, np.int64), next_id
