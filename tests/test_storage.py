"""When the disk fails (busy, full, read-only, an empty file) the user reads one clear
message and nothing is lost; a library is private; a mistyped --library makes nothing."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

import pytest
from helpers_storage import (
    add_photos,
    disk_full,
    encoding,
    people,
    small_library,
    write_lock_held,
)
from PIL import Image

from facealbum import config
from facealbum.album import Album
from facealbum.cli.main import main
from facealbum.cli.output import EX_TEMPFAIL
from facealbum.db import queries, scan_writes
from facealbum.db import store as store_module
from facealbum.db.store import Store, StoreBusy, StoreDamaged, StoreFull, StoreReadOnly

SHORT_WAIT_S = 0.2  # the busy timeout under test: long enough to wait, short to fail fast


@pytest.fixture
def usual_umask():
    """The usual umask, which leaves new files readable by every local user."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# -- busy -------------------------------------------------------------------------------


def test_a_write_kept_waiting_by_another_writer_says_busy_and_changes_nothing(tmp_path):
    store = Store(tmp_path / "library.sqlite3", busy_timeout_s=SHORT_WAIT_S)
    with write_lock_held(store.path):
        with pytest.raises(StoreBusy, match="is busy: another facealbum .* nothing was changed"):
            with store.write() as conn:
                scan_writes.add_folder(conn, "/photos", [])
    assert queries.folder_paths(store.conn) == []
    store.set_meta("after", "saved")  # no transaction was left open: the next write works
    assert store.meta("after") == "saved"
    store.close()


def test_cli_change_while_the_library_is_busy_exits_75_with_one_line(tmp_path, capsys, monkeypatch):
    lib = small_library(tmp_path / "lib", person="Alice")
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", SHORT_WAIT_S)
    with write_lock_held(lib / config.DATABASE_NAME):
        code, _, err = run(capsys, "--library", str(lib), "rename", "Alice", "Alicia")
    assert code == EX_TEMPFAIL
    line = one_line(err)
    assert "busy" in line and "nothing was changed" in line and str(lib) in line
    assert people(lib) == ["Alice"]
    assert run(capsys, "--library", str(lib), "rename", "Alice", "Alicia")[0] == 0  # try again
    assert people(lib) == ["Alicia"]


# -- full disk --------------------------------------------------------------------------


def test_a_scan_batch_on_a_full_disk_fails_whole_and_the_library_goes_on(tmp_path):
    lib = small_library(tmp_path / "lib", photos=2)
    folder = tmp_path / "lib-photos"
    with Album.open(lib) as album:
        names = [f"new{i}.jpg" for i in range(200)]
        with disk_full(album):
            with pytest.raises(StoreFull, match="is full; nothing was changed: free some space"):
                add_photos(album, folder, names, seed=100)
            assert album.stats()["photos"] == 2 and album.stats()["index"]["size"] == 2
        assert len(add_photos(album, folder, names, seed=100)) == 200  # space was freed
    with Album.open(lib) as album:
        assert album.stats()["photos"] == 202 and album.people()[0].face_count == 2


def test_a_full_disk_while_saving_the_index_keeps_the_change_and_says_so(tmp_path, monkeypatch):
    lib = small_library(tmp_path / "lib", photos=2)
    index_dir = lib / config.INDEX_DIR_NAME
    before = sorted(p.name for p in index_dir.iterdir())

    def disk_full(f) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    album = Album.open(lib)
    new_face = add_photos(album, tmp_path / "lib-photos", ["late.jpg"], seed=50)[0]
    monkeypatch.setattr("facealbum.engine.index.sync", disk_full)
    with pytest.raises(StoreFull, match="your changes are saved, not the search index"):
        album.close()
    monkeypatch.undo()
    assert sorted(p.name for p in index_dir.iterdir()) == before  # no half-written files
    with Album.open(lib) as album:
        assert album.stats()["photos"] == 3
        assert album.similar_to_encoding(encoding(50), top=1)[0].face_id == new_face


def test_settings_that_do_not_fit_on_the_disk_say_so_and_stay_as_they_were(tmp_path, monkeypatch):
    lib = small_library(tmp_path / "lib")
    with Album.open(lib) as album:
        old = album.settings

        def disk_full(*args: object) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(config.os, "replace", disk_full)
        with pytest.raises(StoreFull, match="the settings were not saved"):
            album.update_settings(config.Settings(tolerance=0.45))
        monkeypatch.undo()
        assert album.settings == old
    assert config.load_settings(lib).tolerance == old.tolerance


def test_a_change_that_was_not_saved_is_reported_after_its_window_closed(
    qtbot, tmp_path, monkeypatch
):
    pytest.importorskip("pytestqt")
    import shiboken6
    from PySide6.QtWidgets import QMessageBox, QWidget

    from facealbum.ui.main_window import MainWindow
    from facealbum.ui.recent import RecentLibraries

    lib = small_library(tmp_path / "lib", person="Alice")
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", SHORT_WAIT_S)
    win = MainWindow(RecentLibraries(tmp_path / "recent.json"))
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.context.album_changed, timeout=30_000):
        win.open_library(lib, create=False)
    alice = win.context.album.people()[0].id
    viewer = QWidget(win)  # the window the rename was typed in, a photo viewer say

    def busy_message() -> str:
        texts = [box.text() for box in win.findChildren(QMessageBox)]
        return next((t for t in texts if "busy" in t), "")

    with write_lock_held(lib / config.DATABASE_NAME):
        win.context.act(lambda a: a.rename_person(alice, "Bob"), "Renamed", owner=viewer)
        shiboken6.delete(viewer)  # closed before the rename gave up
        qtbot.waitUntil(lambda: bool(busy_message()), timeout=10_000)
    assert busy_message().startswith(f"The library in {lib} is busy")
    assert "nothing was changed" in busy_message()
    assert people(lib) == ["Alice"]


# -- read-only --------------------------------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _library_files(lib: Path) -> list[Path]:
    # SQLite's -wal and -shm, which a read-only connection may leave, hold no data.
    return sorted(p for p in lib.rglob("*") if not p.name.endswith(("-wal", "-shm")))


def test_a_read_only_library_answers_every_read_and_refuses_changes_clearly(tmp_path):
    lib = small_library(tmp_path / "lib", photos=3, person="Alice")
    db = lib / config.DATABASE_NAME
    index_dir = lib / config.INDEX_DIR_NAME
    for path in index_dir.iterdir():  # the index must be rebuilt, in memory only
        path.unlink()
    index_dir.rmdir()
    digest, files = _digest(db), _library_files(lib)
    # Forced: tests run as root, whom permissions do not stop.
    with Album.open(lib, read_only=True) as album:
        assert album.read_only
        assert album.stats()["photos"] == 3 and album.stats()["people"] == 1
        assert [p.name for p in album.people()] == ["Alice"]
        assert len(album.photo_ids()) == 3 and album.groups() == []
        assert album.similar_to_encoding(encoding(1), top=1)[0].distance < 1e-3
        for change in (
            lambda: album.create_person("Bob"),
            lambda: album.update_settings(config.Settings(tolerance=0.5)),
            lambda: album.backup("before-regroup"),
        ):
            with pytest.raises(StoreReadOnly, match=f"the library in {lib} is read-only"):
                change()
    assert _library_files(lib) == files  # no index saved, no backup, nothing new
    assert _digest(db) == digest and people(lib) == ["Alice"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files; forced above")
def test_cli_reads_a_library_made_read_only_by_its_permissions(tmp_path, capsys):
    lib = small_library(tmp_path / "lib", person="Alice")
    (lib / config.DATABASE_NAME).chmod(0o400)
    lib.chmod(0o500)
    try:
        code, out, _ = run(capsys, "--library", str(lib), "people")
        assert code == 0 and "Alice" in out
        code, _, err = run(capsys, "--library", str(lib), "rename", "Alice", "Bob")
        assert code == 1 and "read-only" in one_line(err)
    finally:
        lib.chmod(0o700)
        (lib / config.DATABASE_NAME).chmod(0o600)


# -- an empty database file -------------------------------------------------------------


def test_an_empty_database_file_is_refused_not_taken_for_a_new_library(tmp_path, capsys):
    lib = tmp_path / "lib"
    lib.mkdir()
    db = lib / config.DATABASE_NAME
    db.write_bytes(b"")
    with pytest.raises(StoreDamaged, match="is empty .* may be damaged.*[Rr]estore a backup"):
        Album.open(lib)
    code, _, err = run(capsys, "--library", str(lib), "stats")
    line = one_line(err)
    assert code == 1 and str(db) in line and "empty" in line
    assert db.stat().st_size == 0  # left as it was, for a restore or a closer look


# -- privacy ----------------------------------------------------------------------------


def test_a_new_library_and_its_thumbnails_are_private(tmp_path, usual_umask):
    from facealbum.ui.widgets.thumbnails import ThumbnailCache

    lib = tmp_path / "new" / "lib"
    with Album.open(lib) as album:
        album.create_person("Alice")  # a write: the -wal and -shm files appear
        db = lib / config.DATABASE_NAME
        assert mode(lib) == 0o700 and mode(db) == 0o600
        for suffix in ("-wal", "-shm"):
            assert mode(Path(f"{db}{suffix}")) == 0o600
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (80, 60), "white").save(photo)
    cache = ThumbnailCache(lib / config.THUMBNAIL_DIR_NAME)
    cache.get(photo, 64)
    made = cache.cache_path(cache.key(photo, 64))
    assert made.is_file()
    assert mode(cache.directory) == 0o700 and mode(made.parent) == 0o700
    # A folder the user made for a library is theirs: its permissions stay as they were.
    mine = tmp_path / "mine"
    mine.mkdir()
    mine.chmod(0o750)
    Album.open(mine).close()
    assert mode(mine) == 0o750 and mode(mine / config.DATABASE_NAME) == 0o600


# -- a mistyped --library ---------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["stats"],
        ["people"],
        ["groups"],
        ["similar", "1"],
        ["name", "1", "Mom"],
        ["folders", "list"],
    ],
)
def test_a_command_on_a_folder_without_a_library_creates_nothing(tmp_path, capsys, command):
    typo = tmp_path / "libary"
    code, out, err = run(capsys, "--library", str(typo), *command)
    assert code == 1 and out == ""
    assert one_line(err) == (
        f"facealbum: no facealbum library in {typo} (`facealbum scan PHOTOS` makes one)"
    )
    assert not typo.exists()
    typo.mkdir()  # an existing folder that is not a library stays empty too
    assert run(capsys, "--library", str(typo), *command)[0] == 1
    assert list(typo.iterdir()) == []


def test_adding_photos_makes_a_new_library_and_says_so(tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    lib = tmp_path / "lib"
    code, _, err = run(capsys, "--library", str(lib), "folders", "add", str(photos))
    assert code == 0 and one_line(err) == f"facealbum: new library in {lib}"
    assert (lib / config.DATABASE_NAME).is_file()
    code, _, err = run(capsys, "--library", str(lib), "folders", "add", str(tmp_path / "none"))
    assert "new library" not in err  # only the first time
    code, _, err = run(capsys, "--library", str(tmp_path / "lib2"), "scan", str(photos))
    assert code == 0 and f"facealbum: new library in {tmp_path / 'lib2'}" in err
