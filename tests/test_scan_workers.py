"""Scan workers kept between scans: by the facade and the app's scan controller; the command
line, which keeps none, leaves none behind."""

from __future__ import annotations

import multiprocessing
from dataclasses import replace

from library_builder import OBAMA, OTHERS, build_folder

from facealbum.album import Album
from facealbum.album.scan_workers import ScanWorkers
from facealbum.cli.main import main


def scan_processes() -> set[int]:
    """The scan worker processes this process has running."""
    return {p.pid for p in multiprocessing.active_children() if p.name == "facealbum-scan"}


def test_a_scan_uses_the_workers_it_is_given_and_leaves_them_running(tmp_path, faces_dir):
    build_folder(faces_dir, tmp_path / "photos", OBAMA)
    with Album.open(tmp_path / "lib") as album, ScanWorkers(album.settings) as workers:
        album.add_folder(tmp_path / "photos")
        assert album.scan(workers=workers).done == len(OBAMA)
        kept = scan_processes()
        assert len(kept) == album.settings.effective_workers()
        build_folder(faces_dir, tmp_path / "photos", OTHERS)
        final = album.scan(workers=workers)
        assert (final.done, final.errors) == (len(OTHERS), 0)
        assert scan_processes() == kept  # the same processes analysed the new photos
        assert album.stats()["faces"] >= len(OBAMA) + len(OTHERS)
    assert scan_processes() == set()


def test_workers_that_find_faces_another_way_are_left_alone(tmp_path, faces_dir):
    build_folder(faces_dir, tmp_path / "photos", OBAMA)
    with Album.open(tmp_path / "lib") as album:
        assert album.settings.detector == "yunet"
        with ScanWorkers(replace(album.settings, detector="hog")) as hog_workers:
            hog_workers.start()
            started = scan_processes()
            album.add_folder(tmp_path / "photos")
            assert album.scan(workers=hog_workers).done == len(OBAMA)
            assert scan_processes() == started  # the scan's own workers came and went
        assert album.detector_of_photos() == "yunet"


def test_the_command_line_leaves_no_worker_behind(tmp_path, faces_dir, capsys):
    build_folder(faces_dir, tmp_path / "photos", OBAMA)
    command = ["--library", str(tmp_path / "lib"), "scan", str(tmp_path / "photos")]
    assert main(command) == 0
    assert scan_processes() == set()
    assert main(command) == 0  # nothing new: no worker started
    assert scan_processes() == set()
    assert "2 of 2 photos analysed" in capsys.readouterr().out


def test_the_app_keeps_its_workers_between_scans_for_a_while(
    qtbot, tmp_path, faces_dir, monkeypatch
):
    from facealbum.ui import scan_controller

    monkeypatch.setattr(scan_controller, "KEEP_WORKERS_MS", 1500)
    build_folder(faces_dir, tmp_path / "a", OBAMA)
    build_folder(faces_dir, tmp_path / "b", OTHERS)
    with Album.open(tmp_path / "lib") as album:
        controller = scan_controller.ScanController()
        for folder in ("a", "b"):
            album.add_folder(tmp_path / folder)
            with qtbot.waitSignal(controller.finished, timeout=120_000):
                assert controller.start(album, [tmp_path / folder])
            if folder == "a":
                kept = scan_processes()
                assert len(kept) == album.settings.effective_workers()
        assert scan_processes() == kept  # the second folder's scan used the same workers
        qtbot.waitUntil(lambda: scan_processes() == set(), timeout=10_000)  # then idle
        assert album.stats()["photos"] == len(OBAMA) + len(OTHERS)


def test_the_app_reports_workers_that_cannot_start_as_a_failed_scan(
    qtbot, tmp_path, faces_dir, monkeypatch
):
    from facealbum.engine import pool
    from facealbum.ui import scan_controller

    def no_process(self):
        raise OSError(11, "Resource temporarily unavailable")

    build_folder(faces_dir, tmp_path / "a", OBAMA)
    with Album.open(tmp_path / "lib") as album:
        album.add_folder(tmp_path / "a")
        monkeypatch.setattr(pool.ProcessPool, "_spawn", no_process)
        controller = scan_controller.ScanController()
        with qtbot.waitSignal(controller.failed, timeout=30_000) as failed:
            assert controller.start(album)
        assert "Resource temporarily unavailable" in failed.args[0]
        assert not controller.is_running()
