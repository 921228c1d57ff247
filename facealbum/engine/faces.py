"""Find faces in photos and encode them with dlib's models (face_recognition's encoding).

Encodings are the 128-d descriptors of ``face_recognition.face_encodings`` with its
defaults (5-point landmarks, no jitter), so Euclidean distances keep their usual
meaning: 0.6 is the default "same person" tolerance.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facealbum.config import DEFAULT_DETECTOR, DEFAULT_MIN_FACE_PX, DETECTORS
from facealbum.engine import models
from facealbum.engine.encoder import CHIP_SIZE, FaceEncoder, model_bytes
from facealbum.engine.images import LoadedImage, fingerprint, load_image, read_photo_bytes
from facealbum.model import ENCODING_DIM, Box, Face, PhotoAnalysis

# Detection runs on a grey copy whose long side is at most DETECT_SIDE, upsampled
# UPSAMPLE times by dlib. Chosen by bench/detect_resolution.py (results in
# bench/results/detect_resolution.json), CPU ms of decode + detect per photo against
# face_recognition's CLI (1600 px, colour, upsample 1) on the same photos:
#   scan benchmark, 300 12 MP photos (faces 180-1000 px): 1000/u1 colour 287 ms,
#   1000/u1 grey 211, 1600/u0 grey 178, 1400/u0 grey 147, 900/u1 grey 185,
#   800/u1 grey 155 against 960 for the CLI; on the unrotated photos all found every
#   true face the CLI found except 1200/u0 grey (3 missed; 1000/u1 boxed one face of
#   one photo off its centre, in colour and grey alike).
#   Smaller faces (composed crowds, 100-170 px; labelled photos): 1000/u1 grey found
#   55 of the CLI's 57 (the same as colour), 900/u1 51, 1600/u0 47, 1400/u0 33,
#   800/u1 42; on the labelled photos all found 60 of 61 (a 37 px face that
#   min_face_px drops anyway).
# Grey costs 0.74x colour and lost no face in any set; the smaller settings only win
# by losing small faces, so 1000/u1 grey: about 4.5x cheaper than the CLI.
# Grey belongs to this setting: at 1600/u1 it lost a faint 37 px face colour finds
# (allen_2.jpg), so an engine asked for another size or upsampling detects in colour.
DETECT_SIDE = 1000
UPSAMPLE = 1
GREY = True

CHIP_PADDING = 0.25  # the padding dlib's compute_face_descriptor uses by default

# YuNet's faces are aligned and encoded from the same 1000 px decode as HOG's (photos
# smaller than that at their own size). Measured by bench/yunet_study.py (bench/results/
# yunet_study.json), recall / CPU ms of detection per photo, HOG 1000/u1 grey in the same
# run: the hand-marked faces of faces/detection (37-90 px) 18/18 in 19 ms (HOG 18/18, 75);
# faces of 20-40 px composed on 500 px photos 1.00 (HOG 0.63); the labelled photos 0.98
# (HOG 0.98); 12 MP photos with faces of 20-880 px 0.54 in 84 ms (HOG 0.26 in 292).
YUNET_SIDE = 1000
# ...but YuNet itself looks at a copy of at most 640 px: its cost follows the pixels (78 ms
# at 1000 px, 31 at 640 on the study's 12 MP photos), and it finds faces from about 12 px
# of what it is given, so of a 12 MP photo it still sees every face of about 70 px and
# more, which is about 18 px in the 1000 px copy the encoder works from, little more than
# a face's encoding can name anyone by. bench/engine_steps.py, 640 against 1000 px on
# bench/detection.py's sets (hand-marked, groups, people, faces of 20-40 px on 500 px
# photos, 12 MP photos with faces of 40-800 px): the same faces found, none false; 0.85x
# the CPU of a whole 12 MP photo's analysis. (The study's 12 MP crowds: 30 of 37 faces of
# 60-100 px at 640, 35 at 1000.)
YUNET_INPUT_SIDE = 640
# A YuNet detection must score at least this to be looked at again: every real face of
# the development sets scored above 0.50 (1,745 detections at every input size); the
# dogs of faces/detection/dogs.jpg score up to 0.91, so the score alone cannot say.
YUNET_MIN_SCORE = 0.5
# The second look: YuNet asked again about the detection turned upright by dlib's
# landmarks, in small chips with the face a third of each (3 ms a chip). One chip was not
# enough: the dogs of faces/detection/dogs.jpg, resampled to 23 sizes (0.5-6x) at 2 JPEG
# qualities (123 detections), scored up to 0.835 at 128 px, while at 112 px they stayed
# under 0.65 and at both under 0.51. Every real face of the labelled, group and detection
# photos scored at least 0.83 at both sizes (the study's 1,745 real detections: at least
# 0.816 at 128 px).
SECOND_LOOK_SIZES = (112, 128)
SECOND_LOOK_PADDING = 1.0
SECOND_LOOK_MIN_SCORE = 0.8
# ...and the face seen there must be the one looked at: with this padding the chip shows
# the surroundings too, so a box on a chest passed on the real face above it (adams_1.jpg).
# Real faces sat within 0.35 face widths of the chip's centre (83 detections of the
# labelled, group and detection photos); that false one at 0.86.
SECOND_LOOK_MAX_OFFSET = 0.5
# dlib's 5-point shape predictor was trained on HOG's boxes: it gets HOG's box as YuNet's
# predicts it, a square of side YUNET_RECT_SCALE x YuNet's box width, centred
# YUNET_RECT_SHIFT of that side below YuNet's centre. On 86 faces both detectors found, the
# encodings sit a median 0.055 (90th percentile 0.097) from the HOG-based ones and all
# 1,326 same/different pairs are right at 0.6, as with HOG. Every rectangle tried had about
# that median; this one sits amid neighbours with no pair error, while the plain square
# around YuNet's box is one 5% step from rectangles that get 6-8 pairs wrong.
YUNET_RECT_SCALE = 1.09
YUNET_RECT_SHIFT = 0.074


# Shape predictors loaded ahead, by model file, in the process workers are forked from
# (worker_start.py): the first engine of each worker takes the one for its file instead
# of reading the file again (0.1 s); an engine given another file loads that one.
_preloaded_predictors: dict[str, Any] = {}


def preload_models() -> None:
    """Read the shape predictor and build the encoder's model (0.25 s) for the processes
    forked from this one later: the model stays in model_bytes' cache, the predictor here.
    Each worker makes its own YuNet network (milliseconds) and its own onnxruntime
    session: importing onnxruntime starts a thread, and this process must have one only."""
    import dlib

    predictor = str(models.model_path(models.SHAPE_PREDICTOR_5))
    _preloaded_predictors[predictor] = dlib.shape_predictor(predictor)
    model_bytes()


def usable_detector(detector: str) -> tuple[str, str | None]:
    """The detector to use for `detector`, and why it had to fall back (None when not):
    a missing or damaged YuNet model falls back to HOG, which needs no file of ours."""
    if detector != "yunet":
        return detector, None
    from facealbum.engine.yunet import DetectorUnavailable, check_model

    try:
        check_model()
    except DetectorUnavailable as e:
        return "hog", f"{e}; finding faces with HOG instead"
    return detector, None


class FaceEngine:
    """Detects, aligns and encodes faces; owns its dlib models, loaded on first use.

    Use one instance per thread or process and never share it: dlib's detector,
    shape predictor and encoder are not safe to call from two threads at once.
    """

    def __init__(
        self,
        detector: str = DEFAULT_DETECTOR,
        min_face_px: int = DEFAULT_MIN_FACE_PX,
        *,
        detect_side: int | None = None,
        input_side: int | None = None,
        upsample: int = UPSAMPLE,
        grey: bool | None = None,
        dlib_encoder: bool = False,
    ) -> None:
        if detector not in DETECTORS:
            raise ValueError(f"detector must be one of {tuple(DETECTORS)}, got {detector!r}")
        if detect_side is None:
            detect_side = YUNET_SIDE if detector == "yunet" else DETECT_SIDE
        if detect_side < 64 or upsample < 0:
            raise ValueError("detect_side must be at least 64 and upsample at least 0")
        self.detector = detector
        self.min_face_px = int(min_face_px)
        self.detect_side = int(detect_side)
        # The long side the detector itself looks at, at most (the faces are aligned and
        # encoded from the detect_side copy).
        if input_side is None:
            input_side = YUNET_INPUT_SIDE if detector == "yunet" else self.detect_side
        self.input_side = min(int(input_side), self.detect_side)
        self.upsample = int(upsample)
        if grey is None:  # grey was measured as good as colour at the default setting only
            grey = GREY and (self.detect_side, self.upsample) == (DETECT_SIDE, UPSAMPLE)
        self.grey = bool(grey)
        # dlib's own encoder: the same encodings several times slower (for comparisons).
        self.dlib_encoder = bool(dlib_encoder)
        self._detector: Any = None
        self._predictor: Any = None
        self._encoder: Any = None

    # -- public ------------------------------------------------------------------------

    def find_faces(self, image: LoadedImage) -> list[Face]:
        """Faces of a loaded photo, boxes normalised to the upright photo."""
        return self.find_faces_in_pixels(image.pixels, image.width, image.height)

    def find_faces_in_pixels(
        self,
        pixels: np.ndarray,
        full_width: int | None = None,
        full_height: int | None = None,
        *,
        upsample: int | None = None,
    ) -> list[Face]:
        """Faces in an upright RGB uint8 array (a camera frame, a dropped image).

        ``full_width``/``full_height`` give the size of the photo the pixels were
        reduced from, so ``size_px`` and ``min_face_px`` refer to the real photo.
        ``upsample`` overrides the engine's setting (0 is several times faster:
        right for a live 640x480 frame where faces are large).
        """
        rgb = _as_rgb(pixels)
        height, width = rgb.shape[:2]
        to_full = (full_width or width) / width  # full-resolution pixels per pixel of `rgb`
        located = self._located(rgb, to_full, upsample)
        if not located:
            return []
        chips = self._aligned_chips(rgb, [shape for _, _, shape in located])
        encodings = self._encode(chips)
        return [
            Face(
                box=_normalised(rect, width, height),
                score=float(score),
                size_px=round(rect.width() * to_full),
                sharpness=_sharpness(chip),
                encoding=encoding,
            )
            for (rect, score, _), chip, encoding in zip(located, chips, encodings, strict=True)
        ]

    def locate_faces(
        self, pixels: np.ndarray, *, upsample: int | None = None
    ) -> list[tuple[Box, float]]:
        """(box, score) of the faces find_faces_in_pixels() would encode, without encoding
        them (a fraction of the cost): the same size limit and, for YuNet, the same second
        look."""
        rgb = _as_rgb(pixels)
        height, width = rgb.shape[:2]
        return [
            (_normalised(rect, width, height), float(score))
            for rect, score, _ in self._located(rgb, 1.0, upsample)
        ]

    def _located(
        self, rgb: np.ndarray, to_full: float, upsample: int | None
    ) -> list[tuple[Any, float, Any]]:
        """(rectangle, score, dlib landmarks) of each face large enough to keep."""
        upsample = self.upsample if upsample is None else max(0, int(upsample))
        found = [
            (rect, score)
            for rect, score in self.detect(rgb, upsample)
            if rect.width() * to_full >= self.min_face_px
        ]
        if not found:
            return []
        shapes = self._shapes(rgb, [rect for rect, _ in found])
        located = [(rect, score, shape) for (rect, score), shape in zip(found, shapes, strict=True)]
        if self.detector == "yunet":
            located = [face for face in located if self._looks_like_a_face(rgb, face[2])]
        return located

    def analyse_file(self, path: str | Path, data: bytes | None = None) -> PhotoAnalysis:
        """Everything the library stores about one photo; raises ImageLoadError if unreadable.

        ``data``: the file's bytes when the caller has already read them.
        """
        if data is None:
            data = read_photo_bytes(path)
        try:
            stat = os.stat(path)
        except OSError:
            stat = None
        image = load_image(data, max_side=self.detect_side)
        faces = self.find_faces(image)
        return PhotoAnalysis(
            path=str(path),
            size=stat.st_size if stat else len(data),
            mtime=stat.st_mtime if stat else 0.0,
            fingerprint=fingerprint(data),
            width=image.width,
            height=image.height,
            taken_at=image.taken_at,
            faces=tuple(faces),
            detector=self.detector,
        )

    def detect(self, rgb: np.ndarray, upsample: int | None = None) -> list[tuple[Any, float]]:
        """(dlib.rectangle in ``rgb``'s pixels, score) of each face, before any filtering
        by size. Runs on a copy reduced to ``input_side`` when ``rgb`` is larger.
        ``upsample`` is HOG's and CNN's: YuNet finds small faces without it.
        """
        import dlib

        upsample = self.upsample if upsample is None else upsample
        height, width = rgb.shape[:2]
        shrink = min(1.0, self.input_side / max(width, height))
        small = rgb
        if shrink < 1.0:
            size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
            # Bilinear, not area averaging: 0.75 ms instead of 7.4 for 1000 -> 640 px, and
            # bench/detection.py found the same faces in every set, none false.
            small = cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR)
        if self.detector == "yunet":
            return self._detect_yunet(small, 1.0 / shrink, width, height)
        detector = self._load_detector()
        if self.grey and self.detector == "hog":
            small = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        if self.detector == "cnn":
            hits = [(d.rect, d.confidence) for d in detector(small, upsample)]
        else:
            rects, scores, _ = detector.run(small, upsample, 0.0)
            hits = list(zip(rects, scores, strict=True))
        grow = 1.0 / shrink
        out = []
        for rect, score in hits:
            left = max(0, round(rect.left() * grow))
            top = max(0, round(rect.top() * grow))
            right = min(width - 1, round((rect.right() + 1) * grow) - 1)
            bottom = min(height - 1, round((rect.bottom() + 1) * grow) - 1)
            if right > left and bottom > top:
                out.append((dlib.rectangle(left, top, right, bottom), float(score)))
        return out

    def _detect_yunet(
        self, small: np.ndarray, grow: float, width: int, height: int
    ) -> list[tuple[Any, float]]:
        """YuNet's faces as the square rectangles dlib's shape predictor expects."""
        import dlib

        out = []
        for found in self._load_detector().detect(small):
            if found.score < YUNET_MIN_SCORE:
                continue
            left, top, w, h = found.box
            side = YUNET_RECT_SCALE * w * grow
            cx = (left + w / 2) * grow
            cy = (top + h / 2) * grow + YUNET_RECT_SHIFT * side
            rect = dlib.rectangle(
                max(0, round(cx - side / 2)),
                max(0, round(cy - side / 2)),
                min(width - 1, round(cx + side / 2) - 1),
                min(height - 1, round(cy + side / 2) - 1),
            )
            if rect.right() > rect.left() and rect.bottom() > rect.top():
                out.append((rect, found.score))
        return out

    # -- models ------------------------------------------------------------------------

    def load_models(self) -> None:
        """Load every model now instead of on first use; raises ModelsNotFoundError,
        DetectorUnavailable or EncoderUnavailable when one cannot be loaded."""
        detector = self._load_detector()
        if self.detector == "yunet":
            detector.load()
        self._load_encoder()

    def _load_detector(self) -> Any:
        if self._detector is None:
            import dlib

            if self.detector == "yunet":
                from facealbum.engine.yunet import YuNet

                self._detector = YuNet()
            elif self.detector == "cnn":
                path = models.model_path(models.CNN_FACE_DETECTOR)
                self._detector = dlib.cnn_face_detection_model_v1(str(path))
            else:
                self._detector = dlib.get_frontal_face_detector()
        return self._detector

    def _load_encoder(self) -> tuple[Any, Any]:
        if self._encoder is None:
            import dlib

            predictor = models.model_path(models.SHAPE_PREDICTOR_5)
            encoder = models.model_path(models.FACE_RECOGNITION_MODEL)
            # A preloaded predictor is handed to one engine only: dlib's objects are not
            # shared between engines.
            self._predictor = _preloaded_predictors.pop(
                str(predictor), None
            ) or dlib.shape_predictor(str(predictor))
            if self.dlib_encoder:
                self._encoder = dlib.face_recognition_model_v1(str(encoder))
            else:
                self._encoder = FaceEncoder(encoder)
        return self._predictor, self._encoder

    def _shapes(self, rgb: np.ndarray, rects: list[Any]) -> list[Any]:
        """dlib's 5 landmarks of each face."""
        predictor, _ = self._load_encoder()
        return [predictor(rgb, rect) for rect in rects]

    def _aligned_chips(self, rgb: np.ndarray, shapes: list[Any]) -> list[np.ndarray]:
        import dlib

        return [
            dlib.get_face_chip(rgb, shape, size=CHIP_SIZE, padding=CHIP_PADDING) for shape in shapes
        ]

    def _looks_like_a_face(self, rgb: np.ndarray, shape: Any) -> bool:
        """YuNet's second look at a detection, turned upright by dlib's landmarks: a face
        at the centre of every chip size."""
        return all(self._second_look(rgb, shape, size) for size in SECOND_LOOK_SIZES)

    def _second_look(self, rgb: np.ndarray, shape: Any, size: int) -> bool:
        import dlib

        chip = dlib.get_face_chip(rgb, shape, size=size, padding=SECOND_LOOK_PADDING)
        face_side = size / (1 + 2 * SECOND_LOOK_PADDING)
        centre = size / 2

        def off_centre(box: tuple[float, float, float, float]) -> float:
            left, top, width, height = box
            return max(abs(left + width / 2 - centre), abs(top + height / 2 - centre))

        scores = [
            d.score
            for d in self._load_detector().detect(chip)
            if off_centre(d.box) <= SECOND_LOOK_MAX_OFFSET * face_side
        ]
        return max(scores, default=0.0) >= SECOND_LOOK_MIN_SCORE

    def _encode(self, chips: list[np.ndarray]) -> list[np.ndarray]:
        _, encoder = self._load_encoder()
        if not self.dlib_encoder:
            return list(encoder.encode(chips))
        # One batched call on the aligned chips: the same descriptors as
        # compute_face_descriptor(image, shape), which aligns identically.
        descriptors = encoder.compute_face_descriptor(chips, 0)
        return [np.asarray(d, dtype=np.float32).reshape(ENCODING_DIM) for d in descriptors]


def _as_rgb(pixels: np.ndarray) -> np.ndarray:
    array = np.asarray(pixels)
    if array.dtype != np.uint8:
        raise ValueError(f"pixels must be uint8, got {array.dtype}")
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    if array.ndim != 3 or array.shape[2] != 3 or min(array.shape[:2]) < 1:
        raise ValueError(f"pixels must be an (H, W, 3) RGB array, got shape {array.shape}")
    return np.ascontiguousarray(array)


def _normalised(rect: Any, width: int, height: int) -> Box:
    def clamp(value: float) -> float:
        return min(1.0, max(0.0, value))

    return Box(
        left=clamp(rect.left() / width),
        top=clamp(rect.top() / height),
        right=clamp((rect.right() + 1) / width),
        bottom=clamp((rect.bottom() + 1) / height),
    )


def _sharpness(chip: np.ndarray) -> float:
    """Variance of the Laplacian of the grey chip: low for blurred or out-of-focus faces."""
    grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())
