"""YuNet, a small CNN face detector run through OpenCV's cv2.FaceDetectorYN.

It finds the faces dlib's HOG detector misses (small ones from about 20 px, faces turned
or tilted) at a fraction of HOG's cost, and gives five landmarks with each face. The
model file ships inside the package (yunet/, Apache-2.0, LICENSE beside it) and is
checked against its published checksum before it is loaded, so a damaged install fails
with one clear message instead of finding nothing.

One YuNet object per thread or process: OpenCV's network keeps per-call state.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facealbum.engine.opencv_log import errors_only

MODEL_FILE = Path(__file__).with_name("yunet") / "face_detection_yunet_2023mar.onnx"
MODEL_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"

# Candidates below this score are dropped inside OpenCV; the engine applies its own,
# stricter rules after (see faces.py). Low enough that the rules, not OpenCV, decide.
CANDIDATE_SCORE = 0.3
NMS_IOU = 0.3  # boxes overlapping more than this are one face
TOP_K = 5000
# Any input size will do to build the network: each image sets its own.
BUILD_SIZE = 320


class DetectorUnavailable(RuntimeError):
    """The YuNet model cannot be used; the message says why and what to do."""


# (path, size, mtime) of model files already verified: every search asks which detector
# to use, and re-reading and hashing the file each time would be wasted work.
_verified: set[tuple[str, int, float]] = set()


def check_model(path: Path | None = None) -> Path:
    """The model file (default MODEL_FILE), verified; raises DetectorUnavailable when it is
    missing or damaged. A file verified before is not read again while it is unchanged."""
    path = path or MODEL_FILE
    try:
        st = path.stat()
        if (str(path), st.st_size, st.st_mtime) in _verified:
            return path
        data = path.read_bytes()
    except OSError as exc:
        raise DetectorUnavailable(
            f"the YuNet face detector model is missing ({path.name}: "
            f"{exc.strerror or exc}); reinstall facealbum"
        ) from exc
    if hashlib.sha256(data).hexdigest() != MODEL_SHA256:
        raise DetectorUnavailable(
            f"the YuNet face detector model {path.name} is damaged (its checksum does not "
            "match); reinstall facealbum"
        )
    _verified.add((str(path), st.st_size, st.st_mtime))
    return path


@dataclass(frozen=True)
class Detection:
    """One face as YuNet reports it, in pixels of the image it was given."""

    box: tuple[float, float, float, float]  # left, top, width, height
    # (5, 2): right eye, left eye, nose tip, right and left mouth corner (the person's
    # right, i.e. left in the image for a frontal face)
    landmarks: np.ndarray
    score: float


class YuNet:
    """Finds faces in RGB images; the network is built on the first call."""

    def __init__(self, model: Path | None = None) -> None:
        self._model = model
        self._net: cv2.FaceDetectorYN | None = None

    def load(self) -> None:
        """Build the network now rather than on the first image."""
        self._detector(BUILD_SIZE, BUILD_SIZE)

    def _detector(self, width: int, height: int) -> cv2.FaceDetectorYN:
        if self._net is None:
            path = check_model(self._model)
            # OpenCV 5 warns, on every load, that its new engine ignores a target nobody
            # chose: a line in the user's terminal that says nothing to them.
            try:
                with errors_only():
                    self._net = cv2.FaceDetectorYN.create(
                        str(path), "", (width, height), CANDIDATE_SCORE, NMS_IOU, TOP_K
                    )
            except cv2.error as exc:
                raise DetectorUnavailable(f"OpenCV cannot load the YuNet model: {exc}") from exc
        self._net.setInputSize((width, height))
        return self._net

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Faces of an (H, W, 3) RGB uint8 image, at the image's own size."""
        height, width = rgb.shape[:2]
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)  # several times quicker than a slice copy
        _, rows = self._detector(width, height).detect(bgr)
        if rows is None:
            return []
        return [
            Detection(
                box=(float(r[0]), float(r[1]), float(r[2]), float(r[3])),
                landmarks=np.asarray(r[4:14], dtype=np.float32).reshape(5, 2),
                score=float(r[14]),
            )
            for r in rows
        ]
