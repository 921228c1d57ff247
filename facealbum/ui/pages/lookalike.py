"""The Look-alike page: a live camera (or a video file) matched against a library.

Opening a camera, probing for cameras and opening another library all take long and
run on the work pool; each result is checked against a generation counter on arrival,
so a late answer for a source or library the user already left is closed and dropped.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
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
    LivePipeline,
    MatchFn,
    library_match_fn,
    probe_cameras,
)
from facealbum.config import THUMBNAIL_DIR_NAME
from facealbum.ui.dialogs.messages import describe_error
from facealbum.ui.tasks import run_task
from facealbum.ui.widgets.camera import CameraView, MatchPanel, MatchThumbnails
from facealbum.ui.widgets.image_loader import ImageLoader
from facealbum.ui.widgets.thumbnails import ThumbnailCache

log = logging.getLogger(__name__)

VIDEO_FILTER = "Videos (*.mp4 *.mov *.avi *.mkv *.webm *.m4v);;All files (*)"
_CHOOSE_FILE = "file"  # source combo entry that asks for a video file
_CURRENT = "current"  # library combo entries
_CHOOSE_LIBRARY = "choose"
# Not Space: that presses whichever button (Start, Find cameras) has the focus.
SNAPSHOT_SHORTCUT = "Ctrl+S"


class LookalikePage(QWidget):
    """See who in a library a live face looks like."""

    snapshot_taken = Signal(object)  # RGB numpy frame for the Search page

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._current: Album | None = None  # the window's library
        self._other: Album | None = None  # another library opened here
        self._pipeline: LivePipeline | None = None
        self._source_gen = 0  # bumped whenever the wanted source changes
        self._library_gen = 0
        self._playing: int | str | None = None  # the source wanted now (camera or file)
        self._resume: int | str | None = None  # what was playing when the page was hidden
        self._probed = False
        self._last_counts = (0, 0)
        self._loader = ImageLoader(None, capacity=300, parent=self)
        self._thumbs = MatchThumbnails(self._loader)
        self._build()
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(1000)
        self._status_timer.timeout.connect(self._update_status)

    # -- layout -----------------------------------------------------------------------

    def _build(self) -> None:
        title = QLabel("Look-alike")
        title.setProperty("role", "title")
        hint = QLabel("Who in your photos do you look like? Face the camera.")
        hint.setProperty("role", "hint")

        self.source_box = QComboBox()
        self.source_box.setMinimumContentsLength(24)
        self.source_box.activated.connect(self._source_chosen)
        self.refresh_button = QPushButton("Find cameras")
        self.refresh_button.clicked.connect(self.find_cameras)
        self.start_button = QPushButton("Start")
        self.start_button.setProperty("role", "primary")
        self.start_button.clicked.connect(self._toggle)
        self.library_box = QComboBox()
        self.library_box.setMinimumContentsLength(18)
        self.library_box.activated.connect(self._library_chosen)
        self.snapshot_button = QPushButton("Search with this frame")
        self.snapshot_button.setShortcut(SNAPSHOT_SHORTCUT)
        self.snapshot_button.setToolTip(
            f"Send the current picture to the Search page ({SNAPSHOT_SHORTCUT})"
        )
        self.snapshot_button.clicked.connect(self.take_snapshot)
        self.snapshot_button.setEnabled(False)

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Source"))
        bar.addWidget(self.source_box)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.start_button)
        bar.addSpacing(16)
        bar.addWidget(QLabel("Match against"))
        bar.addWidget(self.library_box)
        bar.addStretch(1)
        bar.addWidget(self.snapshot_button)

        self.view = CameraView(self._thumbs)
        self.panel = MatchPanel(self._thumbs)
        self.view.matches_changed.connect(self.panel.set_matches)
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

        middle = QHBoxLayout()
        middle.addWidget(self.stack, 1)
        middle.addWidget(self.panel)
        self.status = QLabel()
        self.status.setProperty("role", "hint")

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addLayout(bar)
        layout.addLayout(middle, 1)
        layout.addWidget(self.status)
        self._fill_sources([])
        self._fill_libraries()
        self._show_message("Looking for cameras…", buttons=False)

    # -- public API used by the window --------------------------------------------------

    def set_library(self, album: Album | None) -> None:
        """The window's current library (or None); matched against unless another is chosen."""
        self._current = album
        if self._other is not None and self._is_current(self._other.directory):
            self._set_other(None)  # the window opened the library chosen here: one Album of it
            return
        self._fill_libraries()
        self._apply_library()

    def shutdown(self) -> None:
        """Stop the camera and the matcher threads (page hidden or window closing)."""
        if self._playing is not None:
            self._resume = self._playing
        self._source_gen += 1
        self._stop_pipeline()

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
                "No camera was found. Connect one and press “Try again”, or play a video "
                "file with faces instead."
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
        self.panel.clear()
        self.stack.setCurrentWidget(self.view)
        self.start_button.setText("Stop")
        self.snapshot_button.setEnabled(True)
        self._last_counts = (0, 0)
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

    # -- libraries ----------------------------------------------------------------------

    def _fill_libraries(self) -> None:
        self.library_box.clear()
        current = Path(self._current.directory).name if self._current is not None else "none open"
        self.library_box.addItem(f"This library ({current})", _CURRENT)
        if self._other is not None:
            self.library_box.addItem(Path(self._other.directory).name, str(self._other.directory))
            self.library_box.setCurrentIndex(1)
        self.library_box.addItem("Another library…", _CHOOSE_LIBRARY)

    def _library_chosen(self, row: int) -> None:
        data = self.library_box.itemData(row)
        if data == _CHOOSE_LIBRARY:
            self._choose_library()
        elif data == _CURRENT:
            self._set_other(None)

    def _choose_library(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a library folder to match against")
        if folder:
            self.open_other_library(folder)
        else:
            self._fill_libraries()

    def open_other_library(self, folder: str | Path) -> None:
        """Match against the library in `folder` (opened on a worker, never created)."""
        if self._is_current(folder):
            self._set_other(None)  # the window's own library: never open it twice
            return
        self._library_gen += 1
        gen = self._library_gen
        self.status.setText(f"Opening the library in {folder}…")
        run_task(
            lambda: Album.open(Path(folder), create=False, isolate_engine=True),
            lambda album: self._other_opened(gen, album),
            lambda e: self._other_failed(gen, e),
            owner=self,
        )

    def _other_opened(self, gen: int, album: Album) -> None:
        if gen != self._library_gen:
            run_task(album.close)
            return
        if self._is_current(album.directory):  # the window opened it meanwhile: use that one
            run_task(album.close)
            self._set_other(None)
            return
        self._set_other(album)

    def _other_failed(self, gen: int, error: BaseException) -> None:
        if gen == self._library_gen:
            self._fill_libraries()
            self.status.setText(f"That library could not be opened: {describe_error(error)}")

    def _set_other(self, album: Album | None) -> None:
        old, self._other = self._other, album
        self._fill_libraries()
        self._apply_library()
        if old is not None and old is not album:
            run_task(old.close)  # after the matcher stopped using it

    def _is_current(self, folder: str | Path) -> bool:
        """Whether `folder` holds the window's library."""
        current = self._current
        return current is not None and Path(folder).resolve() == Path(current.directory).resolve()

    def _library(self) -> Album | None:
        return self._other if self._other is not None else self._current

    def _match_fn(self) -> MatchFn | None:
        library = self._library()
        return library_match_fn(library) if library is not None else None

    def _apply_library(self) -> None:
        library = self._library()
        if library is None:
            self._loader.set_cache(None)
            self._thumbs.library_key = None
        else:
            directory = Path(library.directory)
            self._loader.set_cache(ThumbnailCache(directory / THUMBNAIL_DIR_NAME))
            self._thumbs.library_key = str(directory)
            tolerance = float(library.settings.tolerance)
            self.view.tolerance = self.panel.tolerance = tolerance
        self.panel.clear()
        if self._pipeline is not None:
            self._pipeline.set_match_fn(self._match_fn())
        self._update_status()

    # -- snapshot, status, visibility ----------------------------------------------------

    def take_snapshot(self) -> None:
        frame = self.view.current_frame()
        if frame is not None:
            self.snapshot_taken.emit(frame.rgb.copy())

    def _show_message(self, text: str, buttons: bool = True) -> None:
        self.message.setText(text)
        self.retry_button.setVisible(buttons)
        self.video_button.setVisible(buttons)
        self.stack.setCurrentIndex(0)

    def _update_status(self) -> None:
        pipeline = self._pipeline
        library = self._library()
        against = (
            f"matching against {Path(library.directory).name}"
            if library is not None
            else "open a library to see look-alikes"
        )
        if pipeline is None:
            self.status.setText(against[0].upper() + against[1:])
            return
        # Say so as soon as the picture stops; a match still being computed is moot.
        if pipeline.source_ended and pipeline.error:
            self._source_gen += 1
            self._stop_pipeline()
            self._playing = None
            self._show_message(pipeline.error)
            return
        shown, matched = self.view.displayed_frames, pipeline.stats.matches
        fps = shown - self._last_counts[0]
        per_s = matched - self._last_counts[1]
        self._last_counts = (shown, matched)
        frame = self.view.current_frame()
        faces = len(frame.faces) if frame is not None else 0
        parts = [f"{fps} frames/s", f"{per_s} matches/s", f"{faces} face(s)", against]
        if pipeline.error:
            parts.append(pipeline.error)
        self.status.setText(" · ".join(parts))

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if self._resume is not None and self._pipeline is None:
            spec, self._resume = self._resume, None
            self._start(spec, "Starting again…")
        elif not self._probed:
            self.find_cameras()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt API
        super().hideEvent(event)
        self.shutdown()
