"""The analyser: finds and encodes faces, in a child process or the calling thread."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import cv2
import numpy as np

from facealbum.config import DEFAULT_DETECTOR, DEFAULT_MIN_FACE_PX
from facealbum.model import Box

# Tracked faces are encoded from a crop scaled so the face is this wide. The encoding
# hardly depends on it (on the clip's performer, median distance to his photo 0.50-0.52
# for faces scaled to 50-150 px, with YuNet and HOG alike); at 110 px HOG finds the face
# without upsampling (it sees faces from 80 px), and YuNet looks at the 220 px crop in
# about 8 ms of CPU.
CROP_FACE_PX = 110


Found = list[tuple[Box, "np.ndarray | None"]]  # faces: normalised box, encoding if asked


@dataclass(frozen=True)
class Request:
    """One round of work for the analyser."""

    small: np.ndarray | None  # the reduced frame to find faces in; None = not this round
    encode_small: bool  # ...and encode whoever is found there
    # ...looking for small faces too (someone far away). HOG sees faces from 80 px and
    # must upsample, at 4x the cost, to see them from 40 px; YuNet sees faces from about
    # 20 px in the image it is given, without upsampling, whatever this says.
    small_faces: bool
    crops: tuple[np.ndarray, ...] = ()  # tracked faces to encode, see face_crop()


@dataclass(frozen=True)
class Reply:
    found: Found  # faces in the reduced frame
    crops: tuple[tuple[Box, np.ndarray] | None, ...]  # the central face of each crop
    # Why the analyser does not work as asked, for the user: e.g. YuNet's model is
    # damaged and HOG finds the faces instead. None when all is well.
    problem: str | None = None


class Analyser(Protocol):
    def analyse(self, request: Request) -> Reply: ...

    def close(self) -> None: ...


class _FaceAnalysis:
    """The analyser's work; lives in one process and owns its FaceEngine there."""

    def __init__(self, detector: str = DEFAULT_DETECTOR) -> None:
        from facealbum.engine.faces import FaceEngine, usable_detector  # models load on first use

        detector, self._problem = usable_detector(detector)
        # Faces narrower than a photo's minimum, in pixels of the reduced frame, are
        # neither tracked nor encoded: YuNet's smaller detections are mostly texture.
        self._engine = FaceEngine(detector=detector, min_face_px=DEFAULT_MIN_FACE_PX)
        self.detector = detector

    def __call__(self, request: Request, _context: object = None) -> Reply:
        found: Found = []
        if request.small is not None:
            upsample = 1 if request.small_faces else 0  # HOG's; YuNet does without
            if request.encode_small:
                faces = self._engine.find_faces_in_pixels(request.small, upsample=upsample)
                found = [(f.box, f.encoding) for f in faces]
            else:
                found = [(box, None) for box in self._locate(request.small, upsample)]
        crops = tuple(self._central_face(c) for c in request.crops)
        return Reply(found, crops, self._problem)

    def _locate(self, rgb: np.ndarray, upsample: int) -> list[Box]:
        """The faces find_faces_in_pixels() would encode, without encoding them: a
        fraction of the cost, for the rounds that only look for newcomers. YuNet's second
        look included, or hands and blurred backgrounds (it scores them 0.5-0.8 on the
        clip) would become tracked faces."""
        return [box for box, _score in self._engine.locate_faces(rgb, upsample=upsample)]

    def _central_face(self, crop: np.ndarray) -> tuple[Box, np.ndarray] | None:
        # The crop shows the face at CROP_FACE_PX, large enough for HOG without upsampling
        # (several times cheaper); for HOG, a face smaller than expected gets a second look.
        faces = self._engine.find_faces_in_pixels(crop, upsample=0)
        if not faces and self.detector != "yunet":
            faces = self._engine.find_faces_in_pixels(crop, upsample=1)
        if not faces:
            return None

        def off_centre(f: Any) -> float:
            b = f.box
            return math.hypot((b.left + b.right) / 2 - 0.5, (b.top + b.bottom) / 2 - 0.5)

        face = min(faces, key=off_centre)
        return face.box, face.encoding


class ProcessAnalyser:
    """Runs the analysis in a child process so dlib never holds this process's GIL.

    detector: one of config.DETECTORS; YuNet falls back to HOG (saying why in every
    Reply) when its model file is missing or damaged.
    """

    def __init__(self, detector: str = DEFAULT_DETECTOR) -> None:
        from facealbum.engine.pool import ProcessPool, WorkerError

        self._error_type = WorkerError
        setup = partial(_FaceAnalysis, detector)  # picklable: runs in the child
        self._pool = ProcessPool(1, setup, depth=1, name="facealbum-live")

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

    def __init__(self, detector: str = DEFAULT_DETECTOR) -> None:
        self._detector = detector
        self._work: _FaceAnalysis | None = None

    def analyse(self, request: Request) -> Reply:
        if self._work is None:  # built on the calling thread: dlib objects stay on it
            self._work = _FaceAnalysis(self._detector)
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
