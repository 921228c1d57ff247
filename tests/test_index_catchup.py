"""An index saved before the database moved on is caught up on open, not rebuilt.

The database changes behind a saved index when a scan is killed between index saves,
or when another process (`facealbum scan` while the app is open) writes the library.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from helpers_scan_kill import kill_scan_midway
from helpers_storage import every_face, library_store, write_as_scan
from library_builder import OBAMA, OTHERS, build_folder, reduced_copy

from facealbum.album import Album
from facealbum.db import people_queries, queries, scan_writes
from facealbum.db.migrations import migrate
from facealbum.db.schema import MIGRATIONS
from facealbum.db.store import GENERATION_KEY, Store
from facealbum.engine.index import FaceIndex
from facealbum.model import Box, Face, PhotoAnalysis

REPO = Path(__file__).resolve().parents[1]
DIM = 128
EXACT = 1e-4  # distance under which a search hit is the very same encoding


def encoding(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.1, DIM).astype(np.float32)


def analysis(name: str, seeds: list[int], shift: float = 0.0) -> PhotoAnalysis:
    faces = tuple(
        Face(Box(0.1 + 0.2 * i, 0.1, 0.25 + 0.2 * i, 0.3), 1.0, 100, 50.0, encoding(s) + shift)
        for i, s in enumerate(seeds)
    )
    return PhotoAnalysis(f"/p/{name}", 1, 1.0, name, 10, 10, None, faces)


def save(album: Album, folder: int, a: PhotoAnalysis) -> None:
    write_as_scan(album, lambda conn: scan_writes.save_analysis(conn, folder, a)[1])


def remove(album: Album, name: str) -> None:
    write_as_scan(album, lambda conn: scan_writes.remove_photos(conn, [f"/p/{name}"]))


def photo_found(album: Album, vector: np.ndarray) -> str | None:
    """The photo whose face has exactly this encoding, if the index finds one."""
    matches = album.similar_to_encoding(vector, top=1, tolerance=EXACT)
    return Path(matches[0].photo).name if matches else None


def make_library(path: Path, photos: int, faces_per_photo: int = 2) -> int:
    """A library of synthetic faces, closed with its index saved; returns its folder id."""
    with Album.open(path) as album:
        with library_store(album).write() as conn:  # a folder whose photos need not exist
            folder = scan_writes.add_folder(conn, "/p", [])
        for p in range(photos):
            seeds = [p * 10 + i for i in range(faces_per_photo)]
            save(album, folder, analysis(f"{p}.jpg", seeds))
    return folder


def write_in_another_process(library: Path, body: str) -> None:
    """Run `body` with `album` and `folder` bound, then die without saving the index."""
    prelude = f"""
import os, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_index_catchup import Album, analysis, remove, save
album = Album.open({str(library)!r})
folder = 1
"""
    script = prelude + textwrap.dedent(body) + "\nos._exit(0)\n"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=REPO, timeout=120)


@pytest.mark.parametrize("photos", [5, 1200], ids=["exact", "hnsw"])
def test_writes_of_a_process_that_died_are_caught_up_on_open(tmp_path: Path, photos: int):
    lib = tmp_path / "lib"
    make_library(lib, photos)
    # Another process adds two photos (3 faces), drops one (2 faces), re-encodes one face
    # of an edited photo (same place, a close encoding), then dies before saving.
    write_in_another_process(
        lib,
        """
        save(album, folder, analysis("new1.jpg", [90001, 90002]))
        save(album, folder, analysis("new2.jpg", [90003]))
        remove(album, "1.jpg")
        save(album, folder, analysis("2.jpg", [20, 21], shift=0.01))
        """,
    )
    with Album.open(lib) as album:
        assert album.index_state == "caught up: +5 -2"
        assert album.stats()["index"]["kind"] == ("hnsw" if photos > 1000 else "exact")
        assert album.stats()["index"]["size"] == album.stats()["faces"] == 2 * photos + 1
        assert photo_found(album, encoding(90001)) == "new1.jpg"
        assert photo_found(album, encoding(90003)) == "new2.jpg"
        assert photo_found(album, encoding(10)) is None  # 1.jpg is gone
        assert photo_found(album, encoding(20)) is None  # the old encoding of 2.jpg
        assert photo_found(album, encoding(20) + 0.01) == "2.jpg"
        assert photo_found(album, encoding(0)) == "0.jpg"  # untouched faces stay
    with Album.open(lib) as album:
        assert album.index_state == "loaded"  # the caught-up index was saved


def test_an_open_library_picks_up_what_another_process_wrote(tmp_path: Path):
    lib = tmp_path / "lib"
    folder = make_library(lib, 3)
    app = Album.open(lib)
    with Album.open(lib) as cli:  # e.g. `facealbum scan` while the app is open
        assert cli.index_state == "loaded"
        save(cli, folder, analysis("cli.jpg", [70001]))
        remove(cli, "0.jpg")
    assert photo_found(app, encoding(70001)) is None  # not seen yet: no write since
    save(app, folder, analysis("app.jpg", [80001]))  # its next write catches up first
    assert photo_found(app, encoding(70001)) == "cli.jpg"
    assert photo_found(app, encoding(0)) is None
    assert photo_found(app, encoding(80001)) == "app.jpg"
    app.close()
    with Album.open(lib) as album:
        assert album.index_state == "loaded"
        assert album.stats()["index"]["size"] == album.stats()["faces"] == 6


def test_closing_catches_up_before_saving(tmp_path: Path):
    lib = tmp_path / "lib"
    folder = make_library(lib, 3)
    app = Album.open(lib)
    with Album.open(lib) as cli:
        save(cli, folder, analysis("cli.jpg", [70001]))
    app.close()  # saved last: it must not stamp the database's generation without cli.jpg
    with Album.open(lib) as album:
        assert album.index_state == "loaded"
        assert photo_found(album, encoding(70001)) == "cli.jpg"


def test_an_encoding_changed_without_a_stamp_is_still_caught_up(tmp_path: Path):
    lib = tmp_path / "lib"
    make_library(lib, 3)
    changed = encoding(999)
    # A writer that knows nothing of stamps (an older facealbum, a hand-made fix): its raw
    # UPDATE is what the schema's trigger must catch.
    with sqlite3.connect(lib / "library.sqlite3") as conn:
        face_id = people_queries.faces_after(conn, 0)[0]  # the first face
        conn.execute("UPDATE faces SET encoding = ? WHERE id = ?", (changed.tobytes(), face_id))
        conn.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'index_generation'"
        )
    with Album.open(lib) as album:
        assert album.index_state == "caught up: +1 -0"
        assert photo_found(album, changed) == "0.jpg"


def test_damaged_files_or_an_index_newer_than_the_database_still_rebuild(tmp_path: Path):
    lib = tmp_path / "lib"
    folder = make_library(lib, 3)
    db = lib / "library.sqlite3"
    backup = tmp_path / "backup.sqlite3"
    with sqlite3.connect(db) as src, sqlite3.connect(backup) as dst:
        src.backup(dst)
    with Album.open(lib) as album:
        save(album, folder, analysis("later.jpg", [60001]))
    backup.replace(db)  # the user restores yesterday's database
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    with Album.open(lib) as album:
        assert album.index_state.startswith("rebuilt: stale"), album.index_state
        assert "newer" in album.index_state
        assert photo_found(album, encoding(60001)) is None
        save(album, folder, analysis("later.jpg", [60002]))
    write_in_another_process(lib, 'remove(album, "2.jpg")')  # the next open would catch up,
    for f in (lib / "index").iterdir():
        if f.name.startswith("faces-"):
            f.write_bytes(b"\0" * f.stat().st_size)  # but the saved index is damaged
    with Album.open(lib) as album:
        assert album.index_state.startswith("rebuilt: corrupt"), album.index_state
        assert album.stats()["index"]["size"] == album.stats()["faces"] == 5
        assert photo_found(album, encoding(60002)) == "later.jpg"


def test_an_index_of_another_library_is_rebuilt_not_caught_up(tmp_path: Path):
    lib, other = tmp_path / "lib", tmp_path / "other"
    make_library(lib, 3)
    folder = make_library(other, 1)
    with Album.open(other) as album:
        for p in range(3):
            save(album, folder, analysis(f"o{p}.jpg", [50000 + p]))
    shutil.rmtree(lib / "index")
    shutil.copytree(other / "index", lib / "index")
    store = Store(lib / "library.sqlite3")
    store.set_meta(GENERATION_KEY, "100")  # a generation past the copy's
    store.close()
    with Album.open(lib) as album:
        assert album.index_state.startswith("rebuilt: out of step"), album.index_state
        assert photo_found(album, encoding(0)) == "0.jpg"
        assert photo_found(album, encoding(50000)) is None


def test_upgrading_a_library_keeps_its_index_in_step(tmp_path: Path):
    lib = tmp_path / "lib"
    lib.mkdir()
    db = lib / "library.sqlite3"
    conn = sqlite3.connect(db, isolation_level=None)
    migrate(conn, db, MIGRATIONS[:2])  # a library made before encodings had generations
    conn.execute("INSERT INTO meta (key, value) VALUES ('index_generation', '7')")
    conn.execute("INSERT INTO folders (path) VALUES ('/p')")
    conn.execute("INSERT INTO photos (folder_id, path, size, mtime) VALUES (1, '/p/a.jpg', 1, 1)")
    for seed in (1, 2):
        conn.execute(
            "INSERT INTO faces (photo_id, box_left, box_top, box_right, box_bottom, score,"
            " size_px, sharpness, encoding) VALUES (1, 0, 0, 1, 1, 1, 100, 1, ?)",
            (encoding(seed).tobytes(),),
        )
    conn.close()
    index = FaceIndex(lib / "index")
    index.add([1, 2], np.stack([encoding(1), encoding(2)]))
    index.save(7)
    with Album.open(lib) as album:
        assert album.index_state == "loaded"
        assert photo_found(album, encoding(2)) == "a.jpg"


@pytest.mark.slow
def test_a_killed_scan_is_caught_up_on_the_next_open(faces_dir: Path, tmp_path: Path):
    photos = tmp_path / "photos"
    build_folder(faces_dir, photos, OBAMA)
    lib = tmp_path / "lib"
    with Album.open(lib) as album:
        album.update_settings(replace(album.settings, workers=1))
        album.add_folder(photos)
        album.scan()
    faces_before = _face_count(lib)
    later = photos / "later"
    # Distinct files, same faces, one each: enough for several of the scan's one-second
    # batches even with a quick detector and encoder (one worker does ~40 of these a
    # second), so that the kill lands mid-way.
    sides = range(400, 1600, 25)
    for side in sides:
        for rel in OTHERS:
            reduced_copy(faces_dir / rel, later / f"{Path(rel).stem}_{side}.jpg", long_side=side)
    later_faces = len(sides) * len(OTHERS)
    # Killed before any index save.
    kill_scan_midway(lib, photos, lambda: _face_count(lib) != faces_before)
    added = _face_count(lib) - faces_before
    assert 0 < added < later_faces, "the kill should land mid-scan"
    with Album.open(lib) as album:
        assert album.index_state == f"caught up: +{added} -0"
        info = every_face(album)[-1]
        newest = info.id
        # Photos smaller than a copy's size are copied as they are, so the newest face may
        # have exact twins: it must be among the faces found at distance ~0.
        own = album.similar_to_encoding(_encoding(album, newest), top=10, tolerance=EXACT)
        assert (newest, info.photo_id) in [(m.face_id, m.photo_id) for m in own]
        final = album.scan()
        assert final.phase == "done" and album.stats()["faces"] == faces_before + later_faces
        assert album.stats()["index"]["size"] == faces_before + later_faces


def _face_count(lib: Path) -> int:
    try:
        with closing(sqlite3.connect(lib / "library.sqlite3", timeout=30)) as conn:
            return queries.stats(conn)["faces"]
    except sqlite3.OperationalError:  # the scan is creating or migrating it
        return 0


def _encoding(album: Album, face_id: int) -> np.ndarray:
    return queries.encoding_of(library_store(album).conn, face_id)


@pytest.mark.parametrize("exact_limit", [10**9, 0], ids=["exact", "hnsw"])
def test_catching_up_counts_only_real_changes(tmp_path: Path, exact_limit: int):
    vectors = np.stack([encoding(s) for s in range(40)])
    first = FaceIndex(tmp_path, exact_limit=exact_limit)
    first.add(np.arange(30), vectors[:30])
    first.save(3)
    index = FaceIndex(tmp_path, exact_limit=exact_limit)
    written = np.array([5, 6, 30, 31])  # 5, 6 rewritten unchanged; 6 re-encoded below
    new = vectors[[5, 6, 30, 31]].copy()
    new[1] += 0.05
    current = np.setdiff1d(np.arange(32), [0, 1])
    state = index.open(
        4, lambda: pytest.fail("must not rebuild"), lambda since: (written, new, current)
    )
    assert state == "caught up: +3 -2"
    assert sorted(index.ids().tolist()) == current.tolist()
    ids, dist = index.search(new[1], 1)
    assert ids[0] == 6 and dist[0] < EXACT


def test_closing_without_changes_rewrites_nothing(tmp_path: Path):
    lib = tmp_path / "lib"
    make_library(lib, 3)
    before = {f.name: f.stat().st_mtime_ns for f in (lib / "index").iterdir()}
    with Album.open(lib) as album:
        assert album.index_state == "loaded"
    assert {f.name: f.stat().st_mtime_ns for f in (lib / "index").iterdir()} == before


def test_a_save_leaves_another_processs_save_in_progress_alone(tmp_path: Path):
    index = FaceIndex(tmp_path)
    index.add([1, 2], np.stack([encoding(1), encoding(2)]))
    index.save(4)
    older = tmp_path / "faces-3-0123456789ab.ids.npz"  # left by a save that crashed
    theirs = tmp_path / "faces-6-ba9876543210.hnsw"  # being written by another process
    older.write_bytes(b"x")
    theirs.write_bytes(b"x")
    index.add([3], encoding(3)[None, :])
    index.save(5)
    assert not older.exists() and theirs.exists()
    reopened = FaceIndex(tmp_path)
    assert reopened.open(5, lambda: pytest.fail("must load")) == "loaded"
    assert sorted(reopened.ids().tolist()) == [1, 2, 3]
