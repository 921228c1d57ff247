"""The scan benchmark's photo library, built from the development faces.

4000x3000 JPEGs (12 megapixels), some stored sideways or upside down with an EXIF
Orientation tag as cameras do, each with zero to six real faces pasted at realistic
sizes onto an out-of-focus scene; the place of every pasted face is recorded in
truth.json (boxes normalised to the upright photo).
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

CANVAS = (4000, 3000)  # 12 megapixels, landscape
JPEG_QUALITY = 90
ORIENTATION_TAG = 0x0112
DATETIME_ORIGINAL = 0x9003
EXIF_IFD = 0x8769
# Face widths (dlib box, pixels of the 4000-px photo) by how many people share the photo.
FACE_WIDTH = {1: (450, 1000), 2: (300, 650), 3: (250, 500), 4: (200, 400), 5: (180, 360)}
FACE_WIDTH_MANY = (180, 320)
DETECT_LONG_SIDE = 1600  # where the source faces are located, as labels.csv was made


def true_found(found: list[list[float]], placed: list[list[float]]) -> int:
    """Placed faces that some found box sits on (its centre inside the placed box)."""
    hits = 0
    used: set[int] = set()
    for p in placed:
        for i, f in enumerate(found):
            cx, cy = (f[0] + f[2]) / 2, (f[1] + f[3]) / 2
            if i not in used and p[0] <= cx <= p[2] and p[1] <= cy <= p[3]:
                used.add(i)
                hits += 1
                break
    return hits


def source_faces(faces_dir: Path) -> list[dict]:
    """Photos with exactly one labelled face, with that face's box found by dlib's HOG."""
    import csv

    import dlib
    import numpy as np
    from PIL import Image, ImageOps

    detector = dlib.get_frontal_face_detector()
    found = []
    with open(faces_dir / "labels.csv", newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["faces"] == "1"]
    for row in rows:
        path = faces_dir / row["path"]
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
        scale = min(1.0, DETECT_LONG_SIDE / max(im.size))
        small = im.resize((round(im.width * scale), round(im.height * scale))) if scale < 1 else im
        rects = detector(np.asarray(small), 1)
        if len(rects) != 1:
            continue
        r = rects[0]
        box = [r.left() / scale, r.top() / scale, r.right() / scale, r.bottom() / scale]
        found.append({"path": str(path), "box": box})
    return found


def _crop_around(im, box: list[float]):
    """The face with hair and shoulders around it, and the face box inside that crop."""
    left, top, right, bottom = box
    w = right - left
    crop = (
        max(0, round(left - 0.55 * w)),
        max(0, round(top - 0.75 * w)),
        min(im.width, round(right + 0.55 * w)),
        min(im.height, round(bottom + 0.9 * w)),
    )
    inner = [left - crop[0], top - crop[1], right - crop[0], bottom - crop[1]]
    return im.crop(crop), inner


def _layout(n: int, rng: random.Random) -> list[tuple[float, float, float, float]]:
    """n non-overlapping cells (left, top, right, bottom as fractions) for n people."""
    rows = 1 if n <= 3 else 2
    per_row = [math.ceil(n / rows), n - math.ceil(n / rows)] if rows == 2 else [n]
    cells = []
    for r, count in enumerate(per_row):
        for c in range(count):
            cells.append((c / count, r / rows, (c + 1) / count, (r + 1) / rows))
    rng.shuffle(cells)
    return cells


def _background(source: str, size: tuple[int, int], rng: random.Random):
    """An out-of-focus scene: a real photo's colours blown up smooth, with sensor grain."""
    import numpy as np
    from PIL import Image, ImageOps

    with Image.open(source) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
    # So small that no face survives in it, then enlarged into soft shapes.
    tiny = ImageOps.fit(im, (24, 18) if size[0] > size[1] else (18, 24))
    if rng.random() < 0.5:
        tiny = ImageOps.mirror(tiny)
    smooth = np.asarray(tiny.resize(size, Image.Resampling.BICUBIC), dtype=np.int16)
    grain = np.random.default_rng(rng.randrange(2**31)).normal(0, 5, (256, 256, 3))
    tiles = (size[1] // 256 + 1, size[0] // 256 + 1, 1)
    noisy = smooth + np.tile(grain.astype(np.int16), tiles)[: size[1], : size[0]]
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")


def build_photo(spec: dict) -> dict:
    """Compose one photo as specified and save it as a camera would; returns its truth."""
    from PIL import Image, ImageOps

    rng = random.Random(spec["seed"])
    upright_size = CANVAS if not spec["portrait"] else (CANVAS[1], CANVAS[0])
    canvas = _background(spec["background"], upright_size, rng)
    n = len(spec["faces"])
    low, high = FACE_WIDTH.get(n, FACE_WIDTH_MANY)
    boxes = []
    for source, cell in zip(spec["faces"], _layout(n, rng), strict=True):
        with Image.open(source["path"]) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
        crop, inner = _crop_around(im, source["box"])
        cell_w = (cell[2] - cell[0]) * upright_size[0]
        cell_h = (cell[3] - cell[1]) * upright_size[1]
        face_w = math.exp(rng.uniform(math.log(low), math.log(high)))
        scale = face_w / (inner[2] - inner[0])
        # Shrink the whole crop into its cell when it would not fit.
        scale = min(scale, 0.95 * cell_w / crop.width, 0.95 * cell_h / crop.height)
        crop = crop.resize(
            (max(1, round(crop.width * scale)), max(1, round(crop.height * scale))),
            Image.Resampling.BICUBIC,
        )
        x = round(cell[0] * upright_size[0] + rng.uniform(0, cell_w - crop.width))
        y = round(cell[1] * upright_size[1] + rng.uniform(0, cell_h - crop.height))
        canvas.paste(crop, (x, y))
        face = [
            x + inner[0] * scale,
            y + inner[1] * scale,
            x + inner[2] * scale,
            y + inner[3] * scale,
        ]
        boxes.append(
            [
                face[0] / upright_size[0],
                face[1] / upright_size[1],
                face[2] / upright_size[0],
                face[3] / upright_size[1],
            ]
        )

    # Store the pixels as the sensor saw them and tag how to turn them upright.
    orientation = spec["orientation"]
    stored = {
        1: canvas,
        3: canvas.transpose(Image.Transpose.ROTATE_180),
        6: canvas.transpose(Image.Transpose.ROTATE_90),
        8: canvas.transpose(Image.Transpose.ROTATE_270),
    }[orientation]
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    minute, second = rng.randrange(60), rng.randrange(60)
    exif.get_ifd(EXIF_IFD)[DATETIME_ORIGINAL] = f"2023:07:14 15:{minute:02d}:{second:02d}"
    stored.save(spec["out"], "JPEG", quality=JPEG_QUALITY, exif=exif.tobytes())
    return {
        "file": Path(spec["out"]).name,
        "faces": len(boxes),
        "boxes": boxes,
        "orientation": orientation,
    }


def plan_library(count: int, sources: list[dict], out: Path) -> list[dict]:
    rng = random.Random(20240611)
    specs = []
    for i in range(count):
        n = rng.choices([0, 1, 2, 3, 4, 5, 6], weights=[10, 35, 20, 13, 10, 6, 6])[0]
        kind = rng.random()
        if kind < 0.65:
            portrait, orientation = False, 1
        elif kind < 0.85:  # held upright: the camera stores it sideways and says so
            portrait, orientation = True, rng.choice([6, 8])
        elif kind < 0.92:  # held upside down
            portrait, orientation = False, 3
        else:  # a phone that turned the pixels itself
            portrait, orientation = True, 1
        specs.append(
            {
                "seed": rng.randrange(2**31),
                "faces": rng.sample(sources, n),
                "portrait": portrait,
                "orientation": orientation,
                "background": rng.choice(sources)["path"],
                "out": str(out / f"IMG_{i:05d}.jpg"),
            }
        )
    return specs


def build_library(root: Path, count: int, faces_dir: Path) -> dict:
    """Build (or reuse) the photos under root/photos and the known face under root/known."""
    manifest_path = root / "truth.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        if manifest["count"] == count:
            print(f"reusing {count} photos in {root}", flush=True)
            return manifest
    shutil.rmtree(root / "photos", ignore_errors=True)
    shutil.rmtree(root / "known", ignore_errors=True)
    (root / "photos").mkdir(parents=True)
    (root / "known").mkdir()
    started = time.monotonic()
    sources = source_faces(faces_dir)
    specs = plan_library(count, sources, root / "photos")
    with ProcessPoolExecutor(2) as pool:
        truth = list(pool.map(build_photo, specs, chunksize=4))
    shutil.copyfile(
        faces_dir / "people" / "barack_obama" / "obama_1.jpg", root / "known" / "obama.jpg"
    )
    manifest = {"count": count, "photos": truth}
    manifest_path.write_text(json.dumps(manifest))
    print(f"built {count} photos in {time.monotonic() - started:.0f} s", flush=True)
    return manifest
