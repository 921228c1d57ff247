"""The face index: nearest faces by Euclidean distance, kept on disk, rebuilt when damaged."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from facealbum.engine.index import META_NAME, FaceIndex

DIM = 128
MODES = ["exact", "hnsw"]


def encodings(n: int, seed: int = 0) -> np.ndarray:
    """Encodings spread like dlib's: norms around 1.4, neighbours 0.3-1.0 apart."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 0.06, (max(1, n // 5), DIM))
    return (centres[np.arange(n) % len(centres)] + rng.normal(0, 0.03, (n, DIM))).astype(np.float32)


def make_index(directory: Path, mode: str) -> FaceIndex:
    # A zero limit forces the HNSW graph even for a handful of faces.
    return FaceIndex(directory, DIM, exact_limit=10**9 if mode == "exact" else 0)


def exact_neighbours(vectors, ids, query, k):
    dist = np.linalg.norm(vectors - query, axis=1)
    order = np.argsort(dist, kind="stable")[:k]
    return ids[order], dist[order]


@pytest.fixture(params=MODES)
def mode(request) -> str:
    return request.param


@pytest.fixture
def filled(tmp_path, mode):
    vectors = encodings(300)
    ids = np.arange(1000, 1300, dtype=np.int64)
    index = make_index(tmp_path / "index", mode)
    index.rebuild(ids, vectors)
    assert index.mode == mode
    return index, ids, vectors


def test_search_returns_the_true_nearest_faces_with_numpys_distances(filled):
    index, ids, vectors = filled
    for q in (0, 17, 299):
        query = vectors[q] + 0.01
        found, dist = index.search(query, 10)
        want_ids, want_dist = exact_neighbours(vectors, ids, query, 10)
        assert list(found) == list(want_ids)
        np.testing.assert_allclose(dist, want_dist, rtol=1e-5, atol=1e-6)
        assert np.all(np.diff(dist) >= 0)


def test_a_face_finds_itself_at_distance_zero(filled):
    index, ids, vectors = filled
    found, dist = index.search(vectors[42], 1)
    assert found[0] == ids[42]
    assert dist[0] == pytest.approx(0.0, abs=1e-3)


def test_exclude_leaves_out_the_given_faces(filled):
    index, ids, vectors = filled
    query = vectors[5]
    nearest, _ = index.search(query, 5)
    skip = {int(nearest[0]), int(nearest[2])}
    found, _ = index.search(query, 5, exclude=skip)
    assert len(found) == 5
    assert not skip & set(found.tolist())
    want, _ = exact_neighbours(vectors, ids, query, 7)
    assert list(found) == [i for i in want if i not in skip][:5]


def test_asking_for_more_than_the_index_holds_returns_everything(tmp_path, mode):
    index = make_index(tmp_path, mode)
    index.rebuild([7, 8, 9], encodings(3))
    found, dist = index.search(encodings(3)[0], 10)
    assert sorted(found.tolist()) == [7, 8, 9]
    assert len(dist) == 3


def test_empty_index_finds_nothing(tmp_path):
    index = FaceIndex(tmp_path)
    found, dist = index.search(encodings(1)[0], 5)
    assert len(found) == 0 and len(dist) == 0
    assert len(index) == 0


def test_add_remove_and_replace(filled):
    index, ids, vectors = filled
    new = encodings(3, seed=9)
    index.add([5000, 5001, 5002], new)
    assert len(index) == 303
    assert index.search(new[1], 1)[0][0] == 5001

    index.remove([5001, 1000, 424242])  # an unknown id is ignored
    assert len(index) == 301
    assert 5001 not in index and 1000 not in index
    found, _ = index.search(new[1], 301)
    assert 5001 not in found.tolist() and 1000 not in found.tolist()

    # Replacing: the id keeps one entry, found at its new place.
    index.add([1100], new[2:3] + 0.001)
    assert len(index) == 301
    found, dist = index.search(new[2], 2)
    assert set(found.tolist()) == {5002, 1100}
    assert index.search(vectors[100], 1)[0][0] != 1100

    # A removed id can come back.
    index.add([5001], new[1:2])
    assert index.search(new[1], 1)[0][0] == 5001
    assert len(index) == 302


def test_a_repeated_id_in_one_batch_keeps_the_last_encoding(tmp_path, mode):
    index = make_index(tmp_path, mode)
    vecs = encodings(2)
    index.add([3, 3], vecs)
    assert len(index) == 1
    assert index.search(vecs[1], 1)[1][0] == pytest.approx(0.0, abs=1e-3)


def test_bad_input_is_refused(tmp_path):
    index = FaceIndex(tmp_path)
    with pytest.raises(ValueError):
        index.add([1, 2], encodings(3))
    with pytest.raises(ValueError):
        index.add([-1], encodings(1))
    with pytest.raises(ValueError):
        index.add([1], np.full((1, DIM), np.nan, dtype=np.float32))
    with pytest.raises(ValueError):
        index.add([1], np.zeros((1, 64), dtype=np.float32))


def test_search_many_gives_each_querys_neighbours(filled):
    index, ids, vectors = filled
    found, dist = index.search_many(vectors[:20], 4)
    assert found.shape == dist.shape == (20, 4)
    assert list(found[:, 0]) == list(ids[:20])  # each face first finds itself
    for row in range(20):
        want_ids, want_dist = exact_neighbours(vectors, ids, vectors[row], 4)
        assert list(found[row]) == list(want_ids)
        np.testing.assert_allclose(dist[row], want_dist, rtol=1e-4, atol=1e-3)


def test_growing_past_the_exact_limit_switches_to_hnsw_and_keeps_every_face(tmp_path):
    index = FaceIndex(tmp_path, exact_limit=50)
    vectors = encodings(120)
    index.add(range(40), vectors[:40])
    index.remove([3])
    assert index.mode == "exact"
    index.add(range(40, 120), vectors[40:])
    assert index.mode == "hnsw"
    assert len(index) == 119
    for i in range(120):
        found, _ = index.search(vectors[i], 1)
        if i == 3:
            assert found[0] != 3
        else:
            assert found[0] == i
    # The graph keeps growing past its first capacity.
    more = encodings(3000, seed=5)
    index.add(range(1000, 4000), more)
    assert len(index) == 3119
    assert index.search(more[2500], 1)[0][0] == 3500


def load_all_from(ids, vectors):
    calls = []

    def load_all():
        calls.append(1)
        return np.asarray(ids, dtype=np.int64), vectors

    return load_all, calls


def test_open_builds_saves_and_loads_again(tmp_path, mode):
    ids, vectors = np.arange(200, dtype=np.int64) * 3, encodings(200)
    load_all, calls = load_all_from(ids, vectors)
    first = make_index(tmp_path, mode)
    assert first.open(7, load_all) == "rebuilt: missing"
    assert len(calls) == 1

    second = make_index(tmp_path, mode)
    assert second.open(7, load_all) == "loaded"
    assert len(calls) == 1  # nothing read from the database
    assert second.mode == mode and len(second) == 200
    query = vectors[11] + 0.01
    assert list(second.search(query, 5)[0]) == list(first.search(query, 5)[0])


def test_changes_survive_save_and_open(tmp_path, mode):
    ids, vectors = np.arange(100, dtype=np.int64), encodings(100)
    index = make_index(tmp_path, mode)
    index.open(1, load_all_from(ids, vectors)[0])
    index.remove([10, 11])
    index.add([500], vectors[10:11] + 0.002)
    index.save(2)

    reopened = make_index(tmp_path, mode)
    assert reopened.open(2, load_all_from([], np.empty((0, DIM)))[0]) == "loaded"
    assert len(reopened) == 99
    assert 10 not in reopened and 500 in reopened
    assert reopened.search(vectors[10], 1)[0][0] == 500
    # An id removed before the save can be added again after opening.
    reopened.add([11], vectors[11:12])
    assert reopened.search(vectors[11], 1)[0][0] == 11


def test_saving_keeps_only_the_current_files(tmp_path, mode):
    index = make_index(tmp_path, mode)
    index.open(1, load_all_from(range(50), encodings(50))[0])
    for generation in (2, 3, 4):
        index.save(generation)
    assert sorted(p.suffix for p in tmp_path.iterdir()) in (
        [".hnsw", ".json", ".npz"],
        [".json", ".npy", ".npz"],
    )


def data_files(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.name != META_NAME]


def damage_truncate(directory: Path) -> None:
    for path in data_files(directory):
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def damage_garbage(directory: Path) -> None:
    rng = np.random.default_rng(0)
    for path in data_files(directory):
        path.write_bytes(rng.bytes(path.stat().st_size))


def damage_flip_one_byte(directory: Path) -> None:
    path = max(data_files(directory), key=lambda p: p.stat().st_size)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def damage_delete_data(directory: Path) -> None:
    for path in data_files(directory):
        path.unlink()


def damage_garbage_meta(directory: Path) -> None:
    (directory / META_NAME).write_text("{not json", encoding="utf-8")


def damage_count(directory: Path) -> None:
    meta = json.loads((directory / META_NAME).read_text(encoding="utf-8"))
    meta["count"] += 1
    (directory / META_NAME).write_text(json.dumps(meta), encoding="utf-8")


def damage_dim(directory: Path) -> None:
    meta = json.loads((directory / META_NAME).read_text(encoding="utf-8"))
    meta["dim"] = 64
    (directory / META_NAME).write_text(json.dumps(meta), encoding="utf-8")


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (damage_truncate, "corrupt"),
        (damage_garbage, "corrupt"),
        (damage_flip_one_byte, "corrupt"),
        (damage_garbage_meta, "corrupt"),
        (damage_count, "corrupt"),
        (damage_dim, "corrupt"),
        (damage_delete_data, "missing"),
        (lambda d: (d / META_NAME).unlink(), "missing"),
    ],
)
def test_damaged_files_are_rebuilt_from_the_database(tmp_path, mode, damage, why):
    ids, vectors = np.arange(150, dtype=np.int64), encodings(150)
    make_index(tmp_path, mode).open(1, load_all_from(ids, vectors)[0])
    damage(tmp_path)

    load_all, calls = load_all_from(ids, vectors)
    index = make_index(tmp_path, mode)
    status = index.open(1, load_all)
    assert status.startswith(f"rebuilt: {why}"), status
    assert calls == [1]
    assert len(index) == 150
    assert index.search(vectors[77], 1)[0][0] == 77
    # The rebuilt index was saved: the next open loads it.
    assert make_index(tmp_path, mode).open(1, load_all) == "loaded"


def test_a_stale_generation_is_rebuilt(tmp_path, mode):
    old_ids, old_vectors = np.arange(80, dtype=np.int64), encodings(80)
    make_index(tmp_path, mode).open(4, load_all_from(old_ids, old_vectors)[0])

    # The database moved on (generation 5) with one more face the saved index lacks.
    new_vectors = np.vstack([old_vectors, encodings(1, seed=3)])
    index = make_index(tmp_path, mode)
    status = index.open(5, load_all_from(np.arange(81), new_vectors)[0])
    assert status.startswith("rebuilt: stale"), status
    assert index.search(new_vectors[80], 1)[0][0] == 80


def test_searches_run_while_the_writer_adds(tmp_path):
    index = FaceIndex(tmp_path, exact_limit=200)
    vectors = encodings(1200, seed=2)
    index.add(range(100), vectors[:100])
    errors: list[BaseException] = []
    stop = threading.Event()

    def searcher() -> None:
        try:
            while not stop.is_set():
                found, dist = index.search(vectors[0], 5)
                assert found[0] == 0 and len(found) == 5
        except BaseException as e:  # reported to the test thread below
            errors.append(e)

    threads = [threading.Thread(target=searcher) for _ in range(2)]
    for t in threads:
        t.start()
    for start in range(100, 1200, 50):  # crosses the exact limit on the way
        index.add(range(start, start + 50), vectors[start : start + 50])
    index.remove(range(600, 700))
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    assert len(index) == 1100 and index.mode == "hnsw"
