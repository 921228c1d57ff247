"""What YuNet's input size costs and finds, and where a scan's CPU goes per photo.

    python bench/engine_steps.py [--photos 40] [--keep DIR]

1. YuNet looking at the whole 1000 px decode against the engine's YUNET_INPUT_SIDE copy
   (faces are encoded from the 1000 px decode either way), on bench/detection.py's sets:
   faces found, false detections and CPU of analyse_file per photo, photo by photo.
2. CPU of each step of analyse_file on camera-like 12 MP photos (bench/scan_photos.py):
   detection, second look, landmarks, aligned chips, encoding; "decode and the rest" is
   what is left (JPEG decode at reduced size, fingerprint, EXIF).

One OpenCV and one BLAS thread, as in a scan's worker. Writes bench/results/engine_steps.json.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import detection as det  # noqa: E402
from scan_photos import build_library  # noqa: E402

from facealbum.engine import faces as engine_faces  # noqa: E402

RESULTS = det.REPO / "bench" / "results" / "engine_steps.json"
STEPS = (
    ("detect", "detect"),
    ("_looks_like_a_face", "second_look"),
    ("_shapes", "landmarks"),
    ("_aligned_chips", "chips"),
    ("_encode", "encode"),
)


def input_sides(sets: dict[str, list[det.Photo]]) -> dict:
    sides = {"1000": det.AppDetector("yunet", input_side=engine_faces.YUNET_SIDE),
             str(engine_faces.YUNET_INPUT_SIDE): det.AppDetector("yunet")}  # fmt: skip
    out: dict = {}
    for name, photos in sets.items():
        per_side = {k: {"found": 0, "faces": 0, "false": 0, "cpu_ms": 0.0} for k in sides}
        for photo in photos:
            for key, app in sides.items():  # interleaved: shared-machine noise falls on both
                run = app(photo)
                scored = det.score(photo, run)
                r = per_side[key]
                r["found"] += int(scored["hit"].sum())
                r["faces"] += int(scored["counted"].sum())
                r["false"] += len(scored["false_px"])
                r["cpu_ms"] += run.cpu_ms
        for r in per_side.values():
            r["cpu_ms"] = round(r["cpu_ms"] / max(1, len(photos)), 1)
        out[name] = per_side
        print(name, per_side, flush=True)
    return out


def step_costs(photos: list[Path]) -> dict:
    app = det.AppDetector("yunet", steps=STEPS)
    app.engine.analyse_file(photos[0])  # models loaded before timing
    totals: dict[str, float] = {}
    faces = 0
    for path in photos:
        app.steps = {}
        cpu = time.process_time()
        faces += len(app.engine.analyse_file(path).faces)
        cpu = time.process_time() - cpu
        totals["total"] = totals.get("total", 0.0) + cpu
        for step, seconds in app.steps.items():
            totals[step] = totals.get(step, 0.0) + seconds
    per_photo = {k: round(v / len(photos) * 1e3, 1) for k, v in totals.items()}
    # The timed steps never call one another, so what is left is the rest.
    per_photo["decode_and_rest"] = round(
        per_photo["total"] - sum(per_photo.get(s, 0.0) for _, s in STEPS), 1
    )
    return {"photos": len(photos), "faces_per_photo": round(faces / len(photos), 2),
            "cpu_ms_per_photo": per_photo}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=40, help="12 MP photos to time")
    parser.add_argument("--keep", type=Path, help="build the 12 MP photos into (or reuse) DIR")
    parser.add_argument("--faces", type=Path, default=det.DEFAULT_FACES)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    started = time.monotonic()
    sets, _ = det.build_sets(args.faces, quick=False, cnn="none")
    sides = input_sides(sets)
    root = args.keep or Path(tempfile.mkdtemp(prefix="engine-steps-"))
    build_library(root, max(args.photos, 1), args.faces)
    photos = sorted((root / "photos").glob("*.jpg"))[: args.photos]
    steps = step_costs(photos)
    print(steps, flush=True)
    result = {
        "what": __doc__.split("\n")[0],
        "machine": det.machine(),
        "input_sides": sides,
        "steps_12mp": steps,
        "run_s": round(time.monotonic() - started, 1),
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
