"""Benchmark of the live look-alike pipeline on the development video clip: HOG against YuNet.

    python bench/live.py          # about 3 minutes, writes bench/results/live.json
    python bench/live.py --seconds 6 --rounds 1 --variants hog,yunet,yunet@640

Plays ../shared/faces/video/short_hamilton_clip.mp4 (looping, at its own frame rate)
through LivePipeline against a small library scanned from the labelled photos, while
the main thread acts as the display: it takes the newest frame whenever one is new,
draws its boxes, and counts. The machines are shared and noisy, so the variants run in
one go, taking turns round after round; compare them within a run, as ratios:

- hog: the analyser with dlib's HOG detector, the pipeline as it was before YuNet;
- yunet: the analyser with YuNet, what the app uses;
- yunet@640: YuNet looking at whole frames 640 px wide instead of DETECT_WIDTH;
- on request, yunet-in-thread: the same work on a thread of this process, to show
  what the GIL does to the display when it runs beside it.

Each variant plays the clip as it is and the clip shrunk onto a canvas of its own size
(SHRINK: the performer's face 34-40 px instead of 85-100, someone further from the
camera). The clip's scenes (SCENES) add a face turned aside and an audience; per scene
the results say how often the face is boxed, matched, and matched to the right person.
The analyser alone is also asked about every few frames of each scene (no timing: what
each detector can find and match), and its CPU time per step is measured.

Targets: >= 20 displayed frames/s and >= 5 matches/s for one face.
"""

from __future__ import annotations

import os

# One BLAS thread, as the analyser process has (engine/pool.py): several would spin on a
# busy machine, and the CPU times measured on this thread would count their spinning.
# OpenBLAS reads this once, when numpy is first imported.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from functools import cache, partial  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facealbum.album.live import library_match_fn  # noqa: E402
from facealbum.engine.live import (  # noqa: E402
    Cadence,
    FaceTracker,
    FrameSource,
    LiveMatch,
    LivePipeline,
    LocalAnalyser,
    ProcessAnalyser,
    Request,
    face_crop,
    resize_to_width,
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
# The shrunk clip: its frames at this scale in the middle of a canvas of the clip's size.
SHRINK = 0.4
CANVAS_GREY = 40
ANALYSER_EVERY = 4  # the analyser alone looks at every 4th frame of each scene


@dataclass(frozen=True)
class Scene:
    name: str
    frames: range  # frame numbers in the clip (its cuts are at frames 20, 82 and 211)
    person: str  # the library's folder of who the scene is about


SCENES = (
    # The performer far away on stage (face 40-49 px) and the pianist (25 px).
    Scene("far", range(0, 20), "lin_manuel_miranda"),
    # A close-up of the performer in profile, the audience blurred behind him.
    Scene("turned_aside", range(20, 82), "lin_manuel_miranda"),
    Scene("frontal", range(82, 211), "lin_manuel_miranda"),  # face 85-100 px, facing us
    # The audience laughing: the president turned three-quarters, among others.
    Scene("audience", range(211, 275), "barack_obama"),
)


@dataclass(frozen=True)
class Variant:
    name: str
    detector: str
    in_process: bool
    detect_width: int


def parse_variant(spec: str) -> Variant:
    """hog, yunet, yunet-in-thread, yunet@640, ..."""
    name, _, width = spec.partition("@")
    detector, _, where = name.partition("-")
    if where not in ("", "in-thread"):
        raise SystemExit(f"unknown variant {spec!r}")
    return Variant(spec, detector, where == "", int(width or Cadence().detect_width))


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


def shrunk_clip(out: Path) -> Path:
    """The clip with every frame at SHRINK of its size, centred on a grey canvas."""
    source = FrameSource(VIDEO)
    frames = count_frames(VIDEO)
    first = source.read()
    h, w = first.shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), source.fps, (w, h))
    frame = first
    for _ in range(frames):
        small = cv2.resize(frame, None, fx=SHRINK, fy=SHRINK, interpolation=cv2.INTER_AREA)
        canvas = np.full_like(frame, CANVAS_GREY)
        y, x = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
        canvas[y : y + small.shape[0], x : x + small.shape[1]] = small
        writer.write(cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
        frame = source.read()
    writer.release()
    source.close()
    return out


@cache
def count_frames(video: Path) -> int:
    cap = cv2.VideoCapture(str(video))
    n = 0
    while cap.grab():
        n += 1
    cap.release()
    return n


def best_person(matches: tuple[LiveMatch, ...] | list[LiveMatch]) -> str | None:
    """The library folder (= person) of the nearest look-alike."""
    return Path(matches[0].match.photo).parent.name if matches else None


def scene_of(frame_number: int) -> Scene:
    return next(s for s in SCENES if frame_number in s.frames)


# -- the pipeline, timed -----------------------------------------------------------------------


def empty_counts() -> dict:
    return {
        "seconds": 0.0,
        "startup_s": [],
        "shown": 0,
        "gaps": [],
        **{k: 0 for k in _STAT_KEYS},
        "scenes": {
            s.name: {"shown": 0, "boxed": 0, "with_lookalikes": 0, "matches": 0, "right": 0}
            for s in SCENES
        },
    }


_STAT_KEYS = (
    "frames_read",
    "frames_dropped",
    "detections",
    "encodings",
    "matches",
    "encode_rounds",
    "encode_rounds_s",
    "detect_rounds",
    "detect_rounds_s",
)


def play(variant: Variant, album, video: Path, seconds: float, counts: dict) -> None:
    """Play `video` through the pipeline for `seconds`, adding what happened to `counts`."""
    clip_frames = count_frames(video)
    match = library_match_fn(album)
    pipeline: LivePipeline | None = None
    measuring = threading.Event()

    def matching(encoding: np.ndarray) -> list[LiveMatch]:
        # Counted against the scene of the newest frame: the matcher works on a frame at
        # most a round (a frame or two) older.
        found = match(encoding)
        latest = pipeline.latest() if pipeline is not None else None
        if latest is not None and measuring.is_set():
            scene = scene_of((latest.seq - 1) % clip_frames)
            tally = counts["scenes"][scene.name]
            tally["matches"] += 1
            tally["right"] += best_person(found) == scene.person
        return found

    factory = partial(ProcessAnalyser if variant.in_process else LocalAnalyser, variant.detector)
    pipeline = LivePipeline(
        matching, analyser_factory=factory, cadence=Cadence(detect_width=variant.detect_width)
    )
    pipeline.start(FrameSource(video))
    # Model loading in the analyser is a one-off start-up cost: wait for the first
    # detection round before measuring.
    t_ready = time.monotonic()
    while pipeline.stats.detections == 0 and time.monotonic() - t_ready < 30:
        time.sleep(0.05)
    counts["startup_s"].append(time.monotonic() - t_ready)
    before = _snapshot(pipeline)
    measuring.set()
    last_seq = 0
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
            counts["gaps"].append(now - last_shown)
            last_shown = now
            counts["shown"] += 1
            scene = scene_of((frame.seq - 1) % clip_frames)
            tally = counts["scenes"][scene.name]
            tally["shown"] += 1
            tally["boxed"] += bool(frame.faces)
            tally["with_lookalikes"] += any(f.matches for f in frame.faces)
        time.sleep(1 / DISPLAY_HZ)
    counts["seconds"] += time.monotonic() - t0
    measuring.clear()
    after = _snapshot(pipeline)
    pipeline.stop(timeout=5)
    for key in _STAT_KEYS:
        counts[key] += after[key] - before[key]


def summary(variant: Variant, counts: dict) -> dict:
    elapsed = counts["seconds"]
    shown = counts["shown"]
    gaps = sorted(counts["gaps"])
    scenes = {}
    for name, t in counts["scenes"].items():
        scene_s = t["shown"] / shown * elapsed if shown else 0.0
        scenes[name] = {
            "share_boxed": round(t["boxed"] / max(1, t["shown"]), 2),
            "share_with_lookalikes": round(t["with_lookalikes"] / max(1, t["shown"]), 2),
            "matches_per_s": round(t["matches"] / scene_s, 2) if scene_s else None,
            # ...whose nearest look-alike is a photo of the scene's person
            "right_person_matches_per_s": round(t["right"] / scene_s, 2) if scene_s else None,
        }
    return {
        "variant": variant.name,
        "detector": variant.detector,
        "detect_width": variant.detect_width,
        "analyser_startup_s": round(max(counts["startup_s"]), 2),
        "seconds": round(elapsed, 2),
        "displayed_fps": round(shown / elapsed, 1),
        "display_gap_p95_ms": round(gaps[int(len(gaps) * 0.95)] * 1000, 1) if gaps else None,
        "frames_read_per_s": round(counts["frames_read"] / elapsed, 1),
        "frames_dropped": counts["frames_dropped"],
        "detections_per_s": round(counts["detections"] / elapsed, 2),
        "encodings_per_s": round(counts["encodings"] / elapsed, 2),
        "matches_per_s": round(counts["matches"] / elapsed, 2),
        "detect_round_ms": round(
            counts["detect_rounds_s"] / max(1, counts["detect_rounds"]) * 1000, 1
        ),
        "detect_and_encode_round_ms": round(
            counts["encode_rounds_s"] / max(1, counts["encode_rounds"]) * 1000, 1
        ),
        "scenes": scenes,
    }


def _snapshot(pipeline: LivePipeline) -> dict:
    return {key: getattr(pipeline.stats, key) for key in _STAT_KEYS}


# -- the analyser alone ------------------------------------------------------------------------


def analyser_by_scene(detector: str, album, videos: dict[str, Path], width: int) -> dict:
    """For every ANALYSER_EVERY-th frame of each scene: does one look at the whole frame
    (as the pipeline sends it when nothing is tracked yet) find and encode a face, and is
    the best look-alike of one of them the scene's person? No timing: what the detector can do.
    """
    analyser = LocalAnalyser(detector)
    match = library_match_fn(album)
    out: dict = {}
    for clip_name, video in videos.items():
        source = FrameSource(video)
        frames = [source.read() for _ in range(count_frames(video))]
        source.close()
        per_scene = {}
        for scene in SCENES:
            picked = [frames[i] for i in scene.frames[::ANALYSER_EVERY]]
            found = right = 0
            for frame in picked:
                reply = analyser.analyse(Request(resize_to_width(frame, width), True, True))
                found += bool(reply.found)
                right += any(best_person(match(enc)) == scene.person for _, enc in reply.found)
            per_scene[scene.name] = {
                "frames": len(picked),
                "found_a_face": found,
                "matched_the_person": right,
            }
        out[clip_name] = per_scene
    return out


def cpu_costs(detector: str, width: int, frames: int = 40) -> dict:
    """CPU time per step on this thread alone: what a quiet 2-core laptop can reach.

    Wall-clock rates above depend on what else runs on the machine; CPU seconds per
    step barely do, so they give the capacity: matches/s <= 1 / encode round.
    """
    source = FrameSource(VIDEO)
    picked = []
    for i in range(SCENES[2].frames.stop):
        frame = source.read()
        if i >= 90 and i % 3 == 0 and len(picked) < frames:  # one face on stage
            picked.append(frame)
    source.close()
    analyser = LocalAnalyser(detector)
    steps = ["look_small_faces_too", "look_big_faces_only", "look_and_encode", "look_at_640"]
    costs: dict[str, list[float]] = {k: [] for k in [*steps, "encode_tracked_face_crop"]}
    analyser.analyse(Request(resize_to_width(picked[0], width), True, True))  # load the models
    encoded = tried = 0

    def timed(key: str, request: Request):
        t = time.process_time()
        reply = analyser.analyse(request)
        costs[key].append(time.process_time() - t)
        return reply

    for frame in picked:
        small = resize_to_width(frame, width)
        timed("look_big_faces_only", Request(small, False, False))
        found = timed("look_small_faces_too", Request(small, False, True)).found
        timed("look_and_encode", Request(small, True, True))
        timed("look_at_640", Request(resize_to_width(frame, 640), False, True))  # the clip's size
        for box, _ in found:
            crop, _window = face_crop(frame, box)
            reply = timed("encode_tracked_face_crop", Request(None, False, True, (crop,)))
            tried += 1
            encoded += reply.crops[0] is not None
    tracker, track_costs = FaceTracker(), []
    for seq, frame in enumerate(picked, 1):
        t = time.process_time()
        tracker.update(seq, cv2.cvtColor(resize_to_width(frame, 640), cv2.COLOR_RGB2GRAY))
        track_costs.append(time.process_time() - t)
        if seq == 1:
            found = analyser.analyse(Request(resize_to_width(frame, width), False, True)).found
            tracker.apply_detections(1, [box for box, _ in found])
    out = {f"{k}_ms": round(sum(v) / max(1, len(v)) * 1000, 1) for k, v in costs.items()}
    out["crops_encoded_share"] = round(encoded / max(1, tried), 2)
    out["track_frame_ms"] = round(sum(track_costs[1:]) / max(1, len(track_costs) - 1) * 1000, 2)
    out["max_matches_per_s_one_face"] = round(1000 / out["encode_tracked_face_crop_ms"], 1)
    return out


def ratios(runs: list[dict], clip: str) -> dict:
    """YuNet's figures over HOG's, in the same run."""
    by_name = {r["variant"]: r for r in runs if r["clip"] == clip}
    hog, yunet = by_name.get("hog"), by_name.get("yunet")
    if not hog or not yunet:
        return {}
    out = {}
    for key in ("displayed_fps", "matches_per_s", "detect_round_ms"):
        out[key] = round(yunet[key] / hog[key], 2) if hog[key] else None
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per variant, clip and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--variants", default="hog,yunet,yunet@640")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not VIDEO.is_file():
        print(f"video not found: {VIDEO} (set FACEALBUM_TEST_FACES)", file=sys.stderr)
        return 1
    variants = [parse_variant(v) for v in args.variants.split(",")]
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        videos = {"clip": VIDEO, "shrunk": shrunk_clip(Path(tmp) / "shrunk.mp4")}
        album = build_library(Path(tmp))
        try:
            library_faces = album.stats().get("faces")
            counts = {(v.name, c): empty_counts() for v in variants for c in videos}
            for _ in range(args.rounds):  # taking turns, so a busy spell hits every variant
                for variant in variants:
                    for clip, video in videos.items():
                        play(variant, album, video, args.seconds, counts[(variant.name, clip)])
            runs = [
                {"clip": clip, **summary(v, counts[(v.name, clip)])}
                for clip in videos
                for v in variants
            ]
            width = Cadence().detect_width
            detectors = sorted({v.detector for v in variants})
            alone = {d: analyser_by_scene(d, album, videos, width) for d in detectors}
            costs = {d: cpu_costs(d, width) for d in detectors}
        finally:
            album.close()
    result = {
        "video": VIDEO.name,
        "shrunk_scale": SHRINK,
        "library_faces": library_faces,
        "cpu_count": os.cpu_count(),
        "load_average_at_start": round(load_before, 2),
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "targets": {"displayed_fps": 20, "matches_per_s_one_face": 5},
        "yunet_over_hog": {clip: ratios(runs, clip) for clip in videos},
        "runs": runs,
        "analyser_alone_by_scene": alone,
        "cpu_per_step": costs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
