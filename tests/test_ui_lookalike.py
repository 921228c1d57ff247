"""The Look-alike page, driven through its widgets on the development video clip, on
dropped and pasted photos, and against a folder of portraits made into a collection."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from helpers_library import four_people_library
from library_builder import reduced_copy
from PIL import Image

from facealbum import config
from facealbum.album.live import SourceError
from facealbum.model import LibraryError, ScanPhase, ScanProgress

pytest.importorskip("pytestqt")

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from pytestqt.exceptions import TimeoutError as WaitTimedOut  # noqa: E402

from facealbum.album.collections import collection_dir  # noqa: E402
from facealbum.ui.pages import lookalike, lookalike_against  # noqa: E402
from facealbum.ui.pages.lookalike import LookalikePage  # noqa: E402
from facealbum.ui.widgets import reveal  # noqa: E402

CLIP = Path("video") / "short_hamilton_clip.mp4"
HALS = "Portrait of a Young Man, Frans Hals, 1650"
GOGH = "Self-Portrait, Vincent van Gogh, 1889-09-01"
SIDECAR = """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF
 xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/">
<rdf:Description rdf:about="" photoshop:DateCreated="1889-09-01T00:00:00">
 <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Self-Portrait</rdf:li></rdf:Alt></dc:title>
 <dc:creator><rdf:Seq><rdf:li>Vincent van Gogh</rdf:li></rdf:Seq></dc:creator>
</rdf:Description></rdf:RDF></x:xmpmeta>"""


@pytest.fixture(scope="module")
def library(tmp_path_factory, faces_dir):
    """A real library of four labelled photos, scanned through the facade."""
    with four_people_library(tmp_path_factory.mktemp("lookalike"), faces_dir) as album:
        yield album


@pytest.fixture(scope="module")
def portraits(tmp_path_factory, faces_dir) -> Path:
    """Three portraits, one of the clip's performer: titled in collection.csv, in an XMP
    sidecar, and by nothing but the file name."""
    folder = tmp_path_factory.mktemp("lookalike") / "Portraits"
    reduced_copy(faces_dir / "people/lin_manuel_miranda/lmm_1.png", folder / "young_man.jpg")
    reduced_copy(faces_dir / "people/alex_lacamoire/alex_1.jpg", folder / "gogh.jpg")
    reduced_copy(faces_dir / "people/kate_siegel/kate_siegel_1.jpg", folder / "a_lady.jpg")
    (folder / "collection.csv").write_text(
        "file,title,artist,date\nyoung_man.jpg,Portrait of a Young Man,Frans Hals,1650\n",
        encoding="utf-8",
    )
    (folder / "gogh.jpg.xmp").write_text(SIDECAR, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def user_data(tmp_path_factory):
    """Collections are made in a user data folder of this module's own (once for all)."""
    with pytest.MonkeyPatch.context() as mp:
        folder = tmp_path_factory.mktemp("user-data")
        mp.setattr(config, "user_data_dir", lambda: folder)
        yield folder


@pytest.fixture(autouse=True)
def user_config(tmp_path, monkeypatch, user_data) -> Path:
    """What the page remembers goes to a config folder of the test's own."""
    monkeypatch.setattr(config, "user_config_dir", lambda: tmp_path / "config")
    return tmp_path / "config"


@pytest.fixture
def no_cameras(monkeypatch):
    monkeypatch.setattr(lookalike, "probe_cameras", lambda: [])


def make_page(qtbot) -> LookalikePage:
    widget = LookalikePage()
    qtbot.addWidget(widget)
    widget.resize(1200, 720)
    return widget


@pytest.fixture
def page(qtbot, no_cameras):
    widget = make_page(qtbot)
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
    # Once his match has held for a second, the pair is revealed while the clip plays.
    qtbot.waitUntil(lambda: page.reveal.image() is not None, timeout=30_000)
    assert page.reveal.isVisible() and "% alike" in page.reveal.caption
    assert page._pipeline is not None and not page._pipeline.source_ended
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
    page.against.match_against(tmp_path / "not-a-library")
    qtbot.waitUntil(lambda: "could not be opened" in page.status.text(), timeout=10_000)
    assert "no such folder" in page.status.text()
    assert page.library_box.currentIndex() == 0

    Album.open(tmp_path / "museum").close()
    page.against.match_against(tmp_path / "museum")
    qtbot.waitUntil(lambda: page.library_box.count() == 4, timeout=10_000)
    assert page.library_box.currentText() == "museum"
    assert "museum" in page.status.text() and "could not" not in page.status.text()
    assert not collection_dir(tmp_path / "museum").exists()  # a library, not a folder
    page.library_box.setCurrentIndex(0)
    page.library_box.activated.emit(0)  # back to the window's library; the other closes
    assert page.library_box.count() == 3

    page.against.match_against(library.directory)  # the window's own: not opened twice
    assert page.library_box.count() == 3 and page.against.other is None


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
    page.against.match_against(tmp_path / "museum")
    qtbot.waitUntil(lambda: page.against.other is not None, timeout=10_000)
    chosen = page.against.other
    with Album.open(tmp_path / "museum") as window_album:
        page.set_library(window_album)  # the window opens the library chosen here
        assert page.against.other is None and page.against.library() is window_album
        assert page.library_box.count() == 3
        qtbot.waitUntil(lambda: closed == [chosen], timeout=10_000)

        page.set_library(None)
        page.against.match_against(tmp_path / "museum")
        page.set_library(window_album)  # ...while the page is still opening it
        qtbot.waitUntil(lambda: len(closed) == 2, timeout=10_000)
        assert page.against.other is None and page.against.library() is window_album
        assert window_album not in closed


def choose_folder(page: LookalikePage, monkeypatch, folder: Path) -> None:
    """ "Match against" ▸ "A folder of photos…", answering the folder dialog with `folder`."""
    monkeypatch.setattr(
        lookalike_against.QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder)
    )
    row = page.library_box.findText("A folder of photos…")
    page.library_box.setCurrentIndex(row)
    page.library_box.activated.emit(row)


@pytest.mark.slow
def test_a_folder_of_portraits_becomes_a_collection_that_the_clip_is_matched_against(
    qtbot, page, library, faces_dir, portraits, monkeypatch
):
    page.set_library(library)
    page.show()
    page.play_video(faces_dir / CLIP)
    qtbot.waitUntil(lambda: page.view.displayed_frames > 5, timeout=30_000)

    choose_folder(page, monkeypatch, portraits)
    assert page.against.making_row.isVisible()  # the progress bar, with Cancel
    assert "Making a collection of the photos in Portraits" in page.status.text()
    qtbot.waitUntil(lambda: page.against.other is not None, timeout=180_000)
    assert not page.against.making_row.isVisible()
    assert page.library_box.currentText() == "Portraits (folder)"
    assert "matching against Portraits" in page.status.text()
    assert (collection_dir(portraits) / config.DATABASE_NAME).is_file()

    # Every look-alike of the performer is titled: from collection.csv, from the XMP
    # sidecar, from the file name.
    def titled() -> bool:
        lines = page.panel.lines()
        starts = (f"{HALS} · ", f"{GOGH} · ", "A lady · ")
        return len(lines) == 3 and all(any(s.startswith(t) for s in lines) for t in starts)

    # ...his own portrait first, once he faces the camera.
    qtbot.waitUntil(lambda: titled() and page.panel.lines()[0].startswith(HALS), timeout=120_000)
    assert all(line.endswith("% alike") for line in page.panel.lines())
    qtbot.waitUntil(lambda: HALS in page.reveal.caption, timeout=30_000)

    # The frame is searched in the collection, here: the Search page knows only the library.
    def performer_in_view() -> bool:
        face = lookalike.main_face(page.view.current_frame())
        return face is not None and Path(face.matches[0].match.photo).name == "young_man.jpg"

    # The still is the frame shown at the click, found afresh: when the performer has
    # just turned away in it (the live view still tracks him), play on and take another.
    for _ in range(5):
        qtbot.waitUntil(performer_in_view, timeout=60_000)
        with qtbot.assertNotEmitted(page.snapshot_taken):
            page.snapshot_button.click()
        assert page._pipeline is None
        qtbot.waitUntil(lambda: "This frame: " in page.status.text(), timeout=60_000)
        if "This frame: 0 faces" not in page.status.text():
            break
        page.play_video(faces_dir / CLIP)
    try:
        qtbot.waitUntil(lambda: bool(page.panel.matches()), timeout=30_000)
    except WaitTimedOut as e:  # say what the page showed instead
        raise AssertionError(f"no look-alikes of the frame; status: {page.status.text()}") from e
    assert {Path(m.match.photo).parent for m in page.panel.matches()} == {portraits.resolve()}
    titles = (HALS, GOGH, "A lady")
    qtbot.waitUntil(lambda: page.reveal.caption.startswith(titles), timeout=30_000)

    # Remembered across runs: a new page matches against the collection again.
    again = make_page(qtbot)
    again.show()
    qtbot.waitUntil(lambda: again.against.other is not None, timeout=60_000)
    assert again.library_box.currentText() == "Portraits (folder)"
    again.library_box.setCurrentIndex(0)
    again.library_box.activated.emit(0)  # this library, remembered as well
    third = make_page(qtbot)
    third.show()
    assert third.against.note == "" and third.library_box.count() == 3
    for shown in (again, third):
        shown.shutdown()


class HeldCollection:
    """open_collection that reports some progress, then waits to be released or cancelled."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.cancels: list[threading.Event] = []

    def __call__(self, folder, *, progress=None, cancel=None, isolate_engine=False):
        self.cancels.append(cancel)
        progress(ScanProgress(ScanPhase.SCANNING, 1, 4, 1, 0, 1.0, 3.0, (), None))
        while not (self.release.is_set() or cancel.is_set()):
            cancel.wait(0.05)
        raise LibraryError(f"{folder}: cannot be read")


@pytest.mark.slow
def test_what_the_library_choice_is_doing_stays_in_view_while_the_clip_plays(
    qtbot, page, faces_dir, tmp_path, monkeypatch
):
    held = HeldCollection()
    monkeypatch.setattr(lookalike_against, "open_collection", held)
    page.show()
    page.play_video(faces_dir / CLIP)
    qtbot.waitUntil(lambda: page._pipeline is not None, timeout=30_000)

    (tmp_path / "Museum").mkdir()
    choose_folder(page, monkeypatch, tmp_path / "Museum")
    qtbot.waitUntil(lambda: page.against.making_bar.value() == 1, timeout=10_000)
    assert page.against.making_bar.maximum() == 4
    qtbot.wait(2_500)  # the clip's status changes every second: the note stays
    assert page.view.displayed_frames > 10
    assert "frames/s" in page.status.text()
    assert "Making a collection of the photos in Museum" in page.status.text()
    assert "open a library" not in page.status.text()  # one is on its way

    page.against.cancel_button.click()
    assert held.cancels[0].is_set() and not page.against.making_row.isVisible()
    qtbot.wait(2_000)
    assert "Stopped making the collection of Museum" in page.status.text()
    assert "open a library or choose a folder" in page.status.text()
    assert page.library_box.currentIndex() == 0

    choose_folder(page, monkeypatch, tmp_path / "Museum")
    held.release.set()
    qtbot.waitUntil(lambda: "could not be opened" in page.status.text(), timeout=10_000)
    qtbot.wait(2_000)
    assert "Museum could not be opened" in page.status.text() and "cannot be read" in (
        page.status.text()
    )
    assert "frames/s" in page.status.text()


def drop_on(page: LookalikePage, mime: QMimeData) -> None:
    """Drag `mime` onto the middle of the page and let go."""
    at = QPointF(page.width() / 2, page.height() / 2)
    copy, left, plain = Qt.DropAction.CopyAction, Qt.MouseButton.LeftButton, Qt.NoModifier
    enter = QDragEnterEvent(at.toPoint(), copy, mime, left, plain)
    QApplication.sendEvent(page, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(page, QDropEvent(at, copy, mime, left, plain))


def half_is_a_picture(image: Image.Image, left: bool) -> bool:
    """Whether the face square of one half of the saved pair holds a varied picture."""
    half = reveal.FACE_PIXELS
    x = reveal.PAD if left else 2 * reveal.PAD + half
    box = (x + 20, reveal.PAD + 20, x + half - 20, reveal.PAD + half - 20)
    return float(np.asarray(image.convert("L").crop(box)).std()) > 20


@pytest.mark.slow
def test_a_dropped_photo_is_matched_and_its_pair_revealed_saved_and_copied(
    qtbot, page, library, faces_dir, tmp_path, monkeypatch
):
    page.set_library(library)
    page.show()
    photo = reduced_copy(faces_dir / "people/barack_obama/obama_2.jpg", tmp_path / "me.jpg")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(photo))])
    drop_on(page, mime)

    qtbot.waitUntil(lambda: bool(page.panel.matches()), timeout=60_000)
    assert Path(page.panel.matches()[0].match.photo).name == "obama_1.jpg"
    assert page.stack.currentWidget() is page.view and page._pipeline is None
    assert "me.jpg: 1 face" in page.status.text()
    qtbot.waitUntil(lambda: page.reveal.image() is not None, timeout=30_000)  # at once
    assert page.reveal.caption.startswith("Obama 1") and page.reveal.caption.endswith("% alike")

    # The extension typed decides the format; with none, the filter chosen does.
    answers = iter(
        [
            (str(tmp_path / "pair.jpg"), reveal.PNG_FILTER),
            (str(tmp_path / "pair"), reveal.PNG_FILTER),
            (str(tmp_path / "other"), reveal.JPEG_FILTER),
        ]
    )
    monkeypatch.setattr(reveal.QFileDialog, "getSaveFileName", lambda *a, **k: next(answers))
    shown = page.reveal.image()
    for name, kind in (("pair.jpg", "JPEG"), ("pair.png", "PNG"), ("other.jpg", "JPEG")):
        page.reveal.save_button.click()
        with Image.open(tmp_path / name) as saved:
            assert saved.format == kind
            assert saved.size == (shown.width(), shown.height())
            assert half_is_a_picture(saved, left=True) and half_is_a_picture(saved, left=False)
    assert "Saved the pair" in page.status.text()

    page.reveal.copy_button.click()
    assert QGuiApplication.clipboard().image().size() == shown.size()


@pytest.mark.slow
def test_a_pasted_photo_is_matched_on_the_page_not_sent_to_search(
    qtbot, library, faces_dir, tmp_path, no_cameras
):
    from facealbum.ui.main_window import PAGES, MainWindow
    from facealbum.ui.recent import RecentLibraries

    win = MainWindow(RecentLibraries(tmp_path / "recent.json"))
    qtbot.addWidget(win)
    win.show()
    win.show_page(PAGES.index("Look-alike"))
    page = win.lookalike_page
    page.set_library(library)  # as the window does when it opens a library
    QGuiApplication.clipboard().setImage(QImage(str(faces_dir / "people/joe_biden/biden_2.jpg")))
    win.paste()  # Edit ▸ Paste (Ctrl+V)
    assert win.pages.currentWidget() is page
    qtbot.waitUntil(lambda: bool(page.panel.matches()), timeout=60_000)
    assert Path(page.panel.matches()[0].match.photo).name == "biden_1.jpg"
    assert "Pasted image: 1 face" in page.status.text()
    page.set_library(None)
    win.close()


def test_the_camera_captions_follow_an_edited_collection_while_it_runs(qtbot) -> None:
    from facealbum.album.live import LiveMatch
    from facealbum.model import Artwork, Box, Match
    from facealbum.ui.widgets.camera import CAPTION_FRESH_S, MatchCaptions

    titles = {7: Artwork(title="Portrait of a Young Man")}
    asked: list[int] = []

    class Collection:  # Album.artwork follows an edited collection.csv (test_lookalike.py)
        def artwork(self, photo_id: int) -> Artwork:
            asked.append(photo_id)
            return titles[photo_id]

    clock = [100.0]
    captions = MatchCaptions(now=lambda: clock[0])
    captions.set_album(Collection())  # type: ignore[arg-type]
    match = LiveMatch(Match(1, 7, "/museum/young_man.jpg", 0.4, Box(0, 0, 1, 1)), None)
    assert captions.caption(match) == "young_man.jpg"  # until the title arrives
    with qtbot.waitSignal(captions.ready):
        captions.request((match,))
    assert captions.title(match) == "Portrait of a Young Man"

    titles[7] = Artwork(title="Portrait of a Young Man", creator="Frans Hals", date="1650")
    clock[0] += 1.0  # the camera matches the same portrait frame after frame
    captions.request((match,))
    qtbot.wait(100)
    assert asked == [7] and captions.title(match) == "Portrait of a Young Man"
    clock[0] += CAPTION_FRESH_S
    with qtbot.waitSignal(captions.ready):
        captions.request((match,))
    assert captions.title(match) == HALS
