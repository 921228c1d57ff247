"""Live camera frames -> tracked face boxes -> library matches, all off the GUI thread.

Three threads and one process, each dropping stale work instead of queueing it:

- capture: reads the camera (or plays a video file at its own rate, looping) and keeps
  only the newest frame;
- tracker: moves every face box along with the picture by optical flow, on every frame,
  and publishes the newest frame with its boxes and matches for the display;
- matcher: whenever it is free, takes the newest tracked frame and, when there is
  something to do, sends one request to the analyser process: encode the tracked faces
  that are due (moved, or not encoded for a while) from small crops around them, and
  now and then look at the whole frame at reduced resolution for faces to start
  tracking (with nothing tracked, whoever is found there is encoded at once).

dlib keeps the GIL while it detects and encodes (~100 ms per face), which would stall
the display thread, so it runs in a child process; OpenCV releases the GIL.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import cv2
import numpy as np

from facealbum.engine.types import Box, Match

T = TypeVar("T")

# Faces are looked for at this width: HOG costs grow with the pixel count.
DETECT_WIDTH = 480
# Optical flow runs at most this wide; faces of a webcam stay well textured.
TRACK_WIDTH = 640
# HOG finds faces from 80 px without upsampling; a margin for faces that shrink.
BIG_FACE_PX = 100
# Mean grey-level change (0-255) between two frames that means a cut, not motion: the
# clip's cuts measure 28-30, its fastest motion 14.
CUT_DIFFERENCE = 22.0
# Tracked faces are encoded from a crop scaled to this width: HOG finds them there
# without upsampling, which costs a few ms instead of ~50 for a whole 480 px frame.
CROP_FACE_PX = 110
# Even while faces are being encoded, look at the whole frame this often for new ones.
FULL_LOOK_S = 0.5
# A track no detection has confirmed for this long is gone (left, turned away).
TRACK_TIMEOUT_S = 1.0


class SourceError(Exception):
    """A camera or video file that cannot be used; str(e) is a message for the user."""


# -- sources --------------------------------------------------------------------------------


def probe_cameras(max_index: int = 4) -> list[int]:
    """Indices of the cameras that open and deliver a frame (slow: run off the GUI thread)."""
    found = []
    for index in range(max_index):
        cap = cv2.VideoCapture(index)
        try:
            if cap.isOpened() and cap.read()[0]:
                found.append(index)
        finally:
            cap.release()
    return found


class FrameSource:
    """A camera (int index) or a video file (path) giving upright RGB frames.

    A file loops at its end and reports its own frame rate so playback can be paced.
    """

    def __init__(self, spec: int | str | Path) -> None:
        self.is_file = not isinstance(spec, int)
        self.name = Path(spec).name if self.is_file else f"Camera {spec}"
        if self.is_file and not Path(spec).is_file():
            raise SourceError(f"The video file {spec} does not exist.")
        self._spec = str(spec) if self.is_file else spec
        self._cap = cv2.VideoCapture(self._spec)
        ok, first = self._cap.read() if self._cap.isOpened() else (False, None)
        if not ok:
            self._cap.release()
            if self.is_file:
                raise SourceError(f"{self.name} is not a video this app can play.")
            raise SourceError(
                f"{self.name} could not be opened: it may be missing or in use by another "
                "program. Close the other program, or choose a video file instead."
            )
        self._first: np.ndarray | None = first
        fps = self._cap.get(cv2.CAP_PROP_FPS) if self.is_file else 0.0
        self.fps = fps if 1.0 <= fps <= 240.0 else 30.0

    def read(self) -> np.ndarray | None:
        """The next frame as RGB, or None when a camera stops delivering."""
        if self._first is not None:
            frame, self._first = self._first, None
        else:
            ok, frame = self._cap.read()
            if not ok and self.is_file:  # the end: start over
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, frame = self._cap.read()
            if not ok:
                return None
        if frame.ndim == 2:
            return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        self._cap.release()


# -- the newest-only hand-over ------------------------------------------------------------


class LatestSlot(Generic[T]):
    """Holds only the newest item; a reader that falls behind skips to it (counted as dropped)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self._seq = 0
        self._taken = 0
        self.dropped = 0

    def put(self, item: T) -> int:
        with self._cond:
            if self._seq > self._taken:
                self.dropped += 1  # the previous item was never taken
            self._seq += 1
            self._item = item
            self._cond.notify_all()
            return self._seq

    def get_newer(self, after: int, timeout: float | None = None) -> tuple[int, T] | None:
        """The newest (seq, item) with seq > after, waiting up to timeout; None if none came."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._seq > after, timeout):
                return None
            self._taken = max(self._taken, self._seq)
            return self._seq, self._item  # type: ignore[return-value]

    def peek(self) -> tuple[int, T | None]:
        with self._cond:
            return self._seq, self._item


# -- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveMatch:
    """One library face that looks like a live face."""

    match: Match
    name: str | None  # the person the library face belongs to, if named


@dataclass(frozen=True)
class LiveFace:
    track_id: int
    box: Box  # normalised to the frame
    matches: tuple[LiveMatch, ...] = ()  # nearest first; empty until first encoded


@dataclass(frozen=True)
class LiveFrame:
    """What the display draws: the newest frame with the newest boxes and matches."""

    seq: int
    rgb: np.ndarray = field(repr=False)
    faces: tuple[LiveFace, ...]


@dataclass
class LiveStats:
    frames_read: int = 0
    frames_tracked: int = 0
    frames_dropped: int = 0
    detections: int = 0  # detection passes
    encodings: int = 0  # faces encoded
    matches: int = 0  # match results published
    detect_rounds: int = 0  # rounds that only looked for faces
    detect_rounds_s: float = 0.0
    encode_rounds: int = 0
    encode_rounds_s: float = 0.0  # ...and in rounds that detected and encoded
    started: float = field(default_factory=time.monotonic)


MatchFn = Callable[[np.ndarray], Sequence[LiveMatch]]


# -- tracking -------------------------------------------------------------------------------


@dataclass
class _Track:
    id: int
    box: np.ndarray  # l, t, r, b in tracking pixels
    points: np.ndarray | None = None
    confirmed: float = field(default_factory=time.monotonic)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _holds_centre(box: np.ndarray, other: np.ndarray) -> bool:
    cx, cy = (other[0] + other[2]) / 2, (other[1] + other[3]) / 2
    return bool(box[0] <= cx <= box[2] and box[1] <= cy <= box[3])


class FaceTracker:
    """Moves face boxes with the picture (Lucas-Kanade flow) between detections.

    Detections arrive late (for an older frame); each is paired with the track's box on
    that frame and the difference is applied to where the track is now.
    """

    def __init__(self, timeout_s: float = TRACK_TIMEOUT_S, history: int = 90) -> None:
        self._tracks: list[_Track] = []
        self._prev: np.ndarray | None = None
        self._history: dict[int, dict[int, np.ndarray]] = {}  # seq -> track id -> box
        self._history_len = history
        self._timeout = timeout_s
        self._next_id = 1
        self._tiny: np.ndarray | None = None  # 64x36 copy of the last frame, to spot cuts
        self._cut_seq = 0
        self.size = (0, 0)  # width, height of the tracking image

    def update(self, seq: int, gray: np.ndarray) -> list[tuple[int, Box]]:
        """Follow every track onto this frame; returns (track id, normalised box)."""
        h, w = gray.shape[:2]
        self.size = (w, h)
        tiny = cv2.resize(gray, (64, 36), interpolation=cv2.INTER_AREA).astype(np.int16)
        if self._tiny is not None and float(np.abs(tiny - self._tiny).mean()) > CUT_DIFFERENCE:
            self._tracks = []  # a new scene: boxes (and their matches) belong to the old one
            self._cut_seq = seq
        elif self._prev is not None and self._prev.shape == gray.shape:
            for track in self._tracks:
                self._flow(track, self._prev, gray)
        self._prev, self._tiny = gray, tiny
        now = time.monotonic()
        self._tracks = self._without_duplicates(
            [t for t in self._tracks if now - t.confirmed <= self._timeout and self._sane(t, w, h)]
        )
        self._history[seq] = {t.id: t.box.copy() for t in self._tracks}
        for old in [s for s in self._history if s <= seq - self._history_len]:
            del self._history[old]
        return [(t.id, self._normalised(t.box)) for t in self._tracks]

    def apply_detections(self, seq: int, boxes: Sequence[Box]) -> list[int]:
        """Correct, start and confirm tracks from faces detected on frame `seq`.

        Returns the track id each box went to, in the order given.
        """
        w, h = self.size
        if self._prev is None or not w or seq < self._cut_seq:
            return [0] * len(boxes)  # nothing to track yet, or seen before a scene cut
        then = self._history.get(seq, {})
        now = time.monotonic()
        scale = np.array([w, h, w, h], dtype=np.float64)
        taken: set[int] = set()
        ids = [0] * len(boxes)
        for i in sorted(range(len(boxes)), key=lambda i: -boxes[i].area):  # big faces first
            det = np.array(boxes[i].as_list()) * scale
            best, best_score = None, 0.0
            for track in self._tracks:
                old = then.get(track.id, track.box)
                # A drifted box may overlap little but still hold the face's centre.
                score = max(_iou(det, old), 0.31 if _holds_centre(old, det) else 0.0)
                if track.id not in taken and score > 0.3 and score > best_score:
                    best, best_score = track, score
            if best is None:
                best = _Track(self._next_id, det)
                self._next_id += 1
                self._tracks.append(best)
            else:
                old = then.get(best.id, best.box)
                best.box = best.box + (det - old)  # the correction, carried to the present
            best.confirmed = now
            best.points = None
            taken.add(best.id)
            ids[i] = best.id
        return ids

    @staticmethod
    def _without_duplicates(tracks: list[_Track]) -> list[_Track]:
        """One track per face: two boxes that came to cover the same face keep the older."""
        kept: list[_Track] = []
        for track in sorted(tracks, key=lambda t: t.id):
            twin = next((k for k in kept if _iou(track.box, k.box) >= 0.4), None)
            if twin is None:
                kept.append(track)
            elif track.confirmed > twin.confirmed:  # the fresher box, under the older id
                twin.box, twin.points, twin.confirmed = track.box, None, track.confirmed
        return kept

    def _flow(self, track: _Track, prev: np.ndarray, gray: np.ndarray) -> None:
        if track.points is None or len(track.points) < 6:
            track.points = self._features(prev, track.box)
            if track.points is None:
                return
        new, status, _ = cv2.calcOpticalFlowPyrLK(
            prev, gray, track.points, None, winSize=(15, 15), maxLevel=2
        )
        good = status.reshape(-1) == 1
        old_pts, new_pts = track.points[good].reshape(-1, 2), new[good].reshape(-1, 2)
        if len(new_pts) < 3:
            track.points = None
            return
        dx, dy = np.median(new_pts - old_pts, axis=0)
        scale = 1.0
        if len(new_pts) >= 6:  # spread of the points: the face came closer or went away
            d_old = np.linalg.norm(old_pts - old_pts.mean(axis=0), axis=1)
            d_new = np.linalg.norm(new_pts - new_pts.mean(axis=0), axis=1)
            ok = d_old > 1
            if ok.sum() >= 3:
                scale = float(np.clip(np.median(d_new[ok] / d_old[ok]), 0.9, 1.1))
        cx = (track.box[0] + track.box[2]) / 2 + dx
        cy = (track.box[1] + track.box[3]) / 2 + dy
        half_w = (track.box[2] - track.box[0]) / 2 * scale
        half_h = (track.box[3] - track.box[1]) / 2 * scale
        track.box = np.array([cx - half_w, cy - half_h, cx + half_w, cy + half_h])
        track.points = new[good].reshape(-1, 1, 2)

    @staticmethod
    def _features(gray: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        h, w = gray.shape[:2]
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None
        mask = np.zeros_like(gray)
        mask[y0:y1, x0:x1] = 255
        pts = cv2.goodFeaturesToTrack(gray, 40, 0.01, 3, mask=mask)
        return None if pts is None else pts.astype(np.float32)

    @staticmethod
    def _sane(track: _Track, w: int, h: int) -> bool:
        x0, y0, x1, y1 = track.box
        return x1 - x0 >= 8 and y1 - y0 >= 8 and x1 > 0 and y1 > 0 and x0 < w and y0 < h

    def _normalised(self, box: np.ndarray) -> Box:
        w, h = self.size
        x0, y0, x1, y1 = box
        return Box(max(0.0, x0 / w), max(0.0, y0 / h), min(1.0, x1 / w), min(1.0, y1 / h))


# -- the analyser (detect + encode) ---------------------------------------------------------


Found = list[tuple[Box, "np.ndarray | None"]]  # faces: normalised box, encoding if asked


@dataclass(frozen=True)
class Request:
    """One round of work for the analyser."""

    small: np.ndarray | None  # the reduced frame to find faces in; None = not this round
    encode_small: bool  # ...and encode whoever is found there
    upsample: int  # for the reduced frame: 1 finds faces from 40 px, 0 from 80 px
    crops: tuple[np.ndarray, ...] = ()  # tracked faces to encode, see face_crop()


@dataclass(frozen=True)
class Reply:
    found: Found  # faces in the reduced frame
    crops: tuple[tuple[Box, np.ndarray] | None, ...]  # the central face of each crop


class Analyser(Protocol):
    def analyse(self, request: Request) -> Reply: ...

    def close(self) -> None: ...


class _FaceAnalysis:
    """The analyser's work; lives in one process and owns its FaceEngine there."""

    def __init__(self) -> None:
        from facealbum.engine.faces import FaceEngine  # models load on first use

        self._engine = FaceEngine(detector="hog", min_face_px=20)

    def __call__(self, request: Request, _context: object = None) -> Reply:
        found: Found = []
        if request.small is not None and request.encode_small:
            faces = self._engine.find_faces_in_pixels(request.small, upsample=request.upsample)
            found = [(f.box, f.encoding) for f in faces]
        elif request.small is not None:
            found = self._detect(request.small, request.upsample)
        return Reply(found, tuple(self._central_face(c) for c in request.crops))

    def _detect(self, rgb: np.ndarray, upsample: int) -> Found:
        # Detection alone costs a fraction of an encoding: it fills the rounds between.
        h, w = rgb.shape[:2]
        return [
            (
                Box(
                    max(0, r.left()) / w,
                    max(0, r.top()) / h,
                    min(w, r.right()) / w,
                    min(h, r.bottom()) / h,
                ),
                None,
            )
            for r, _score in self._engine.detect(rgb, upsample)
        ]

    def _central_face(self, crop: np.ndarray) -> tuple[Box, np.ndarray] | None:
        # The crop shows the face large enough for the detector without upsampling
        # (several times cheaper); a face smaller than expected gets a second look.
        faces = self._engine.find_faces_in_pixels(crop, upsample=0)
        if not faces:
            faces = self._engine.find_faces_in_pixels(crop, upsample=1)
        if not faces:
            return None

        def off_centre(f: Any) -> float:
            b = f.box
            return math.hypot((b.left + b.right) / 2 - 0.5, (b.top + b.bottom) / 2 - 0.5)

        face = min(faces, key=off_centre)
        return face.box, face.encoding


def _analysis_setup() -> Callable[[Any, object], Any]:
    return _FaceAnalysis()


class ProcessAnalyser:
    """Runs the analysis in a child process so dlib never holds this process's GIL."""

    def __init__(self) -> None:
        from facealbum.engine.pool import ProcessPool, WorkerError

        self._error_type = WorkerError
        self._pool = ProcessPool(1, _analysis_setup, depth=1)

    def analyse(self, request: Request) -> Reply:
        for _task, result in self._pool.run([request]):
            if isinstance(result, self._error_type):
                raise RuntimeError(result.reason)
            return result
        raise RuntimeError("the face analyser stopped")

    def close(self) -> None:
        self._pool.close()


class LocalAnalyser:
    """The same analysis in the calling thread (tests, benchmarks of the parts)."""

    def __init__(self) -> None:
        self._work: _FaceAnalysis | None = None

    def analyse(self, request: Request) -> Reply:
        if self._work is None:  # built on the calling thread: dlib objects stay on it
            self._work = _FaceAnalysis()
        return self._work(request)

    def close(self) -> None:
        pass


def face_crop(rgb: np.ndarray, box: Box, face_px: int = CROP_FACE_PX) -> tuple[np.ndarray, Box]:
    """The face with half its size around it, scaled so the face is about face_px wide.

    Returns the crop and where it lies in the frame (normalised).
    """
    h, w = rgb.shape[:2]
    fw, fh = (box.right - box.left) * w, (box.bottom - box.top) * h
    cx, cy = (box.left + box.right) / 2 * w, (box.top + box.bottom) / 2 * h
    half = max(fw, fh, 8.0)
    x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
    x1, y1 = int(min(w, cx + half)), int(min(h, cy + half))
    crop = rgb[y0:y1, x0:x1]
    scale = face_px / max(fw, 1.0)
    if crop.size and abs(scale - 1) > 0.1:
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=interp)
    return np.ascontiguousarray(crop), Box(x0 / w, y0 / h, x1 / w, y1 / h)


def _from_crop(box: Box, window: Box) -> Box:
    """A box normalised to a crop, normalised to the frame instead."""
    cw, ch = window.right - window.left, window.bottom - window.top
    return Box(
        window.left + box.left * cw,
        window.top + box.top * ch,
        window.left + box.right * cw,
        window.top + box.bottom * ch,
    )


def resize_to_width(rgb: np.ndarray, width: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if w <= width:
        return rgb
    return cv2.resize(rgb, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)


# -- the pipeline ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Cadence:
    """How often the matcher looks and encodes."""

    detect_width: int = DETECT_WIDTH
    refresh_s: float = 0.12  # a still face is encoded again this often
    min_gap_s: float = 0.05  # a moving face at most this often
    moved: float = 0.15  # centre shift, as a fraction of the face width, that counts as moved


class LivePipeline:
    """Camera or video -> tracked faces -> matches. Start, read latest(), stop.

    match_fn(encoding) -> matches is called on the matcher thread; None = track only.
    """

    def __init__(
        self,
        match_fn: MatchFn | None = None,
        *,
        analyser_factory: Callable[[], Analyser] = ProcessAnalyser,
        cadence: Cadence = Cadence(),
    ) -> None:
        self._match_fn = match_fn
        self._analyser_factory = analyser_factory
        self.cadence = cadence
        self.stats = LiveStats()
        self._raw: LatestSlot[np.ndarray] = LatestSlot()
        self._view: LatestSlot[LiveFrame] = LatestSlot()
        self._lock = threading.Lock()
        # Detections (with matches when encoded) waiting for the tracker, by frame seq.
        self._pending: list[tuple[int, list[tuple[Box, tuple[LiveMatch, ...] | None]]]] = []
        self._matches: dict[int, tuple[LiveMatch, ...]] = {}
        self._encoded: dict[int, tuple[float, Box]] = {}  # track id -> (when, where)
        self._last_look = 0.0  # when the matcher last looked at a whole frame
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._source: FrameSource | None = None
        self.error: str | None = None  # the latest problem, for the user

    # -- control ----------------------------------------------------------------------

    def start(self, source: FrameSource) -> None:
        """Start the threads on an opened source; the pipeline then owns (and closes) it."""
        self._source = source
        self.stats = LiveStats()
        for name, target in (
            ("live-capture", self._capture_loop),
            ("live-tracker", self._tracker_loop),
            ("live-matcher", self._matcher_loop),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout: float | None = 0.0) -> None:
        """Ask every thread to end; wait up to `timeout` (0 = return at once)."""
        self._stop.set()
        if timeout:
            deadline = time.monotonic() + timeout
            for thread in self._threads:
                thread.join(max(0.0, deadline - time.monotonic()))

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def set_match_fn(self, match_fn: MatchFn | None) -> None:
        """Match against another library (or none); matches of the old one are forgotten."""
        with self._lock:
            self._match_fn = match_fn
            self._matches.clear()
            self._encoded.clear()

    def latest(self) -> LiveFrame | None:
        return self._view.peek()[1]

    # -- threads ------------------------------------------------------------------------

    def _capture_loop(self) -> None:
        source = self._source
        assert source is not None
        period = 1.0 / source.fps
        due = time.monotonic()
        try:
            while not self._stop.is_set():
                frame = source.read()
                if frame is None:
                    self.error = f"{source.name} stopped delivering pictures."
                    return
                self.stats.frames_read += 1
                self._raw.put(frame)
                if source.is_file:  # play at the file's own rate, not as fast as it decodes
                    due += period
                    wait = due - time.monotonic()
                    if wait > 0:
                        self._stop.wait(wait)
                    elif wait < -period:
                        due = time.monotonic()  # fell behind: do not rush to catch up
        finally:
            source.close()
            self._stop.set()

    def _tracker_loop(self) -> None:
        tracker = FaceTracker()
        seq = 0
        while not self._stop.is_set():
            got = self._raw.get_newer(seq, 0.1)
            if got is None:
                continue
            seq, frame = got
            gray = cv2.cvtColor(resize_to_width(frame, TRACK_WIDTH), cv2.COLOR_RGB2GRAY)
            with self._lock:
                pending, self._pending = self._pending, []
            for det_seq, found in pending:
                ids = tracker.apply_detections(det_seq, [box for box, _ in found])
                self._attach_matches(ids, found)
            tracks = tracker.update(seq, gray)
            with self._lock:
                alive = {tid for tid, _ in tracks}
                for gone in set(self._matches) - alive:
                    del self._matches[gone]
                for gone in set(self._encoded) - alive:
                    del self._encoded[gone]
                faces = tuple(LiveFace(tid, box, self._matches.get(tid, ())) for tid, box in tracks)
            self.stats.frames_tracked += 1
            self.stats.frames_dropped = self._raw.dropped
            self._view.put(LiveFrame(seq, frame, faces))

    def _matcher_loop(self) -> None:
        analyser: Analyser | None = None
        last = 0
        try:
            analyser = self._analyser_factory()
            while not self._stop.is_set():
                got = self._view.get_newer(last, 0.1)
                if got is None:
                    continue
                last, frame = got
                try:
                    self._match_round(analyser, frame)
                except Exception as exc:  # a dead analyser or a closed library: say so, retry
                    self.error = f"Face matching failed: {exc}"
                    self._stop.wait(0.5)
        finally:
            if analyser is not None:
                analyser.close()

    def _attach_matches(
        self, ids: Sequence[int], found: Sequence[tuple[Box, tuple[LiveMatch, ...] | None]]
    ) -> None:
        now = time.monotonic()
        with self._lock:
            for tid, (box, matches) in zip(ids, found, strict=True):
                if tid and matches is not None:
                    self._matches[tid] = matches
                    self._encoded[tid] = (now, box)

    def _match_round(self, analyser: Analyser, frame: LiveFrame) -> None:
        now = time.monotonic()
        with self._lock:
            match_fn = self._match_fn
            due = self._due_faces(frame.faces, now) if match_fn is not None else []
            for face in due:  # so the next round does not ask again before these arrive
                self._encoded[face.track_id] = (now, face.box)
        # The whole frame is looked at when nothing is tracked, and every FULL_LOOK_S
        # regardless, so newcomers are found; between those the tracker needs no help.
        look = not frame.faces or now - self._last_look >= FULL_LOOK_S
        if not due and not look:
            return
        crops = [face_crop(frame.rgb, face.box) for face in due]
        # With nothing tracked, whoever appears is encoded at once: finding costs the
        # same with or without encoding while nobody is there.
        small = resize_to_width(frame.rgb, self.cadence.detect_width) if look else None
        encode_small = match_fn is not None and not frame.faces
        upsample = self._upsample(frame.faces, self.cadence.detect_width)
        request = Request(small, encode_small, upsample, tuple(crop for crop, _ in crops))
        reply = analyser.analyse(request)
        self._count_round(now, look, encode_small or bool(due))
        # Faces found in crops carry encodings; the same face found in the whole frame
        # is dropped, or it would start a second track.
        from_crops = []
        for (_, window), got in zip(crops, reply.crops, strict=True):
            if got is not None:
                from_crops.append((_from_crop(got[0], window), got[1]))
        taken = [np.array(box.as_list()) for box, _ in from_crops]
        found = [
            (box, enc)
            for box, enc in reply.found
            if all(_iou(np.array(box.as_list()), t) < 0.3 for t in taken)
        ]
        results = []
        for box, encoding in found + from_crops:
            matches = None
            if encoding is not None and match_fn is not None:
                matches = tuple(match_fn(encoding))
                self.stats.encodings += 1
            results.append((box, matches))
        with self._lock:
            if self._match_fn is not match_fn:  # the library changed meanwhile
                results = [(box, None) for box, _ in results]
            self.stats.matches += sum(m is not None for _, m in results)
            self._pending.append((frame.seq, results))
        self.error = None

    def _count_round(self, started: float, looked: bool, encoded: bool) -> None:
        spent = time.monotonic() - started
        if looked:
            self._last_look = started
            self.stats.detections += 1
        if encoded:
            self.stats.encode_rounds += 1
            self.stats.encode_rounds_s += spent
        else:
            self.stats.detect_rounds += 1
            self.stats.detect_rounds_s += spent

    def _upsample(self, faces: Sequence[LiveFace], width: int) -> int:
        """0 while every tracked face is large (several times faster), else 1 to find small ones.

        Every few rounds look closely anyway, for someone small joining in the back.
        """
        big = all((f.box.right - f.box.left) * width >= BIG_FACE_PX for f in faces)
        return 0 if faces and big and self.stats.detections % 5 else 1

    def _due_faces(self, faces: Sequence[LiveFace], now: float) -> list[LiveFace]:
        c = self.cadence
        due = []
        for face in faces:
            last = self._encoded.get(face.track_id)
            if last is None:
                due.append(face)
                continue
            when, where = last
            age = now - when
            width = max(1e-6, where.right - where.left)
            shift = math.hypot(
                (face.box.left + face.box.right - where.left - where.right) / 2,
                (face.box.top + face.box.bottom - where.top - where.bottom) / 2,
            )
            if age >= c.refresh_s or (age >= c.min_gap_s and shift / width >= c.moved):
                due.append(face)
        return due


def library_match_fn(library: Any, top: int = 3) -> MatchFn:
    """Matches from a library with the facade's similar_to_encoding() and face().

    Look-alikes are wanted, not only the same person: faces up to twice the library's
    tolerance count (similarity() reaches 0 there).
    """
    reach = 2.0 * float(library.settings.tolerance)

    def match(encoding: np.ndarray) -> list[LiveMatch]:
        found = library.similar_to_encoding(encoding, top=top, tolerance=reach)
        out = []
        for m in found:
            info = library.face(m.face_id)
            out.append(LiveMatch(m, info.person_name if info is not None else None))
        return out

    return match


def similarity(distance: float, tolerance: float) -> float:
    """0..1 for display: 1 = identical encodings, 0.5 = at the tolerance, 0 = twice as far."""
    return max(0.0, min(1.0, 1.0 - distance / (2.0 * tolerance)))


__all__ = [
    "Cadence",
    "FaceTracker",
    "FrameSource",
    "LatestSlot",
    "LiveFace",
    "LiveFrame",
    "LiveMatch",
    "LivePipeline",
    "LiveStats",
    "LocalAnalyser",
    "Reply",
    "Request",
    "ProcessAnalyser",
    "SourceError",
    "face_crop",
    "library_match_fn",
    "probe_cameras",
    "similarity",
]
