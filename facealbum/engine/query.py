"""The faces of one query image: a dropped or chosen photo, a pasted image, a camera snapshot.

Two analysers answer the same questions. ``ProcessQueryAnalyser`` runs dlib in one
long-lived helper process: the GUI uses it, because dlib's encoder holds the GIL for
~90 ms per face (the window would freeze) and a dlib crash must not take the window
with it. ``LocalQueryAnalyser`` runs in the calling thread, for the command line, where
starting a process would only add latency.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from facealbum.model import Face

__all__ = [
    "LocalQueryAnalyser",
    "ProcessQueryAnalyser",
    "QueryAnalyser",
    "QueryEngineError",
    "make_query_analyser",
]


class QueryEngineError(RuntimeError):
    """The face analysis gave no answer for this image (its helper process stopped or
    could not start). The message is meant for the user; the next request starts afresh."""


class QueryAnalyser(Protocol):
    """Finds and encodes the faces of one image at a time; safe to call from any thread."""

    def faces_in_file(self, path: str | Path) -> list[Face]:
        """Faces of a photo file (raises ImageLoadError when it cannot be read)."""
        ...

    def faces_in_pixels(self, rgb: np.ndarray) -> list[Face]:
        """Faces of an upright RGB uint8 array (raises ValueError for other arrays)."""
        ...

    def close(self) -> None: ...


# -- the work, wherever it runs ------------------------------------------------------------


@dataclass(frozen=True)
class _FileTask:
    path: str


@dataclass(frozen=True)
class _PixelsTask:
    rgb: np.ndarray


@dataclass(frozen=True)
class _Refused:
    """An error the caller should see as its own type, carried across the process boundary
    (ImageLoadError does not survive pickling: its constructor takes two arguments)."""

    kind: str  # "image" or "pixels"
    path: str | None
    reason: str


class _QueryWork:
    """Owns one FaceEngine; used only by the thread or process that built it."""

    def __init__(self, detector: str, min_face_px: int) -> None:
        from facealbum.engine.faces import FaceEngine  # models load on first use

        self._engine = FaceEngine(detector=detector, min_face_px=min_face_px)

    def __call__(self, task: _FileTask | _PixelsTask, _context: object = None) -> Any:
        from facealbum.engine.images import ImageLoadError, load_image

        try:
            if isinstance(task, _PixelsTask):
                return self._engine.find_faces_in_pixels(task.rgb)
            image = load_image(task.path, max_side=self._engine.detect_side)
            return self._engine.find_faces(image)
        except ImageLoadError as exc:
            return _Refused("image", exc.path, exc.reason)
        except ValueError as exc:  # not an RGB uint8 array
            return _Refused("pixels", None, str(exc))


def _raise_refused(refused: _Refused) -> None:
    from facealbum.engine.images import ImageLoadError

    if refused.kind == "image":
        raise ImageLoadError(refused.path, refused.reason)
    raise ValueError(refused.reason)


def _answer(outcome: Any) -> list[Face]:
    if isinstance(outcome, _Refused):
        _raise_refused(outcome)
    return list(outcome)


# -- in the calling thread -----------------------------------------------------------------


class LocalQueryAnalyser:
    """Runs in the calling thread, with one FaceEngine per thread (dlib objects are never
    shared between threads)."""

    def __init__(self, detector: str, min_face_px: int) -> None:
        self._detector = detector
        self._min_face_px = int(min_face_px)
        self._per_thread = threading.local()

    def _work(self) -> _QueryWork:
        work = getattr(self._per_thread, "work", None)
        if work is None:
            work = _QueryWork(self._detector, self._min_face_px)
            self._per_thread.work = work
        return work

    def faces_in_file(self, path: str | Path) -> list[Face]:
        return _answer(self._work()(_FileTask(str(path))))

    def faces_in_pixels(self, rgb: np.ndarray) -> list[Face]:
        return _answer(self._work()(_PixelsTask(rgb)))

    def close(self) -> None:
        pass


# -- in a helper process -------------------------------------------------------------------


def _query_setup(detector: str, min_face_px: int) -> Callable[[Any, object], Any]:
    """Runs once in the helper process."""
    return _QueryWork(detector, min_face_px)


class ProcessQueryAnalyser:
    """Runs the analysis in one helper process, started on first use and then reused.

    Requests from several threads take turns. When the helper dies during a request,
    that request raises QueryEngineError and the pool starts a fresh helper for the next.
    close() stops the helper, interrupting a request still running (it raises too).
    """

    def __init__(self, detector: str, min_face_px: int) -> None:
        from facealbum.engine.pool import ProcessPool

        setup = functools.partial(_query_setup, detector, int(min_face_px))
        self._pool = ProcessPool(1, setup, depth=1, name="facealbum-search")
        self._turn = threading.Lock()  # ProcessPool is driven by one thread at a time
        self._closing = threading.Event()

    def faces_in_file(self, path: str | Path) -> list[Face]:
        # The helper reads the file itself: decoding a large photo here would hold the GIL.
        return self._ask(_FileTask(str(Path(path).expanduser().absolute())))

    def faces_in_pixels(self, rgb: np.ndarray) -> list[Face]:
        return self._ask(_PixelsTask(np.asarray(rgb)))

    def close(self) -> None:
        """Stop the helper process; safe to call twice and from any thread."""
        self._closing.set()  # a request in flight stops waiting within the pool's poll
        with self._turn:
            self._pool.close()

    def _ask(self, task: _FileTask | _PixelsTask) -> list[Face]:
        from facealbum.engine.pool import WorkerError, WorkerStartError

        with self._turn:
            if self._closing.is_set():
                raise QueryEngineError("The library was closed; the image was not analysed.")
            try:
                for _task, outcome in self._pool.run([task], cancel=self._closing):
                    if isinstance(outcome, WorkerError):
                        raise QueryEngineError(
                            f"The face analysis failed on this image: {outcome.reason}. "
                            "Try again; the next image starts a fresh analysis."
                        )
                    return _answer(outcome)
            except WorkerStartError as exc:
                raise QueryEngineError(f"The face analysis could not start: {exc}") from exc
        raise QueryEngineError("The library was closed; the image was not analysed.")


def make_query_analyser(
    detector: str, min_face_px: int, *, isolated: bool = False
) -> QueryAnalyser:
    """A ProcessQueryAnalyser when `isolated` (GUI), else a LocalQueryAnalyser (CLI)."""
    if isolated:
        return ProcessQueryAnalyser(detector, min_face_px)
    return LocalQueryAnalyser(detector, min_face_px)
