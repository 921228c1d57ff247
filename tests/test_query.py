"""Query images (dropped, pasted, chosen, snapshots) are analysed in a helper process in the GUI:
same faces as in-process, the window keeps painting, and a dead helper costs one request."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facealbum.album import Album
from facealbum.config import Settings
from facealbum.engine.images import ImageLoadError
from facealbum.engine.query import LocalQueryAnalyser, ProcessQueryAnalyser, QueryEngineError

DEFAULTS = (Settings.detector, Settings.min_face_px)  # a new library's


def _reduced(src: Path, dest: Path, long_side: int) -> Path:
    with Image.open(src) as im:
        im = im.convert("RGB")
        im.thumbnail((long_side, long_side))
        im.save(dest, "JPEG", quality=92)
    return dest


@pytest.fixture()
def group_photo(faces_dir: Path, labels, tmp_path: Path) -> Path:
    """The labelled photo with the most faces, at a size a user might drop."""
    crowd = max(labels, key=lambda item: item.faces)
    assert crowd.faces >= 4
    return _reduced(crowd.path, tmp_path / "group.jpg", 1600)


@pytest.fixture()
def portrait(labels, tmp_path: Path) -> Path:
    one = next(i for i in labels if i.faces == 1 and "people/" in i.path.as_posix())
    return _reduced(one.path, tmp_path / "portrait.jpg", 640)


def _children() -> set[int]:
    return {p.pid for p in multiprocessing.active_children()}


def test_helper_process_finds_the_same_faces_as_the_calling_thread(group_photo):
    local = LocalQueryAnalyser(*DEFAULTS)
    isolated = ProcessQueryAnalyser(*DEFAULTS)
    try:
        pixels = np.asarray(Image.open(group_photo).convert("RGB"))
        for here, there in (
            (local.faces_in_file(group_photo), isolated.faces_in_file(group_photo)),
            (local.faces_in_pixels(pixels), isolated.faces_in_pixels(pixels)),
        ):
            assert len(here) >= 4
            assert [f.box for f in here] == [f.box for f in there]
            for a, b in zip(here, there, strict=True):
                assert np.allclose(a.encoding, b.encoding, atol=1e-5)
    finally:
        isolated.close()


def test_helper_process_reports_bad_input_as_the_calling_thread_does(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    isolated = ProcessQueryAnalyser(*DEFAULTS)
    try:
        with pytest.raises(ImageLoadError) as caught:
            isolated.faces_in_file(bad)
        assert caught.value.path is not None and Path(caught.value.path).name == "broken.jpg"
        with pytest.raises(ValueError):
            isolated.faces_in_pixels(np.zeros((10, 10, 3), dtype=np.float32))
        # Refused input leaves the helper running and useful.
        assert isolated.faces_in_pixels(np.zeros((64, 64, 3), dtype=np.uint8)) == []
    finally:
        isolated.close()


def test_album_starts_one_helper_on_first_use_reuses_it_and_stops_it_on_close(tmp_path, portrait):
    before = _children()
    album = Album.open(tmp_path / "library", isolate_engine=True)
    try:
        assert _children() == before  # nothing started before it is needed
        assert len(album.faces_in_image(portrait)) == 1
        helpers = _children() - before
        assert len(helpers) == 1
        assert len(album.search_image(portrait)) == 1  # search_image goes through it too
        assert _children() - before == helpers
    finally:
        album.close()
    assert not (_children() & helpers)


def test_a_killed_helper_fails_one_request_clearly_then_a_new_one_answers(portrait):
    isolated = ProcessQueryAnalyser(*DEFAULTS)
    before = _children()
    try:
        assert len(isolated.faces_in_file(portrait)) == 1
        (helper,) = _children() - before
        os.kill(helper, signal.SIGSTOP)  # it cannot answer the next request...
        outcome: list[object] = []
        asking = threading.Thread(
            target=lambda: outcome.append(_capture(isolated.faces_in_file, portrait))
        )
        asking.start()
        time.sleep(0.5)  # ...which is sent meanwhile
        os.kill(helper, signal.SIGKILL)
        asking.join(30)
        (error,) = outcome
        assert isinstance(error, QueryEngineError)
        assert "SIGKILL" in str(error) and "try again" in str(error).lower()

        assert len(isolated.faces_in_file(portrait)) == 1
        assert helper not in _children()
    finally:
        isolated.close()


def _capture(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:  # the test looks at what the caller would see
        return exc


@pytest.mark.slow
def test_gui_timer_fires_within_100ms_while_a_group_photo_is_analysed(qtbot, tmp_path, group_photo):
    from helpers_gui_ticks import MAX_GAP_MS, GuiTicks, window_on_new_library

    win = window_on_new_library(qtbot, tmp_path)
    search = win.search_page

    ticks = GuiTicks()
    ticks.start()
    win.search_file(group_photo)  # the helper starts, loads its models and analyses
    qtbot.waitUntil(lambda: search.query is not None, timeout=120_000)
    ticks.stop()

    assert len(search.query.faces) >= 4
    worst = ticks.worst_gap_ms()
    assert worst < MAX_GAP_MS, f"the GUI thread stalled for {worst:.0f} ms"
    win.close()
