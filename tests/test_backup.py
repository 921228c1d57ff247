"""Automatic backups of the library database, and restoring one from the command line or
the app: a day's work, a regroup or a removed folder can always be taken back."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from helpers_storage import people, small_library

from facealbum import config
from facealbum.album import Album
from facealbum.album import backup as album_backup
from facealbum.cli.main import main
from facealbum.cli.output import EX_TEMPFAIL
from facealbum.db import backup as db_backup
from facealbum.db import people_queries, queries
from facealbum.db.store import Store, StoreError

REPO = Path(__file__).resolve().parents[1]
NAME = re.compile(r"^\d{8}T\d{6}Z-([a-z-]+?)(-\d+)?\.sqlite3$")  # -2: same second


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def backup_files(lib: Path) -> list[str]:
    folder = lib / db_backup.BACKUP_DIR_NAME
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def names_in(backup: Path) -> list[str]:
    store = Store(backup, read_only=True)
    try:
        assert queries.quick_check(store.conn) == "ok"
        found = people_queries.people(store.conn, include_hidden=True, sharp=0.0)
    finally:
        store.close()
    return sorted(p.name for p in found)


def aged(backup: Path, days: int) -> Path:
    """The backup renamed as if made `days` ago."""
    stamp = (datetime.now(timezone.utc) - timedelta(days=days)).strftime("%Y%m%dT%H%M%SZ")
    return backup.rename(backup.with_name(stamp + backup.name[16:]))


# -- making backups ---------------------------------------------------------------------


def test_a_backup_is_a_checked_private_copy_named_by_utc_time_and_reason(tmp_path):
    lib = small_library(tmp_path / "lib", person="Alice")
    with Album.open(lib) as album:
        made = album.backup("before-regroup")
    assert NAME.match(made.name)[1] == "before-regroup"
    made_at = datetime.strptime(made.name[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    assert abs(datetime.now(timezone.utc) - made_at) < timedelta(minutes=5)
    assert names_in(made) == ["Alice"]
    assert stat.S_IMODE(made.stat().st_mode) == 0o600
    assert stat.S_IMODE(made.parent.stat().st_mode) == 0o700
    assert not [n for n in backup_files(lib) if not NAME.match(n)]  # no temporary left


def test_a_killed_backup_leaves_nothing_that_looks_like_a_backup(tmp_path, capsys):
    lib = small_library(tmp_path / "lib")
    # Killed after the copy was written, before it was checked and renamed.
    kill = (
        "import os, sys; from pathlib import Path; import facealbum.db.backup as b; "
        "b._check = lambda path: os._exit(9); b.make_backup(Path(sys.argv[1]), 'daily')"
    )
    db = lib / config.DATABASE_NAME
    done = subprocess.run([sys.executable, "-c", kill, str(db)], cwd=REPO, check=False)
    assert done.returncode == 9
    (left,) = (lib / db_backup.BACKUP_DIR_NAME).iterdir()
    assert left.name.startswith(".")  # hidden, and not named like a backup
    assert album_backup.backups(lib) == []
    code, _, err = run(capsys, "--library", str(lib), "restore", "--latest")
    assert code == 1 and "no usable backup" in err
    hour_ago = time.time() - db_backup.STALE_TEMP_S - 60
    os.utime(left, (hour_ago, hour_ago))
    with Album.open(lib) as album:
        album.backup("before-remove-folder")
    assert not left.exists()  # the next backup cleared it away


def test_a_few_backups_of_each_kind_are_kept_the_newest(tmp_path):
    lib = small_library(tmp_path / "lib")
    db = lib / config.DATABASE_NAME
    daily = [db_backup.make_backup(db, "daily") for _ in range(db_backup.KEEP_DAILY + 2)]
    risky = [db_backup.make_backup(db, f"before-{w}") for w in "abcdefg"]
    kept = {b.path for b in album_backup.backups(lib)}
    expected = daily[-db_backup.KEEP_DAILY :] + risky[-db_backup.KEEP_BEFORE :]
    assert kept == set(expected)


def test_a_library_in_use_is_backed_up_once_a_day(tmp_path):
    Album.open(tmp_path / "empty").close()
    assert backup_files(tmp_path / "empty") == []  # nothing to lose yet
    lib = small_library(tmp_path / "lib")
    Album.open(lib).close()
    (first,) = backup_files(lib)
    assert NAME.match(first)[1] == "daily"
    Album.open(lib).close()
    assert backup_files(lib) == [first]
    aged(lib / db_backup.BACKUP_DIR_NAME / first, days=1)
    Album.open(lib).close()
    assert len(backup_files(lib)) == 2


def test_the_daily_backup_does_not_hold_up_opening(tmp_path, monkeypatch):
    lib = small_library(tmp_path / "lib")
    release, started = threading.Event(), threading.Event()
    real = db_backup.backup_if_due

    def slow_backup(db_path: Path) -> Path | None:
        started.set()
        release.wait(30)
        return real(db_path)

    monkeypatch.setattr(db_backup, "backup_if_due", slow_backup)
    album = Album.open(lib)  # returns while the backup still waits
    assert started.wait(10) and album.stats()["photos"] == 3
    release.set()
    album.close()  # waits for the copy: a restore may follow
    assert len(backup_files(lib)) == 1


def test_removing_a_folder_and_a_full_regroup_are_backed_up_first(tmp_path):
    lib = small_library(tmp_path / "lib", person="Alice")
    with Album.open(lib) as album:
        album.regroup(full=True)
        album.remove_folder(album.folders()[0].id)
        assert album.stats()["photos"] == 0
    backups = {b.reason: b for b in album_backup.backups(lib)}
    assert backups["before-regroup"].photos == 3
    assert backups["before-remove-folder"].photos == 3 and backups["before-remove-folder"].people


# -- restoring from the command line ----------------------------------------------------


def test_cli_lists_backups_and_restores_one_then_undoes_the_restore(tmp_path, capsys):
    lib = small_library(tmp_path / "lib", person="Alice")
    Album.open(lib).close()  # the day's backup
    assert run(capsys, "--library", str(lib), "rename", "Alice", "Bob")[0] == 0

    code, out, _ = run(capsys, "--library", str(lib), "backups", "--json")
    (listed,) = json.loads(out)
    assert code == 0 and listed["reason"] == "daily" and listed["size"] > 0
    assert (listed["photos"], listed["faces"], listed["people"]) == (3, 3, 1)
    assert datetime.fromisoformat(listed["created"]).tzinfo is not None

    code, out, _ = run(capsys, "--library", str(lib), "restore", listed["name"])
    assert code == 0 and people(lib) == ["Alice"]
    undo = re.search(r"facealbum restore (\S+)`", out)[1]
    assert "-before-restore" in undo
    db = lib / config.DATABASE_NAME
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()
    assert not (lib / config.INDEX_DIR_NAME).exists()  # rebuilt on the next open
    with Album.open(lib) as album:
        assert album.index_state.startswith("rebuilt") and album.stats()["index"]["size"] == 3

    code, out, _ = run(capsys, "--library", str(lib), "backups")
    assert code == 0 and len(out.splitlines()) == 2 and "before-restore" in out
    assert run(capsys, "--library", str(lib), "restore", undo)[0] == 0
    assert people(lib) == ["Bob"]


def test_restore_waits_until_the_library_is_closed_everywhere(tmp_path, capsys):
    lib = small_library(tmp_path / "lib", person="Alice")
    Album.open(lib).close()
    with Album.open(lib) as album:
        album.rename_person(album.people()[0].id, "Bob")
        with pytest.raises(StoreError, match="is open: close it before restoring"):
            album_backup.restore(lib, None)
    before = backup_files(lib)
    other = sqlite3.connect(lib / config.DATABASE_NAME)  # another facealbum, just reading
    queries.stats(other)
    try:
        code, _, err = run(capsys, "--library", str(lib), "restore", "--latest")
    finally:
        other.close()
    assert code == EX_TEMPFAIL and "open in another facealbum" in err
    assert "nothing was changed" in err and len(err.strip().splitlines()) == 1
    assert people(lib) == ["Bob"] and backup_files(lib) == before


def test_an_emptied_database_is_restored_and_kept_aside(tmp_path, capsys):
    lib = small_library(tmp_path / "lib", person="Alice")
    Album.open(lib).close()
    db = lib / config.DATABASE_NAME
    db.write_bytes(b"")  # truncated by a full disk or a bad copy
    assert run(capsys, "--library", str(lib), "stats")[0] == 1
    code, out, _ = run(capsys, "--library", str(lib), "restore", "--latest")
    assert code == 0 and "could not be read; it is kept as" in out
    (aside,) = lib.glob(f"{config.DATABASE_NAME}.damaged-*")
    assert aside.stat().st_size == 0
    with Album.open(lib) as album:
        assert [p.name for p in album.people()] == ["Alice"]


# -- restoring in the app ---------------------------------------------------------------


def test_restore_dialog_lists_backups_and_restores_the_chosen_one(qtbot, tmp_path, monkeypatch):
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QMessageBox

    from facealbum.ui.main_window import MainWindow
    from facealbum.ui.recent import RecentLibraries

    lib = small_library(tmp_path / "lib", person="Alice")
    Album.open(lib).close()  # the day's backup
    win = MainWindow(RecentLibraries(tmp_path / "recent.json"))
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.context.album_changed, timeout=30_000):
        win.open_library(lib, create=False)
    album = win.context.album
    album.rename_person(album.people()[0].id, "Bob")

    menu_action = next(a for a in win.findChildren(QAction) if "Restore from" in a.text())
    menu_action.trigger()
    dialog = win.restore_dialog
    qtbot.waitUntil(lambda: dialog.list.topLevelItemCount() == 1, timeout=10_000)
    row = dialog.list.topLevelItem(0)
    cells = [row.text(c) for c in range(dialog.list.columnCount())]
    assert cells[1:5] == ["Daily backup", "3", "3", "1"]
    assert dialog.restore_button.isEnabled()
    dialog.grab().save(str(tmp_path / "restore.png"))

    questions: list[str] = []
    monkeypatch.setattr(
        QMessageBox,
        "question",
        lambda _p, _t, text, *a: questions.append(text) or QMessageBox.StandardButton.Yes,
    )
    with qtbot.waitSignal(
        win.context.album_changed, timeout=30_000, check_params_cb=lambda a: a is not None
    ) as reopened:
        qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
    assert "3 photos, 3 faces and 1 named person" in questions[0]
    restored = reopened.args[0]
    assert restored is not album and [p.name for p in restored.people()] == ["Alice"]
    assert "Restored the backup made" in win.restore_report.text()
    reasons = sorted(b.reason for b in album_backup.backups(lib))
    assert reasons == ["before-restore", "daily"]  # Bob is one restore away
