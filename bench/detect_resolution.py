"""Which detection size and upsampling find as many faces as face_recognition's CLI, cheaper?

The reference is what ``face_recognition`` (the command-line tool) does per photo:
full decode, shrink to at most 1600 px (LANCZOS), HOG with one upsample. Each
candidate decodes with ``load_image(max_side=side)`` and detects with
``FaceEngine.detect``. Both run side by side on every image, so timing noise
from other work on the machine hits them alike.

Images: the labelled development photos, and 12-megapixel JPEGs composed here
from their faces (portraits, couples, and group photos with small faces).
With ``--scan-library DIR`` (a library built by ``bench/scan.py --keep DIR``) it
instead measures on the scan benchmark's photos, whose true faces are known:
true faces found per setting, photo by photo against the reference on the
unrotated photos (the CLI ignores EXIF orientation), and CPU per photo.

    python bench/detect_resolution.py [--faces DIR] [--composed N] [--quick]
    python bench/detect_resolution.py --scan-library DIR [--skip S] [--photos N]
    (either form takes --candidates 1000/u1/grey,1600/u0,... to choose the settings)

Writes bench/results/detect_resolution.json (the scan-library part under its own key).
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from facealbum.engine.faces import FaceEngine  # noqa: E402
from facealbum.engine.images import load_image  # noqa: E402

RESULTS = REPO / "bench" / "results" / "detect_resolution.json"
DEFAULT_FACES = REPO.parent / "shared" / "faces"
CANVAS = (4000, 3000)  # 12 MP, a phone camera's photo
IOU_MATCH = 0.3

Boxes = list[tuple[float, float, float, float]]  # normalised left, top, right, bottom


@dataclass(frozen=True)
class Candidate:
    side: int
    upsample: int
    grey: bool = False

    @property
    def name(self) -> str:
        return f"{self.side}/u{self.upsample}" + ("/grey" if self.grey else "")

    @classmethod
    def parse(cls, name: str) -> Candidate:
        """Parse a name such as 1000/u1/grey."""
        side, upsample, *rest = name.split("/")
        return cls(int(side), int(upsample.lstrip("u")), grey=rest == ["grey"])


CANDIDATES = [
    Candidate(1600, 1),
    Candidate(1200, 1),
    Candidate(1000, 1),
    Candidate(1600, 0),
    Candidate(1000, 0),
    Candidate(800, 0),
    Candidate(1200, 1, grey=True),
    Candidate(1600, 0, grey=True),
]


# Settings tried on the scan benchmark's photos (--scan-library).
SCAN_CANDIDATES = [
    "1000/u1",
    "1000/u1/grey",
    "900/u1/grey",
    "2000/u0/grey",
    "1800/u0/grey",
    "1600/u0",
]


def reference(data: bytes) -> tuple[Boxes, float]:
    """face_recognition's CLI: full decode, thumbnail to 1600, HOG upsample 1."""
    import dlib

    detector = reference.detector = getattr(reference, "detector", None) or (
        dlib.get_frontal_face_detector()
    )
    start = time.perf_counter()
    im = Image.open(io.BytesIO(data)).convert("RGB")  # as face_recognition.load_image_file
    pixels = np.array(im)
    if max(pixels.shape) > 1600:
        small = Image.fromarray(pixels)
        small.thumbnail((1600, 1600), Image.Resampling.LANCZOS)
        pixels = np.array(small)
    rects = detector(pixels, 1)
    elapsed = time.perf_counter() - start
    h, w = pixels.shape[:2]
    return [_norm(r, w, h) for r in rects], elapsed


def candidate_run(engine: FaceEngine, data: bytes) -> tuple[Boxes, float]:
    start = time.perf_counter()
    image = load_image(data, max_side=engine.detect_side)
    hits = engine.detect(image.pixels)
    elapsed = time.perf_counter() - start
    h, w = image.pixels.shape[:2]
    return [_norm(r, w, h) for r, _ in hits], elapsed


def _norm(rect, w: int, h: int) -> tuple[float, float, float, float]:
    return (rect.left() / w, rect.top() / h, (rect.right() + 1) / w, (rect.bottom() + 1) / h)


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def matched(found: Boxes, truth: Boxes) -> int:
    """How many of ``truth`` have a box in ``found`` (greedy, one to one)."""
    left = list(found)
    hits = 0
    for t in truth:
        best = max(left, key=lambda f: iou(f, t), default=None)
        if best is not None and iou(best, t) >= IOU_MATCH:
            left.remove(best)
            hits += 1
    return hits


# -- composed 12 MP photos ---------------------------------------------------------------


@dataclass
class Source:
    crop: Image.Image  # head and shoulders
    face: tuple[int, int, int, int]  # face box inside the crop


def face_sources(faces_dir: Path) -> list[Source]:
    import dlib

    detector = dlib.get_frontal_face_detector()
    sources = []
    for path in sorted((faces_dir / "people").glob("*/*")):
        image = load_image(path, max_side=1600)
        rects = detector(image.pixels, 1)
        if len(rects) != 1:
            continue
        r = rects[0]
        w = r.width()
        h, wd = image.pixels.shape[:2]
        box = (
            max(0, r.left() - w),
            max(0, r.top() - w),
            min(wd, r.right() + w),
            min(h, r.bottom() + int(1.5 * w)),
        )
        crop = Image.fromarray(image.pixels).crop(box)
        face = (r.left() - box[0], r.top() - box[1], r.right() - box[0], r.bottom() - box[1])
        sources.append(Source(crop, face))
    return sources


def background(faces_dir: Path, rng: random.Random) -> Image.Image:
    """A face-free 12 MP scene: soft blobs of colour plus sensor noise (a realistic JPEG size)."""
    scene = load_image(faces_dir / "no_faces" / "noise.jpg", max_side=160).pixels
    im = Image.fromarray(scene).resize(CANVAS, Image.Resampling.BICUBIC)
    im = im.filter(ImageFilter.GaussianBlur(12))
    if rng.random() < 0.5:
        im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    noise = np.random.default_rng(rng.randrange(1 << 30)).normal(0, 4, (*CANVAS[::-1], 3))
    return Image.fromarray(np.clip(np.asarray(im) + noise, 0, 255).astype(np.uint8))


def paste_face(canvas: Image.Image, src: Source, face_px: int, centre: tuple[int, int]) -> tuple:
    scale = face_px / (src.face[2] - src.face[0])
    size = (max(1, round(src.crop.width * scale)), max(1, round(src.crop.height * scale)))
    crop = src.crop.resize(size, Image.Resampling.LANCZOS)
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).ellipse((0, 0, size[0] - 1, size[1] - 1), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(max(1, size[0] // 20)))
    fx = (src.face[0] + src.face[2]) / 2 * scale
    fy = (src.face[1] + src.face[3]) / 2 * scale
    x, y = round(centre[0] - fx), round(centre[1] - fy)
    canvas.paste(crop, (x, y), mask)
    half = face_px / 2
    w, h = canvas.size
    return ((centre[0] - half) / w, (centre[1] - half) / h, (centre[0] + half) / w,
            (centre[1] + half) / h)  # fmt: skip


LAYOUTS = {
    # kind: (faces, smallest and largest face width in pixels of the 4000 px photo)
    "portrait": (1, 450, 900),
    "couple": (2, 250, 450),
    "group": (6, 150, 260),
    "crowd": (10, 100, 170),
}


def composed_photos(faces_dir: Path, per_kind: int, seed: int = 7) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    sources = face_sources(faces_dir)
    photos = []
    for kind, (count, small, large) in LAYOUTS.items():
        for i in range(per_kind):
            canvas = background(faces_dir, rng)
            cols = min(count, 5)
            rows = (count + cols - 1) // cols
            for k in range(count):
                face_px = rng.randint(small, large)
                cx = int(CANVAS[0] * (k % cols + 0.5) / cols + rng.uniform(-60, 60))
                cy = int(CANVAS[1] * (k // cols + 0.5) / (rows + 0.3) + rng.uniform(-60, 60))
                paste_face(canvas, rng.choice(sources), face_px, (cx, cy))
            buf = io.BytesIO()
            canvas.save(buf, "JPEG", quality=90)
            photos.append((f"composed/{kind}_{i}.jpg", buf.getvalue()))
    return photos


# -- the measurement ---------------------------------------------------------------------


def measure(photos: list[tuple[str, bytes]], candidates: list[Candidate]) -> dict:
    engines = {c.name: FaceEngine(detect_side=c.side, upsample=c.upsample, grey=c.grey)
               for c in candidates}  # fmt: skip
    totals = {
        name: {"found": 0, "matched_reference": 0, "extra": 0, "seconds": 0.0}
        for name in ["reference", *engines]
    }
    per_image = []
    for label, data in photos:
        ref_boxes, ref_time = reference(data)
        row = {"image": label, "reference": {"faces": len(ref_boxes), "ms": ref_time * 1e3}}
        totals["reference"]["found"] += len(ref_boxes)
        totals["reference"]["matched_reference"] += len(ref_boxes)
        totals["reference"]["seconds"] += ref_time
        for name, engine in engines.items():
            boxes, elapsed = candidate_run(engine, data)
            hit = matched(boxes, ref_boxes)
            t = totals[name]
            t["found"] += len(boxes)
            t["matched_reference"] += hit
            t["extra"] += len(boxes) - hit
            t["seconds"] += elapsed
            row[name] = {"faces": len(boxes), "matched": hit, "ms": round(elapsed * 1e3, 1)}
        per_image.append(row)
        print(label, {k: v["faces"] for k, v in row.items() if isinstance(v, dict)}, flush=True)
    ref_faces = totals["reference"]["found"]
    ref_seconds = totals["reference"]["seconds"]
    summary = {}
    for name, t in totals.items():
        summary[name] = {
            "faces_found": t["found"],
            "recall_vs_reference": round(t["matched_reference"] / max(1, ref_faces), 3),
            "missed_vs_reference": ref_faces - t["matched_reference"],
            "extra_vs_reference": t["extra"],
            "ms_per_image": round(t["seconds"] / len(photos) * 1e3, 1),
            "speedup_vs_reference": round(ref_seconds / t["seconds"], 2),
        }
    return {"images": len(photos), "summary": summary, "per_image": per_image}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path, default=DEFAULT_FACES)
    parser.add_argument("--composed", type=int, default=3, help="photos per layout kind")
    parser.add_argument("--quick", action="store_true", help="only a few candidates")
    parser.add_argument("--scan-library", type=Path, help="a library built by bench/scan.py")
    parser.add_argument("--photos", type=int, default=150, help="scan-library photos to use")
    parser.add_argument("--skip", type=int, default=0, help="scan-library photos to skip first")
    parser.add_argument(
        "--candidates", default=",".join(SCAN_CANDIDATES), help="comma-separated settings"
    )
    args = parser.parse_args()
    if args.scan_library is not None:
        from detect_scan_photos import measure_scan_photos

        chosen = [Candidate.parse(n) for n in args.candidates.split(",")]
        part = measure_scan_photos(args.scan_library, chosen, args.photos, args.skip)
        results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
        results.setdefault("scan_bench_photos", {})[
            f"photos {args.skip}-{args.skip + args.photos}"
        ] = part
        RESULTS.write_text(json.dumps(results, indent=1))
        for name, s in part["summary"].items():
            print(f"  {name:16} {s}")
        return
    candidates = CANDIDATES[:1] + CANDIDATES[3:4] if args.quick else CANDIDATES
    if args.candidates != parser.get_default("candidates"):
        candidates = [Candidate.parse(n) for n in args.candidates.split(",")]

    labelled = [
        (str(p.relative_to(args.faces)), p.read_bytes())
        for p in sorted(args.faces.glob("*/**/*"))
        if p.suffix.lower() in (".jpg", ".jpeg", ".png")
    ]
    composed = composed_photos(args.faces, args.composed)
    results = {
        "what": "faces found by each detection setting vs face_recognition's CLI "
        "(1600 px, HOG upsample 1); time = decode + detect per image",
        "machine": {"python": platform.python_version(), "cpu": platform.processor()},
        "match_iou": IOU_MATCH,
        "labelled": measure(labelled, candidates),
        "composed_12mp": measure(composed, candidates),
    }
    if RESULTS.is_file():  # keep the scan-library measurements of earlier runs
        earlier = json.loads(RESULTS.read_text()).get("scan_bench_photos")
        if earlier:
            results["scan_bench_photos"] = earlier
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1))
    for part in ("labelled", "composed_12mp"):
        print(f"\n{part}:")
        for name, s in results[part]["summary"].items():
            print(f"  {name:16} {s}")


if __name__ == "__main__":
    main()
