"""The scanner: walking folders, planning a rescan, and the worker-process pool."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from facealbum.config import Settings
from facealbum.engine.images import fingerprint, read_photo_bytes
from facealbum.engine.pool import ProcessPool, WorkerError, WorkerStartError
from facealbum.engine.scanner import (
    BARE_FOLDER,
    Analysed,
    DiskPhoto,
    Failed,
    KnownPhoto,
    Moved,
    PhotoWalk,
    ScanClock,
    ScanPool,
    UnreadFolder,
    folder_offline_reason,
    plan_scan,
    walk_photos,
)

# -- walking ----------------------------------------------------------------------------


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _walked(root: Path) -> set[str]:
    return {os.path.relpath(p.path, root) for p in walk_photos(root)}


def test_walk_finds_photos_and_skips_hidden_and_non_photos(tmp_path: Path) -> None:
    _touch(tmp_path / "a.jpg")
    _touch(tmp_path / "b.JPEG")
    _touch(tmp_path / "sub" / "c.png")
    _touch(tmp_path / "notes.txt")
    _touch(tmp_path / "clip.mp4")
    _touch(tmp_path / ".hidden.jpg")
    _touch(tmp_path / ".thumbnails" / "d.jpg")
    _touch(tmp_path / "sub" / ".cache" / "e.jpg")

    assert _walked(tmp_path) == {"a.jpg", "b.JPEG", os.path.join("sub", "c.png")}


def test_walk_reports_size_and_mtime(tmp_path: Path) -> None:
    photo = _touch(tmp_path / "a.jpg", b"12345")
    os.utime(photo, (1_600_000_000, 1_600_000_000.5))

    (found,) = walk_photos(tmp_path)

    assert found == DiskPhoto(str(photo), 5, 1_600_000_000.5)


def test_walk_follows_symlinked_folder_and_survives_a_loop(tmp_path: Path) -> None:
    _touch(tmp_path / "album" / "a.jpg")
    _touch(tmp_path / "elsewhere" / "b.jpg")
    (tmp_path / "album" / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "album" / "loop").symlink_to(tmp_path / "album", target_is_directory=True)

    found = _walked(tmp_path / "album")

    assert found == {"a.jpg", os.path.join("linked", "b.jpg")}


def _refuse(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Make `folder` unreadable, also for root (who reads any folder), as the OS would."""
    folder.chmod(0)
    real_scandir = os.scandir

    def scandir(path):
        if os.fspath(path) == str(folder):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)


def test_walk_reports_an_unreadable_folder_instead_of_skipping_it_silently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _touch(tmp_path / "a.jpg")
    locked = tmp_path / "locked"
    _touch(locked / "b.jpg")
    _refuse(monkeypatch, locked)
    try:
        walk = PhotoWalk(tmp_path)
        assert {os.path.relpath(p.path, tmp_path) for p in walk} == {"a.jpg"}
        assert walk.unread == [UnreadFolder(str(locked), "cannot be read: permission denied")]
    finally:
        locked.chmod(0o755)


def test_walk_reports_bare_folders_and_skips_the_library_folder(tmp_path: Path) -> None:
    _touch(tmp_path / "a.jpg")
    (tmp_path / "usb").mkdir()  # an unmounted drive leaves its mount point bare
    _touch(tmp_path / "library" / "thumbnails" / "t.jpg")
    walk = PhotoWalk(tmp_path, skip=[str(tmp_path / "library")])
    assert [os.path.relpath(p.path, tmp_path) for p in walk] == ["a.jpg"]
    assert walk.unread == [UnreadFolder(str(tmp_path / "usb"), BARE_FOLDER, empty=True)]


def test_folder_offline_reason_tells_missing_unreadable_and_emptied_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert folder_offline_reason(str(tmp_path / "gone"), 5).startswith("not found")
    (tmp_path / "bare").mkdir()
    assert folder_offline_reason(str(tmp_path / "bare"), 0) is None  # a new, empty folder
    assert folder_offline_reason(str(tmp_path / "bare"), 5).startswith("empty")
    _touch(tmp_path / "full" / "a.jpg")
    assert folder_offline_reason(str(tmp_path / "full"), 5) is None
    _refuse(monkeypatch, tmp_path / "full")
    try:
        assert folder_offline_reason(str(tmp_path / "full"), 5) == (
            "cannot be read: permission denied"
        )
    finally:
        (tmp_path / "full").chmod(0o755)


def test_walk_of_missing_folder_raises_instead_of_reporting_nothing(tmp_path: Path) -> None:
    # An unplugged drive must not look like a folder whose photos were all deleted.
    with pytest.raises(FileNotFoundError):
        list(walk_photos(tmp_path / "unplugged"))


# -- planning ---------------------------------------------------------------------------


def test_plan_scan_classifies_new_changed_pending_removed_unchanged() -> None:
    disk = [
        DiskPhoto("/p/new.jpg", 10, 1.0),
        DiskPhoto("/p/same.jpg", 10, 1.0),
        DiskPhoto("/p/resized.jpg", 11, 1.0),
        DiskPhoto("/p/touched.jpg", 10, 2.0),
        DiskPhoto("/p/pending.jpg", 10, 1.0),
        DiskPhoto("/p/failed.jpg", 10, 1.0),
    ]
    known = {
        "/p/same.jpg": KnownPhoto(10, 1.0, "f1", "done"),
        "/p/resized.jpg": KnownPhoto(10, 1.0, "f2", "done"),
        "/p/touched.jpg": KnownPhoto(10, 1.0, "f3", "done"),
        "/p/pending.jpg": KnownPhoto(10, 1.0, None, "pending"),
        "/p/failed.jpg": KnownPhoto(10, 1.0, None, "failed"),
        "/p/gone.jpg": KnownPhoto(10, 1.0, "f4", "done"),
    }

    plan = plan_scan(disk, known)

    assert [p.path for p in plan.to_analyse] == [
        "/p/new.jpg",
        "/p/resized.jpg",
        "/p/touched.jpg",
        "/p/pending.jpg",
    ]
    assert plan.removed == ["/p/gone.jpg"]
    assert plan.unchanged == 2  # same.jpg, and failed.jpg is not retried while unchanged


def _known(paths: list[str]) -> dict[str, KnownPhoto]:
    return {p: KnownPhoto(10, 1.0, f"f{i}", "ok") for i, p in enumerate(paths)}


def test_plan_removes_nothing_under_a_folder_it_could_not_read() -> None:
    known = _known(["/p/a.jpg", "/p/locked/b.jpg", "/p/usb/c.jpg", "/p/gone.jpg"])
    disk = [DiskPhoto("/p/a.jpg", 10, 1.0)]
    unread = [
        UnreadFolder("/p/locked", "cannot be read: permission denied"),
        UnreadFolder("/p/usb", BARE_FOLDER, empty=True),
    ]
    plan = plan_scan(disk, known, unread)
    assert plan.removed == ["/p/gone.jpg"]
    assert plan.kept_unread == ["/p/locked/b.jpg"]
    assert plan.held_back == ["/p/usb/c.jpg"]
    # The user says the bare folder's photos are gone; an unreadable one proves nothing.
    pruned = plan_scan(disk, known, unread, prune=True)
    assert sorted(pruned.removed) == ["/p/gone.jpg", "/p/usb/c.jpg"]
    assert pruned.kept_unread == ["/p/locked/b.jpg"]


def test_plan_holds_back_removing_most_of_a_folder_until_pruned() -> None:
    paths = [f"/p/{i}.jpg" for i in range(20)]
    known = _known(paths)
    few_gone = plan_scan([DiskPhoto(p, 10, 1.0) for p in paths[:15]], known)
    assert len(few_gone.removed) == 5 and not few_gone.held_back
    most_gone = [DiskPhoto(p, 10, 1.0) for p in paths[:5]]
    held = plan_scan(most_gone, known)
    assert not held.removed and len(held.held_back) == 15
    assert len(plan_scan(most_gone, known, prune=True).removed) == 15
    # A small folder tidied up by hand asks nothing.
    small = _known(paths[:4])
    assert len(plan_scan([], small).removed) == 4


# -- the clock --------------------------------------------------------------------------


class _FakeTime:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_clock_speed_and_eta() -> None:
    now = _FakeTime()
    clock = ScanClock(total=100, now=now)
    assert clock.eta_seconds is None  # no pace yet

    for _ in range(10):
        now.t += 0.5
        clock.tick()

    assert clock.photos_per_second == pytest.approx(2.0)
    assert clock.eta_seconds == pytest.approx(45.0)


def test_clock_speed_follows_the_recent_pace() -> None:
    now = _FakeTime()
    clock = ScanClock(total=1000, window=10.0, now=now)
    for _ in range(100):  # fast start: 10 photos/s
        now.t += 0.1
        clock.tick()
    for _ in range(30):  # then 1 photo/s for 30 s
        now.t += 1.0
        clock.tick()

    assert clock.photos_per_second == pytest.approx(1.0, rel=0.15)
    clock.tick(870)
    assert clock.eta_seconds == 0.0


# -- the generic pool, with stand-in work -----------------------------------------------


def _standin_setup():
    return _standin_handler


def _standin_handler(task, context):
    """task = (value, seconds, action, marker_dir)."""
    value, seconds, action, marker_dir = task
    if marker_dir:
        _touch(Path(marker_dir) / f"started-{value}")
    if action == "crash":
        os._exit(3)
    if action == "raise":
        raise ValueError(f"bad {value}")
    if action == "block":  # until the test tells it to go on; never, in these tests
        deadline = time.monotonic() + 60
        while not (Path(marker_dir) / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    time.sleep(seconds)
    if marker_dir:
        _touch(Path(marker_dir) / f"finished-{value}")
    return value * 10 + (context or 0)


def test_pool_returns_every_result_with_context() -> None:
    tasks = [(i, 0.0, None, None) for i in range(12)]
    with ProcessPool(2, _standin_setup) as pool:
        results = dict(pool.run(tasks, context=1))
        again = dict(pool.run(tasks[:3], context=2))  # the same workers, a new context

    assert {task[0]: r for task, r in results.items()} == {i: i * 10 + 1 for i in range(12)}
    assert sorted(again.values()) == [2, 12, 22]


def test_pool_fails_only_the_task_that_crashed_or_raised() -> None:
    tasks = [(i, 0.01, None, None) for i in range(8)]
    tasks[2] = (2, 0.0, "crash", None)
    tasks[5] = (5, 0.0, "raise", None)
    with ProcessPool(2, _standin_setup) as pool:
        results = {task[0]: r for task, r in pool.run(tasks)}

    assert len(results) == 8
    assert isinstance(results[2], WorkerError) and "exit code 3" in results[2].reason
    assert isinstance(results[5], WorkerError) and "bad 5" in results[5].reason
    assert {i: results[i] for i in (0, 1, 3, 4, 6, 7)} == {i: i * 10 for i in (0, 1, 3, 4, 6, 7)}


def _broken_setup():
    raise FileNotFoundError("model file missing")


def test_pool_whose_workers_cannot_start_raises_one_clear_error() -> None:
    # Failing every photo instead would mark a whole library as unreadable.
    tasks = [(i, 0.0, None, None) for i in range(5)]
    with ProcessPool(2, _broken_setup) as pool:
        with pytest.raises(WorkerStartError, match="model file missing"):
            list(pool.run(tasks))


def test_pool_cancel_drops_the_rest_without_waiting_for_busy_workers(tmp_path: Path) -> None:
    tasks = [(0, 0.0, None, str(tmp_path))]
    tasks += [(i, 0.0, "block", str(tmp_path)) for i in range(1, 30)]
    cancel = threading.Event()
    results = []
    with ProcessPool(2, _standin_setup) as pool:
        for _task, result in pool.run(tasks, cancel=cancel):
            results.append(result)
            cancel.set()
        workers = list(pool._workers)

    assert results == [0]
    # Blocked tasks never finished: run returned without waiting for them...
    assert not list(tmp_path.glob("finished-[1-9]*"))
    # ...and at most two per worker were ever handed out.
    assert len(list(tmp_path.glob("started-*"))) <= 1 + 2 * 2
    assert not any(w.process.is_alive() for w in workers)


def test_pool_pause_holds_new_work_until_resumed(tmp_path: Path) -> None:
    tasks = [(i, 0.05, None, str(tmp_path)) for i in range(20)]
    pause = threading.Event()
    started_while_paused: list[int] = []

    def resume() -> None:
        started_while_paused.append(len(list(tmp_path.glob("started-*"))))
        pause.clear()

    results = []
    with ProcessPool(2, _standin_setup) as pool:
        for _, result in pool.run(tasks, pause=pause):
            if not results:
                pause.set()
                # Unpaused, all 20 would finish well within this second.
                threading.Timer(1.0, resume).start()
            results.append(result)

    assert sorted(results) == [i * 10 for i in range(20)]
    # Only what workers already held when pause was set went on running.
    assert started_while_paused[0] <= 1 + 2 * 2


# -- the scan pool, on real photos ------------------------------------------------------


def _disk(path: Path) -> DiskPhoto:
    st = path.stat()
    return DiskPhoto(str(path), st.st_size, st.st_mtime)


@pytest.mark.slow
def test_scan_pool_analyses_fails_and_recognises_moved_photos(
    faces_dir: Path, labels, tmp_path: Path
) -> None:
    good = [
        next(lp for lp in labels if lp.path.name == "obama_1.jpg"),
        next(lp for lp in labels if lp.path.name == "two_people.jpg"),
        next(lp for lp in labels if lp.path.name == "noise.jpg"),
    ]
    moved = tmp_path / "renamed copy.jpg"
    shutil.copyfile(faces_dir / "people" / "guido_van_rossum" / "guido_2.jpg", moved)
    jpeg = (faces_dir / "people" / "elon_musk" / "musk_1.jpg").read_bytes()
    bad = {
        "empty.jpg": b"",
        "truncated.jpg": jpeg[:200],
        "not_an_image.jpg": b"this is a text file with a photo's name\n" * 20,
        "random.png": os.urandom(5000),
    }
    for name, data in bad.items():
        _touch(tmp_path / name, data)
    photos = [_disk(lp.path) for lp in good] + [_disk(tmp_path / n) for n in [*bad, moved.name]]
    candidates = {fingerprint(read_photo_bytes(str(moved))): "/old/place/guido_2.jpg"}

    with ScanPool(2, Settings.detector, Settings.min_face_px) as pool:
        results = {r.path: r for r in pool.run(photos, moved_candidates=candidates)}

    assert set(results) == {p.path for p in photos}
    for lp in good:
        result = results[str(lp.path)]
        assert isinstance(result, Analysed)
        assert len(result.analysis.faces) == lp.faces
    for name in bad:
        result = results[str(tmp_path / name)]
        assert isinstance(result, Failed), name
        assert result.reason.strip(), name
    result = results[str(moved)]
    assert isinstance(result, Moved)
    assert result.old_path == "/old/place/guido_2.jpg"
    assert result.fingerprint in candidates
    assert not hasattr(result, "analysis")  # not detected again


@pytest.mark.slow
def test_scan_pool_cancel_returns_with_fewer_results(faces_dir: Path, labels) -> None:
    photos = [_disk(lp.path) for lp in labels]
    cancel = threading.Event()
    results = []
    with ScanPool(2, Settings.detector, Settings.min_face_px) as pool:
        for result in pool.run(photos, cancel=cancel):
            results.append(result)
            if len(results) == 2:
                cancel.set()

    assert len(results) == 2 < len(photos)
    assert all(isinstance(r, Analysed) for r in results)


def test_scan_pool_pause_holds_photos_until_resumed(tmp_path: Path) -> None:
    # Empty files fail at once, so unpaused all of them finish within the pause below.
    photos = [_disk(_touch(tmp_path / f"{i:02d}.jpg", b"")) for i in range(40)]
    pause = threading.Event()
    done_while_paused: list[int] = []
    results = []

    def resume() -> None:
        done_while_paused.append(len(results))
        pause.clear()

    with ScanPool(2, Settings.detector, Settings.min_face_px) as pool:
        for result in pool.run(photos, pause=pause):
            if not results:
                pause.set()
                threading.Timer(1.0, resume).start()
            results.append(result)

    assert done_while_paused, "the run finished while it was paused"
    assert done_while_paused[0] <= 1 + 2 * 2  # only what workers held when paused
    assert len(results) == 40
    assert all(isinstance(r, Failed) and r.reason == "file is empty" for r in results)
