"""The Look-alike page, driven through its widgets on the development video clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers_library import four_people_library

from facealbum.album.live import SourceError

pytest.importorskip("pytestqt")

from facealbum.ui.pages import lookalike  # noqa: E402
from facealbum.ui.pages.lookalike import LookalikePage  # noqa: E402


@pytest.fixture(scope="module")
def library(tmp_path_factory, faces_dir):
    """A real library of four labelled photos, scanned through the facade."""
    with four_people_library(tmp_path_factory.mktemp("lookalike"), faces_dir) as album:
        yield album


@pytest.fixture
def no_cameras(monkeypatch):
    monkeypatch.setattr(lookalike, "probe_cameras", lambda: [])


@pytest.fixture
def page(qtbot, no_cameras):
    widget = LookalikePage()
    qtbot.addWidget(widget)
    widget.resize(1200, 640)
    yield widget
    widget.shutdown()


@pytest.mark.slow
def test_playing_the_clip_shows_boxes_and_look_alikes(qtbot, page, library, faces_dir, tmp_path):
    page.set_library(library)
    page.show()
    page.play_video(faces_dir / "video" / "short_hamilton_clip.mp4")
    qtbot.waitUntil(lambda: page.view.displayed_frames > 10, timeout=30_000)

    # YuNet also matches the turned face and the audience, to whoever they resemble: wait
    # until the performer, facing the camera, is shown his own photo first.
    def performer_matched() -> bool:
        matches = page.panel.matches()
        return bool(matches) and Path(matches[0].match.photo).name == "lmm_1.png"

    qtbot.waitUntil(performer_matched, timeout=120_000)
    frame = page.view.current_frame()
    assert frame is not None and frame.rgb.shape == (360, 640, 3)
    # Wait for a frame that shows a matched face, so the picture shows everything.
    qtbot.waitUntil(lambda: any(f.matches for f in page.view.current_frame().faces), timeout=60_000)
    qtbot.wait(300)  # let the thumbnails arrive
    shot = tmp_path / "lookalike.png"
    assert page.grab().save(str(shot))
    assert shot.stat().st_size > 10_000

    with qtbot.waitSignal(page.snapshot_taken, timeout=5_000) as sent:
        page.snapshot_button.click()
    assert isinstance(sent.args[0], np.ndarray) and sent.args[0].shape == (360, 640, 3)

    pipeline = page._pipeline
    page.shutdown()
    assert not page.snapshot_button.isEnabled()
    qtbot.waitUntil(lambda: not pipeline.running, timeout=10_000)


def test_without_a_camera_the_page_says_so_and_offers_a_video_file(qtbot, page):
    page.show()
    qtbot.waitUntil(lambda: "No camera" in page.message.text(), timeout=10_000)
    assert page.stack.currentIndex() == 0
    assert page.video_button.isVisible()


def test_a_camera_in_use_elsewhere_gives_a_message_not_a_crash(qtbot, page, monkeypatch):
    def busy(spec):
        raise SourceError("Camera 1 could not be opened: it may be in use by another program.")

    monkeypatch.setattr(lookalike, "FrameSource", busy)
    page.show()
    page.start_camera(0)
    qtbot.waitUntil(lambda: "in use" in page.message.text(), timeout=10_000)
    assert page.video_button.isVisible() and page._pipeline is None


def test_an_unreadable_video_gives_a_message(qtbot, page, tmp_path):
    junk = tmp_path / "holiday.mp4"
    junk.write_bytes(b"\x00" * 4096)
    page.show()
    page.play_video(junk)
    qtbot.waitUntil(lambda: "not a video" in page.message.text(), timeout=10_000)
    assert page._pipeline is None


def test_the_clip_plays_without_a_library_and_says_how_to_get_look_alikes(qtbot, page, faces_dir):
    page.show()
    page.play_video(faces_dir / "video" / "short_hamilton_clip.mp4")
    qtbot.waitUntil(lambda: page.view.displayed_frames > 5, timeout=30_000)
    assert "open a library" in page.status.text().lower()
    page.hide()  # hiding the page stops the camera; showing it again resumes
    assert page._pipeline is None
    page.show()
    qtbot.waitUntil(lambda: page._pipeline is not None, timeout=10_000)


class UnpluggedCamera:
    """A camera that delivers a few pictures and then stops, like one pulled out."""

    is_file, fps, name = False, 30.0, "Camera 1"

    def __init__(self, spec) -> None:
        self.left = 5

    def read(self):
        self.left -= 1
        return np.zeros((120, 160, 3), np.uint8) if self.left > 0 else None

    def close(self) -> None:
        pass


def test_a_camera_that_stops_delivering_is_reported_on_the_page(qtbot, page, monkeypatch):
    monkeypatch.setattr(lookalike, "FrameSource", UnpluggedCamera)
    page.show()
    page.start_camera(0)
    qtbot.waitUntil(lambda: "stopped delivering" in page.message.text(), timeout=10_000)
    assert page._pipeline is None and page.video_button.isVisible()


def test_another_library_can_be_chosen_and_a_bad_folder_is_explained(
    qtbot, page, library, tmp_path
):
    from facealbum.album import Album

    page.set_library(library)
    page.show()
    page.open_other_library(tmp_path / "not-a-library")
    qtbot.waitUntil(lambda: "could not be opened" in page.status.text(), timeout=10_000)
    assert page.library_box.currentIndex() == 0

    Album.open(tmp_path / "museum").close()
    page.open_other_library(tmp_path / "museum")
    qtbot.waitUntil(lambda: page.library_box.count() == 3, timeout=10_000)
    assert page.library_box.currentText() == "museum"
    assert "museum" in page.status.text()
    page.library_box.setCurrentIndex(0)
    page.library_box.activated.emit(0)  # back to the window's library; the other closes
    assert page.library_box.count() == 2

    page.open_other_library(library.directory)  # the window's own: not opened twice
    assert page.library_box.count() == 2 and page._other is None


def test_the_library_the_window_opens_is_matched_with_the_window_s_album(
    qtbot, page, tmp_path, monkeypatch
):
    from facealbum.album import Album

    Album.open(tmp_path / "museum").close()
    closed = []
    real_close = Album.close

    def close(album: Album) -> None:
        closed.append(album)
        real_close(album)

    monkeypatch.setattr(Album, "close", close)
    page.open_other_library(tmp_path / "museum")
    qtbot.waitUntil(lambda: page._other is not None, timeout=10_000)
    chosen = page._other
    with Album.open(tmp_path / "museum") as window_album:
        page.set_library(window_album)  # the window opens the library chosen here
        assert page._other is None and page._library() is window_album
        assert page.library_box.count() == 2
        qtbot.waitUntil(lambda: closed == [chosen], timeout=10_000)

        page.set_library(None)
        page.open_other_library(tmp_path / "museum")
        page.set_library(window_album)  # ...while the page is still opening it
        qtbot.waitUntil(lambda: len(closed) == 2, timeout=10_000)
        assert page._other is None and page._library() is window_album
        assert window_album not in closed
