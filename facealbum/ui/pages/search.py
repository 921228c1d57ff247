"""Search page: a photo's faces, one picked, and the most similar faces of the library."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from facealbum.config import Settings
from facealbum.model import Face, FaceInfo, Match, readable_path
from facealbum.ui.context import LibraryContext
from facealbum.ui.dialogs.messages import copy_files, describe_error
from facealbum.ui.style import photo_file_filter, plural, similarity_percent
from facealbum.ui.tasks import run_task
from facealbum.ui.widgets.face_canvas import CanvasFace, FaceCanvas
from facealbum.ui.widgets.image_loader import ImageLoader, pil_to_qimage
from facealbum.ui.widgets.thumbnails import make_photo_thumbnail
from facealbum.ui.widgets.tiles import Tile, TileModel, TileView

if TYPE_CHECKING:
    from facealbum.album import Album

TOP = 200
PREVIEW_SIZE = 1200
NAME_CANDIDATES = 10  # nearest library faces looked at to name a face of a dropped photo


@dataclass(frozen=True)
class Found:
    """One search result: the library face and the name of its person ("" for nobody)."""

    match: Match
    name: str


@dataclass(frozen=True)
class Query:
    """What a search starts from: faces of a dropped image, or of a library photo."""

    image: QImage
    faces: list[Face] | list[FaceInfo]  # a dropped image's (with encodings) or a library photo's
    selected: int  # index into faces
    title: str
    labels: tuple[str, ...] = ()  # per face: its person, "Name?" when only a look-alike
    found: tuple[list[Found], ...] = ()  # per face of a dropped image: its results...
    tolerance: float | None = None  # ...at this tolerance

    def with_selected(self, index: int) -> Query:
        return replace(self, selected=index)


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb[:, :, :3], dtype=np.uint8)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def qimage_to_rgb(image: QImage) -> np.ndarray:
    """A pasted image as an upright RGB array, what the facade's search takes."""
    img = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, stride = img.width(), img.height(), img.bytesPerLine()
    buf = np.frombuffer(img.constBits(), dtype=np.uint8, count=stride * h).reshape(h, stride)
    return buf[:, : 3 * w].reshape(h, w, 3).copy()


def person_names(album: Album, matches: Iterable[Match]) -> dict[int, str]:
    """face id -> the name of its person ("" for nobody): the facade's matches carry none."""
    faces = album.faces_by_id(list({m.face_id for m in matches}))
    return {f: info.person_name or "" for f, info in faces.items()}


def guess_name(found: list[Found]) -> str:
    """ "Name?" for the person of the nearest named face among the first NAME_CANDIDATES
    results, "" when none is."""
    return next((f"{f.name}?" for f in found[:NAME_CANDIDATES] if f.name), "")


def load_source(album: Album, source: str | Path | np.ndarray, tolerance: float) -> Query:
    """Decode the image, find its faces, their results and who they may be (runs on a
    worker thread)."""
    if isinstance(source, np.ndarray):
        image, title = rgb_to_qimage(source), "Pasted image"
    else:
        image = pil_to_qimage(make_photo_thumbnail(Path(source), PREVIEW_SIZE))
        title = Path(source).name
    searched = album.search_image(source, top=TOP, tolerance=tolerance)
    faces = [face for face, _matches in searched]
    names = person_names(album, (m for _face, matches in searched for m in matches))
    found = tuple([Found(m, names.get(m.face_id, "")) for m in ms] for _face, ms in searched)
    largest = max(range(len(faces)), key=lambda i: faces[i].box.area) if faces else -1
    labels = tuple(guess_name(f) for f in found)
    return Query(image, faces, largest, title, labels, found, tolerance)


def load_library_face(album: Album, face_id: int) -> Query:
    face = album.face(face_id)
    if face is None:
        raise LookupError("That face is no longer in the library.")
    image = pil_to_qimage(make_photo_thumbnail(Path(face.photo), PREVIEW_SIZE))
    faces = album.faces_in_photo(face.photo_id)
    selected = next((i for i, f in enumerate(faces) if f.id == face_id), 0)
    labels = tuple(f.person_name or "" for f in faces)
    return Query(image, faces, selected, Path(face.photo).name, labels)


def find_matches(album: Album, face: Face | FaceInfo, tolerance: float) -> list[Found]:
    """The most similar library faces, each with its person's name (on a worker thread)."""
    if isinstance(face, FaceInfo):  # a face of the library
        matches = album.similar_to_face(face.id, top=TOP, tolerance=tolerance)
    else:  # a dropped image's face at another tolerance: its encoding, not the image again
        matches = album.search_person(face.encoding, top=TOP, tolerance=tolerance)
    names = person_names(album, matches)
    return [Found(m, names.get(m.face_id, "")) for m in matches]


class SearchPage(QWidget):
    def __init__(self, context: LibraryContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self.query: Query | None = None
        self._request = 0  # newest search wins; older results are dropped
        self.loader = ImageLoader(None, parent=self)
        self.results_model = TileModel(self.loader, "match", self)
        self.results = TileView()
        self.results.setModel(self.results_model)
        self.canvas = FaceCanvas()
        self.canvas.set_message(
            "Drop a photo anywhere on this window, paste one (Ctrl+V),\n"
            "or choose a file — then pick a face to find that person in your library."
        )
        self.choose_button = QPushButton("Choose a photo…")
        self.choose_button.setProperty("role", "primary")
        self.query_label = QLabel()
        self.query_label.setWordWrap(True)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(30, 80)
        self.slider.setToolTip("How different a face may be and still count as a match")
        self.tolerance_label = QLabel()
        self.results_label = QLabel("Results appear here, most similar first")
        self.results_label.setProperty("role", "title")
        self.copy_button = QPushButton("Copy selected to…")

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.choose_button, 0, Qt.AlignmentFlag.AlignLeft)
        left_layout.addWidget(self.canvas, 1)
        left_layout.addWidget(self.query_label)
        tolerance = QHBoxLayout()
        tolerance.addWidget(QLabel("Strict"))
        tolerance.addWidget(self.slider, 1)
        tolerance.addWidget(QLabel("Loose"))
        tolerance.addWidget(self.tolerance_label)
        left_layout.addLayout(tolerance)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        header.addWidget(self.results_label, 1)
        header.addWidget(self.copy_button)
        right_layout.addLayout(header)
        right_layout.addWidget(self.results, 1)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([420, 600])
        QVBoxLayout(self).addWidget(splitter)

        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(self.run_search)
        self.slider.valueChanged.connect(self._tolerance_moved)
        self.choose_button.clicked.connect(self.choose_file)
        self.canvas.face_clicked.connect(self._face_clicked)
        self.results.doubleClicked.connect(
            lambda idx: context.open_photo.emit(self.results_model.tile(idx.row()).payload.photo_id)
        )
        self.copy_button.clicked.connect(self.copy_selected)
        context.album_changed.connect(self._album_changed)
        self._album_changed(context.album)

    def tolerance(self) -> float:
        return self.slider.value() / 100

    def _album_changed(self, album: Album | None) -> None:
        self.loader.set_cache(self._context.thumbnail_cache())
        self.results_model.set_tiles([])
        self.query = None
        self._request += 1
        tolerance = album.settings.tolerance if album is not None else Settings.tolerance
        self.slider.blockSignals(True)
        self.slider.setValue(round(tolerance * 100))
        self.slider.blockSignals(False)
        self.tolerance_label.setText(f"{self.tolerance():.2f}")

    # -- starting a search ------------------------------------------------------
    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Find the people in a photo",
            str(Path.home()),
            photo_file_filter(),
        )
        if path:
            self.search_source(Path(path))

    def search_source(self, source: str | Path | np.ndarray) -> None:
        """Find the faces of an image file or RGB array, then search with the largest."""
        album = self._context.album
        if album is None:
            return
        self._start_loading()
        request = self._request
        tolerance = self.tolerance()
        run_task(
            lambda: load_source(album, source, tolerance),
            lambda q: self._query_ready(request, q),
            lambda e: self._query_failed(request, e),
            owner=self,
        )

    def search_face(self, face_id: int) -> None:
        """ "Find similar" on a face of the library."""
        album = self._context.album
        if album is None:
            return
        self._start_loading()
        request = self._request
        run_task(
            lambda: load_library_face(album, face_id),
            lambda q: self._query_ready(request, q),
            lambda e: self._query_failed(request, e),
            owner=self,
        )

    def _start_loading(self) -> None:
        self._request += 1
        self.query = None
        self.canvas.set_message("Looking for faces…")
        self.query_label.clear()
        self.results_model.set_tiles([])
        self.results_label.setText("Searching…")

    def _query_ready(self, request: int, query: Query) -> None:
        if request != self._request:
            return
        self.query = query
        if not query.faces:
            self.canvas.set_picture(QPixmap.fromImage(query.image), [])
            self.query_label.setText(f"{query.title}: no face found in this image.")
            self.results_label.setText("No face to search with")
            return
        self._show_query()
        self.run_search()

    def _query_failed(self, request: int, error: BaseException) -> None:
        if request != self._request:
            return
        # The reason (a bad file, or the face finder having stopped) is the message.
        self.canvas.set_message(describe_error(error))
        self.results_label.setText("")
        self._context.error.emit("Cannot search with this image", error)

    def _show_query(self) -> None:
        q = self.query
        labels = q.labels or tuple("" for _ in q.faces)
        self.canvas.set_picture(
            QPixmap.fromImage(q.image),
            [CanvasFace(i, f.box, labels[i]) for i, f in enumerate(q.faces)],
        )
        self.canvas.set_selected(q.selected)
        hint = " — click another face to search for it" if len(q.faces) > 1 else ""
        self.query_label.setText(f"{q.title}: {plural(len(q.faces), 'face')}{hint}")

    def _face_clicked(self, index: int, _pos: QPointF) -> None:
        if self.query is None or index == self.query.selected:
            return
        self.query = self.query.with_selected(index)
        self._show_query()
        self.run_search()

    def _tolerance_moved(self, _value: int) -> None:
        self.tolerance_label.setText(f"{self.tolerance():.2f}")
        self._debounce.start()

    # -- results -------------------------------------------------------------------
    def run_search(self) -> None:
        album, q = self._context.album, self.query
        if album is None or q is None or q.selected < 0:
            return
        self._request += 1
        request, tolerance = self._request, self.tolerance()
        if q.found and q.tolerance == tolerance:  # found with the image's faces
            self._matches_ready(request, tolerance, q.found[q.selected])
            return
        face = q.faces[q.selected]
        self.results_label.setText("Searching…")
        run_task(
            lambda: find_matches(album, face, tolerance),
            lambda matches: self._matches_ready(request, tolerance, matches),
            lambda e: self._query_failed(request, e),
            owner=self,
        )

    def _matches_ready(self, request: int, tolerance: float, found: list[Found]) -> None:
        if request != self._request:
            return
        tiles = [
            Tile(
                f.match.face_id,
                f"{similarity_percent(f.match.distance, tolerance)}% similar",
                f.name or Path(readable_path(f.match.photo)).name,
                f.match.photo,
                f.match.box,
                f"{readable_path(f.match.photo)}\n{f.name + ', ' if f.name else ''}"
                f"distance {f.match.distance:.3f}",
                f.match,
            )
            for f in found
        ]
        self.results_model.set_tiles(tiles)
        self.results_label.setText(
            f"{plural(len(tiles), 'photo')} with a similar face"
            if tiles
            else "No similar face in the library — try a looser tolerance"
        )

    def matches(self) -> list[Match]:
        return [t.payload for t in self.results_model.tiles()]

    def copy_selected(self) -> None:
        tiles = self.results.selected_tiles() or self.results_model.tiles()
        if not tiles:
            return
        target = QFileDialog.getExistingDirectory(self, f"Copy {plural(len(tiles), 'photo')} to")
        if not target:
            return
        paths = list(dict.fromkeys(t.payload.photo for t in tiles))
        run_task(
            lambda: copy_files(paths, Path(target)),
            lambda r: self._context.status_message.emit(
                f"Copied {plural(r[0], 'photo')} to {target}"
            ),
            lambda e: self._context.error.emit("Could not copy the photos", e),
            owner=self,
        )
