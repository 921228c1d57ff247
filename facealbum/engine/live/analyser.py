"""The analyser: finds and encodes faces, in a child process or the calling thread."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

from facealbum.engine.types import Box

# Tracked faces are encoded from a crop scaled to this width: HOG finds them there
# without upsampling, which costs a few ms instead of ~50 for a whole 480 px frame.
CROP_FACE_PX = 110


Found = list[tuple[Box, "np.ndarray | None"]]  # faces: normalised box, encoding if asked


@dataclass(frozen=True)
class Request:
    """One round of work for the analyser."""

    small: np.ndarray | None  # the reduced frame to find faces in; None = not this round
    encode_small: bool  # ...and encode whoever is found there
    upsample: int  # for the reduced frame: 1 finds faces from 40 px, 0 from 80 px
    crops: tuple[np.ndarray, ...] = ()  # tracked faces to encode, see face_crop()


@dataclass(frozen=True)
class Reply:
    found: Found  # faces in the reduced frame
    crops: tuple[tuple[Box, np.ndarray] | None, ...]  # the central face of each crop


class Analyser(Protocol):
    def analyse(self, request: Request) -> Reply: ...

    def close(self) -> None: ...


class _FaceAnalysis:
    """The analyser's work; lives in one process and owns its FaceEngine there."""

    def __init__(self) -> None:
        from facealbum.engine.faces import FaceEngine  # models load on first use

        self._engine = FaceEngine(detector="hog", min_face_px=20)

    def __call__(self, request: Request, _context: object = None) -> Reply:
        found: Found = []
        if request.small is not None and request.encode_small:
            faces = self._engine.find_faces_in_pixels(request.small, upsample=request.upsample)
            found = [(f.box, f.encoding) for f in faces]
        elif request.small is not None:
            found = self._detect(request.small, request.upsample)
        return Reply(found, tuple(self._central_face(c) for c in request.crops))

    def _detect(self, rgb: np.ndarray, upsample: int) -> Found:
        # Detection alone costs a fraction of an encoding: it fills the rounds between.
        h, w = rgb.shape[:2]
        return [
            (
                Box(
                    max(0, r.left()) / w,
                    max(0, r.top()) / h,
                    min(w, r.right()) / w,
                    min(h, r.bottom()) / h,
                ),
                None,
            )
            for r, _score in self._engine.detect(rgb, upsample)
        ]

    def _central_face(self, crop: np.ndarray) -> tuple[Box, np.ndarray] | None:
        # The crop shows the face large enough for the detector without upsampling
        # (several times cheaper); a face smaller than expected gets a second look.
        faces = self._engine.find_faces_in_pixels(crop, upsample=0)
        if not faces:
            faces = self._engine.find_faces_in_pixels(crop, upsample=1)
        if not faces:
            return None

        def off_centre(f: Any) -> float:
            b = f.box
            return math.hypot((b.left + b.right) / 2 - 0.5, (b.top + b.bottom) / 2 - 0.5)

        face = min(faces, key=off_centre)
        return face.box, face.encoding


def _analysis_setup() -> Callable[[Any, object], Any]:
    return _FaceAnalysis()


class ProcessAnalyser:
    """Runs the analysis in a child process so dlib never holds this process's GIL."""

    def __init__(self) -> None:
        from facealbum.engine.pool import ProcessPool, WorkerError

        self._error_type = WorkerError
        self._pool = ProcessPool(1, _analysis_setup, depth=1, name="facealbum-live")

    def analyse(self, request: Request) -> Reply:
        for _task, result in self._pool.run([request]):
            if isinstance(result, self._error_type):
                raise RuntimeError(result.reason)
            return result
        raise RuntimeError("the face analyser stopped")

    def close(self) -> None:
        self._pool.close()


class LocalAnalyser:
    """The same analysis in the calling thread (tests, benchmarks of the parts)."""

    def __init__(self) -> None:
        self._work: _FaceAnalysis | None = None

    def analyse(self, request: Request) -> Reply:
        if self._work is None:  # built on the calling thread: dlib objects stay on it
            self._work = _FaceAnalysis()
        return self._work(request)

    def close(self) -> None:
        pass


def face_crop(rgb: np.ndarray, box: Box, face_px: int = CROP_FACE_PX) -> tuple[np.ndarray, Box]:
    """The face with half its size around it, scaled so the face is about face_px wide.

    Returns the crop and where it lies in the frame (normalised).
    """
    h, w = rgb.shape[:2]
    fw, fh = (box.right - box.left) * w, (box.bottom - box.top) * h
    cx, cy = (box.left + box.right) / 2 * w, (box.top + box.bottom) / 2 * h
    half = max(fw, fh, 8.0)
    x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
    x1, y1 = int(min(w, cx + half)), int(min(h, cy + half))
    crop = rgb[y0:y1, x0:x1]
    scale = face_px / max(fw, 1.0)
    if crop.size and abs(scale - 1) > 0.1:
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=interp)
    return np.ascontiguousarray(crop), Box(x0 / w, y0 / h, x1 / w, y1 / h)


def _from_crop(box: Box, window: Box) -> Box:
    """A box normalised to a crop, normalised to the frame instead."""
    cw, ch = window.right - window.left, window.bottom - window.top
    return Box(
        window.left + box.left * cw,
        window.top + box.top * ch,
        window.left + box.right * cw,
        window.top + box.bottom * ch,
    )


def resize_to_width(rgb: np.ndarray, width: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if w <= width:
        return rgb
    return cv2.resize(rgb, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
