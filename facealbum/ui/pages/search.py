"""Search page: a photo's faces, one picked, and the photos of that person in the library:
the same person first, then apart the photos that may be them."""

from __future__ import annotations

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
from facealbum.model import Face, FaceInfo, Match, Tier, readable_path
from facealbum.ui.context import LibraryContext
from facealbum.ui.dialogs.messages import copy_files, describe_error
from facealbum.ui.style import photo_file_filter, plural
from facealbum.ui.tasks import run_task
from facealbum.ui.widgets.face_canvas import CanvasFace, FaceCanvas
from facealbum.ui.widgets.image_loader import ImageLoader, pil_to_qimage
from facealbum.ui.widgets.thumbnails import make_photo_thumbnail
from facealbum.ui.widgets.tiles import TILE_ROLE, Tile, TileModel, TileView

if TYPE_CHECKING:
    from facealbum.album import Album

TOP = 200  # results shown; the page says how many more there are
PREVIEW_SIZE = 1200


@dataclass(frozen=True)
class Found:
    """One search result: the library face and the name of its person ("" for nobody, and
    for a maybe: it is never labelled as anyone)."""

    match: Match
    name: str


@dataclass(frozen=True)
class Results:
    """The first TOP results of a search, and how many more it found."""

    found: list[Found]
    more: int = 0


@dataclass(frozen=True)
class Query:
    """What a search starts from: faces of a dropped image, or of a library photo."""

    image: QImage
    faces: list[Face] | list[FaceInfo]  # a dropped image's (with encodings) or a library photo's
    selected: int  # index into faces
    title: str
    # Per face: its person, or "Name?" when a same-person result is that person's face.
    labels: tuple[str, ...] = ()
    found: tuple[Results, ...] = ()  # per face of a dropped image: its results...
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


def results_of(matches: list[Match]) -> Results:
    """The first TOP matches, the same-person ones with their person's name (a maybe is
    never named)."""
    shown = matches[:TOP]
    found = [Found(m, (m.person_name or "") if m.tier != Tier.MAYBE else "") for m in shown]
    return Results(found, len(matches) - len(shown))


def guess_name(found: list[Found]) -> str:
    """ "Name?" for the person of the surest named face of the same-person tier, "" when
    there is none: a maybe never names the face."""
    return next((f"{f.name}?" for f in found if f.name and f.match.tier == Tier.SAME), "")


def result_tile(found: Found) -> Tile:
    """A result captioned with how sure the search is; a same-person one with its person's
    name, a maybe with "Maybe" and its photo's name, never a person's."""
    m = found.match
    sure = f"{round((m.confidence or 0.0) * 100)}%"
    photo = Path(readable_path(m.photo)).name
    if m.tier == Tier.MAYBE:
        title, subtitle, what = f"Maybe, {sure}", photo, "Maybe the same person"
    else:
        who = f" ({found.name})" if found.name else ""
        title, subtitle, what = f"{sure} sure", found.name or photo, f"The same person{who}"
    return Tile(
        m.face_id,
        title,
        subtitle,
        m.photo,
        m.box,
        f"{readable_path(m.photo)}\n{what}: {sure} sure, distance {m.distance:.3f}",
        m,
    )


def load_source(album: Album, source: str | Path | np.ndarray, tolerance: float) -> Query:
    """Decode the image, find its faces, their results and who they may be (runs on a
    worker thread)."""
    if isinstance(source, np.ndarray):
        image, title = rgb_to_qimage(source), "Pasted image"
    else:
        image = pil_to_qimage(make_photo_thumbnail(Path(source), PREVIEW_SIZE))
        title = Path(source).name
    # Every result, to count those past the TOP shown (the search finds them all anyway).
    searched = album.search_image(source, tolerance=tolerance)
    faces = [face for face, _matches in searched]
    found = tuple(results_of(matches) for _face, matches in searched)
    largest = max(range(len(faces)), key=lambda i: faces[i].box.area) if faces else -1
    labels = tuple(guess_name(r.found) for r in found)
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


def find_matches(album: Album, face: Face | FaceInfo, tolerance: float) -> Results:
    """The photos of this face's person (on a worker thread)."""
    if isinstance(face, FaceInfo):  # a face of the library
        matches = album.similar_to_face(face.id, tolerance=tolerance)
    else:  # a dropped image's face at another tolerance: its encoding, not the image again
        matches = album.search_person(face.encoding, tolerance=tolerance)
    return results_of(matches)


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
        # The maybes, apart under their own heading: for the user to decide.
        self.maybe_model = TileModel(self.loader, "maybe", self)
        self.maybe_results = TileView()
        self.maybe_results.setObjectName("maybeResults")
        self.maybe_results.setModel(self.maybe_model)
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
        self.results_label = QLabel("Photos of the person appear here, surest first")
        self.results_label.setProperty("role", "title")
        self.maybe_label = QLabel()
        self.maybe_label.setProperty("role", "maybe")
        self.maybe_label.setWordWrap(True)
        self.more_label = QLabel()
        self.more_label.setProperty("role", "hint")
        self.more_label.setWordWrap(True)
        self.copy_button = QPushButton("Copy selected to…")
        self.copy_button.setToolTip(
            "Copy the selected photos to a folder (none selected: every photo of the same person)"
        )

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
        right_layout.addWidget(self.results, 3)
        right_layout.addWidget(self.maybe_label)
        right_layout.addWidget(self.maybe_results, 2)
        right_layout.addWidget(self.more_label)
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
        for view in (self.results, self.maybe_results):
            view.doubleClicked.connect(
                lambda idx: context.open_photo.emit(idx.data(TILE_ROLE).payload.photo_id)
            )
        self.copy_button.clicked.connect(self.copy_selected)
        context.album_changed.connect(self._album_changed)
        self._album_changed(context.album)

    def tolerance(self) -> float:
        return self.slider.value() / 100

    def _album_changed(self, album: Album | None) -> None:
        self.loader.set_cache(self._context.thumbnail_cache())
        self._show_results(Results([]))
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
        self._show_results(Results([]))
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
            self._matches_ready(request, q.found[q.selected])
            return
        face = q.faces[q.selected]
        self.results_label.setText("Searching…")
        run_task(
            lambda: find_matches(album, face, tolerance),
            lambda results: self._matches_ready(request, results),
            lambda e: self._query_failed(request, e),
            owner=self,
        )

    def _matches_ready(self, request: int, results: Results) -> None:
        if request == self._request:
            self._show_results(results)

    def _show_results(self, results: Results) -> None:
        """The same person's photos, then the maybes under their heading, then how many
        more were found than are shown."""
        same = [result_tile(f) for f in results.found if f.match.tier != Tier.MAYBE]
        maybe = [result_tile(f) for f in results.found if f.match.tier == Tier.MAYBE]
        self.results_model.set_tiles(same)
        self.maybe_model.set_tiles(maybe)
        if same:
            self.results_label.setText(f"{plural(len(same), 'photo')} of this person")
        elif maybe:
            self.results_label.setText("No photo is surely this person")
        else:
            self.results_label.setText("No photo of this person — try a looser tolerance")
        self.results.setVisible(bool(same) or not maybe)
        self.maybe_label.setText(
            f"Maybe the same person — {plural(len(maybe), 'photo')}, for you to judge"
        )
        self.maybe_label.setVisible(bool(maybe))
        self.maybe_results.setVisible(bool(maybe))
        self.more_label.setText(
            f"Only the first {TOP:,} are shown, surest first: {results.more:,} more not shown."
            " A stricter tolerance leaves fewer."
        )
        self.more_label.setVisible(results.more > 0)

    def matches(self) -> list[Match]:
        """Every result shown: the same person's, then the maybes."""
        return [t.payload for t in self.results_model.tiles() + self.maybe_model.tiles()]

    def copy_selected(self) -> None:
        selected = self.results.selected_tiles() + self.maybe_results.selected_tiles()
        tiles = selected or self.results_model.tiles()
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
