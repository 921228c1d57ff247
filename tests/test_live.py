"""The live engine: newest-frame hand-over, sources, tracking, matching cadence; and the
facade's matches from a library."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers_library import four_people_library

from facealbum.album.live import library_match_fn
from facealbum.engine import yunet
from facealbum.engine.images import load_image
from facealbum.engine.live import (
    Cadence,
    FaceTracker,
    FrameSource,
    LatestSlot,
    LiveMatch,
    LivePipeline,
    LocalAnalyser,
    Reply,
    Request,
    SourceError,
    face_crop,
    resize_to_width,
)
from facealbum.model import Box, Match


def clip(faces_dir: Path) -> Path:
    return faces_dir / "video" / "short_hamilton_clip.mp4"


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# -- the newest-only slot --------------------------------------------------------------------


def test_slot_hands_over_only_the_newest_item_and_counts_the_skipped():
    slot: LatestSlot[str] = LatestSlot()
    for item in ("a", "b", "c"):
        slot.put(item)
    assert slot.get_newer(0, timeout=0) == (3, "c")
    assert slot.dropped == 2
    assert slot.get_newer(3, timeout=0.01) is None  # nothing newer: no repeat of "c"


def test_slot_wakes_a_waiting_reader():
    slot: LatestSlot[int] = LatestSlot()
    got = []
    reader = threading.Thread(target=lambda: got.append(slot.get_newer(0, timeout=10)))
    reader.start()
    slot.put(42)
    reader.join(10)
    assert got == [(1, 42)]


# -- sources ---------------------------------------------------------------------------------


def test_missing_and_unreadable_videos_give_a_readable_error(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        FrameSource(tmp_path / "nope.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(SourceError, match="not a video"):
        FrameSource(junk)


def test_a_camera_that_cannot_be_opened_says_what_to_do():
    with pytest.raises(SourceError) as info:
        FrameSource(97)  # no machine has camera 98
    assert "in use" in str(info.value) and "video file" in str(info.value)


def test_video_file_gives_rgb_frames_and_loops_at_its_end(faces_dir):
    source = FrameSource(clip(faces_dir))
    try:
        assert source.is_file and 29 < source.fps < 31
        frames = [source.read() for _ in range(300)]  # the clip has 275 frames
    finally:
        source.close()
    assert all(f is not None and f.shape == (360, 640, 3) for f in frames)
    assert np.array_equal(frames[0], frames[275])  # the same first frame again


# -- tracking --------------------------------------------------------------------------------


def textured_scene(offset: tuple[int, int], size=(240, 320)) -> np.ndarray:
    """A grey background with a textured square (the "face") at offset."""
    rng = np.random.default_rng(7)
    patch = (rng.random((60, 60)) * 255).astype(np.uint8)
    patch = cv2.GaussianBlur(patch, (3, 3), 0)
    img = np.full(size, 90, np.uint8)
    x, y = offset
    img[y : y + 60, x : x + 60] = patch
    return img


def test_tracker_boxes_follow_a_moving_face_between_detections():
    tracker = FaceTracker()
    tracker.update(1, textured_scene((100, 80)))
    tracker.apply_detections(1, [Box(100 / 320, 80 / 240, 160 / 320, 140 / 240)])
    for seq in range(2, 12):  # 4 px right and 2 px down per frame, no detection
        tracks = tracker.update(seq, textured_scene((100 + 4 * (seq - 1), 80 + 2 * (seq - 1))))
    assert len(tracks) == 1
    left, top, _, _ = tracks[0][1].to_pixels(320, 240)
    assert abs(left - 140) <= 3 and abs(top - 100) <= 3


def test_a_late_detection_corrects_the_track_where_it_is_now():
    tracker = FaceTracker()
    tracker.update(1, textured_scene((100, 80)))
    ids = tracker.apply_detections(1, [Box(100 / 320, 80 / 240, 160 / 320, 140 / 240)])
    for seq in range(2, 6):
        tracks = tracker.update(seq, textured_scene((100, 80)))
    # The detector saw frame 2 a little differently (8 px further right) and reports late.
    assert tracker.apply_detections(2, [Box(108 / 320, 80 / 240, 168 / 320, 140 / 240)]) == ids
    tracks = tracker.update(6, textured_scene((100, 80)))
    left, _, right, _ = tracks[0][1].to_pixels(320, 240)
    assert (left, right) == (108, 168)
    assert [tid for tid, _ in tracks] == ids  # the same person, not a new track


def test_separate_detections_make_separate_tracks():
    tracker = FaceTracker()
    tracker.update(1, textured_scene((20, 20)))
    ids = tracker.apply_detections(1, [Box(0.05, 0.1, 0.25, 0.35), Box(0.6, 0.5, 0.8, 0.75)])
    assert len(set(ids)) == 2 and 0 not in ids


def test_a_scene_cut_ends_every_track_and_ignores_detections_from_before_it():
    tracker = FaceTracker()
    tracker.update(1, textured_scene((100, 80)))
    tracker.apply_detections(1, [Box(100 / 320, 80 / 240, 160 / 320, 140 / 240)])
    assert tracker.update(2, textured_scene((100, 80)))
    other_scene = 255 - textured_scene((20, 20))
    assert tracker.update(3, other_scene) == []
    assert tracker.apply_detections(2, [Box(0.3, 0.3, 0.5, 0.5)]) == [0]
    assert tracker.update(4, other_scene) == []


def test_two_boxes_on_one_face_become_one_track():
    tracker = FaceTracker()
    tracker.update(1, textured_scene((100, 80)))
    # A detector can report one face twice, slightly shifted.
    ids = tracker.apply_detections(1, [Box(0.30, 0.30, 0.50, 0.60), Box(0.34, 0.30, 0.54, 0.60)])
    assert len(set(ids)) == 2
    tracks = tracker.update(2, textured_scene((100, 80)))
    assert [tid for tid, _ in tracks] == [min(ids)]


def test_a_drifted_box_still_takes_the_detection_of_its_face():
    tracker = FaceTracker()
    tracker.update(1, textured_scene((100, 80)))
    ids = tracker.apply_detections(1, [Box(0.2, 0.2, 0.8, 0.8)])  # far too big
    tracker.update(2, textured_scene((100, 80)))
    assert tracker.apply_detections(2, [Box(0.45, 0.45, 0.55, 0.55)]) == ids
    tracks = tracker.update(3, textured_scene((100, 80)))
    assert tracks[0][1].right - tracks[0][1].left == pytest.approx(0.1, abs=0.01)


# -- the pipeline with a stand-in analyser ---------------------------------------------------


class FakeAnalyser:
    """Finds one fixed face instantly (or slowly), and records what it was asked."""

    def __init__(self, box: Box | None, delay: float = 0.0, problem: str | None = None) -> None:
        self.box, self.delay, self.problem = box, delay, problem
        self.calls: list[bool] = []  # whether each round asked for an encoding

    def analyse(self, request: Request) -> Reply:
        self.calls.append(request.encode_small or bool(request.crops))
        time.sleep(self.delay)
        encoding = np.full(128, 0.1, np.float32)
        found = []
        if self.box is not None and request.small is not None:
            found = [(self.box, encoding if request.encode_small else None)]
        central = Box(0.25, 0.25, 0.75, 0.75)  # face_crop() leaves half a face around it
        crops = tuple((central, encoding) if self.box else None for _ in request.crops)
        return Reply(found, crops, self.problem)

    def close(self):
        pass


def still_video(path: Path, seconds: float = 2.0) -> Path:
    """A short file of one textured picture, so tracked boxes stay put."""
    frame = cv2.cvtColor(textured_scene((130, 90)), cv2.COLOR_GRAY2BGR)
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (320, 240))
    for _ in range(int(30 * seconds)):
        out.write(frame)
    out.release()
    return path


def test_a_busy_matcher_skips_frames_instead_of_queueing_them(faces_dir):
    analyser = FakeAnalyser(None, delay=0.3)
    pipeline = LivePipeline(None, analyser_factory=lambda: analyser)
    pipeline.start(FrameSource(clip(faces_dir)))
    wait_for(lambda: pipeline.stats.frames_read >= 45)
    newest = pipeline.latest()
    pipeline.stop(timeout=5)
    rounds, read = len(analyser.calls), pipeline.stats.frames_read
    # The display side saw (nearly) every frame; the slow matcher only a few of them.
    assert newest is not None and newest.seq >= read - 3
    assert rounds <= read / 5
    assert not pipeline.running


def test_a_video_plays_at_its_own_rate_not_as_fast_as_it_decodes(faces_dir):
    pipeline = LivePipeline(None, analyser_factory=lambda: FakeAnalyser(None))
    start = time.monotonic()
    pipeline.start(FrameSource(clip(faces_dir)))
    time.sleep(1.0)
    pipeline.stop(timeout=5)
    elapsed = time.monotonic() - start
    assert pipeline.stats.frames_read <= 30 * elapsed + 3  # decoding alone would do hundreds


def test_a_still_face_is_encoded_on_the_refresh_cadence_not_every_round(tmp_path):
    video = still_video(tmp_path / "still.mp4")
    box = Box(130 / 320, 90 / 240, 190 / 320, 150 / 240)
    analyser = FakeAnalyser(box, delay=0.01)
    matched: list[float] = []

    def match_fn(encoding):
        matched.append(time.monotonic())
        return []

    pipeline = LivePipeline(
        match_fn,
        analyser_factory=lambda: analyser,
        cadence=Cadence(refresh_s=0.5, min_gap_s=0.5),
    )
    pipeline.start(FrameSource(video))
    wait_for(lambda: len(matched) >= 3)
    pipeline.stop(timeout=5)
    # First sight is encoded at once, then every 0.5 s; in between the tracker alone
    # follows the face, with a look at the whole frame now and then for newcomers.
    assert analyser.calls[0] is True
    assert len(analyser.calls) < pipeline.stats.frames_tracked / 3
    gaps = np.diff(matched[:3])
    assert all(g >= 0.45 for g in gaps)
    frame = pipeline.latest()
    assert frame is not None and len(frame.faces) == 1


def test_matches_reach_the_tracked_face_and_a_library_switch_clears_them(tmp_path):
    video = still_video(tmp_path / "still.mp4")
    box = Box(130 / 320, 90 / 240, 190 / 320, 150 / 240)
    found = Match(face_id=7, photo_id=3, photo="x.jpg", distance=0.3, box=box)
    pipeline = LivePipeline(
        lambda enc: [LiveMatch(found, "Ada")],
        analyser_factory=lambda: FakeAnalyser(box, delay=0.01),
    )
    pipeline.start(FrameSource(video))
    try:
        wait_for(lambda: (f := pipeline.latest()) is not None and f.faces and f.faces[0].matches)
        assert pipeline.latest().faces[0].matches[0].name == "Ada"
        pipeline.set_match_fn(None)  # e.g. the library was closed
        wait_for(lambda: not pipeline.latest().faces[0].matches)
    finally:
        pipeline.stop(timeout=5)


def test_the_analysers_problem_reaches_the_user_through_the_pipeline(tmp_path):
    video = still_video(tmp_path / "still.mp4")
    why = "the YuNet face detector model is damaged; finding faces with HOG instead"
    pipeline = LivePipeline(None, analyser_factory=lambda: FakeAnalyser(None, problem=why))
    pipeline.start(FrameSource(video))
    try:
        wait_for(lambda: pipeline.error == why, timeout=10)
    finally:
        pipeline.stop(timeout=5)


# -- matching helpers ------------------------------------------------------------------------


def test_face_crop_scales_the_face_and_says_where_it_came_from():
    frame = np.zeros((360, 640, 3), np.uint8)
    face = Box(0.5, 0.5, 0.6, 0.5 + 64 / 360)  # 64 x 64 pixels
    crop, window = face_crop(frame, face, face_px=110)
    assert crop.shape[:2] == (220, 220)  # the face, 110 px wide, with half of it around
    assert window.to_pixels(640, 360) == (288, 148, 416, 276)


def test_similarity_is_half_at_the_tolerance():
    from facealbum.ui.style import similarity_percent

    assert similarity_percent(0.0, 0.6) == 100
    assert similarity_percent(0.6, 0.6) == 50
    assert similarity_percent(1.5, 0.6) == 0


class FakeLibrary:
    class settings:  # noqa: N801 - mimics the facade attribute
        tolerance = 0.5

    def __init__(self) -> None:
        self.asked_tolerance = None

    def similar_to_encoding(self, encoding, *, top, tolerance):
        self.asked_tolerance = tolerance
        box = Box(0, 0, 1, 1)
        mom = Match(1, 1, "a.jpg", 0.4, box, person_name="Mom")
        return [mom, Match(2, 2, "b.jpg", 0.8, box)][:top]


def test_library_matches_carry_names_and_reach_past_the_tolerance_for_look_alikes():
    library = FakeLibrary()
    matches = library_match_fn(library, top=2)(np.zeros(128, np.float32))
    assert [m.name for m in matches] == ["Mom", None]
    assert library.asked_tolerance == pytest.approx(1.0)


# -- the real thing --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_library(tmp_path_factory, faces_dir):
    with four_people_library(tmp_path_factory.mktemp("live-library"), faces_dir) as album:
        yield album


@pytest.mark.slow
def test_the_performer_in_the_clip_is_matched_to_his_photo(faces_dir, small_library):
    facing_us = range(82, 211)  # the clip's frames of him facing the camera, between cuts
    clip_length = 275
    results: list[list[LiveMatch]] = []
    match = library_match_fn(small_library)
    pipeline: LivePipeline | None = None

    def recording(encoding):
        found = match(encoding)
        # The matcher works on a frame at most a round older than the newest: near enough.
        frame = pipeline.latest() if pipeline is not None else None
        if frame is not None and (frame.seq - 1) % clip_length in facing_us:
            results.append(found)
        return found

    pipeline = LivePipeline(recording)  # the real analyser process
    pipeline.start(FrameSource(clip(faces_dir)))
    try:
        wait_for(lambda: len(results) >= 6, timeout=120)
    finally:
        pipeline.stop(timeout=5)
    best = [Path(r[0].match.photo).name for r in results if r]
    assert best.count("lmm_1.png") >= 0.8 * len(results)
    assert pipeline.stats.encodings >= len(results)
    assert pipeline.error is None  # YuNet, no fallback to report


# -- the analyser with YuNet -----------------------------------------------------------------


def clip_frames(faces_dir: Path, numbers) -> dict[int, np.ndarray]:
    source = FrameSource(clip(faces_dir))
    try:
        frames = [source.read() for _ in range(max(numbers) + 1)]
    finally:
        source.close()
    return {n: frames[n] for n in numbers}


def far_away(frame: np.ndarray, scale: float = 0.4) -> np.ndarray:
    """A 640x480 camera picture with `frame` shrunk in its middle: the clip's performer,
    85-100 px wide in the clip, becomes a face of 32-40 px further from the camera."""
    small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    picture = np.full((480, 640, 3), 40, np.uint8)
    y, x = (480 - small.shape[0]) // 2, (640 - small.shape[1]) // 2
    picture[y : y + small.shape[0], x : x + small.shape[1]] = small
    return picture


@pytest.mark.slow
def test_a_face_far_from_the_camera_is_found_and_matched_where_hog_saw_none(
    faces_dir, small_library
):
    frames = clip_frames(faces_dir, range(100, 181, 20))  # the performer facing the camera
    analyser, hog = LocalAnalyser(), LocalAnalyser("hog")
    match = library_match_fn(small_library)
    for number, frame in frames.items():
        picture = far_away(frame)
        # As the pipeline asks: the whole picture reduced to its detection width, then the
        # tracked face from a crop of the full picture.
        look = Request(resize_to_width(picture, Cadence().detect_width), False, True)
        assert hog.analyse(look).found == [], f"HOG found the small face of frame {number}"
        found = analyser.analyse(look).found
        assert len(found) == 1, f"frame {number}: {len(found)} faces"
        box = found[0][0]
        assert 30 <= (box.right - box.left) * 640 <= 42
        crop, _window = face_crop(picture, box)
        central = analyser.analyse(Request(None, False, False, (crop,))).crops[0]
        assert central is not None, f"frame {number}: no face in the crop"
        assert Path(match(central[1])[0].match.photo).name == "lmm_1.png"


def test_a_look_for_newcomers_does_not_start_tracking_a_dog(faces_dir):
    dogs = load_image((faces_dir / "detection" / "dogs.jpg").read_bytes(), max_side=1000)
    small = resize_to_width(dogs.pixels, Cadence().detect_width)
    assert LocalAnalyser().analyse(Request(small, False, True)).found == []


def test_a_damaged_yunet_model_falls_back_to_hog_and_says_so(faces_dir, tmp_path, monkeypatch):
    bad = tmp_path / yunet.MODEL_FILE.name
    bad.write_bytes(yunet.MODEL_FILE.read_bytes()[:1000])
    monkeypatch.setattr(yunet, "MODEL_FILE", bad)
    frame = clip_frames(faces_dir, [120])[120]  # the performer, large enough for HOG
    reply = LocalAnalyser().analyse(Request(resize_to_width(frame, 480), True, True))
    assert reply.problem is not None
    assert "damaged" in reply.problem and reply.problem.endswith("with HOG instead")
    assert len(reply.found) == 1 and reply.found[0][1] is not None


def test_looking_for_cameras_prints_nothing_in_the_terminal():
    """Indices without a camera are the usual answer; OpenCV's warnings about them are not
    the user's business (a camera that is there but fails still gets a message)."""
    code = "from facealbum.engine.live.sources import probe_cameras; print(probe_cameras())"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.startswith("[")
    assert done.stderr == ""
