"""Where live frames come from: a camera or a video file, as upright RGB frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facealbum.engine.opencv_log import errors_only


class SourceError(Exception):
    """A camera or video file that cannot be used; str(e) is a message for the user."""


def probe_cameras(max_index: int = 4) -> list[int]:
    """Indices of the cameras that open and deliver a frame (slow: run off the GUI thread).
    An index with no camera is the usual answer, not worth a warning in the terminal."""
    found = []
    with errors_only():
        for index in range(max_index):
            cap = cv2.VideoCapture(index)
            try:
                if cap.isOpened() and cap.read()[0]:
                    found.append(index)
            finally:
                cap.release()
    return found


class FrameSource:
    """A camera (int index) or a video file (path) giving upright RGB frames.

    A file loops at its end and reports its own frame rate so playback can be paced.
    """

    def __init__(self, spec: int | str | Path) -> None:
        self.is_file = not isinstance(spec, int)
        self.name = Path(spec).name if self.is_file else f"Camera {spec}"
        if self.is_file and not Path(spec).is_file():
            raise SourceError(f"The video file {spec} does not exist.")
        self._cap = cv2.VideoCapture(str(spec) if self.is_file else spec)
        ok, first = self._cap.read() if self._cap.isOpened() else (False, None)
        if not ok:
            self._cap.release()
            if self.is_file:
                raise SourceError(f"{self.name} is not a video this app can play.")
            raise SourceError(
                f"{self.name} could not be opened: it may be missing or in use by another "
                "program. Close the other program, or choose a video file instead."
            )
        self._first: np.ndarray | None = first
        fps = self._cap.get(cv2.CAP_PROP_FPS) if self.is_file else 0.0
        self.fps = fps if 1.0 <= fps <= 240.0 else 30.0

    def read(self) -> np.ndarray | None:
        """The next frame as RGB, or None when a camera stops delivering."""
        if self._first is not None:
            frame, self._first = self._first, None
        else:
            ok, frame = self._cap.read()
            if not ok and self.is_file:  # the end: start over
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, frame = self._cap.read()
            if not ok:
                return None
        if frame.ndim == 2:
            return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        self._cap.release()
