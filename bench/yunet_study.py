"""How facealbum should run YuNet (issue 8): measurements for the engine's constants.

1. mapping: which dlib.rectangle, made from a YuNet detection (box and/or its five
   landmarks), lets dlib's 5-point shape predictor (trained on HOG's boxes) give the
   encoding closest to the HOG-based one. For every face both detectors find in the
   labelled photos (and in 12 MP photos composed from them): median / p90 encoding
   distance to the HOG-based encoding, and pair accuracy at 0.6 against HOG's.
   Alignment and encoding are FaceEngine's own (_shapes, _aligned_chips, _encode).
2. detection: recall (IoU >= 0.3) and false detections per photo for YuNet at several
   input long sides, pyramids and tiles, at score thresholds 0.5..0.9 and minimum
   face sizes, on the hand-marked detection photos, 500 px photos with 18-45 px faces,
   the labelled photos and composed 12 MP photos (faces 20-1000 px); CPU and wall ms
   per photo (decode excluded, reported apart) against HOG at today's setting
   (FaceEngine.detect: 1000 px grey, upsample 1), in the same run, jobs shuffled
   photo by photo.
3. non_faces: YuNet's scores on dogs.jpg and noise.jpg at each input size, and which
   signals (score, landmark geometry, dlib encoding, sharpness, shape predictor fit)
   separate the dogs and other false detections from every real face; candidate rules
   with their margins.

    python bench/yunet_study.py [--quick] [--faces DIR] [--model FILE]

One thread for OpenCV and BLAS, as in a scan worker. Writes bench/results/yunet_study.json.
"""

from __future__ import annotations

import os

# A scan worker's BLAS threads (facealbum/engine/pool.py); read when numpy is imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import detect_resolution as dr  # noqa: E402  (12 MP composition helpers)

from facealbum.engine.faces import FaceEngine  # noqa: E402
from facealbum.engine.images import load_image  # noqa: E402
from facealbum.engine.quality import MIN_GROUP_FACE_PX, MIN_GROUP_SHARPNESS  # noqa: E402

RESULTS = REPO / "bench" / "results" / "yunet_study.json"
DEFAULT_FACES = Path(os.environ.get("FACEALBUM_TEST_FACES", REPO.parent / "shared" / "faces"))
DEFAULT_MODEL = REPO.parent / "shared" / "models" / "yunet" / "face_detection_yunet_2023mar.onnx"

# The baseline: FaceEngine's HOG as it detected before issue 8 (1000 px grey, upsample 1).
DETECT_SIDE = 1000
HOG_TODAY = {"detector": "hog", "detect_side": DETECT_SIDE, "upsample": 1, "grey": True}
CANDIDATE_SCORE = 0.3  # everything above is kept; thresholds are applied afterwards
NMS_IOU = 0.3
TOP_K = 5000
IOU_MATCH = 0.3
TOLERANCE = 0.6  # face_recognition's "same person" distance
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
MIN_SIZES = (0, 12, 16, 20, 24, 32, 40)  # detection width, pixels of the full photo
SIZE_BINS = (0, 25, 32, 40, 60, 100, 200, 400, 10_000)  # truth width, full-photo pixels
WHOLE_SIDES = (320, 640, 960, 1000, 1280, 1600, 2000)
QUICK_SIDES = (640, 1000)
SIDE_CAP = 2000  # "own" and "x2" never exceed this
DECODE_SIDES = (640, 1000, 1280, 1600, 2000, None)
TILE, TILE_OVERLAP = 640, 160
# The blurred crowd behind Paul Allen: heads too blurred to be anyone. Detections (and
# HOG truth) centred there count neither as found nor as false. Normalised l, t, r, b.
IGNORE_ZONES = {
    "people/paul_allen/allen_2.jpg": [(0.0, 0.55, 0.35, 0.85), (0.6, 0.52, 1.0, 0.85)],
}
LAYOUTS_12MP = {
    # kind: (faces, smallest and largest face width in pixels of the 4000 px photo)
    "portrait": (1, 450, 1000),
    "couple": (2, 250, 450),
    "group": (6, 100, 260),
    "crowd": (12, 40, 100),
    "far": (15, 20, 40),
}
QUICK_LAYOUTS = {k: LAYOUTS_12MP[k] for k in ("portrait", "group", "far")}
LAYOUTS_MAPPING = {"portrait": (1, 450, 1000), "couple": (2, 250, 450), "group": (6, 150, 260)}


# -- small helpers ---------------------------------------------------------------------------


class Clock:
    """CPU (process time, all threads) and wall milliseconds of a block."""

    def __enter__(self) -> Clock:
        self._cpu, self._wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu = (time.process_time() - self._cpu) * 1e3
        self.wall = (time.perf_counter() - self._wall) * 1e3


def pct(values: Any, q: float) -> float:
    values = np.asarray(values, dtype=float)
    return round(float(np.percentile(values, q)), 4) if values.size else float("nan")


def ltrb(rows: np.ndarray) -> np.ndarray:
    """(N, 4) left, top, right, bottom from YuNet rows (x, y, w, h, ...)."""
    rows = np.asarray(rows, dtype=float).reshape(-1, 15)
    return np.stack([rows[:, 0], rows[:, 1], rows[:, 0] + rows[:, 2], rows[:, 1] + rows[:, 3]], 1)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    ix = np.clip(
        np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None
    )  # noqa: E501
    iy = np.clip(
        np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None
    )  # noqa: E501
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def match(found: np.ndarray, truth: np.ndarray, threshold: float = IOU_MATCH) -> dict[int, int]:
    """found index -> truth index, one to one, best overlaps first."""
    ious = iou_matrix(found, truth)
    pairs = sorted(((ious[i, j], i, j) for i in range(ious.shape[0]) for j in range(ious.shape[1])
                    if ious[i, j] >= threshold), reverse=True)  # fmt: skip
    out: dict[int, int] = {}
    for _, i, j in pairs:
        if i not in out and j not in out.values():
            out[i] = j
    return out


def nms(rows: np.ndarray, threshold: float = NMS_IOU) -> np.ndarray:
    """Greedy non-maximum suppression on normalised YuNet rows (IoU is scale-free)."""
    if len(rows) == 0:
        return rows
    rows = rows[np.argsort(-rows[:, 14])]
    ious = iou_matrix(ltrb(rows), ltrb(rows))
    keep: list[int] = []
    for i in range(len(rows)):
        if all(ious[i, k] <= threshold for k in keep):
            keep.append(i)
    return rows[keep]


def scale_rows(rows: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """YuNet rows with x coordinates times sx and y coordinates times sy."""
    out = np.array(rows, dtype=float).reshape(-1, 15)
    out[:, [0, 2, 4, 6, 8, 10, 12]] *= sx
    out[:, [1, 3, 5, 7, 9, 11, 13]] *= sy
    return out


def resized(rgb: np.ndarray, long_side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if max(h, w) == long_side:
        return rgb
    f = long_side / max(h, w)
    size = (max(1, round(w * f)), max(1, round(h * f)))
    interp = cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR
    return cv2.resize(rgb, size, interpolation=interp)


class YuNet:
    """cv2.FaceDetectorYN at a low candidate score; rows in pixels of the image given."""

    def __init__(self, model: Path) -> None:
        self.net = cv2.FaceDetectorYN.create(
            str(model), "", (320, 320), CANDIDATE_SCORE, NMS_IOU, TOP_K
        )

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        self.net.setInputSize((w, h))
        _, rows = self.net.detect(np.ascontiguousarray(rgb[:, :, ::-1]))
        return np.zeros((0, 15)) if rows is None else rows.astype(float)


def square(cx: float, cy: float, side: float) -> Any:
    import dlib

    n = max(1, round(side))
    left, top = round(cx - n / 2), round(cy - n / 2)
    return dlib.rectangle(left, top, left + n - 1, top + n - 1)


# -- photos ----------------------------------------------------------------------------------


@dataclass
class Photo:
    name: str
    data: bytes
    width: int
    height: int
    truth: np.ndarray  # (n, 4) normalised left, top, right, bottom
    kind: str = "faces"  # "faces", "dogs" or "noise"
    names: list[str] = field(default_factory=list)  # labels.csv identities
    identities: list[str | None] = field(default_factory=list)  # per truth box, when known
    ignore: list[tuple[float, float, float, float]] = field(default_factory=list)

    @property
    def own(self) -> int:
        return max(self.width, self.height)

    def truth_px(self) -> np.ndarray:
        return (self.truth[:, 2] - self.truth[:, 0]) * self.width

    def ignored(self, boxes: np.ndarray) -> np.ndarray:
        """Which boxes are centred in an ignore zone."""
        cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        out = np.zeros(len(boxes), bool)
        for z in self.ignore:
            out |= (cx >= z[0]) & (cx <= z[2]) & (cy >= z[1]) & (cy <= z[3])
        return out


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def labels(faces_dir: Path) -> dict[str, list[str]]:
    with open(faces_dir / "labels.csv", newline="", encoding="utf-8") as f:
        return {r["path"]: [i for i in r["identities"].split(";") if i] for r in csv.DictReader(f)}


def detection_photos(faces_dir: Path) -> list[Photo]:
    """The hand-marked photos (boxes.csv, pixels of the file as stored)."""
    boxes: dict[str, list[list[float]]] = {}
    ignore: dict[str, list[list[float]]] = {}
    with open(faces_dir / "detection" / "boxes.csv", newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            box = [float(r["left"]), float(r["top"]), float(r["width"]), float(r["height"])]
            (ignore if r["ignore"] == "1" else boxes).setdefault(r["file"], []).append(box)
    photos = []
    for name in sorted(boxes):
        data = (faces_dir / "detection" / name).read_bytes()
        image = load_image(data)
        w, h = image.width, image.height

        def norm(b: list[float], w: int = w, h: int = h) -> tuple[float, float, float, float]:
            return (b[0] / w, b[1] / h, (b[0] + b[2]) / w, (b[1] + b[3]) / h)

        photos.append(Photo(f"detection/{name}", data, w, h,
                            np.array([norm(b) for b in boxes[name]]),
                            ignore=[norm(b) for b in ignore.get(name, [])]))  # fmt: skip
    return photos


def mosaic_500(detection: list[Photo]) -> Photo:
    """The four hand-marked photos at about half size in one 500x376 photo: faces 18-45 px."""
    cell_w, cell_h = 250, 188
    canvas = Image.new("RGB", (2 * cell_w, 2 * cell_h), (118, 118, 118))
    truth = []
    for k, photo in enumerate(detection[:4]):
        im = Image.fromarray(load_image(photo.data).pixels)
        f = min(cell_w / im.width, cell_h / im.height)
        im = im.resize((round(im.width * f), round(im.height * f)), Image.Resampling.LANCZOS)
        x0 = (k % 2) * cell_w + (cell_w - im.width) // 2
        y0 = (k // 2) * cell_h + (cell_h - im.height) // 2
        canvas.paste(im, (x0, y0))
        for b in photo.truth:
            truth.append((
                (x0 + b[0] * im.width) / canvas.width, (y0 + b[1] * im.height) / canvas.height,
                (x0 + b[2] * im.width) / canvas.width, (y0 + b[3] * im.height) / canvas.height,
            ))  # fmt: skip
    return Photo("mosaic_500/detection_half.jpg", jpeg(canvas), canvas.width, canvas.height,
                 np.array(truth))  # fmt: skip


def identified_sources(faces_dir: Path, every: int = 1) -> list[tuple[str, dr.Source]]:
    """(person, head-and-shoulders crop) of each people/ photo with one HOG face, as
    detect_resolution.face_sources makes them, with the person's name kept."""
    import dlib

    detector = dlib.get_frontal_face_detector()
    out = []
    for path in sorted((faces_dir / "people").glob("*/*"))[::every]:
        image = load_image(path, max_side=1600)
        rects = detector(image.pixels, 1)
        if len(rects) != 1:
            continue
        r, w = rects[0], rects[0].width()
        h, wd = image.pixels.shape[:2]
        box = (max(0, r.left() - w), max(0, r.top() - w), min(wd, r.right() + w),
               min(h, r.bottom() + int(1.5 * w)))  # fmt: skip
        crop = Image.fromarray(image.pixels).crop(box)
        face = (r.left() - box[0], r.top() - box[1], r.right() - box[0], r.bottom() - box[1])
        out.append((path.parent.name, dr.Source(crop, face)))
    return out


def compose_12mp(faces_dir: Path, sources: list, layouts: dict, per_kind: int,
                 seed: int) -> list[Photo]:  # fmt: skip
    """12 MP photos on detect_resolution's face-free scene, faces placed on a grid."""
    rng = random.Random(seed)
    photos = []
    for kind, (count, small, large) in layouts.items():
        for i in range(per_kind):
            canvas = dr.background(faces_dir, rng)
            cols = min(count, 5)
            rows = (count + cols - 1) // cols
            truth, who = [], []
            for k in range(count):
                name, src = rng.choice(sources)
                face_px = rng.randint(small, large)
                cx = int(dr.CANVAS[0] * (k % cols + 0.5) / cols + rng.uniform(-60, 60))
                cy = int(dr.CANVAS[1] * (k // cols + 0.5) / (rows + 0.3) + rng.uniform(-60, 60))
                truth.append(dr.paste_face(canvas, src, face_px, (cx, cy)))
                who.append(name)
            photos.append(Photo(f"composed_12mp/{kind}_{i}.jpg", jpeg(canvas), *dr.CANVAS,
                                np.array(truth), identities=who))  # fmt: skip
    return photos


def small_scene(faces_dir: Path, rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """A face-free scene: a real photo shrunk to 12x9 pixels, enlarged, with grain."""
    source = rng.choice(sorted((faces_dir / "people").glob("*/*")))
    tiny = Image.fromarray(load_image(source, max_side=64).pixels).resize((12, 9))
    smooth = np.asarray(tiny.resize(size, Image.Resampling.BICUBIC), dtype=float)
    grain = np.random.default_rng(rng.randrange(1 << 30)).normal(0, 4, smooth.shape)
    return Image.fromarray(np.clip(smooth + grain, 0, 255).astype(np.uint8))


def compose_500(faces_dir: Path, sources: list, count: int, seed: int) -> list[Photo]:
    """500x375 photos, each with 8 faces of 20-40 px (HOG-box width) on a plain scene."""
    rng = random.Random(seed)
    photos = []
    for i in range(count):
        canvas = small_scene(faces_dir, rng, (500, 375))
        truth, who = [], []
        for k in range(8):
            name, src = rng.choice(sources)
            face_px = rng.randint(20, 40)
            cx = int(500 * (k % 4 + 0.5) / 4 + rng.uniform(-15, 15))
            cy = int(375 * (k // 4 + 0.5) / 2 + rng.uniform(-15, 15))
            truth.append(dr.paste_face(canvas, src, face_px, (cx, cy)))
            who.append(name)
        photos.append(Photo(f"composed_500/faces_20_40_{i}.jpg", jpeg(canvas), 500, 375,
                            np.array(truth), identities=who))  # fmt: skip
    return photos


def labelled_photos(faces_dir: Path, every: int = 1) -> list[Photo]:
    """Every labelled photo with faces; truth = HOG 1600 px upsample 1 (as labels.csv)."""
    import dlib

    detector = dlib.get_frontal_face_detector()
    photos = []
    for path, names in list(labels(faces_dir).items())[::every]:
        if path.startswith("no_faces/"):
            continue
        data = (faces_dir / path).read_bytes()
        image = load_image(data, max_side=1600)
        h, w = image.pixels.shape[:2]
        truth = np.array([[r.left() / w, r.top() / h, (r.right() + 1) / w, (r.bottom() + 1) / h]
                          for r in detector(image.pixels, 1)]).reshape(-1, 4)  # fmt: skip
        photos.append(Photo(path, data, image.width, image.height, truth, names=names,
                            ignore=IGNORE_ZONES.get(path, [])))  # fmt: skip
    return photos


def non_face_photos(faces_dir: Path) -> list[Photo]:
    out = []
    for path, kind in (("detection/dogs.jpg", "dogs"), ("no_faces/noise.jpg", "noise")):
        data = (faces_dir / path).read_bytes()
        image = load_image(data)
        out.append(Photo(path, data, image.width, image.height, np.zeros((0, 4)), kind=kind))
    return out


# -- 1. the rectangle for dlib's shape predictor ----------------------------------------------

RectFn = Callable[[np.ndarray], tuple[float, float, float]]  # YuNet row -> cx, cy, side
PLAIN = "plain max(w,h)"
FIT_BOX = "fit box w (median geometry)"
FIT_LANDMARKS = "fit landmarks (median geometry)"
# The rectangle recommended (and used for the signals of part 3): HOG's own box as YuNet's
# box predicts it (side = median HOG side / YuNet width, centre moved down by the median
# offset). Every rectangle is as close to HOG in the median (paired differences ~0), so
# the choice is by robustness: the plain square sits one 5% step from rectangles that
# break the shape predictor (pair errors), HOG's geometry in the middle of a flat region.
RECOMMENDED_RECT = FIT_BOX


def box_square(base: str, s: float, dy: float) -> RectFn:
    """Square of side s * (max(w, h) or w) on YuNet's box centre, moved down dy * side."""

    def rect(d: np.ndarray) -> tuple[float, float, float]:
        x, y, w, h = d[:4]
        side = s * (max(w, h) if base == "max" else w)
        return x + w / 2, y + h / 2 + dy * side, side

    return rect


def landmark_square(t: float, k: float) -> RectFn:
    """Square from the landmarks: centre E + t (M - E) (E, M: mid-eyes, mid-mouth), side
    k * (eye distance + eye-to-mouth distance) / 2."""

    def rect(d: np.ndarray) -> tuple[float, float, float]:
        pts = d[4:14].reshape(5, 2)
        eyes, mouth = (pts[0] + pts[1]) / 2, (pts[3] + pts[4]) / 2
        de, dm = np.linalg.norm(pts[1] - pts[0]), np.linalg.norm(mouth - eyes)
        c = eyes + t * (mouth - eyes)
        return float(c[0]), float(c[1]), k * (de + dm) / 2

    return rect


def landmark_parts(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    pts = d[4:14].reshape(5, 2)
    eyes, mouth = (pts[0] + pts[1]) / 2, (pts[3] + pts[4]) / 2
    return eyes, mouth, float(np.linalg.norm(pts[1] - pts[0])), float(np.linalg.norm(mouth - eyes))


Grid = dict[str, dict[tuple[int, int], str]]  # family -> (row, column) -> candidate name


def candidates(quick: bool, geometry: dict) -> tuple[dict[str, RectFn], Grid]:
    """The rectangles tried, and where each grid one sits in its family's grid."""
    out: dict[str, RectFn] = {PLAIN: box_square("max", 1.0, 0.0)}
    g = geometry
    out[FIT_BOX] = box_square("w", g["side_per_w"], g["dy_per_side"])
    out[FIT_LANDMARKS] = landmark_square(g["t"], g["side_per_lm"])
    grid: Grid = {"max(w,h)": {}, "w": {}, "landmarks": {}}
    step_s, step_dy = (0.2, 0.15) if quick else (0.05, 0.05)
    for i, s in enumerate(np.arange(0.8, 1.2001, step_s)):
        for j, dy in enumerate(np.arange(-0.15, 0.1501, step_dy)):
            name = grid["max(w,h)"][i, j] = f"max(w,h) s={s:.2f} dy={dy:+.2f}"
            out[name] = box_square("max", s, dy)
    for i, s in enumerate(np.arange(0.9, 1.3001, step_s)):
        for j, dy in enumerate(np.arange(-0.05, 0.2001, 0.1 if quick else step_dy)):
            name = grid["w"][i, j] = f"w s={s:.2f} dy={dy:+.2f}"
            out[name] = box_square("w", s, dy)
    ts = (0.3, 0.5, 0.7) if quick else (0.3, 0.4, 0.5, 0.6, 0.7)
    ks = (2.4,) if quick else (2.1, 2.2, 2.3, 2.4, 2.5, 2.6, 2.7)
    for i, t in enumerate(ts):
        for j, k in enumerate(ks):
            name = grid["landmarks"][i, j] = f"landmarks t={t:.1f} k={k:.1f}"
            out[name] = landmark_square(t, k)
    return out, grid


def neighbourhoods(grid: Grid, rows: dict[str, dict]) -> list[dict]:
    """Each grid rectangle with the worst of its 3x3 neighbourhood (the rectangle moved one
    step in scale and/or shift): a choice in a flat, error-free region survives the boxes
    YuNet gives other photos; one beside a cliff does not."""
    out = []
    for points in grid.values():
        for (i, j), name in points.items():
            near = [points.get((i + a, j + b)) for a in (-1, 0, 1) for b in (-1, 0, 1)]
            if None in near:
                continue  # on the edge of the grid: its neighbourhood is not all known
            near_rows = [rows[n] for n in near]
            out.append({
                "rectangle": name,
                "neighbourhood_pair_errors": sum(sum(r["pair_errors"])
                                                 + sum(r["pair_errors_vs_hog_library"])
                                                 for r in near_rows),
                "neighbourhood_worst_p90": max(r["both_p90"] for r in near_rows),
                "neighbourhood_worst_max": max(max(r["max"], r["max_at_640"])
                                               for r in near_rows),
                "both_median": rows[name]["both_median"], "both_p90": rows[name]["both_p90"],
            })  # fmt: skip
    out.sort(key=lambda r: (r["neighbourhood_pair_errors"], r["neighbourhood_worst_p90"]))
    return out


@dataclass
class MapFace:
    photo: str
    group: str  # "labelled" or "composed"
    rgb: np.ndarray
    hog: Any  # dlib.rectangle
    det: np.ndarray  # YuNet row at the image's own size, pixels of rgb
    det640: np.ndarray | None  # the same face found with a 640 px input, pixels of rgb
    identity: str | None = None
    hog_encoding: np.ndarray | None = None


def mapping_faces(
    photos: list[Photo], group: str, engine: FaceEngine, yunet: YuNet
) -> list[MapFace]:  # noqa: E501
    """Faces found by both HOG (FaceEngine.detect) and YuNet, on the production decode."""
    out = []
    for photo in photos:
        rgb = load_image(photo.data, max_side=DETECT_SIDE).pixels
        h, w = rgb.shape[:2]
        hog = [r for r, _ in engine.detect(rgb)]
        if not hog:
            continue
        hog_boxes = np.array([[r.left(), r.top(), r.right() + 1, r.bottom() + 1] for r in hog])
        own = yunet(rgb)
        small = resized(rgb, 640) if max(w, h) > 640 else rgb
        at640 = scale_rows(yunet(small), w / small.shape[1], h / small.shape[0])
        pairs = match(ltrb(own), hog_boxes)
        pairs640 = {j: i for i, j in match(ltrb(at640), hog_boxes).items()}
        for i, j in pairs.items():
            who = None
            if photo.identities:
                k = match(hog_boxes[j : j + 1] / [w, h, w, h], photo.truth)
                who = photo.identities[k[0]] if k else None
            out.append(MapFace(photo.name, group, rgb, hog[j], own[i],
                               at640[pairs640[j]] if j in pairs640 else None, who))  # fmt: skip
    return out


def encode_rects(engine: FaceEngine, rgb: np.ndarray, rects: list) -> np.ndarray:
    return np.array(engine._encode(aligned_chips(engine, rgb, rects)))


def aligned_chips(engine: FaceEngine, rgb: np.ndarray, rects: list) -> list[np.ndarray]:
    """FaceEngine's own aligned chips for these rectangles (its landmarks step, when it has
    one of its own, then its alignment)."""
    if hasattr(engine, "_shapes"):
        return engine._aligned_chips(rgb, engine._shapes(rgb, rects))
    return engine._aligned_chips(rgb, rects)


def name_faces(faces: list[MapFace], photos: list[Photo]) -> None:
    """Labelled identities: a one-face photo's face is its person; in a group photo, each
    listed person with photos of their own takes the nearest face (HOG encodings); the
    others ('?' and people without a folder) stay unnamed or get the rest by position."""
    names = {p.name: p.names for p in photos}
    by_photo: dict[str, list[MapFace]] = {}
    for f in faces:
        by_photo.setdefault(f.photo, []).append(f)
    seen: dict[str, list[np.ndarray]] = {}
    for photo, found in by_photo.items():
        listed = names.get(photo, [])
        if len(found) == 1 and len(listed) == 1 and listed[0] != "?":
            found[0].identity = listed[0]
            seen.setdefault(listed[0], []).append(found[0].hog_encoding)
    centroid = {n: np.mean(v, axis=0) for n, v in seen.items()}
    for photo, found in by_photo.items():
        if len(found) == 1 and found[0].identity:
            continue
        listed = names.get(photo, [])
        known = [n for n in listed if n in centroid]
        for _, i, n in sorted((float(np.linalg.norm(f.hog_encoding - centroid[n])), i, n)
                              for i, f in enumerate(found) for n in known):  # fmt: skip
            if found[i].identity is None and n not in [f.identity for f in found]:
                found[i].identity = n
        rest = [n for n in listed if n not in centroid and n != "?"]
        for f in found:  # people without a folder: each appears once, any order will do
            if f.identity is None and rest:
                f.identity = rest.pop(0)


def pair_accuracy(enc: np.ndarray, ids: list[str], other: np.ndarray | None = None) -> dict:
    """Same/different at TOLERANCE for every pair; with ``other``, enc[i] against other[j]
    (a face found now against a library encoded with HOG), i != j."""
    enc = np.asarray(enc)
    ref = enc if other is None else np.asarray(other)
    d = np.linalg.norm(enc[:, None, :] - ref[None, :, :], axis=2)
    same = np.array(ids)[:, None] == np.array(ids)[None, :]
    n = len(ids)
    mask = np.triu(np.ones((n, n), bool), 1) if other is None else ~np.eye(n, dtype=bool)
    said_same = d <= TOLERANCE
    right = (said_same == same)[mask]
    # Closer to the edge than accuracy: the worst pairs on each side of the tolerance, and
    # whether each face's nearest other face is its own person (faces with a second photo).
    others = np.where(np.eye(n, dtype=bool), np.inf, d)
    nearest = np.argmin(others, axis=1)
    has_twin = (same & ~np.eye(n, dtype=bool)).any(axis=1)
    return {"pairs": int(mask.sum()), "accuracy": round(float(right.mean()), 5),
            "false_same": int((said_same & ~same)[mask].sum()),
            "false_different": int((~said_same & same)[mask].sum()),
            "max_same": round(float(d[mask & same].max()), 4),
            "mean_same": round(float(d[mask & same].mean()), 4),
            "min_different": round(float(d[mask & ~same].min()), 4),
            "nearest_is_same": round(float(same[np.arange(n), nearest][has_twin].mean()), 4),
            }  # fmt: skip


def geometry(faces: list[MapFace]) -> dict:
    """Median relation of HOG's box to YuNet's box and landmarks (labelled faces)."""
    side_w, dy_side, t, side_lm = [], [], [], []
    for f in faces:
        r, d = f.hog, f.det
        side = r.width()
        cx, cy = (r.left() + r.right() + 1) / 2, (r.top() + r.bottom() + 1) / 2
        side_w.append(side / d[2])
        dy_side.append((cy - (d[1] + d[3] / 2)) / side)
        eyes, mouth, de, dm = landmark_parts(d)
        axis = mouth - eyes
        t.append(float((np.array([cx, cy]) - eyes) @ axis / (axis @ axis)))
        side_lm.append(side / ((de + dm) / 2))
    return {"side_per_w": float(np.median(side_w)), "dy_per_side": float(np.median(dy_side)),
            "t": float(np.median(t)), "side_per_lm": float(np.median(side_lm)),
            "spread_log_side_per_w": float(np.std(np.log(side_w))),
            "spread_log_side_per_lm": float(np.std(np.log(side_lm))),
            "spread_log_side_per_maxwh": float(np.std(np.log(
                [f.hog.width() / max(f.det[2], f.det[3]) for f in faces])))}  # fmt: skip


def study_mapping(faces_dir: Path, engine: FaceEngine, yunet: YuNet, labelled: list[Photo],
                  sources: list, quick: bool) -> tuple[dict, RectFn, str, np.ndarray]:  # fmt: skip
    lab = mapping_faces([p for p in labelled if p.name.startswith(("people/", "groups/"))],
                        "labelled", engine, yunet)  # fmt: skip
    composed = [] if quick else compose_12mp(faces_dir, sources, LAYOUTS_MAPPING, 3, seed=11)
    comp = mapping_faces(composed, "composed", engine, yunet)
    faces = lab + comp
    for f in faces:
        f.hog_encoding = encode_rects(engine, f.rgb, [f.hog])[0]
    name_faces(lab, labelled)
    geo = geometry(lab)
    cands, grid = candidates(quick, geo)
    names = list(cands)
    dist = np.zeros((len(faces), len(names)))
    dist640 = np.full((len(faces), len(names)), np.nan)  # YuNet at 640 px input, same faces
    encs = np.zeros((len(faces), len(names), 128), np.float32)
    started = time.monotonic()
    for i, f in enumerate(faces):
        rects = [square(*cands[n](f.det)) for n in names]
        encs[i] = encode_rects(engine, f.rgb, rects)
        dist[i] = np.linalg.norm(encs[i] - f.hog_encoding, axis=1)
        if f.det640 is not None:
            e640 = encode_rects(engine, f.rgb, [square(*cands[n](f.det640)) for n in names])
            dist640[i] = np.linalg.norm(e640 - f.hog_encoding, axis=1)
    print(f"mapping: {len(faces)} faces x {len(names)} rectangles x 2 input sizes "
          f"in {time.monotonic() - started:.0f} s", flush=True)  # fmt: skip
    is_lab = np.array([f.group == "labelled" for f in faces])
    has640 = ~np.isnan(dist640[:, 0])
    known = [i for i, f in enumerate(faces) if f.group == "labelled" and f.identity]
    ids = [faces[i].identity for i in known]
    hog_enc = np.array([faces[i].hog_encoding for i in known])
    result: dict[str, Any] = {
        "what": "encoding distance of a YuNet-derived rectangle's encoding to the HOG-based "
        "one (FaceEngine.detect on the 1000 px decode), faces found by both, with YuNet run at "
        "the image's own size and at 640 px; pair accuracy same/different at "
        f"{TOLERANCE} over the labelled faces with a known identity (YuNet at own size)",
        "faces": {
            "labelled": int(is_lab.sum()),
            "composed_12mp": int((~is_lab).sum()),
            "found_at_640": int(has640.sum()),
            "labelled_with_identity": len(known),
            "people": len(set(ids)),
        },  # fmt: skip
        "geometry_hog_vs_yunet": {k: round(v, 4) for k, v in geo.items()},
        "hog": pair_accuracy(hog_enc, ids),
        "candidates": {},
    }
    for c, name in enumerate(names):
        both = np.concatenate([dist[:, c], dist640[has640, c]])
        row = {
            "median": pct(dist[:, c], 50), "p90": pct(dist[:, c], 90),
            "max": round(float(dist[:, c].max()), 4),
            "median_at_640": pct(dist640[has640, c], 50), "p90_at_640": pct(dist640[has640, c], 90),
            "max_at_640": round(float(dist640[has640, c].max()), 4),
            "both_median": pct(both, 50), "both_p90": pct(both, 90),
            "labelled_median": pct(dist[is_lab, c], 50), "labelled_p90": pct(dist[is_lab, c], 90),
        }  # fmt: skip
        if (~is_lab).any():
            row["composed_median"] = pct(dist[~is_lab, c], 50)
            row["composed_p90"] = pct(dist[~is_lab, c], 90)
        pa = pair_accuracy(encs[known, c], ids)
        mixed = pair_accuracy(encs[known, c], ids, other=hog_enc)
        row["pair_accuracy"] = pa["accuracy"]
        row["pair_errors"] = [pa["false_same"], pa["false_different"]]
        row["same_person_max_mean"] = [pa["max_same"], pa["mean_same"]]
        row["different_min"] = pa["min_different"]
        row["nearest_is_same"] = pa["nearest_is_same"]
        row["pair_accuracy_vs_hog_library"] = mixed["accuracy"]
        row["pair_errors_vs_hog_library"] = [mixed["false_same"], mixed["false_different"]]
        result["candidates"][name] = row
    c_of = result["candidates"]
    ranked = sorted(names, key=lambda n: (c_of[n]["both_median"], c_of[n]["both_p90"]))
    best = ranked[0]
    result["ranked_by_median_both_sizes"] = ranked[:15]
    result["ranked_by_p90_both_sizes"] = sorted(names, key=lambda n: c_of[n]["both_p90"])[:8]
    # Is a candidate really closer to HOG than the plain square, face by face? Paired
    # differences pooled over both input sizes, bootstrap 90% interval of their median
    # (negative = closer than the plain square).
    plain_i = names.index(PLAIN)
    pooled = np.concatenate([dist, dist640[has640]])
    boot = np.random.default_rng(0).integers(0, len(pooled), (2000, len(pooled)))
    check = list(dict.fromkeys([PLAIN, *ranked[:8], *result["ranked_by_p90_both_sizes"][:3],
                                FIT_BOX, FIT_LANDMARKS]))  # fmt: skip
    result["paired_vs_plain"] = {}
    for name in check[1:]:
        diff = pooled[:, names.index(name)] - pooled[:, plain_i]
        medians = np.median(diff[boot], axis=1)
        result["paired_vs_plain"][name] = {
            "closer_than_plain": f"{int((diff < 0).sum())}/{len(diff)}",
            "median_difference": pct(diff, 50),
            "median_difference_90ci": [pct(medians, 5), pct(medians, 95)],
        }
    flat = neighbourhoods(grid, c_of)
    result["flattest_neighbourhoods"] = flat[:10]
    result["plain_neighbourhood"] = next((r for r in flat if r["rectangle"]
                                         == "max(w,h) s=1.00 dy=+0.00"), None)  # fmt: skip
    # The grid points around HOG's geometry (its box-w fit lies between them).
    s_fit, dy_fit = geo["side_per_w"], geo["dy_per_side"]
    around = [n for n in grid["w"].values()
              if abs(float(n.split()[1][2:]) - s_fit) <= 0.05 + 1e-9
              and abs(float(n.split()[2][3:]) - dy_fit) <= 0.05 + 1e-9]  # fmt: skip
    result["fit_box_surrounding_grid"] = {n: {k: c_of[n][k] for k in (
        "both_median", "both_p90", "max", "max_at_640", "pair_errors",
        "pair_errors_vs_hog_library")} for n in around}  # fmt: skip
    result["best_by_median"] = best
    result["recommended"] = RECOMMENDED_RECT
    best = RECOMMENDED_RECT
    worst = np.argsort(-dist[:, names.index(best)])[:5]
    result["best_worst_faces"] = [
        {"photo": faces[i].photo, "distance": round(float(dist[i, names.index(best)]), 4),
         "hog_width": faces[i].hog.width()} for i in worst]  # fmt: skip
    mean_face = np.mean([f.hog_encoding for f in lab if f.photo.startswith("people/")], axis=0)
    return result, cands[best], best, mean_face


# -- 2. detection ------------------------------------------------------------------------------


@dataclass
class Run:
    rows: np.ndarray  # normalised YuNet rows
    cpu: float
    wall: float


class PhotoDecodes:
    """A photo's decodes by max_side, kept while the photo is measured."""

    def __init__(self, photo: Photo) -> None:
        self.photo = photo
        self._cache: dict[int | None, np.ndarray] = {}

    def get(self, max_side: int | None) -> np.ndarray:
        key = None if max_side is None or max_side >= self.photo.own else max_side
        if key not in self._cache:
            self._cache[key] = load_image(self.photo.data, max_side=key).pixels
        return self._cache[key]


def yunet_at(yunet: YuNet, decodes: PhotoDecodes, side: int) -> Run:
    """YuNet with the photo's long side at ``side``: decoded there (untimed) when smaller
    than the photo, else decoded whole and enlarged (timed, it is part of detecting)."""
    base = decodes.get(side)
    with Clock() as clock:
        rgb = resized(base, side) if side > max(base.shape[:2]) else base
        rows = yunet(rgb)
    h, w = rgb.shape[:2]
    return Run(scale_rows(rows, 1 / w, 1 / h), clock.cpu, clock.wall)


def tiles_at(yunet: YuNet, decodes: PhotoDecodes, side: int) -> Run:
    """TILE px tiles overlapping by TILE_OVERLAP over the photo at ``side``; a detection
    touching an inner tile edge is dropped (the neighbour holds the whole face)."""
    base = decodes.get(side)
    with Clock() as clock:
        rgb = resized(base, side) if side > max(base.shape[:2]) else base
        h, w = rgb.shape[:2]
        found = []
        for y0 in _tile_starts(h):
            for x0 in _tile_starts(w):
                tile = rgb[y0 : y0 + TILE, x0 : x0 + TILE]
                rows = yunet(tile)
                if not len(rows):
                    continue
                th, tw = tile.shape[:2]
                inner = np.ones(len(rows), bool)
                m = 2
                if x0 > 0:
                    inner &= rows[:, 0] > m
                if y0 > 0:
                    inner &= rows[:, 1] > m
                if x0 + tw < w:
                    inner &= rows[:, 0] + rows[:, 2] < tw - m
                if y0 + th < h:
                    inner &= rows[:, 1] + rows[:, 3] < th - m
                rows = rows[inner]
                rows[:, [0, 4, 6, 8, 10, 12]] += x0
                rows[:, [1, 5, 7, 9, 11, 13]] += y0
                found.append(rows)
        merged = nms(scale_rows(np.concatenate(found) if found else np.zeros((0, 15)),
                                1 / w, 1 / h))  # fmt: skip
    return Run(merged, clock.cpu, clock.wall)


def _tile_starts(length: int) -> list[int]:
    if length <= TILE:
        return [0]
    n = math.ceil((length - TILE_OVERLAP) / (TILE - TILE_OVERLAP))
    return [round(i * (length - TILE) / (n - 1)) for i in range(n)]


def combine(*runs: Run) -> Run:
    rows = nms(np.concatenate([r.rows for r in runs]))
    return Run(rows, sum(r.cpu for r in runs), sum(r.wall for r in runs))


def rules_for(photo: Photo, quick: bool) -> dict[str, tuple]:
    """Rule name -> how to run it: ("side", L) or ("pyramid", L1, L2) or ("tiles", L, G)."""
    own = photo.own
    sides = QUICK_SIDES if quick else WHOLE_SIDES
    rules: dict[str, tuple] = {f"{s}": ("side", s) for s in sides}
    for cap in (1000,) if quick else (640, 1000, 1280, SIDE_CAP):
        rules[f"own<={cap}"] = ("side", min(own, cap))
    for cap in (1000,) if quick else (1000, SIDE_CAP):
        rules[f"x2<={cap}"] = ("side", min(2 * own, cap))
    if own > SIDE_CAP and not quick:  # the 12 MP photos (and the largest labelled ones)
        rules["pyramid 640+1600"] = ("pyramid", 640, 1600)
        rules["pyramid 960+2000"] = ("pyramid", 960, 2000)
        rules["tiles640@2000+640"] = ("tiles", 2000, 640)
        rules["tiles640@full+1000"] = ("tiles", own, 1000)
    return rules


@dataclass
class Measured:
    photo: Photo
    runs: dict[str, Run]  # rule -> run
    by_side: dict[int, Run]  # whole-image side -> run
    hog: Run
    decode: dict[str, tuple[float, float]]  # max_side -> (cpu, wall)


def measure_photo(photo: Photo, yunet: YuNet, engine: FaceEngine, quick: bool,
                  rng: random.Random) -> Measured:  # fmt: skip
    rules = rules_for(photo, quick)
    sides = sorted({r[1] for r in rules.values() if r[0] == "side"}
                   | {s for r in rules.values() if r[0] == "pyramid" for s in r[1:]}
                   | {r[2] for r in rules.values() if r[0] == "tiles"})  # fmt: skip
    tiles = sorted({r[1] for r in rules.values() if r[0] == "tiles"})
    decodes = PhotoDecodes(photo)
    for s in {*sides, *tiles, DETECT_SIDE}:  # decode outside the timed part
        decodes.get(s)
    decodes.get(None)
    jobs = [("side", s) for s in sides] + [("tiles", s) for s in tiles] + [("hog", DETECT_SIDE)]
    rng.shuffle(jobs)
    by_side: dict[int, Run] = {}
    tiled: dict[int, Run] = {}
    hog = None
    for kind, s in jobs:
        if kind == "side":
            by_side[s] = yunet_at(yunet, decodes, s)
        elif kind == "tiles":
            tiled[s] = tiles_at(yunet, decodes, s)
        else:
            rgb = decodes.get(DETECT_SIDE)
            with Clock() as clock:
                hits = engine.detect(rgb)
            h, w = rgb.shape[:2]
            rows = np.zeros((len(hits), 15))
            for k, (r, score) in enumerate(hits):
                rows[k, :4] = [r.left() / w, r.top() / h, r.width() / w, r.height() / h]
                rows[k, 14] = score
            hog = Run(rows, clock.cpu, clock.wall)
    runs = {}
    for name, r in rules.items():
        if r[0] == "side":
            runs[name] = by_side[r[1]]
        elif r[0] == "pyramid":
            runs[name] = combine(by_side[r[1]], by_side[r[2]])
        else:
            runs[name] = combine(tiled[r[1]], by_side[r[2]])
    decode = {}
    order = list(DECODE_SIDES)
    rng.shuffle(order)
    for s in order:
        with Clock() as clock:
            load_image(photo.data, max_side=s)
        decode[str(s or "full")] = (clock.cpu, clock.wall)
    return Measured(photo, runs, by_side, hog, decode)


def score_run(photo: Photo, rows: np.ndarray, threshold: float, min_px: float,
              is_hog: bool = False) -> dict:  # fmt: skip
    """found / missed truth (by truth size) and false detections (by detection size)."""
    keep = np.ones(len(rows), bool) if is_hog else rows[:, 14] >= threshold
    widths = rows[:, 2] * photo.width
    keep &= widths >= min_px
    rows = rows[keep]
    boxes = ltrb(rows)
    counted_truth = ~photo.ignored(photo.truth) if len(photo.truth) else np.zeros(0, bool)
    pairs = match(boxes, photo.truth)
    hit = np.zeros(len(photo.truth), bool)
    hit[list(pairs.values())] = True
    unmatched = np.array([i not in pairs for i in range(len(rows))], bool)
    false = unmatched & ~photo.ignored(boxes)
    return {"truth": counted_truth, "hit": hit & counted_truth,
            "false_widths": rows[false, 2] * photo.width}  # fmt: skip


def summarise(measured: list[Measured]) -> dict:
    """Per rule: recall, false detections per photo, recall by size, CPU and wall ms."""
    photos = [m.photo for m in measured]
    truth_px = np.concatenate([m.photo.truth_px() for m in measured]) if photos else np.zeros(0)
    rule_names = list(dict.fromkeys(n for m in measured for n in m.runs))
    out: dict[str, Any] = {
        "photos": len(photos),
        "faces": int(
            sum(
                int((~m.photo.ignored(m.photo.truth)).sum()) if len(m.photo.truth) else 0
                for m in measured
            )
        ),  # fmt: skip
        "face_px": [pct(truth_px, 0), pct(truth_px, 50), pct(truth_px, 100)]
        if truth_px.size
        else [],
        "photo_long_side": sorted({m.photo.own for m in measured}),
        "decode_ms": {
            s: {
                "cpu": round(float(np.mean([m.decode[s][0] for m in measured])), 1),
                "wall": round(float(np.mean([m.decode[s][1] for m in measured])), 1),
            }
            for s in measured[0].decode
        },  # fmt: skip
    }
    hog_cpu = float(np.sum([m.hog.cpu for m in measured]))
    out["hog_1000_u1_grey"] = _rule_summary(measured, None, truth_px, hog_cpu)
    out["rules"] = {}
    for name in rule_names:
        subset = [m for m in measured if name in m.runs]
        if len(subset) != len(measured):
            continue
        out["rules"][name] = _rule_summary(measured, name, truth_px, hog_cpu)
    return out


def _rule_summary(measured: list[Measured], name: str | None, truth_px: np.ndarray,
                  hog_cpu: float) -> dict:  # fmt: skip
    runs = [m.hog if name is None else m.runs[name] for m in measured]
    cpu = np.array([r.cpu for r in runs])
    wall = np.array([r.wall for r in runs])
    row: dict[str, Any] = {
        "cpu_ms": round(float(cpu.mean()), 1), "wall_ms": round(float(wall.mean()), 1),
        "cpu_vs_hog": round(float(cpu.sum() / hog_cpu), 3),
    }  # fmt: skip
    thresholds = (None,) if name is None else THRESHOLDS
    for thr in thresholds:
        by_min = {}
        for min_px in (0,) if name is None else MIN_SIZES:
            scored = [
                score_run(m.photo, r.rows, thr or 0, min_px, name is None)
                for m, r in zip(measured, runs, strict=True)
            ]
            truth = np.concatenate([s["truth"] for s in scored]) if scored else np.zeros(0, bool)
            hit = np.concatenate([s["hit"] for s in scored]) if scored else np.zeros(0, bool)
            false_w = np.concatenate([s["false_widths"] for s in scored])
            entry = {"recall": round(float(hit.sum() / max(1, truth.sum())), 4),
                     "found": int(hit.sum()), "missed": int(truth.sum() - hit.sum()),
                     "false_per_photo": round(len(false_w) / len(measured), 3)}  # fmt: skip
            if min_px == 0:
                entry["recall_by_face_px"] = _by_size(truth_px, truth, hit)
                entry["false_widths_px"] = sorted(round(float(x)) for x in false_w)[:40]
                entry["missed_face_px"] = sorted(round(float(x)) for x in truth_px[truth & ~hit])
            by_min[f"min{min_px}"] = entry
        key = "hog" if thr is None else f"t{thr}"
        row[key] = by_min if name is not None else by_min["min0"]
    return row


def _by_size(px: np.ndarray, truth: np.ndarray, hit: np.ndarray) -> dict:
    out = {}
    for lo, hi in zip(SIZE_BINS, SIZE_BINS[1:], strict=False):
        sel = truth & (px >= lo) & (px < hi)
        if sel.any():
            out[f"{lo}-{hi}"] = f"{int(hit[sel].sum())}/{int(sel.sum())}"
    return out


# -- 3. non-faces -----------------------------------------------------------------------------


def face_signals(engine: FaceEngine, yunet: YuNet, rgb: np.ndarray, det: np.ndarray,
                 rect_fn: RectFn, mean_face: np.ndarray, cnn: bool) -> dict:  # fmt: skip
    """Signals of one YuNet detection (``det`` in pixels of ``rgb``)."""
    import dlib

    predictor, _ = engine._load_encoder()
    rect = square(*rect_fn(det))
    shape = predictor(rgb, rect)
    chip = aligned_chips(engine, rgb, [rect])[0]
    # YuNet asked again about the face as dlib's alignment makes it: upright, in a small
    # chip with much context (the face ~1/3 of it).
    with Clock() as second_look:
        upright = dlib.get_face_chip(rgb, shape, size=RECHECK_CHIP, padding=RECHECK_PADDING)
        recheck = yunet(upright)
    enc = engine._encode([chip])[0]
    x, y, w, h = det[:4]
    pts = det[4:14].reshape(5, 2)
    right_eye, left_eye, nose = pts[0], pts[1], pts[2]
    eyes, mouth = (right_eye + left_eye) / 2, (pts[3] + pts[4]) / 2
    de = float(np.linalg.norm(left_eye - right_eye)) or 1e-6
    ax = (left_eye - right_eye) / de
    down = np.array([-ax[1], ax[0]])
    nose_down, mouth_down = float((nose - eyes) @ down), float((mouth - eyes) @ down)
    p = np.array([[shape.part(k).x, shape.part(k).y] for k in range(5)], float)
    dlib_eyes = np.array([(p[0] + p[1]) / 2, (p[2] + p[3]) / 2])
    eye_fit = min(np.linalg.norm(dlib_eyes - [left_eye, right_eye], axis=1).mean(),
                  np.linalg.norm(dlib_eyes - [right_eye, left_eye], axis=1).mean())  # fmt: skip
    hog_rects, hog_scores, _ = _chip_hog().run(chip, 0, -2.0)
    centre = [(r.left() + r.right()) / 2 for r in hog_rects]
    on_face = [
        sc
        for sc, r, c in zip(hog_scores, hog_rects, centre, strict=True)
        if abs(c - CHIP_CENTRE) < 20 and abs((r.top() + r.bottom()) / 2 - CHIP_CENTRE) < 25
    ]
    sharpness = float(cv2.Laplacian(cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())
    return {
        "score": float(det[14]),
        **_timed_cnn(rgb, det, cnn),
        "rect_side": float(rect.width()),
        "hog_on_chip": float(max(on_face, default=-2.0)),
        "yunet_on_chip": float(recheck[:, 14].max(initial=0.0)),
        "yunet_on_chip_ms": second_look.cpu,
        "width_in_image": float(w),
        "eye_dist_per_width": de / w,
        "order_margin": min(nose_down, mouth_down - nose_down) / de,
        "nose_offset": abs(float((nose - eyes) @ ax)) / de,
        "mouth_offset": abs(float((mouth - eyes) @ ax)) / de,
        "eye_mouth_per_eyes": float(np.linalg.norm(mouth - eyes)) / de,
        "mouth_per_eyes": float(np.linalg.norm(pts[4] - pts[3])) / de,
        "roll_deg": abs(math.degrees(math.atan2(ax[1], ax[0]))),
        "dist_to_mean_face": float(np.linalg.norm(enc - mean_face)),
        "encoding_norm": float(np.linalg.norm(enc)),
        "sharpness": sharpness,
        "predictor_eye_fit": float(eye_fit) / de,
        "predictor_nose_fit": float(np.linalg.norm(p[4] - nose)) / de,
        "width_px": float(w),
    }


CHIP_CENTRE = 75  # the face's centre in FaceEngine's 150 px chip
RECHECK_CHIP, RECHECK_PADDING = 128, 1.0  # dlib.get_face_chip(size, padding) for the 2nd look
CNN_CROP, CNN_FACE = 200, 100  # crop for dlib's CNN: the face (max(w, h)) ~100 px in 200


def _timed_cnn(rgb: np.ndarray, det: np.ndarray, run: bool) -> dict:
    if not run:
        return {"cnn_on_crop": float("nan"), "cnn_ms": float("nan")}
    if not hasattr(_cnn_on_crop, "net"):  # the model loads on the first call: not timed
        _cnn_on_crop(rgb, det)
    with Clock() as clock:
        value = _cnn_on_crop(rgb, det)
    return {"cnn_on_crop": value, "cnn_ms": clock.cpu}


def _cnn_on_crop(rgb: np.ndarray, det: np.ndarray) -> float:
    """dlib's CNN (mmod) face detector on a crop around the detection; -1 when it sees
    nothing (its confidences of faces are around 1)."""
    import dlib

    if not hasattr(_cnn_on_crop, "net"):
        from facealbum.engine import models

        path = models.model_path(models.CNN_FACE_DETECTOR)
        _cnn_on_crop.net = dlib.cnn_face_detection_model_v1(str(path))  # type: ignore[attr-defined]
    x, y, w, h = det[:4]
    f = CNN_FACE / max(w, h)
    cx, cy = x + w / 2, y + h / 2
    warp = np.float32([[f, 0, CNN_CROP / 2 - f * cx], [0, f, CNN_CROP / 2 - f * cy]])
    crop = cv2.warpAffine(rgb, warp, (CNN_CROP, CNN_CROP), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    found = _cnn_on_crop.net(crop, 0)  # type: ignore[attr-defined]
    return float(max((d.confidence for d in found), default=-1.0))


def _chip_hog() -> Any:
    """dlib's HOG face detector, asked about the aligned chip (scores down to -2)."""
    import dlib

    if not hasattr(_chip_hog, "detector"):
        _chip_hog.detector = dlib.get_frontal_face_detector()  # type: ignore[attr-defined]
    return _chip_hog.detector  # type: ignore[attr-defined]


SIGNAL_HIGHER_IS_FACE = {
    "score": True, "cnn_on_crop": True, "hog_on_chip": True, "yunet_on_chip": True,
    "width_in_image": None,
    "eye_dist_per_width": True, "order_margin": True, "nose_offset": False,
    "mouth_offset": False, "eye_mouth_per_eyes": None, "mouth_per_eyes": None,
    "roll_deg": False, "dist_to_mean_face": False, "encoding_norm": None, "sharpness": None,
    "predictor_eye_fit": False, "predictor_nose_fit": False,
}  # fmt: skip


def collect_signals(measured: dict[str, list[Measured]], engine: FaceEngine, yunet: YuNet,
                    rect_fn: RectFn, mean_face: np.ndarray, min_score: float,
                    cnn_rule: str | None) -> list[dict]:  # fmt: skip
    """Signals of every whole-image detection scoring >= min_score, labelled real / dog /
    noise / false; encoded on the image YuNet saw (or the photo itself when enlarged).
    dlib's CNN (slow) looks only at the sides ``cnn_rule`` picks and at the non-faces."""
    out = []
    for group, items in measured.items():
        for m in items:
            photo = m.photo
            decodes = PhotoDecodes(photo)
            for side, run in sorted(m.by_side.items()):
                rows = run.rows[run.rows[:, 14] >= min_score]
                if not len(rows):
                    continue
                rgb = decodes.get(min(side, photo.own))
                h, w = rgb.shape[:2]
                px = scale_rows(rows, w, h)
                pairs = match(ltrb(rows), photo.truth)
                ignored = photo.ignored(ltrb(rows))
                for i, det in enumerate(px):
                    if photo.kind != "faces":
                        label = photo.kind
                    elif i in pairs:
                        label = "real"
                    elif ignored[i]:
                        continue
                    else:
                        label = "false"
                    cnn = cnn_rule is not None and (
                        photo.kind != "faces" or side == _rule_side(cnn_rule, photo.own)
                    )
                    sig = face_signals(engine, yunet, rgb, det, rect_fn, mean_face, cnn)
                    sig["width_px"] = float(rows[i, 2] * photo.width)
                    # Today's gate for grouping (engine/quality.py): face size in pixels
                    # of the full photo and sharpness of the aligned chip.
                    sig["groupable_size_sharpness"] = bool(
                        sig["rect_side"] * photo.own / max(w, h) >= MIN_GROUP_FACE_PX
                        and sig["sharpness"] >= MIN_GROUP_SHARPNESS
                    )
                    out.append({"set": group, "photo": photo.name, "own": photo.own,
                                "side": side, "label": label, **sig})  # fmt: skip
    return out


def analyse_signals(rows: list[dict]) -> dict:
    real = [r for r in rows if r["label"] == "real"]
    groupable = [r for r in real if r["groupable_size_sharpness"]]
    dogs = [r for r in rows if r["label"] == "dogs"]
    other = [r for r in rows if r["label"] in ("false", "noise")]
    out: dict[str, Any] = {"real": len(real), "real_groupable": len(groupable),
                           "dogs": len(dogs), "other_false": len(other), "signals": {}}  # fmt: skip
    for sig, higher in SIGNAL_HIGHER_IS_FACE.items():
        rv, dv, ov = (np.array([r[sig] for r in group if not math.isnan(r[sig])])
                      for group in (real, dogs, other))  # fmt: skip
        if not rv.size:
            continue
        gv = np.array([r[sig] for r in groupable if not math.isnan(r[sig])])
        entry: dict[str, Any] = {
            "real": {q: pct(rv, p) for q, p in (("min", 0), ("p1", 1), ("p5", 5), ("median", 50),
                                                ("p95", 95), ("p99", 99), ("max", 100))},
            "real_groupable": {q: pct(gv, p) for q, p in (("min", 0), ("p1", 1), ("max", 100))},
            "real_n": int(rv.size),
            "dogs": sorted(round(float(v), 4) for v in dv),
            "other_false": {q: pct(ov, p) for q, p in (("min", 0), ("median", 50),
                                                       ("max", 100))} if ov.size else {},
        }  # fmt: skip
        if higher is not None and dv.size:
            if higher:
                edge_real, edge_dog = rv.min(), dv.max()
                gap = edge_real - edge_dog
                other_dropped = int((ov < (edge_real + edge_dog) / 2).sum()) if gap > 0 else None
            else:
                edge_real, edge_dog = rv.max(), dv.min()
                gap = edge_dog - edge_real
                other_dropped = int((ov > (edge_real + edge_dog) / 2).sum()) if gap > 0 else None
            entry["separates_dogs"] = bool(gap > 0)
            entry["gap"] = round(float(gap), 4)
            entry["threshold_mid_gap"] = round(float((edge_real + edge_dog) / 2), 4)
            entry["other_false_dropped_at_threshold"] = other_dropped
            # how many real faces lie beyond the dogs' best value (0 when it separates)
            beyond = rv <= edge_dog if higher else rv >= edge_dog
            entry["real_faces_not_better_than_best_dog"] = int(beyond.sum())
        out["signals"][sig] = entry
    return out


RuleFn = Callable[[dict], bool]
RULE_SIDE = "own<=1000"  # the input rule the non-face rules are judged at as well as at all


def _rule_side(rule: str, own: int) -> int:
    """The input long side an "own<=C" rule gives a photo whose long side is ``own``."""
    return min(own, int(rule.split("<=")[1]))


def rule_candidates() -> dict[str, RuleFn]:
    """Rules that say "this is a face, for groups and suggestions" (tried on the data)."""
    rules: dict[str, RuleFn] = {}
    for t in (0.6, 0.7, 0.8, 0.85, 0.9):
        rules[f"score >= {t}"] = lambda r, t=t: r["score"] >= t
    for t in (0.6, 0.7, 0.75, 0.8, 0.85, 0.9):
        rules[f"yunet_on_chip >= {t}"] = lambda r, t=t: r["yunet_on_chip"] >= t
    rules["cnn_on_crop >= 0"] = lambda r: r["cnn_on_crop"] >= 0
    # The cheap look first; dlib's CNN only for what it leaves in doubt.
    rules["yunet_on_chip >= 0.9 or cnn_on_crop >= 0"] = lambda r: (
        r["yunet_on_chip"] >= 0.9 or r["cnn_on_crop"] >= 0
    )
    rules["score >= 0.9 or hog_on_chip >= 0"] = lambda r: r["score"] >= 0.9 or r["hog_on_chip"] >= 0
    for n in (1.3, 1.36):
        rules[f"encoding_norm >= {n}"] = lambda r, n=n: r["encoding_norm"] >= n
    for d in (0.6, 0.7):
        rules[f"dist_to_mean_face <= {d}"] = lambda r, d=d: r["dist_to_mean_face"] <= d
    return rules


def evaluate_rules(rows: list[dict]) -> dict:
    out = {}
    for name, rule in rule_candidates().items():
        if "cnn" in name:  # only on the rows the CNN looked at
            rows_here = [r for r in rows if not math.isnan(r["cnn_on_crop"])]
        else:
            rows_here = rows
        kept = dict.fromkeys(("real", "dogs", "false", "noise"), 0)
        total = dict.fromkeys(kept, 0)
        dropped_real = []
        groupable_kept = groupable_total = 0
        for r in rows_here:
            total[r["label"]] += 1
            if r["label"] == "real" and r["groupable_size_sharpness"]:
                groupable_total += 1
                groupable_kept += bool(rule(r))
            if rule(r):
                kept[r["label"]] += 1
            elif r["label"] == "real":
                dropped_real.append((r["width_in_image"], f"{r['photo']}@{r['side']} "
                                     f"({r['width_in_image']:.0f} px seen)"))  # fmt: skip
        dropped_real.sort(reverse=True)
        out[name] = {"real_kept": f"{kept['real']}/{total['real']}",
                     "real_groupable_kept": f"{groupable_kept}/{groupable_total}",
                     "dogs_kept": f"{kept['dogs']}/{total['dogs']}",
                     "false_kept": f"{kept['false'] + kept['noise']}/"
                                   f"{total['false'] + total['noise']}",
                     "largest_real_dropped": [d for _, d in dropped_real[:6]]}  # fmt: skip
    return out


def at_rule(rows: list[dict], rule: str) -> list[dict]:
    """The rows of detections made at the input side ``rule`` ("own<=C") picks."""
    return [r for r in rows if r["side"] == _rule_side(rule, r["own"])]


def non_face_part(measured: dict[str, list[Measured]], signals: list[dict]) -> dict:
    scores = {}
    for m in measured["non_faces"]:
        scores[m.photo.name] = {
            f"side {side}": sorted((round(float(s), 3) for s in run.rows[:, 14]), reverse=True)
            for side, run in sorted(m.by_side.items())
        }
    cnn_ms = [r["cnn_ms"] for r in signals if not math.isnan(r["cnn_ms"])]
    subsets = {"all_sides": signals, RULE_SIDE: at_rule(signals, RULE_SIDE)}
    at_side = {id(r) for r in subsets[RULE_SIDE]}
    subsets["all_sides_non_faces_and_" + RULE_SIDE] = [
        r for r in signals if r["label"] in ("dogs", "noise") or id(r) in at_side
    ]
    return {
        "what": "YuNet scores (>= 0.3) of dogs.jpg and noise.jpg per input long side; signals "
        "of every whole-image detection scoring >= 0.5 on every set, labelled real (matches a "
        "true face), dogs, noise or false; rules judged on all sides and at " + RULE_SIDE,
        "scores_by_side": scores,
        "second_look_cpu_ms": {"median": pct([r["yunet_on_chip_ms"] for r in signals], 50),
                               "p90": pct([r["yunet_on_chip_ms"] for r in signals], 90)},
        "cnn_cpu_ms": {"median": pct(cnn_ms, 50), "p90": pct(cnn_ms, 90)} if cnn_ms else {},
        "signals": {k: analyse_signals(v) for k, v in subsets.items()},
        "rules": {k: evaluate_rules(v) for k, v in subsets.items()},
        "rows_not_real": [{k: (round(v, 4) if isinstance(v, float) else v)
                           for k, v in r.items()} for r in signals if r["label"] != "real"],
    }  # fmt: skip


# -- the recommendation, in one place ---------------------------------------------------------

RECOMMENDED_THRESHOLD, RECOMMENDED_MIN_PX = 0.6, 12
SECOND_LOOK_RULE = "yunet_on_chip >= 0.8"
CASCADE_RULE = "yunet_on_chip >= 0.9 or cnn_on_crop >= 0"


def recommendation(results: dict) -> dict:
    """The figures behind the recommended constants, pulled from the rest of the results."""
    mapping = results["mapping"]
    rect = mapping["candidates"][mapping["recommended"]]
    keys = ("median", "p90", "max", "median_at_640", "p90_at_640", "max_at_640", "pair_accuracy",
            "pair_errors", "same_person_max_mean", "different_min",
            "pair_accuracy_vs_hog_library")  # fmt: skip
    out: dict[str, Any] = {
        "rectangle": {
            "name": mapping["recommended"],
            "geometry": mapping["geometry_hog_vs_yunet"],
            **{k: rect[k] for k in keys},
            "plain_square": {k: mapping["candidates"][PLAIN][k] for k in keys},
            "hog": mapping["hog"],
        },  # fmt: skip
        "detection": {
            "rule": RULE_SIDE,
            "score_threshold": RECOMMENDED_THRESHOLD,
            "min_face_px": RECOMMENDED_MIN_PX,
            "sets": {},
        },  # fmt: skip
    }
    key_t, key_m = f"t{RECOMMENDED_THRESHOLD}", f"min{RECOMMENDED_MIN_PX}"
    for name, part in results["detection"].items():
        rule, hog = part["rules"][RULE_SIDE], part["hog_1000_u1_grey"]
        entry = rule[key_t][key_m]
        out["detection"]["sets"][name] = {
            "photos": part["photos"], "faces": part["faces"],
            "yunet": {"recall": entry["recall"], "missed": entry["missed"],
                      "false_per_photo": entry["false_per_photo"],
                      "recall_by_face_px": rule[key_t]["min0"]["recall_by_face_px"],
                      "cpu_ms": rule["cpu_ms"], "wall_ms": rule["wall_ms"]},
            "hog": {"recall": hog["hog"]["recall"], "false_per_photo":
                    hog["hog"]["false_per_photo"], "recall_by_face_px":
                    hog["hog"]["recall_by_face_px"], "cpu_ms": hog["cpu_ms"],
                    "wall_ms": hog["wall_ms"]},
            "cpu_vs_hog": rule["cpu_vs_hog"],
            "decode_ms_at_1000": part["decode_ms"].get("1000"),
        }  # fmt: skip
    signals = results["non_faces"]["signals"]
    rules = results["non_faces"]["rules"]
    both = "all_sides_non_faces_and_" + RULE_SIDE
    look = signals["all_sides"]["signals"]["yunet_on_chip"]
    out["non_faces"] = {
        SECOND_LOOK_RULE: {
            "all_sides": rules["all_sides"].get(SECOND_LOOK_RULE),
            "real_min": look["real"]["min"], "real_groupable_min": look["real_groupable"]["min"],
            "dogs_max": max(look["dogs"], default=None),
        },
    }  # fmt: skip
    if "cnn_on_crop" in signals[both]["signals"]:
        cnn = signals[both]["signals"]["cnn_on_crop"]
        out["non_faces"][CASCADE_RULE] = {
            "dogs_at_all_sides_and_faces_at_" + RULE_SIDE: rules[both].get(CASCADE_RULE),
            "cnn_real_groupable_min": cnn["real_groupable"]["min"],
            "cnn_dogs_max": max(cnn["dogs"], default=None),
            "cnn_cpu_ms": results["non_faces"]["cnn_cpu_ms"],
            "second_look_cpu_ms": results["non_faces"]["second_look_cpu_ms"],
            # the CNN is asked only about faces the second look leaves below 0.9
            "real_faces_at_or_above_0.9_at_" + RULE_SIDE: rules[RULE_SIDE]
            .get("yunet_on_chip >= 0.9", {})
            .get("real_kept"),
        }
    return out


# -- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path, default=DEFAULT_FACES)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--quick", action="store_true", help="fewer photos and settings")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    started = time.monotonic()
    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
    cv2.setNumThreads(1)
    engine = FaceEngine(**HOG_TODAY)  # HOG detection; alignment and encoding for every rect
    yunet = YuNet(args.model)
    faces_dir = args.faces
    every = 4 if args.quick else 1  # quick: every 4th labelled photo and source face

    labelled = labelled_photos(faces_dir, every)
    sources = identified_sources(faces_dir, every)
    mapping, rect_fn, best, mean_face = study_mapping(
        faces_dir, engine, yunet, labelled, sources, args.quick
    )
    print(f"mapping done at {time.monotonic() - started:.0f} s; recommended", best,
          mapping["candidates"][best], flush=True)  # fmt: skip
    print("mapping: plain", mapping["candidates"][PLAIN], flush=True)

    detection = detection_photos(faces_dir)
    sets: dict[str, list[Photo]] = {
        "detection": detection,
        "mosaic_500": [mosaic_500(detection)],
        "composed_500": compose_500(faces_dir, sources, 1 if args.quick else 6, seed=5),
        "labelled": labelled,
        "composed_12mp": compose_12mp(
            faces_dir,
            sources,
            QUICK_LAYOUTS if args.quick else LAYOUTS_12MP,
            1 if args.quick else 4,
            seed=7,
        ),
        "non_faces": non_face_photos(faces_dir),
    }
    rng = random.Random(3)
    measured: dict[str, list[Measured]] = {}
    for group, photos in sets.items():
        measured[group] = [measure_photo(p, yunet, engine, args.quick, rng) for p in photos]
        print(f"detection: {group} measured ({len(photos)} photos) "
              f"at {time.monotonic() - started:.0f} s", flush=True)  # fmt: skip
    detection_result = {g: summarise(ms) for g, ms in measured.items() if g != "non_faces"}
    signals = collect_signals(measured, engine, yunet, rect_fn, mean_face, min(THRESHOLDS),
                              None if args.quick else RULE_SIDE)  # fmt: skip
    results = {
        "what": __doc__.split("\n\n")[0],
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor(),
            "opencv": cv2.__version__,
            "cv2_threads": cv2.getNumThreads(),
            "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
            "load_average": os.getloadavg(),
        },  # fmt: skip
        "quick": args.quick,
        "match_iou": IOU_MATCH,
        "mapping": mapping,
        "detection": detection_result,
        "non_faces": non_face_part(measured, signals),
    }
    results["recommendation"] = recommendation(results)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    results["run"] = {"wall_s": round(time.monotonic() - started, 1),
                      "cpu_s": round(usage.ru_utime + usage.ru_stime
                                     - cpu_start.ru_utime - cpu_start.ru_stime, 1),
                      "load_average_at_end": os.getloadavg()}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out} in {results['run']['wall_s']} s", flush=True)


if __name__ == "__main__":
    main()
