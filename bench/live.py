"""Benchmark of the live look-alike pipeline on the development video clip.

    python bench/live.py                  # 15 s per variant, writes bench/results/live.json
    python bench/live.py --seconds 8 --variants process

Plays ../shared/faces/video/short_hamilton_clip.mp4 (looping, at its own frame rate)
through LivePipeline against a small library scanned from the labelled photos, while
the main thread acts as the display: it takes the newest frame whenever one is new,
draws its boxes, and counts. Variants, side by side in one run:

- process: detection and encoding in a child process (what the app uses);
- in-thread: the same work on a thread of this process, to show what the GIL does
  to the display when dlib runs beside it.

Targets: >= 20 displayed frames/s and >= 5 matches/s for one face.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facealbum.engine.live import (  # noqa: E402
    FrameSource,
    LivePipeline,
    LocalAnalyser,
    ProcessAnalyser,
    library_match_fn,
)

REPO = Path(__file__).resolve().parents[1]
FACES = Path(os.environ.get("FACEALBUM_TEST_FACES", REPO.parent / "shared" / "faces"))
VIDEO = FACES / "video" / "short_hamilton_clip.mp4"
RESULTS = REPO / "bench" / "results" / "live.json"
LIBRARY_PEOPLE = (
    "lin_manuel_miranda",
    "alex_lacamoire",
    "barack_obama",
    "joe_biden",
    "kit_harington",
)
DISPLAY_HZ = 60  # how often the display looks for a new frame (a 60 Hz screen)


def build_library(workdir: Path):
    """A small library of real labelled photos, scanned through the facade."""
    from facealbum.album import Album
    from facealbum.config import Settings

    photos = workdir / "photos"
    for person in LIBRARY_PEOPLE:
        shutil.copytree(FACES / "people" / person, photos / person)
    album = Album.open(workdir / "library")
    album.update_settings(Settings(workers=1))
    album.add_folder(photos)
    album.scan()
    return album


def run_variant(name: str, album, seconds: float) -> dict:
    factory = ProcessAnalyser if name == "process" else LocalAnalyser
    pipeline = LivePipeline(library_match_fn(album), analyser_factory=factory)
    pipeline.start(FrameSource(VIDEO))
    # Model loading in the analyser is a one-off start-up cost: wait for the first
    # detection round before measuring.
    t_ready = time.monotonic()
    while pipeline.stats.detections == 0 and time.monotonic() - t_ready < 30:
        time.sleep(0.05)
    startup_s = time.monotonic() - t_ready
    before = _snapshot(pipeline)
    shown, with_face, last_seq, gaps = 0, 0, 0, []
    t0 = last_shown = time.monotonic()
    while time.monotonic() - t0 < seconds:
        frame = pipeline.latest()
        if frame is not None and frame.seq != last_seq:
            last_seq = frame.seq
            canvas = frame.rgb.copy()  # what painting costs, roughly
            for face in frame.faces:
                x0, y0, x1, y1 = face.box.to_pixels(canvas.shape[1], canvas.shape[0])
                cv2.rectangle(canvas, (x0, y0), (x1, y1), (0, 200, 255), 2)
            now = time.monotonic()
            gaps.append(now - last_shown)
            last_shown = now
            shown += 1
            with_face += bool(frame.faces)
        time.sleep(1 / DISPLAY_HZ)
    elapsed = time.monotonic() - t0
    after = _snapshot(pipeline)
    pipeline.stop(timeout=5)
    face_seconds = with_face / shown * elapsed if shown else 0.0
    matches = after["matches"] - before["matches"]
    gaps.sort()
    enc_rounds = after["encode_rounds"] - before["encode_rounds"]
    det_rounds = after["detect_rounds"] - before["detect_rounds"]
    return {
        "variant": name,
        "analyser_startup_s": round(startup_s, 2),
        "seconds": round(elapsed, 2),
        "displayed_fps": round(shown / elapsed, 1),
        "display_gap_p95_ms": round(gaps[int(len(gaps) * 0.95)] * 1000, 1) if gaps else None,
        "frames_read_per_s": round((after["frames_read"] - before["frames_read"]) / elapsed, 1),
        "frames_dropped": after["frames_dropped"] - before["frames_dropped"],
        "detections_per_s": round((after["detections"] - before["detections"]) / elapsed, 2),
        "encodings_per_s": round((after["encodings"] - before["encodings"]) / elapsed, 2),
        "matches_per_s": round(matches / elapsed, 2),
        "detect_round_ms": round(
            (after["detect_rounds_s"] - before["detect_rounds_s"]) / max(1, det_rounds) * 1000, 1
        ),
        "detect_and_encode_round_ms": round(
            (after["encode_rounds_s"] - before["encode_rounds_s"]) / max(1, enc_rounds) * 1000, 1
        ),
        "share_of_frames_with_a_face": round(with_face / shown, 2) if shown else 0.0,
        "matches_per_s_while_a_face_is_seen": round(matches / face_seconds, 2)
        if face_seconds
        else None,
    }


def cpu_costs(frames: int = 40) -> dict:
    """CPU time per step on this thread alone: what a quiet 2-core laptop can reach.

    Wall-clock rates above depend on what else runs on the machine; CPU seconds per
    step barely do, so they give the capacity: matches/s <= 1 / encode round.
    """
    from facealbum.engine.live import FaceTracker, Request, face_crop, resize_to_width

    source = FrameSource(VIDEO)
    picked = []
    for i in range(int(source.fps * 9)):
        frame = source.read()
        if i >= 90 and i % 4 == 0 and len(picked) < frames:  # one face on stage
            picked.append(frame)
    source.close()
    analyser = LocalAnalyser()
    costs: dict[str, list[float]] = {
        "detect_480_up1": [],
        "detect_480_up0": [],
        "find_and_encode_480_up1": [],
        "encode_tracked_face_crop": [],
    }
    analyser.analyse(Request(resize_to_width(picked[0], 480), True, 1))  # load the models
    encoded = tried = 0

    def timed(key: str, request: Request):
        t = time.process_time()
        reply = analyser.analyse(request)
        costs[key].append(time.process_time() - t)
        return reply

    for frame in picked:
        small = resize_to_width(frame, 480)
        timed("detect_480_up0", Request(small, False, 0))
        found = timed("detect_480_up1", Request(small, False, 1)).found
        timed("find_and_encode_480_up1", Request(small, True, 1))
        for box, _ in found:
            crop, _window = face_crop(frame, box)
            reply = timed("encode_tracked_face_crop", Request(None, False, 1, (crop,)))
            tried += 1
            encoded += reply.crops[0] is not None
    tracker, track_costs = FaceTracker(), []
    for seq, frame in enumerate(picked, 1):
        t = time.process_time()
        tracker.update(seq, cv2.cvtColor(resize_to_width(frame, 640), cv2.COLOR_RGB2GRAY))
        track_costs.append(time.process_time() - t)
        if seq == 1:
            found = analyser.analyse(Request(resize_to_width(frame, 480), False, 1)).found
            tracker.apply_detections(1, [box for box, _ in found])
    out = {f"{k}_ms": round(sum(v) / max(1, len(v)) * 1000, 1) for k, v in costs.items()}
    out["crops_encoded_share"] = round(encoded / max(1, tried), 2)
    out["track_frame_ms"] = round(sum(track_costs[1:]) / max(1, len(track_costs) - 1) * 1000, 2)
    out["max_matches_per_s_one_face"] = round(1000 / out["encode_tracked_face_crop_ms"], 1)
    return out


def _snapshot(pipeline: LivePipeline) -> dict:
    s = pipeline.stats
    return {
        "frames_read": s.frames_read,
        "frames_dropped": s.frames_dropped,
        "detections": s.detections,
        "encodings": s.encodings,
        "matches": s.matches,
        "encode_rounds": s.encode_rounds,
        "encode_rounds_s": s.encode_rounds_s,
        "detect_rounds": s.detect_rounds,
        "detect_rounds_s": s.detect_rounds_s,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--variants", default="process,in-thread")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not VIDEO.is_file():
        print(f"video not found: {VIDEO} (set FACEALBUM_TEST_FACES)", file=sys.stderr)
        return 1
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        album = build_library(Path(tmp))
        try:
            library_faces = album.stats().get("faces")
            runs = [run_variant(v, album, args.seconds) for v in args.variants.split(",")]
            costs = cpu_costs()
        finally:
            album.close()
    result = {
        "video": VIDEO.name,
        "library_faces": library_faces,
        "cpu_count": os.cpu_count(),
        "load_average_at_start": round(load_before, 2),
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "targets": {"displayed_fps": 20, "matches_per_s_one_face": 5},
        "runs": runs,
        "cpu_per_step": costs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
