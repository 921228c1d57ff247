"""The library database: schema upgrades, round trips and the scan's write rules."""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

import numpy as np
import pytest

from facealbum.db import people_writes, queries, scan_writes
from facealbum.db.migrations import MigrationError, backup_path, migrate, schema_version
from facealbum.db.schema import LATEST_VERSION, MIGRATIONS, Migration
from facealbum.db.store import Store
from facealbum.model import Box, Face, PhotoAnalysis

RNG = np.random.default_rng(7)


def vec(seed: int | None = None) -> np.ndarray:
    rng = RNG if seed is None else np.random.default_rng(seed)
    v = rng.normal(size=128).astype(np.float32)
    return v / np.linalg.norm(v) * 0.9


def face(box: Box, encoding: np.ndarray) -> Face:
    return Face(box=box, score=1.2, size_px=120, sharpness=55.0, encoding=encoding)


def analysis(path: str, faces: list[Face], fp: str = "fp", taken_at: str | None = None):
    return PhotoAnalysis(path, 1000, 1.0, fp, 640, 480, taken_at, tuple(faces))


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "library.sqlite3")
    yield s
    s.close()


@pytest.fixture
def folder(store: Store) -> int:
    with store.write() as conn:
        return scan_writes.add_folder(conn, "/photos", [])


def test_new_database_is_at_latest_version_in_wal_mode(store: Store):
    conn = store.conn
    assert schema_version(conn) == LATEST_VERSION
    assert store.meta("schema_version") == str(LATEST_VERSION)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    # nothing to back up for a brand-new library
    assert not backup_path(store.path, 0).exists()


def test_upgrade_backs_up_then_records_the_version(tmp_path: Path):
    db = tmp_path / "library.sqlite3"
    Store(db).set_meta("marker", "kept")
    upgrade = Migration(LATEST_VERSION + 1, "add rating", ("ALTER TABLE photos ADD rating INT",))
    conn = sqlite3.connect(db, isolation_level=None)
    applied = migrate(conn, db, (*MIGRATIONS, upgrade))
    assert applied == [LATEST_VERSION + 1]
    assert schema_version(conn) == LATEST_VERSION + 1
    cols = [r[1] for r in conn.execute("PRAGMA table_info(photos)")]
    assert "rating" in cols
    backup = Store(backup_path(db, LATEST_VERSION), read_only=True)
    assert schema_version(backup.conn) == LATEST_VERSION
    assert backup.meta("marker") == "kept"
    backup.close()


def test_the_upgrade_copy_is_private_and_replaces_the_copies_of_earlier_upgrades(tmp_path):
    db = tmp_path / "library.sqlite3"
    Store(db).close()
    older = backup_path(db, LATEST_VERSION - 1)
    older.write_bytes(b"the copy an earlier upgrade made")
    upgrade = Migration(LATEST_VERSION + 1, "add rating", ("ALTER TABLE photos ADD rating INT",))
    migrate(sqlite3.connect(db, isolation_level=None), db, (*MIGRATIONS, upgrade))
    made = backup_path(db, LATEST_VERSION)
    assert stat.S_IMODE(made.stat().st_mode) == 0o600  # every face encoding is in it
    assert not older.exists()


def test_failed_upgrade_leaves_the_database_unchanged(tmp_path: Path):
    db = tmp_path / "library.sqlite3"
    Store(db).close()
    broken = Migration(
        LATEST_VERSION + 1, "broken", ("ALTER TABLE photos ADD rating INT", "NOT SQL AT ALL")
    )
    conn = sqlite3.connect(db, isolation_level=None)
    with pytest.raises(MigrationError):
        migrate(conn, db, (*MIGRATIONS, broken))
    assert schema_version(conn) == LATEST_VERSION
    assert "rating" not in [r[1] for r in conn.execute("PRAGMA table_info(photos)")]


def test_a_library_from_a_newer_version_is_refused(tmp_path: Path):
    db = tmp_path / "library.sqlite3"
    Store(db).close()
    conn = sqlite3.connect(db, isolation_level=None)
    with pytest.raises(MigrationError, match="newer"):
        migrate(conn, db, MIGRATIONS[:-1] or ())


def test_photo_and_faces_round_trip(store: Store, folder: int):
    e1, e2 = vec(), vec()
    a = analysis(
        "/photos/a.jpg", [face(Box(0.1, 0.2, 0.3, 0.4), e1), face(Box(0.5, 0.5, 0.7, 0.8), e2)]
    )
    with store.write() as conn:
        photo_id, changes = scan_writes.save_analysis(conn, folder, a)
    assert len(changes.added_ids) == 2
    info = queries.photos(store.conn, [photo_id])[photo_id]
    assert (info.path, info.width, info.height, info.status, info.face_count) == (
        "/photos/a.jpg", 640, 480, "ok", 2,
    )  # fmt: skip
    faces = queries.faces_in_photo(store.conn, photo_id)
    assert [f.box for f in faces] == [Box(0.1, 0.2, 0.3, 0.4), Box(0.5, 0.5, 0.7, 0.8)]
    np.testing.assert_array_equal(queries.encoding_of(store.conn, faces[0].id), e1)
    ids, vectors = queries.all_encodings(store.conn)
    assert list(ids) == sorted(changes.added_ids)
    assert vectors.shape == (2, 128) and vectors.dtype == np.float32


def test_deleting_a_photo_deletes_its_faces(store: Store, folder: int):
    with store.write() as conn:
        scan_writes.save_analysis(
            conn, folder, analysis("/photos/a.jpg", [face(Box(0, 0, 1, 1), vec())])
        )
        changes = scan_writes.remove_photos(conn, ["/photos/a.jpg"])
    assert len(changes.removed_ids) == 1
    assert queries.stats(store.conn)["faces"] == 0
    # and the foreign key cascades on its own too
    with store.write() as conn:
        pid, _ = scan_writes.save_analysis(
            conn, folder, analysis("/photos/b.jpg", [face(Box(0, 0, 1, 1), vec())])
        )
        conn.execute("DELETE FROM photos WHERE id = ?", (pid,))
    assert queries.stats(store.conn)["faces"] == 0


def test_edited_photo_keeps_the_person_of_a_face_that_still_matches(store: Store, folder: int):
    kept_enc, other_enc = vec(1), vec(2)
    box = Box(0.2, 0.2, 0.4, 0.5)
    with store.write() as conn:
        pid, ch = scan_writes.save_analysis(
            conn,
            folder,
            analysis(
                "/photos/a.jpg", [face(box, kept_enc), face(Box(0.6, 0.1, 0.8, 0.3), other_enc)]
            ),
        )
        person = people_writes.create_person(conn, people_writes.UndoRecord(conn), "Mom")
        people_writes.set_person(conn, None, ch.added_ids, person, "user")
    kept_id, dropped_id = ch.added_ids
    # Edited: the first face moved a little and re-encoded closely; the second is a stranger now.
    nudged = kept_enc + np.float32(0.01)
    edited = analysis(
        "/photos/a.jpg",
        [face(Box(0.21, 0.2, 0.41, 0.5), nudged), face(Box(0.6, 0.1, 0.8, 0.3), vec(3))],
        fp="fp2",
    )
    with store.write() as conn:
        same_pid, changes = scan_writes.save_analysis(conn, folder, edited)
    assert same_pid == pid
    faces = {f.id: f for f in queries.faces_in_photo(store.conn, pid)}
    assert kept_id in faces and faces[kept_id].person_name == "Mom"
    assert faces[kept_id].box == Box(0.21, 0.2, 0.41, 0.5)
    assert dropped_id not in faces
    (new_id,) = set(faces) - {kept_id}
    assert faces[new_id].person_id is None
    assert set(changes.removed_ids) == {kept_id, dropped_id}
    assert set(changes.added_ids) == {kept_id, new_id}


def test_move_repoints_the_row_and_a_copy_clones_it(store: Store, folder: int):
    with store.write() as conn:
        pid, ch = scan_writes.save_analysis(
            conn, folder, analysis("/photos/a.jpg", [face(Box(0, 0, 1, 1), vec())], fp="abc")
        )
        moved_id, moved = scan_writes.save_move(
            conn, folder, "/photos/sub/a.jpg", 1000, 2.0, "abc", "/photos/a.jpg", may_repoint=True
        )
        copy_id, copied = scan_writes.save_move(
            conn, folder, "/photos/copy.jpg", 1000, 3.0, "abc", "/photos/a.jpg", may_repoint=False
        )
        gone_id, _ = scan_writes.save_move(
            conn, folder, "/photos/x.jpg", 5, 3.0, "unknown", "/photos/nope.jpg", may_repoint=True
        )
    assert moved_id == pid and not moved
    assert queries.photos(store.conn, [pid])[pid].path == "/photos/sub/a.jpg"
    assert [f.id for f in queries.faces_in_photo(store.conn, pid)] == ch.added_ids
    assert copy_id != pid and len(copied.added_ids) == 1
    assert gone_id is None


def test_failure_is_recorded_with_its_reason(store: Store, folder: int):
    with store.write() as conn:
        pid, _ = scan_writes.save_failure(conn, folder, "/photos/bad.jpg", 10, 1.0, "not an image")
    info = queries.photos(store.conn, [pid])[pid]
    assert (info.status, info.error) == ("error", "not an image")
    known = queries.known_photos(store.conn, folder)["/photos/bad.jpg"]
    assert known == (10, 1.0, None, "error", None)  # no detector: nothing was found in it


def test_known_photos_under_a_subfolder_takes_only_that_subtree(store: Store, folder: int):
    with store.write() as conn:
        for path in ["/photos/a_b/1.jpg", "/photos/a/2.jpg", "/photos/a/x/3.jpg", "/photos/ab.jpg"]:
            scan_writes.save_failure(conn, folder, path, 1, 1.0, "x")
    assert set(queries.known_photos(store.conn, folder, "/photos/a/")) == {
        "/photos/a/2.jpg", "/photos/a/x/3.jpg",
    }  # fmt: skip


def test_photo_ids_newest_first_then_path_and_filters(store: Store, folder: int):
    with store.write() as conn:
        other = scan_writes.add_folder(conn, "/other", [])
        ids = {}
        for path, taken, fid in [
            ("/photos/b.jpg", "2020-01-01T10:00:00", folder),
            ("/photos/a.jpg", "2020-01-01T10:00:00", folder),
            ("/photos/new.jpg", "2023-05-01T10:00:00", folder),
            ("/photos/undated.jpg", None, folder),
            ("/other/c.jpg", "2021-01-01T00:00:00", other),
        ]:
            ids[path], _ = scan_writes.save_analysis(
                conn, fid, analysis(path, [face(Box(0, 0, 1, 1), vec())], taken_at=taken)
            )
        person = people_writes.create_person(conn, people_writes.UndoRecord(conn), "Ann")
        named = [ids["/photos/a.jpg"], ids["/other/c.jpg"]]
        faces = [f for pid in named for f in queries.face_ids_of_photo(conn, pid)]
        people_writes.set_person(conn, None, faces, person, "user")
    order = [
        "/photos/new.jpg",
        "/other/c.jpg",
        "/photos/a.jpg",
        "/photos/b.jpg",
        "/photos/undated.jpg",
    ]
    assert queries.photo_ids(store.conn) == [ids[p] for p in order]
    assert queries.photo_ids(store.conn, folder_id=other) == [ids["/other/c.jpg"]]
    assert queries.photo_ids(store.conn, person_id=person) == [
        ids["/other/c.jpg"], ids["/photos/a.jpg"],
    ]  # fmt: skip


def test_writes_from_many_threads_all_land(store: Store, folder: int):
    def work(n: int) -> None:
        for i in range(20):
            with store.write() as conn:
                scan_writes.save_failure(conn, folder, f"/photos/t{n}_{i}.jpg", 1, 1.0, "x")
                store.bump_generation(conn)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert queries.stats(store.conn)["photos"] == 80
    assert store.generation() == 80


def test_a_failed_write_rolls_back(store: Store, folder: int):
    with pytest.raises(RuntimeError):
        with store.write() as conn:
            scan_writes.save_failure(conn, folder, "/photos/x.jpg", 1, 1.0, "x")
            raise RuntimeError
    assert queries.stats(store.conn)["photos"] == 0


def test_closing_while_another_thread_is_inside_a_query_lets_that_query_finish(tmp_path: Path):
    # Closing a connection under a running query used to crash the interpreter (the app
    # closes a library while a background page load is still reading it).
    store = Store(tmp_path / "library.sqlite3")
    started, results = threading.Event(), []
    slow = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) "
        "SELECT count(*) FROM n"
    )

    def read() -> None:
        conn = store.conn
        started.set()
        results.append(conn.execute(slow).fetchone()[0])
        try:
            queries.folder_paths(store.conn)
        except sqlite3.ProgrammingError as e:
            results.append(str(e))

    reader = threading.Thread(target=read)
    reader.start()
    started.wait(5)
    store.close()
    reader.join(60)
    assert results == [3000000, "the library is closed"]
