"""The `facealbum` command line: JSON output, clear errors, and a scan that survives a kill."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers_scan_kill import kill_scan_midway
from library_builder import GROUP, OBAMA, OTHERS, build_folder, corrupt_photo, reduced_copy

from facealbum.album import Album
from facealbum.cli.main import main
from facealbum.db import people_queries, queries

REPO = Path(__file__).resolve().parents[1]


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_clear_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.slow
def test_scan_search_similar_stats_and_folders_speak_json(faces_dir, tmp_path, capsys):
    photos = tmp_path / "photos"
    build_folder(faces_dir, photos, (*OBAMA, OTHERS[0]))
    corrupt_photo(photos / "broken.jpg")
    lib = str(tmp_path / "lib")

    code, out, err = run(capsys, "--library", lib, "scan", str(photos), "--json")
    assert code == 0  # a bad photo is reported, not a failed command
    summary = json.loads(out)
    assert summary["phase"] == "done" and summary["faces_found"] == 3 and summary["errors"] == 1
    new, skipped = err.strip().splitlines()  # a new library is announced, once
    assert new == f"facealbum: new library in {lib}" and "broken.jpg" in skipped

    query = reduced_copy(faces_dir / "people/barack_obama/obama_4.jpg", tmp_path / "q.jpg")
    code, out, _ = run(capsys, "--library", lib, "search", str(query), "--json", "--top", "2")
    rows = json.loads(out)
    assert code == 0 and 1 <= len(rows) <= 2
    assert {"photo", "face_id", "distance", "box", "tier", "query_face"} <= set(rows[0])
    assert Path(rows[0]["photo"]).stem.startswith("obama") and rows[0]["query_face"] == 0
    assert len(rows[0]["box"]) == 4 and rows[0]["distance"] <= 0.6
    # By default only the same-person tier; --maybe adds the others after it.
    assert {r["tier"] for r in rows} == {"same"} and 0 < rows[0]["confidence"] <= 1
    code, out, _ = run(capsys, "--library", lib, "search", str(query), "--json", "--maybe")
    every = json.loads(out)
    assert code == 0 and [r["face_id"] for r in every][: len(rows)] == [r["face_id"] for r in rows]
    assert {r["tier"] for r in every} <= {"same", "maybe"}

    code, out, _ = run(capsys, "--library", lib, "similar", str(rows[0]["face_id"]), "--json")
    similar = json.loads(out)
    assert code == 0 and Path(similar[0]["photo"]).stem.startswith("obama")
    assert similar[0]["photo"] != rows[0]["photo"]

    code, out, _ = run(capsys, "--json", "--library", lib, "stats")
    stats = json.loads(out)
    assert code == 0 and (stats["photos"], stats["faces"], stats["errors"]) == (4, 3, 1)

    code, out, _ = run(capsys, "--library", lib, "folders", "list", "--json")
    (folder,) = json.loads(out)
    assert code == 0 and folder["path"] == str(photos.resolve()) and folder["faces"] == 3

    code, out, _ = run(capsys, "--library", lib, "folders", "remove", str(photos), "--json")
    assert code == 0 and json.loads(out)["faces_removed"] == 3


def test_library_comes_from_the_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FACEALBUM_LIBRARY", str(tmp_path / "envlib"))
    (tmp_path / "pics").mkdir()
    assert run(capsys, "folders", "add", str(tmp_path / "pics"))[0] == 0  # makes it there
    code, out, _ = run(capsys, "stats", "--json")
    assert code == 0 and json.loads(out)["library"] == str(tmp_path / "envlib")
    assert (tmp_path / "envlib" / "library.sqlite3").is_file()


def test_folders_add_and_list_in_words(tmp_path, capsys):
    (tmp_path / "pics").mkdir()
    lib = str(tmp_path / "lib")
    code, out, _ = run(capsys, "--library", lib, "folders", "add", str(tmp_path / "pics"))
    assert code == 0 and "added" in out
    code, out, _ = run(capsys, "--library", lib, "folders", "list")
    assert code == 0 and str((tmp_path / "pics").resolve()) in out


@pytest.mark.parametrize(
    "args, expected",
    [
        (["scan", "{tmp}/missing"], "no such folder"),
        (["search", "{tmp}/missing.jpg"], "no such file"),
        (["search", "{tmp}/broken.jpg"], "broken.jpg"),
        (["search", "{tmp}"], "is a folder: give one photo"),
        (["similar", "12345"], "no face with id 12345"),
        (["folders", "add", "{tmp}/missing"], "no such folder"),
        (["folders", "remove", "{tmp}"], "not a folder of this library"),
    ],
)
def test_bad_input_gives_one_clear_line_and_a_failure_code(tmp_path, capsys, args, expected):
    corrupt_photo(tmp_path / "broken.jpg")
    Album.open(tmp_path / "lib").close()  # a library without one is refused before the input
    argv = ["--library", str(tmp_path / "lib")] + [a.format(tmp=tmp_path) for a in args]
    code, out, err = run(capsys, *argv)
    assert code == 1
    line = one_clear_line(err)
    assert line.startswith("facealbum: ") and expected in line


def test_scan_without_a_terminal_prints_a_summary_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, out, _ = run(capsys, "--library", str(tmp_path / "lib"), "scan", str(tmp_path / "empty"))
    assert code == 0 and out.strip().splitlines() == [
        "done: 0 of 0 photos analysed, 0 faces found, 0 could not be read"
    ]


def test_cli_start_up_imports_neither_qt_nor_the_engine():
    heavy = "('PySide6', 'numpy', 'dlib', 'facealbum.album')"
    code = (
        "import sys, facealbum.cli.main as c; c.build_parser(); "
        f"print(sorted(m for m in {heavy} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def _committed_photos(db: Path) -> dict[int, str]:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return _photo_paths(conn)
        finally:
            conn.close()
    except sqlite3.Error:
        return {}


def _photo_paths(conn: sqlite3.Connection) -> dict[int, str]:
    return {i: info.path for i, info in queries.photos(conn, queries.photo_ids(conn)).items()}


def _photo_of_each_face(conn: sqlite3.Connection) -> dict[int, int]:
    faces = people_queries.all_face_columns(conn)
    return dict(zip(faces.face_ids.tolist(), faces.photo_ids.tolist(), strict=True))


@pytest.mark.slow
def test_a_killed_scan_resumes_without_redoing_or_duplicating(faces_dir, tmp_path, capsys):
    photos = tmp_path / "photos"
    sources = (*OBAMA, *OTHERS)
    # Six sizes of each: distinct files, same faces; enough photos that the first batch
    # written (after a second) cannot hold them all even on a fast machine.
    sides = (520, 580, 640, 700, 760, 820)
    for side in sides:
        for rel in sources:
            reduced_copy(faces_dir / rel, photos / f"{Path(rel).stem}_{side}.jpg", long_side=side)
    build_folder(faces_dir, photos, (GROUP,))
    total = len(sides) * len(sources) + 1
    expected_faces = len(sides) * len(sources) + 2
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "settings.json").write_text('{"workers": 1}')  # slow enough to kill mid-way
    db = lib / "library.sqlite3"

    kill_scan_midway(lib, photos, lambda: bool(_committed_photos(db)))  # mid-way
    before = _committed_photos(db)
    assert 0 < len(before) < total, "the kill should land mid-scan"
    conn = sqlite3.connect(db)
    faces_before = _photo_of_each_face(conn)
    conn.close()

    code, out, _ = run(capsys, "--library", str(lib), "scan", str(photos), "--json")
    summary = json.loads(out)
    assert code == 0 and summary["phase"] == "done"
    assert summary["total"] == total - len(before)  # committed: not analysed again

    conn = sqlite3.connect(db)
    after = _photo_paths(conn)
    assert len(after) == total and set(after.values()) == {str(p) for p in photos.iterdir()}
    assert all(after[i] == p for i, p in before.items())
    faces_after = _photo_of_each_face(conn)
    assert faces_before.items() <= faces_after.items()
    assert len(faces_after) == expected_faces  # no duplicates
    conn.close()
    code, out, _ = run(capsys, "--library", str(lib), "stats", "--json")
    assert json.loads(out)["index"]["size"] == expected_faces


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path):
    """`facealbum stats | head -1`: the closed pipe is no error, and no traceback."""
    Album.open(tmp_path / "lib").close()
    command = [sys.executable, "-m", "facealbum", "--library", str(tmp_path / "lib"), "stats"]
    done = subprocess.Popen(
        [*command, "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO
    )
    assert done.stdout is not None and done.stderr is not None
    done.stdout.close()  # before it writes a word
    err = done.stderr.read().decode()
    assert done.wait(timeout=60) == 0 and err == ""


def test_the_version_comes_from_the_package(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"facealbum {version('facealbum')}"


def test_the_version_is_looked_up_only_when_asked_for():
    # Looking it up imports importlib.metadata (~45 ms), which every command and every
    # scan worker would pay at start-up for nothing.
    code = "import sys, facealbum.cli.main; print('importlib.metadata' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_scanning_only_missing_folders_makes_no_library(tmp_path, capsys):
    lib = tmp_path / "lib"
    code, _, err = run(capsys, "--library", str(lib), "scan", str(tmp_path / "nowhere"))
    assert code == 1
    assert err.strip() == f"facealbum: {tmp_path / 'nowhere'}: no such folder"
    assert not lib.exists()
