"""Scan benchmark: our scanner against face_recognition's command-line tool, same photos.

Builds (or reuses) a library of camera-like 12 MP photos with known faces
(bench/scan_photos.py, from ../shared/faces beside the repository or
$FACEALBUM_TEST_FACES), splits it into CHUNKS folders, and times on each chunk
  (a) our scan: `facealbum --library L scan CHUNK --json` (one library across chunks,
      as a user adds folders; every start-up and post-scan step counted), and
  (b) `face_recognition --cpus 2 KNOWN CHUNK`, which prints one line per face found,
alternating which tool goes first (AB BA AB BA), so that the load other work puts on
a shared machine falls on both alike. Wall times are summed per tool; the CPU seconds
of each tool (its processes and their children) and the load averages around every
run are recorded too. True faces are matched by box: ours from the library, the
tool's by running its own pipeline (load, shrink to 1600 px, HOG upsample 1) on the
same photos afterwards, untimed. Both tools run as installed: facealbum's modules are
byte-compiled first, as pip compiles face_recognition's. Writes bench/results/scan.json.

    python bench/scan.py [--photos 300] [--chunks 4] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
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
THEIR_SIDE = 1600  # face_recognition's CLI shrinks larger photos to this before detecting

from scan_photos import CANVAS, JPEG_QUALITY, build_library, true_found  # noqa: E402

# -- the runs ---------------------------------------------------------------------------


def _become_subreaper() -> bool:
    """Adopt the tools' orphaned processes so that their CPU time is counted too.

    face_recognition's CLI runs its pool from a forkserver that outlives the tool's main
    process; without this, its workers' CPU would land nowhere (Linux only).
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _reap_orphans(limit: float = 20.0) -> None:
    """Wait for adopted processes (they end once the tool's main process has gone)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # no children left
        if pid == 0:
            time.sleep(0.05)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(command: list[str]) -> tuple[subprocess.CompletedProcess, dict]:
    """Run to the end; wall seconds, CPU seconds of it and its children, load around it."""
    load_before = os.getloadavg()
    cpu_before = _children_cpu()
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    seconds = time.monotonic() - started
    _reap_orphans()
    timing = {
        "seconds": seconds,
        "cpu_seconds": _children_cpu() - cpu_before,
        "load_before": [round(v, 2) for v in load_before],
        "load_after": [round(v, 2) for v in os.getloadavg()],
    }
    return done, timing


def scan_with_cli(chunk: Path, library: Path) -> dict:
    command = [sys.executable, "-m", "facealbum", "--library", str(library)]
    done, timing = _timed([*command, "scan", str(chunk), "--json"])
    return {**timing, "cli_report": json.loads(done.stdout)}


def scan_with_face_recognition(known: Path, chunk: Path) -> dict:
    tool = shutil.which("face_recognition", path=str(Path(sys.executable).parent))
    if tool is None:
        raise SystemExit("face_recognition's command-line tool is not installed next to Python")
    done, timing = _timed([tool, "--cpus", "2", str(known), str(chunk)])
    faces: Counter[str] = Counter()
    for line in done.stdout.splitlines():
        if line.startswith("WARNING") or "," not in line:
            continue
        path, name = line.split(",")[:2]
        faces[Path(path).name] += 0 if name == "no_persons_found" else 1
    return {**timing, "faces_per_file": dict(faces)}


def _faces_from_library(library: Path) -> dict[str, list[list[float]]]:
    """Boxes per photo file name, read back from the library's database."""
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
    return boxes


def _their_boxes_of(path: str) -> tuple[str, list[list[float]]]:
    """What face_recognition's CLI detects in one photo (stored pixels, as it reads them)."""
    import face_recognition
    import numpy as np
    from PIL import Image

    image = face_recognition.load_image_file(path)
    if max(image.shape) > THEIR_SIDE:
        small = Image.fromarray(image)
        small.thumbnail((THEIR_SIDE, THEIR_SIDE), Image.Resampling.LANCZOS)
        image = np.array(small)
    h, w = image.shape[:2]
    found = face_recognition.face_locations(image)  # HOG, upsample 1: the CLI's defaults
    return Path(path).name, [[le / w, t / h, r / w, b / h] for t, r, b, le in found]


def their_boxes(photos: Path, names: list[str]) -> dict[str, list[list[float]]]:
    with ProcessPoolExecutor(2) as pool:
        return dict(pool.map(_their_boxes_of, [str(photos / n) for n in names], chunksize=4))


def make_chunks(photos: Path, names: list[str], count: int, into: Path) -> list[Path]:
    """`count` folders holding consecutive slices of the photos (hard links, else copies)."""
    shutil.rmtree(into, ignore_errors=True)
    folders = []
    for i in range(count):
        folder = into / f"chunk{i}"
        folder.mkdir(parents=True)
        for name in names[i * len(names) // count : (i + 1) * len(names) // count]:
            try:
                os.link(photos / name, folder / name)
            except OSError:
                shutil.copyfile(photos / name, folder / name)
        folders.append(folder)
    return folders


# -- scoring ----------------------------------------------------------------------------


def stored_box(box: list[float], orientation: int) -> list[float]:
    """An upright normalised box in the coordinates of the stored (unrotated) pixels."""
    left, top, right, bottom = box
    if orientation == 3:  # stored upside down
        return [1 - right, 1 - bottom, 1 - left, 1 - top]
    if orientation == 6:  # stored turned a quarter anticlockwise
        return [top, 1 - right, bottom, 1 - left]
    if orientation == 8:  # stored turned a quarter clockwise
        return [1 - bottom, left, 1 - top, right]
    return list(box)


def true_faces_per_photo(boxes: dict, truth: list[dict], upright: bool) -> dict[str, int]:
    """True faces found per photo; `upright` says whether boxes are of the upright photo."""
    out = {}
    for t in truth:
        placed = t["boxes"] if upright else [stored_box(b, t["orientation"]) for b in t["boxes"]]
        out[t["file"]] = true_found(boxes.get(t["file"], []), placed)
    return out


def score(runs: list[dict], per_file: dict[str, int], true: dict[str, int], truth: list[dict]):
    seconds = sum(r["seconds"] for r in runs)
    cpu = sum(r["cpu_seconds"] for r in runs)
    return {
        "seconds": round(seconds, 2),
        "photos_per_second": round(len(truth) / seconds, 3),
        "cpu_seconds": round(cpu, 1),
        "cpu_seconds_per_photo": round(cpu / len(truth), 3),
        "faces_found": sum(per_file.get(t["file"], 0) for t in truth),
        "true_faces_found_by_box": sum(true.values()),
        "true_faces_found_in_unrotated_photos": sum(
            true[t["file"]] for t in truth if t["orientation"] == 1
        ),
        "faces_found_in_rotated_photos": sum(
            per_file.get(t["file"], 0) for t in truth if t["orientation"] != 1
        ),
        "chunks": [_chunk_record(r) for r in runs],
    }


def _chunk_record(run: dict) -> dict:
    skip = ("faces_per_file", "cli_report")
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in run.items() if k not in skip}


def engine_settings() -> dict:
    from facealbum.config import Settings
    from facealbum.engine import faces

    settings = Settings()
    engine = faces.FaceEngine(settings.detector, settings.min_face_px)
    described = {"detector": settings.detector, "detect_side": engine.detect_side}
    if settings.detector == "yunet":
        described["input_side"] = engine.input_side
        described["second_look_sizes"] = list(faces.SECOND_LOOK_SIZES)
    else:
        described.update(upsample=engine.upsample, grey=engine.grey)
    described.update(min_face_px=settings.min_face_px, workers=settings.effective_workers())
    return described


def byte_compile_ours() -> str:
    """Compile facealbum's modules to bytecode, as pip does when it installs a package.

    A source checkout run where PYTHONDONTWRITEBYTECODE is set (as it is on some machines)
    would otherwise compile every module again in every process of every chunk, about
    0.3 s of CPU a run that no installed copy pays; face_recognition's modules come
    compiled by pip.
    """
    import compileall

    import facealbum

    package = Path(facealbum.__file__).parent
    if not compileall.compile_dir(package, quiet=1):
        raise SystemExit(f"could not byte-compile {package}")
    return "facealbum's modules compiled before timing, as pip compiles an installed package"


# -- main -------------------------------------------------------------------------------


def run_alternating(chunks: list[Path], known: Path, library: Path) -> tuple[list, list]:
    ours, theirs = [], []
    shutil.rmtree(library, ignore_errors=True)
    for i, chunk in enumerate(chunks):
        order = ("ours", "theirs") if i % 2 == 0 else ("theirs", "ours")
        for tool in order:
            if tool == "ours":
                ours.append(scan_with_cli(chunk, library))
            else:
                theirs.append(scan_with_face_recognition(known, chunk))
            run = (ours if tool == "ours" else theirs)[-1]
            load = f"{run['load_before'][0]:.1f}->{run['load_after'][0]:.1f}"
            times = f"{run['seconds']:6.1f} s  cpu {run['cpu_seconds']:6.1f} s"
            print(f"  chunk {i} {tool:6}  {times}  load {load}", flush=True)
    return ours, theirs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=300, help="photos to build (default 300)")
    parser.add_argument("--chunks", type=int, default=4, help="chunks to alternate over")
    parser.add_argument("--keep", type=Path, help="build into (or reuse) this folder")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args()
    if not (FACES_DIR / "labels.csv").is_file():
        raise SystemExit(f"development faces not found at {FACES_DIR}")

    root = args.keep or Path(tempfile.mkdtemp(prefix="facealbum-scan-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        truth = build_library(root, args.photos, FACES_DIR)["photos"]
        names = [t["file"] for t in truth]
        chunks = make_chunks(root / "photos", names, args.chunks, root / "chunks")
        cpu_counted = "all processes" if _become_subreaper() else "processes waited for"
        bytecode = byte_compile_ours()
        print(f"{len(truth)} photos in {len(chunks)} chunks, tools alternating", flush=True)
        ours, theirs = run_alternating(chunks, root / "known", root / "library")
        our_boxes = _faces_from_library(root / "library")
        print("face_recognition's boxes (untimed)", flush=True)
        tool_boxes = their_boxes(root / "photos", names)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)

    our_true = true_faces_per_photo(our_boxes, truth, upright=True)
    tool_true = true_faces_per_photo(tool_boxes, truth, upright=False)
    tool_counts: Counter[str] = Counter()
    for run in theirs:
        tool_counts.update(run["faces_per_file"])
    ours_scored = score(ours, {n: len(b) for n, b in our_boxes.items()}, our_true, truth)
    ours_scored["cli_reports"] = [r["cli_report"] for r in ours]
    theirs_scored = score(theirs, dict(tool_counts), tool_true, truth)
    theirs_scored["faces_detected_by_its_pipeline"] = sum(len(b) for b in tool_boxes.values())
    upright = [t["file"] for t in truth if t["orientation"] == 1]
    behind = [name for name in upright if our_true[name] < tool_true[name]]
    result = {
        "benchmark": "scan",
        "photos": len(truth),
        "photo_size": f"{CANVAS[0]}x{CANVAS[1]} JPEG q{JPEG_QUALITY}",
        "rotated_photos": sum(t["orientation"] != 1 for t in truth),
        "photos_without_faces": sum(t["faces"] == 0 for t in truth),
        "true_faces": sum(t["faces"] for t in truth),
        "true_faces_in_unrotated_photos": sum(t["faces"] for t in truth if t["orientation"] == 1),
        "method": f"{len(chunks)} chunks, the two tools alternating (AB BA ...); times summed",
        "cpu_seconds_counted": cpu_counted,
        "ours_via": "facealbum CLI scan --json, one library across the chunks",
        "bytecode": bytecode,
        "our_engine": engine_settings(),
        "ours": ours_scored,
        "face_recognition_cli": theirs_scored,
        "speed_ratio": round(
            ours_scored["photos_per_second"] / theirs_scored["photos_per_second"], 2
        ),
        "cpu_ratio": round(theirs_scored["cpu_seconds"] / ours_scored["cpu_seconds"], 2),
        "unrotated_photos_where_ours_found_fewer_true_faces": behind,
        "target": ">= 12x face_recognition's photos/second, at least as many true faces",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "note": "cores shared with other work while measuring: see the load averages",
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    summary = {k: result[k] for k in ("photos", "true_faces", "speed_ratio", "cpu_ratio")}
    print(json.dumps(summary), f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
