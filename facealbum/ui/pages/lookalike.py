"""The Look-alike page: a live camera, a video file or a photo, matched against this
library, another library, or a folder of portraits (lookalike_against chooses which).

Opening a camera, probing for cameras and finding the faces of a photo take long and run
on the work pool; each result is checked against a generation counter on arrival, so a
late answer for a source the user already left is closed and dropped. Once the best
match holds (about a second on the camera, at once for a photo) it is shown as a pair:
the two faces side by side.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, Qt, QTimer, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QHideEvent,
    QImage,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from facealbum.album import Album
from facealbum.album.live import (
    FrameSource,
    LiveFace,
    LiveFrame,
    LiveMatch,
    LivePipeline,
    MatchFn,
    library_match_fn,
    probe_cameras,
)
from facealbum.config import THUMBNAIL_DIR_NAME
from facealbum.model import PHOTO_EXTENSIONS
from facealbum.ui.dialogs.messages import describe_error
from facealbum.ui.pages.lookalike_against import AgainstChooser
from facealbum.ui.pages.search import qimage_to_rgb
from facealbum.ui.style import photo_file_filter, plural, similarity_percent
from facealbum.ui.tasks import run_task
from facealbum.ui.widgets.camera import CameraView, MatchCaptions, MatchPanel, MatchThumbnails
from facealbum.ui.widgets.image_loader import ImageLoader
from facealbum.ui.widgets.reveal import FACE_PIXELS, RevealCard, face_crop, render_pair
from facealbum.ui.widgets.thumbnails import ThumbnailCache, make_face_crop, make_photo_thumbnail

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"})
VIDEO_FILTER = f"Videos ({' '.join(f'*{e}' for e in sorted(VIDEO_EXTENSIONS))});;All files (*)"
_CHOOSE_FILE = "file"  # source combo entry that asks for a video file
# Not Space: that presses whichever button (Start, Find cameras) has the focus.
SNAPSHOT_SHORTCUT = "Ctrl+S"
MATCH_TOP = 3
PHOTO_PIXELS = 1600  # a photo is shown (and its faces cut out) at most this large
STABLE_S = 1.0  # the same best match this long on the camera is revealed
# ...and revealed again when it later holds this much closer (the face turned to the camera).
CLOSER = 0.03
NOTICE_S = 6.0


@dataclass(frozen=True)
class Still:
    """A photo shown instead of the camera, with its faces and their look-alikes."""

    source: Path | np.ndarray
    title: str
    frame: LiveFrame


def load_still(album: Album, source: Path | np.ndarray, title: str) -> Still:
    """Decode the photo, find its faces and their look-alikes (on a worker)."""
    rgb = (
        source
        if isinstance(source, np.ndarray)
        else np.asarray(make_photo_thumbnail(source, PHOTO_PIXELS))
    )
    match = library_match_fn(album, MATCH_TOP)
    faces = tuple(
        LiveFace(n, face.box, tuple(match(face.encoding)))
        for n, face in enumerate(album.faces_in_image(source))
    )
    return Still(source, title, LiveFrame(0, rgb, faces))


def load_match_face(album: Album, m: LiveMatch) -> tuple[np.ndarray, str]:
    """The matched face cut from its photo for the pair, and the photo's caption."""
    crop = make_face_crop(Path(m.match.photo), m.match.box, FACE_PIXELS)
    return np.asarray(crop), album.artwork(m.match.photo_id).caption()


def main_face(frame: LiveFrame | None) -> LiveFace | None:
    """The largest face that has look-alikes."""
    faces = [f for f in frame.faces if f.matches] if frame is not None else []
    return max(faces, key=lambda f: f.box.area, default=None)


def dropped_path(mime: QMimeData) -> Path | None:
    """The first local file or folder of a drop."""
    return next((Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()), None)


class LookalikePage(QWidget):
    """See whom in a library, or in a folder of portraits, a face looks like."""

    snapshot_taken = Signal(object)  # RGB numpy frame for the Search page

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pipeline: LivePipeline | None = None
        self._source_gen = 0  # bumped whenever the wanted source changes
        self._playing: int | str | None = None  # the source wanted now (camera or file)
        self._resume: int | str | None = None  # what was playing when the page was hidden
        self._probed = False
        self._restored = False  # the remembered choice, restored when first shown
        self._last_counts = (0, 0)  # frames shown and matches made, a second ago
        self._rates = (0, 0)  # ...and in the second before
        self._notice: tuple[str, float] | None = None  # a passing remark, and until when
        self._still: Still | None = None
        self._wanted_still: tuple[Path | np.ndarray, str] | None = None
        self._candidate: tuple[int, float] | None = None  # best face id, since when
        self._revealed: tuple[int, float] | None = None  # face id and distance shown
        self._reveal_gen = 0
        self._loader = ImageLoader(None, capacity=300, parent=self)
        self._thumbs = MatchThumbnails(self._loader)
        self._captions = MatchCaptions(self)
        self.against = AgainstChooser(self)
        self.against.changed.connect(self._apply_library)
        self.against.note_changed.connect(self._update_status)
        self._build()
        self.setAcceptDrops(True)
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(1000)
        self._status_timer.timeout.connect(self._tick)

    # -- layout -----------------------------------------------------------------------

    def _build(self) -> None:
        title = QLabel("Look-alike")
        title.setProperty("role", "title")
        hint = QLabel(
            "Whom do you look like? Face the camera, or drop or paste a photo. Match against "
            "your own library or any folder of portraits."
        )
        hint.setProperty("role", "hint")

        self.source_box = QComboBox()
        self.source_box.setMinimumContentsLength(20)
        self.source_box.activated.connect(self._source_chosen)
        self.refresh_button = QPushButton("Find cameras")
        self.refresh_button.clicked.connect(self.find_cameras)
        self.start_button = QPushButton("Start")
        self.start_button.setProperty("role", "primary")
        self.start_button.clicked.connect(self._toggle)
        self.photo_button = QPushButton("Photo…")
        self.photo_button.setToolTip("Find the look-alikes of the faces in a photo (or drop one)")
        self.photo_button.clicked.connect(self.choose_photo)
        self.library_box = self.against.box
        self.snapshot_button = QPushButton("Search with this frame")
        self.snapshot_button.setShortcut(SNAPSHOT_SHORTCUT)
        self.snapshot_button.clicked.connect(self.take_snapshot)
        self.snapshot_button.setEnabled(False)

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Source"))
        bar.addWidget(self.source_box)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.start_button)
        bar.addWidget(self.photo_button)
        bar.addSpacing(16)
        bar.addWidget(QLabel("Match against"))
        bar.addWidget(self.library_box)
        bar.addStretch(1)
        bar.addWidget(self.snapshot_button)

        self.view = CameraView(self._thumbs, self._captions)
        self.panel = MatchPanel(self._thumbs, self._captions)
        self.reveal = RevealCard()
        self.reveal.saved.connect(lambda path: self.notice(f"Saved the pair as {path}"))
        self.view.matches_changed.connect(self.panel.set_matches)
        self.view.frame_shown.connect(lambda _seq: self._check_reveal())
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setStyleSheet("font-size: 15px; padding: 24px;")
        self.retry_button = QPushButton("Try again")
        self.retry_button.clicked.connect(self._retry)
        self.video_button = QPushButton("Play a video file…")
        self.video_button.clicked.connect(self.choose_video)
        message_page = QWidget()
        mv = QVBoxLayout(message_page)
        mv.addStretch(1)
        mv.addWidget(self.message)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.video_button)
        buttons.addStretch(1)
        mv.addLayout(buttons)
        mv.addStretch(2)
        self.stack = QStackedWidget()
        self.stack.addWidget(message_page)
        self.stack.addWidget(self.view)

        side = QVBoxLayout()
        side.addWidget(self.reveal)
        side.addWidget(self.panel, 1)
        middle = QHBoxLayout()
        middle.addWidget(self.stack, 1)
        middle.addLayout(side)
        self.status = QLabel()
        self.status.setProperty("role", "hint")
        self.status.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addLayout(bar)
        layout.addWidget(self.against.making_row)
        layout.addLayout(middle, 1)
        layout.addWidget(self.status)
        self._fill_sources([])
        self._snapshot_tip()
        self._show_message("Looking for cameras…", buttons=False)

    # -- public API used by the window --------------------------------------------------

    def set_library(self, album: Album | None) -> None:
        """The window's current library (or None); matched against unless another is chosen."""
        self.against.set_current(album)

    def shutdown(self) -> None:
        """Stop the camera and the matcher threads (page hidden or window closing)."""
        if self._playing is not None:
            self._resume = self._playing
        self._source_gen += 1
        self._stop_pipeline()

    def paste(self) -> None:
        """A photo (or a photo file) from the clipboard, matched like a dropped one."""
        clipboard = QGuiApplication.clipboard()
        data = clipboard.mimeData()
        path = dropped_path(data) if data is not None else None
        if path is not None and path.is_file():
            self.open_file(path)
        elif data is not None and data.hasImage():
            self.match_photo(qimage_to_rgb(clipboard.image()), "Pasted image")
        else:
            self.notice("The clipboard holds no photo")

    def notice(self, text: str) -> None:
        """A remark shown in the status line for a few seconds."""
        self._notice = (text, time.monotonic() + NOTICE_S)
        self._update_status()

    # -- sources ------------------------------------------------------------------------

    def find_cameras(self) -> None:
        """Look for cameras on a worker (opening each can take a second)."""
        self._probed = True
        self.refresh_button.setEnabled(False)
        gen = self._source_gen
        run_task(
            probe_cameras,
            lambda found: self._cameras_found(gen, found),
            lambda e: self._cameras_found(gen, []),
            owner=self,
        )

    def _cameras_found(self, gen: int, cameras: list[int]) -> None:
        self.refresh_button.setEnabled(True)
        self._fill_sources(cameras)
        if gen != self._source_gen or self._playing is not None:
            return  # the user started something meanwhile
        if cameras:
            self.start_camera(cameras[0])
        else:
            self._show_message(
                "No camera was found. Connect one and press “Try again”, play a video "
                "file with faces, or drop a photo here."
            )

    def _fill_sources(self, cameras: list[int]) -> None:
        keep = [
            (self.source_box.itemText(i), self.source_box.itemData(i))
            for i in range(self.source_box.count())
            if isinstance(self.source_box.itemData(i), str)
            and self.source_box.itemData(i) != _CHOOSE_FILE
        ]
        self.source_box.clear()
        for index in cameras:
            self.source_box.addItem(f"Camera {index + 1}", index)
        for text, data in keep:
            self.source_box.addItem(text, data)
        self.source_box.addItem("Video file…", _CHOOSE_FILE)

    def _source_chosen(self, row: int) -> None:
        data = self.source_box.itemData(row)
        if data == _CHOOSE_FILE:
            self.choose_video()
        elif isinstance(data, int):
            self.start_camera(data)
        elif isinstance(data, str):
            self.play_video(data)

    def choose_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Play a video file", str(Path.home()), VIDEO_FILTER
        )
        if path:
            self.play_video(path)

    def choose_photo(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Find the look-alikes of a photo", str(Path.home()), photo_file_filter()
        )
        if path:
            self.match_photo(Path(path))

    def open_file(self, path: Path) -> None:
        """A dropped or pasted file: a video plays, a photo is matched."""
        if path.suffix.lower() in VIDEO_EXTENSIONS:
            self.play_video(path)
        else:
            self.match_photo(path)

    def start_camera(self, index: int) -> None:
        self._start(index, f"Starting camera {index + 1}…")

    def play_video(self, path: str | Path) -> None:
        path = str(path)
        if self.source_box.findData(path) < 0:
            self.source_box.insertItem(self.source_box.count() - 1, Path(path).name, path)
        self._start(path, f"Opening {Path(path).name}…")

    def _start(self, spec: int | str, message: str) -> None:
        self._stop_pipeline()
        self._source_gen += 1
        gen = self._source_gen
        self._resume = None
        self._playing = spec
        self._still = self._wanted_still = None
        self.source_box.setCurrentIndex(max(0, self.source_box.findData(spec)))
        self._show_message(message, buttons=False)
        run_task(
            lambda: FrameSource(spec),
            lambda source: self._source_opened(gen, source),
            lambda e: self._source_failed(gen, e),
            owner=self,
        )

    def _source_opened(self, gen: int, source: FrameSource) -> None:
        if gen != self._source_gen:  # the user moved on while it opened
            run_task(source.close)
            return
        pipeline = LivePipeline(self._match_fn())
        pipeline.start(source)
        self._pipeline = pipeline
        self.view.set_pipeline(pipeline)
        self._forget_matches()
        self.stack.setCurrentWidget(self.view)
        self.start_button.setText("Stop")
        self.snapshot_button.setEnabled(True)
        self._last_counts = self._rates = (0, 0)
        self._status_timer.start()
        self._update_status()

    def _source_failed(self, gen: int, error: BaseException) -> None:
        if gen != self._source_gen:
            return
        self._playing = None
        self._show_message(describe_error(error))

    def _toggle(self) -> None:
        if self._pipeline is not None:
            self._source_gen += 1
            self._stop_pipeline()
            self._playing = None
            self._show_message("Stopped. Press Start to look again.", buttons=False)
        else:
            self._source_chosen(self.source_box.currentIndex())

    def _retry(self) -> None:
        self.find_cameras()
        self._show_message("Looking for cameras…", buttons=False)

    def _stop_pipeline(self) -> None:
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            pipeline.stop()  # threads finish on their own; the GUI does not wait
        self.view.set_pipeline(None)
        self._status_timer.stop()
        self.start_button.setText("Start")
        self.snapshot_button.setEnabled(False)

    # -- a photo instead of the camera ------------------------------------------------------

    def match_photo(self, source: str | Path | np.ndarray, title: str = "") -> None:
        """Find the faces of a photo file or RGB array and their look-alikes, shown instead
        of the camera; the best is revealed at once."""
        if not isinstance(source, np.ndarray):
            source = Path(source)
            title = title or source.name
        title = title or "Pasted image"
        self._stop_pipeline()
        self._source_gen += 1
        self._playing = self._resume = None
        self._still, self._wanted_still = None, (source, title)
        library = self.against.library()
        if library is None:
            self._show_message(
                "Open a library, or choose a folder of portraits under “Match against”, to "
                "find the look-alikes of this photo.",
                buttons=False,
            )
            return
        gen = self._source_gen
        self._show_message(f"Looking for faces in {title}…", buttons=False)
        run_task(
            lambda: load_still(library, source, title),
            lambda still: self._still_loaded(gen, library, still),
            lambda e: self._still_failed(gen, e),
            owner=self,
        )

    def _still_loaded(self, gen: int, library: Album, still: Still) -> None:
        if gen != self._source_gen or library is not self.against.library():
            return  # another source or library since: that one is on its way
        self._still = still
        self._forget_matches()
        self.view.show_still(still.frame)
        self.stack.setCurrentWidget(self.view)
        self._update_status()
        face = main_face(still.frame)
        if face is not None:
            self._reveal(still.frame, face)

    def _still_failed(self, gen: int, error: BaseException) -> None:
        if gen == self._source_gen:
            self._show_message(describe_error(error), buttons=False)

    # -- the library matched against ---------------------------------------------------

    def _snapshot_tip(self) -> None:
        if self.against.other is None:
            tip = "Send the current picture to the Search page"
        else:
            tip = f"Find the faces of the current picture in {self.against.name()}, here"
        self.snapshot_button.setToolTip(f"{tip} ({SNAPSHOT_SHORTCUT})")

    def _match_fn(self) -> MatchFn | None:
        library = self.against.library()
        return library_match_fn(library, MATCH_TOP) if library is not None else None

    def _apply_library(self) -> None:
        library = self.against.library()
        self._snapshot_tip()
        if library is None:
            self._loader.set_cache(None)
            self._thumbs.library_key = None
        else:
            directory = Path(library.directory)
            self._loader.set_cache(ThumbnailCache(directory / THUMBNAIL_DIR_NAME))
            self._thumbs.library_key = str(directory)
            tolerance = float(library.settings.tolerance)
            self.view.tolerance = self.panel.tolerance = tolerance
        self._captions.set_album(library)
        self._forget_matches()
        if self._pipeline is not None:
            self._pipeline.set_match_fn(self._match_fn())
        if self._wanted_still is not None:  # the photo shown, matched against the new one
            self.match_photo(*self._wanted_still)
        self._update_status()

    # -- the reveal ------------------------------------------------------------------------

    def _forget_matches(self) -> None:
        self.panel.clear()
        self.reveal.set_pair(None)
        self._candidate = None
        self._revealed = None
        self._reveal_gen += 1

    def _check_reveal(self) -> None:
        """Reveal the best match of the largest face once it has held for STABLE_S."""
        frame = self.view.current_frame()
        face = main_face(frame)
        if frame is None or face is None:
            return
        best, now = face.matches[0].match, time.monotonic()
        if self._candidate is None or self._candidate[0] != best.face_id:
            self._candidate = (best.face_id, now)
            return
        shown = self._revealed
        better = shown is None or shown[0] != best.face_id or best.distance < shown[1] - CLOSER
        if better and now - self._candidate[1] >= STABLE_S:
            self._reveal(frame, face)

    def _reveal(self, frame: LiveFrame, face: LiveFace) -> None:
        library = self.against.library()
        if library is None:
            return
        best = face.matches[0]
        self._revealed = (best.match.face_id, best.match.distance)
        self._reveal_gen += 1
        gen = self._reveal_gen
        you = face_crop(frame.rgb, face.box)
        percent = similarity_percent(best.match.distance, self.panel.tolerance)
        run_task(
            lambda: load_match_face(library, best),
            lambda found: self._show_pair(gen, you, best, percent, *found),
            lambda e: log.warning("no pair for face %s: %s", best.match.face_id, e),
            owner=self,
            pool_name="thumbs",
        )

    def _show_pair(
        self,
        gen: int,
        you: np.ndarray,
        best: LiveMatch,
        percent: int,
        crop: np.ndarray,
        caption: str,
    ) -> None:
        if gen != self._reveal_gen:
            return
        title = best.name or caption
        alike = f"{percent}% alike"
        self.reveal.set_pair(render_pair(you, crop, title, alike), f"{title} · {alike}")

    # -- snapshot, drops, status, visibility ---------------------------------------------------

    def take_snapshot(self) -> None:
        """The current picture to the Search page; against another library or a collection
        (which the Search page does not search), its faces are matched here instead."""
        frame = self.view.current_frame()
        if frame is None:
            return
        if self.against.other is None:
            self.snapshot_taken.emit(frame.rgb.copy())
        else:
            self.match_photo(frame.rgb.copy(), "This frame")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt API
        path = dropped_path(event.mimeData())
        usable = path is not None and (
            path.is_dir() or path.suffix.lower() in PHOTO_EXTENSIONS | VIDEO_EXTENSIONS
        )
        if usable or event.mimeData().hasImage():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt API
        """A photo is matched, a video plays, a folder is matched against."""
        mime = event.mimeData()
        path = dropped_path(mime)
        event.acceptProposedAction()
        if path is not None and path.is_dir():
            self.against.match_against(path)
        elif path is not None:
            self.open_file(path)
        elif mime.hasImage():
            self.match_photo(qimage_to_rgb(QImage(mime.imageData())), "Dropped image")

    def _show_message(self, text: str, buttons: bool = True) -> None:
        self.message.setText(text)
        self.retry_button.setVisible(buttons)
        self.video_button.setVisible(buttons)
        self.stack.setCurrentIndex(0)

    def _tick(self) -> None:
        """Once a second while the picture moves: its rates, and whether it stopped."""
        pipeline = self._pipeline
        if pipeline is None:
            return
        # Say so as soon as the picture stops; a match still being computed is moot.
        if pipeline.source_ended and pipeline.error:
            self._source_gen += 1
            self._stop_pipeline()
            self._playing = None
            self._show_message(pipeline.error)
            return
        shown, matched = self.view.displayed_frames, pipeline.stats.matches
        self._rates = (shown - self._last_counts[0], matched - self._last_counts[1])
        self._last_counts = (shown, matched)
        self._update_status()

    def _update_status(self) -> None:
        """What is shown, against what, and what the library choice is doing: that note
        stays until the choice is resolved, whatever else changes."""
        if self.against.library() is not None:
            against = f"matching against {self.against.name()}"
        elif self.against.opening:  # the note says what is on its way
            against = ""
        else:
            against = "open a library or choose a folder to see look-alikes"
        pipeline, still = self._pipeline, self._still
        if pipeline is not None:
            frame = self.view.current_frame()
            faces = len(frame.faces) if frame is not None else 0
            fps, per_s = self._rates
            parts = [f"{fps} frames/s", f"{per_s} matches/s", plural(faces, "face"), against]
            if pipeline.error:
                parts.append(pipeline.error)
        elif still is not None:
            parts = [f"{still.title}: {plural(len(still.frame.faces), 'face')}", against]
        else:
            parts = [against[:1].upper() + against[1:]]
        if self.against.note:
            parts.append(self.against.note)
        if self._notice is not None and time.monotonic() < self._notice[1]:
            parts.append(self._notice[0])
        self.status.setText(" · ".join(part for part in parts if part))

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if not self._restored:
            self._restored = True
            self.against.restore()
        if self._resume is not None and self._pipeline is None:
            spec, self._resume = self._resume, None
            self._start(spec, "Starting again…")
        elif not self._probed and self._wanted_still is None:
            self.find_cameras()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt API
        super().hideEvent(event)
        self.shutdown()
