"""Scan benchmark: our scanner against face_recognition's command-line tool, same photos.

Builds a library of camera-like photos from the development faces (../shared/faces
beside the repository, or $FACEALBUM_TEST_FACES): 4000x3000 JPEGs, some stored sideways
with an EXIF Orientation tag as cameras do, each with zero to six real faces pasted at
realistic sizes; the number and place of every pasted face is recorded. Then, in one
run, times
  (a) our scan: `facealbum --library L scan DIR --json` when the CLI has that command,
      else ScanPool driven directly (the JSON says which);
  (b) `face_recognition --cpus 2 KNOWN DIR`, which prints one line per face it finds.
and writes photos/second, the ratio and the faces found by each to bench/results/scan.json.

    python bench/scan.py [--photos 300] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
FACES_DIR = Path(os.environ.get("FACEALBUM_TEST_FACES", REPO_ROOT.parent / "shared" / "faces"))
RESULTS = REPO_ROOT / "bench" / "results" / "scan.json"

CANVAS = (4000, 3000)  # 12 megapixels, landscape
JPEG_QUALITY = 90
ORIENTATION_TAG = 0x0112
DATETIME_ORIGINAL = 0x9003
EXIF_IFD = 0x8769
# Face widths (dlib box, pixels of the 4000-px photo) by how many people share the photo.
FACE_WIDTH = {1: (450, 1000), 2: (300, 650), 3: (250, 500), 4: (200, 400), 5: (180, 360)}
FACE_WIDTH_MANY = (180, 320)
DETECT_LONG_SIDE = 1600  # where the source faces are located, as labels.csv was made


# -- building the library ---------------------------------------------------------------


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


# -- the two scans ----------------------------------------------------------------------


def _cli_has_scan_json() -> bool:
    try:
        help_text = subprocess.run(
            [sys.executable, "-m", "facealbum", "scan", "--help"],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return help_text.returncode == 0 and "--json" in help_text.stdout


def scan_with_cli(photos: Path, library: Path) -> dict:
    shutil.rmtree(library, ignore_errors=True)
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "facealbum",
            "--library",
            str(library),
            "scan",
            str(photos),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
    )
    seconds = time.monotonic() - started
    report = json.loads(done.stdout)
    faces, boxes = _faces_from_library(library)
    return {"seconds": seconds, "cli_report": report, "faces_per_file": faces, "boxes": boxes}


def _faces_from_library(library: Path) -> tuple[dict[str, int], dict[str, list[list[float]]]]:
    """Faces per photo file name, and their boxes, read back from the library's database."""
    import sqlite3

    db = sqlite3.connect(library / "library.sqlite3")
    try:
        photos = db.execute("SELECT id, path FROM photos").fetchall()
        rows = db.execute(
            "SELECT photo_id, box_left, box_top, box_right, box_bottom FROM faces"
        ).fetchall()
    finally:
        db.close()
    name_of = {photo_id: Path(path).name for photo_id, path in photos}
    boxes: dict[str, list[list[float]]] = {name: [] for name in name_of.values()}
    for photo_id, *box in rows:
        boxes[name_of[photo_id]].append(box)
    return {name: len(found) for name, found in boxes.items()}, boxes


def scan_with_pool(photos: Path) -> dict:
    from facealbum.config import Settings
    from facealbum.engine.scanner import Analysed, ScanPool, plan_scan, walk_photos

    settings = Settings()
    started = time.monotonic()
    plan = plan_scan(walk_photos(photos), {})
    faces: dict[str, int] = {}
    boxes: dict[str, list[list[float]]] = {}
    failed: dict[str, str] = {}
    with ScanPool(settings.effective_workers(), settings.detector, settings.min_face_px) as pool:
        for result in pool.run(plan.to_analyse):
            name = Path(result.path)
            if isinstance(result, Analysed):
                faces[name.name] = len(result.analysis.faces)
                boxes[name.name] = [f.box.as_list() for f in result.analysis.faces]
            else:
                failed[name.name] = getattr(result, "reason", type(result).__name__)
    seconds = time.monotonic() - started
    return {"seconds": seconds, "faces_per_file": faces, "boxes": boxes, "failed": failed}


def scan_with_face_recognition(known: Path, photos: Path) -> dict:
    tool = shutil.which("face_recognition", path=str(Path(sys.executable).parent))
    if tool is None:
        raise SystemExit("face_recognition's command-line tool is not installed next to Python")
    started = time.monotonic()
    done = subprocess.run(
        [tool, "--cpus", "2", str(known), str(photos)],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.monotonic() - started
    faces: Counter[str] = Counter()
    for line in done.stdout.splitlines():
        if line.startswith("WARNING") or "," not in line:
            continue
        path, name = line.split(",")[:2]
        faces[Path(path).name] += 0 if name == "no_persons_found" else 1
    return {"seconds": seconds, "faces_per_file": dict(faces)}


# -- scoring ----------------------------------------------------------------------------


def _matched(found: list[list[float]], placed: list[list[float]]) -> int:
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


def score(run: dict, truth: list[dict], seconds_key: str = "seconds") -> dict:
    per_file = run["faces_per_file"]
    found = sum(per_file.get(t["file"], 0) for t in truth)
    # Without boxes, a photo's true faces are at most what was placed in it.
    capped = sum(min(per_file.get(t["file"], 0), t["faces"]) for t in truth)
    scored = {
        "seconds": round(run[seconds_key], 2),
        "photos_per_second": round(len(truth) / run[seconds_key], 3),
        "faces_found": found,
        "true_faces_found_at_most": capped,
        "photos_reported": len(per_file),
        "faces_found_in_rotated_photos": sum(
            per_file.get(t["file"], 0) for t in truth if t["orientation"] != 1
        ),
    }
    if run.get("boxes"):
        scored["true_faces_found_by_box"] = sum(
            _matched(run["boxes"].get(t["file"], []), t["boxes"]) for t in truth
        )
    if run.get("failed"):
        scored["failed"] = run["failed"]
    return scored


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=300, help="photos to build (default 300)")
    parser.add_argument("--keep", type=Path, help="build into (or reuse) this folder")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args()
    if not (FACES_DIR / "labels.csv").is_file():
        raise SystemExit(f"development faces not found at {FACES_DIR}")

    root = args.keep or Path(tempfile.mkdtemp(prefix="facealbum-scan-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        manifest = build_library(root, args.photos, FACES_DIR)
        truth = manifest["photos"]
        photos = root / "photos"

        use_cli = _cli_has_scan_json()
        print("our scan:", "facealbum CLI" if use_cli else "ScanPool", flush=True)
        ours = scan_with_cli(photos, root / "library") if use_cli else scan_with_pool(photos)
        print(f"  {ours['seconds']:.1f} s", flush=True)
        print("face_recognition --cpus 2", flush=True)
        theirs = scan_with_face_recognition(root / "known", photos)
        print(f"  {theirs['seconds']:.1f} s", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)

    ours_scored, theirs_scored = score(ours, truth), score(theirs, truth)
    result = {
        "benchmark": "scan",
        "photos": len(truth),
        "photo_size": f"{CANVAS[0]}x{CANVAS[1]} JPEG q{JPEG_QUALITY}",
        "rotated_photos": sum(t["orientation"] != 1 for t in truth),
        "photos_without_faces": sum(t["faces"] == 0 for t in truth),
        "true_faces": sum(t["faces"] for t in truth),
        "ours_via": "facealbum CLI scan --json" if use_cli else "ScanPool directly",
        "ours": ours_scored,
        "face_recognition_cli": theirs_scored,
        "speed_ratio": round(
            ours_scored["photos_per_second"] / theirs_scored["photos_per_second"], 2
        ),
        "target": ">= 4x face_recognition's photos/second, at least as many true faces",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "note": "cores shared with other work while measuring; compare the ratio",
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if use_cli:
        result["ours"]["cli_report"] = ours.get("cli_report")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    summary = {k: result[k] for k in ("photos", "true_faces", "speed_ratio")}
    print(json.dumps(summary), f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
