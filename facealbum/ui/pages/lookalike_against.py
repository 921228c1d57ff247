"""What the Look-alike page matches against: the window's library, another library, or
the collection made of a folder of photos (portraits, say), remembered across runs.

Opening another library, and making or updating a collection (the first time it scans
every photo: minutes, with a progress bar and Cancel), run on a pool; each result is
checked against a generation counter on arrival, so a late one the user already gave up
on is closed and dropped. What is happening is said in `note`, which stays until the
choice is resolved (the page shows it in its status line).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QWidget,
)

from facealbum.album import Album, StoreError
from facealbum.album.collections import is_library, open_collection
from facealbum.model import ScanProgress
from facealbum.ui.dialogs.messages import describe_error
from facealbum.ui.style import plural
from facealbum.ui.tasks import run_task
from facealbum.ui.ui_state import ui_settings

log = logging.getLogger(__name__)

_CURRENT = "current"  # combo entries
_OTHER = "other"
_CHOOSE_LIBRARY = "choose"
_CHOOSE_FOLDER = "folder"
REMEMBERED = ("lookalike/kind", "lookalike/path")  # what to match against, across runs


@dataclass(frozen=True)
class Against:
    """What is matched against besides the window's library: the library in a folder, or
    the collection made of a folder of photos."""

    kind: str  # "library" or "folder"
    folder: Path

    @property
    def label(self) -> str:
        return self.folder.name if self.kind == "library" else f"{self.folder.name} (folder)"


def open_against(
    against: Against, progress: Callable[[ScanProgress], None], cancel: threading.Event
) -> tuple[Album, int]:
    """The library, or the folder's collection made or brought up to date, and how many
    faces it holds (blocking: on a worker). Never creates a library."""
    if against.kind == "library":
        album = Album.open(against.folder, create=False, isolate_engine=True)
    else:
        album = open_collection(
            against.folder, progress=progress, cancel=cancel, isolate_engine=True
        )
    try:
        return album, int(album.stats()["faces"])
    except BaseException:
        album.close()
        raise


class _Progress(QObject):
    """Carries a collection's scan progress from its worker to the GUI. Owned by the job,
    not by a widget, so a report after the page is gone goes nowhere."""

    report = Signal(int, object)  # generation, ScanProgress


@dataclass(frozen=True)
class _Job:
    """A library or collection being opened: what, and how to stop it."""

    against: Against
    cancel: threading.Event


class AgainstChooser(QObject):
    """The "Match against" combo box and the collection's progress row, for the page's
    layout, and the Album they lead to."""

    changed = Signal()  # library() is another one
    note_changed = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self._parent = parent
        self.current: Album | None = None  # the window's library
        self.other: Album | None = None  # another library or a collection opened here
        self.against: Against | None = None  # ...and what the user chose for it
        self.note = ""  # about the choice; stays until it is resolved
        self._gen = 0
        self._job: _Job | None = None
        self._cancels: set[threading.Event] = set()  # of every job: set when the app quits

        self.box = QComboBox()
        self.box.setMinimumContentsLength(18)
        self.box.activated.connect(self._chosen)
        self.making_label = QLabel()
        self.making_bar = QProgressBar()
        self.making_bar.setFixedWidth(260)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip(
            "Stop making the collection; the photos done so far are kept for next time"
        )
        self.cancel_button.clicked.connect(self.cancel_making)
        self.making_row = QWidget()
        row = QHBoxLayout(self.making_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.making_label)
        row.addWidget(self.making_bar)
        row.addWidget(self.cancel_button)
        row.addStretch(1)
        self.making_row.hide()
        self._fill()
        # A collection being made when the app (or the page) goes stops at once, not
        # minutes later: its worker would keep the process alive.
        cancels = self._cancels
        self.destroyed.connect(lambda: [c.set() for c in list(cancels)])
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._quitting)

    # -- what the page asks -----------------------------------------------------------------

    def library(self) -> Album | None:
        """What to match against now."""
        return self.other if self.other is not None else self.current

    def name(self) -> str:
        if self.other is not None and self.against is not None:
            return self.against.folder.name
        return Path(self.current.directory).name if self.current is not None else ""

    def set_current(self, album: Album | None) -> None:
        """The window's library (or None); matched against unless another is chosen."""
        self.current = album
        if self.other is not None and self._is_current(self.other.directory):
            self._set_other(None)  # the window opened the library chosen here: one Album of it
            return
        self._fill()
        if self.other is None:  # else what is matched against stays the same
            self.changed.emit()

    def restore(self) -> None:
        """Match against what was chosen last time (a collection is brought up to date)."""
        settings = ui_settings()
        kind, folder = (settings.value(key) for key in REMEMBERED)
        if kind in ("library", "folder") and isinstance(folder, str) and folder:
            note = f"Opening {Path(folder).name}, chosen last time…"
            self.match_against(folder, note, kind=kind)

    def _quitting(self) -> None:
        for cancel in list(self._cancels):
            cancel.set()
        other, self.other = self.other, None
        if other is not None:
            try:
                other.close()  # as the window closes its library
            except StoreError as e:  # only a collection's index, made again when next opened
                log.warning("closing %s: %s", other.directory, e)

    # -- choosing -----------------------------------------------------------------------

    def _fill(self) -> None:
        self.box.clear()
        current = Path(self.current.directory).name if self.current is not None else "none open"
        self.box.addItem(f"This library ({current})", _CURRENT)
        if self.other is not None and self.against is not None:
            self.box.addItem(self.against.label, _OTHER)
            self.box.setCurrentIndex(1)
        self.box.addItem("Another library…", _CHOOSE_LIBRARY)
        self.box.addItem("A folder of photos…", _CHOOSE_FOLDER)

    def _chosen(self, row: int) -> None:
        data = self.box.itemData(row)
        if data == _CURRENT:
            self.match_this_library()
        elif data in (_CHOOSE_LIBRARY, _CHOOSE_FOLDER):
            title = (
                "Choose a library folder to match against"
                if data == _CHOOSE_LIBRARY
                else "Choose a folder of photos (portraits, say) to match against"
            )
            folder = QFileDialog.getExistingDirectory(self._parent, title, str(Path.home()))
            if folder:
                self.match_against(folder)
            else:
                self._fill()

    def match_this_library(self) -> None:
        """Match against the window's library again (and remember so)."""
        self._cancel_job()
        self._set_note("")
        _remember(None)
        self._set_other(None)

    def match_against(self, folder: str | Path, note: str = "", kind: str | None = None) -> None:
        """Match against the library in `folder` or, when it holds none, the collection of
        its photos: made the first time (with a progress bar), brought up to date after.
        `kind` ("library" or "folder") says which instead."""
        folder = Path(folder)
        if self._is_current(folder):
            self.match_this_library()  # the window's own library: never open it twice
            return
        self._cancel_job()
        kind = kind or ("library" if is_library(folder) else "folder")
        against = Against(kind, folder)
        gen = self._gen
        job = self._job = _Job(against, threading.Event())
        self._cancels.add(job.cancel)
        progress = _Progress()
        progress.report.connect(self._progress)
        if against.kind == "folder":
            self.making_label.setText(f"Making a collection of {folder.name}:")
            self.making_bar.setRange(0, 0)  # busy until the photos are counted
            self.making_row.show()
            self._set_note(note or f"Making a collection of the photos in {folder.name}…")
        else:
            self._set_note(note or f"Opening the library in {folder}…")

        def ended() -> None:
            # On the GUI thread: the job's QObject is let go of here, not on the worker.
            progress.deleteLater()
            self._cancels.discard(job.cancel)

        def opened(result: tuple[Album, int]) -> None:
            ended()
            self._opened(gen, against, *result)

        def failed(error: BaseException) -> None:
            ended()
            self._failed(gen, against, error)

        run_task(
            lambda: open_against(against, lambda p: progress.report.emit(gen, p), job.cancel),
            opened,
            failed,
            owner=self,
            pool_name="collections",
        )

    def _progress(self, gen: int, p: ScanProgress) -> None:
        if gen != self._gen:
            return  # a job given up on
        if p.total:
            self.making_bar.setRange(0, p.total)
            self.making_bar.setValue(p.done)
            self.making_bar.setFormat(f"{p.done:,} / {p.total:,} photos")
        self.making_bar.setToolTip(plural(p.faces_found, "face") + " found")

    def cancel_making(self) -> None:
        """Stop making the collection: the choice stays what it was."""
        job = self._job
        if job is None:
            return
        self._cancel_job()
        self._fill()
        self._set_note(
            f"Stopped making the collection of {job.against.folder.name}; the photos done "
            "so far are kept for next time."
        )

    @property
    def opening(self) -> bool:
        """Whether a library is being opened, or a collection made, for the choice now."""
        return self._job is not None

    def _cancel_job(self) -> None:
        """Drop the library or collection being opened (a late one is closed on arrival)."""
        if self._job is not None:
            self._job.cancel.set()
            self._job = None
        self._gen += 1
        self.making_row.hide()

    def _opened(self, gen: int, against: Against, album: Album, faces: int) -> None:
        if gen != self._gen:
            run_task(album.close)
            return
        self._job = None
        self.making_row.hide()
        if self._is_current(album.directory):  # the window opened it meanwhile: use that one
            run_task(album.close)
            self.match_this_library()
            return
        _remember(against)
        self.against = against
        self._set_other(album)
        self._set_note(
            "" if faces else f"No face was found in the photos of {against.folder.name}."
        )

    def _failed(self, gen: int, against: Against, error: BaseException) -> None:
        if gen != self._gen:
            return
        self._job = None
        self.making_row.hide()
        self._fill()
        reason = describe_error(error).strip().splitlines()[0]  # one line in the status
        self._set_note(f"{against.folder.name} could not be opened: {reason}")

    def _set_other(self, album: Album | None) -> None:
        old, self.other = self.other, album
        if album is None:
            self.against = None
        self._fill()
        self.changed.emit()
        if old is not None and old is not album:
            run_task(old.close)  # after the matcher stopped using it

    def _set_note(self, note: str) -> None:
        self.note = note
        self.note_changed.emit()

    def _is_current(self, folder: str | Path) -> bool:
        """Whether `folder` holds the window's library."""
        current = self.current
        return current is not None and Path(folder).resolve() == Path(current.directory).resolve()


def _remember(against: Against | None) -> None:
    settings = ui_settings()
    if against is None:
        for key in REMEMBERED:
            settings.remove(key)
    else:
        settings.setValue(REMEMBERED[0], against.kind)
        settings.setValue(REMEMBERED[1], str(against.folder))
    settings.sync()
