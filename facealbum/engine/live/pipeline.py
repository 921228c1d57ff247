"""The live pipeline: capture, tracker and matcher threads around one analyser."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from facealbum.engine.live.analyser import (
    Analyser,
    ProcessAnalyser,
    Request,
    _from_crop,
    face_crop,
    resize_to_width,
)
from facealbum.engine.live.results import LiveFace, LiveFrame, LiveMatch, MatchFn
from facealbum.engine.live.slots import LatestSlot
from facealbum.engine.live.sources import FrameSource
from facealbum.engine.live.tracker import FaceTracker, _iou
from facealbum.model import Box

# The whole frame is looked at this wide; every detector's cost grows with its pixels.
# CPU per look on the clip (bench/results/live.json): HOG sees faces from 40 px here when
# it upsamples (56 ms) and from 80 px when not (14 ms); YuNet from about 20 px (21 ms).
# At 640 px YuNet boxed no more of the clip's faces, shrunk or not, for 1.4x the cost.
DETECT_WIDTH = 480
# Optical flow runs at most this wide; faces of a webcam stay well textured.
TRACK_WIDTH = 640
# A tracked face this wide (in the reduced frame) is big: HOG finds it without upsampling
# (from 80 px; the margin is for faces that shrink).
BIG_FACE_PX = 100
# Even while faces are being encoded, look at the whole frame this often for new ones.
FULL_LOOK_S = 0.5


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

    @property
    def source_ended(self) -> bool:
        """The picture stopped (camera unplugged, stop asked); matching may still wind down."""
        return bool(self._threads) and not self._threads[0].is_alive()

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
                for table in (self._matches, self._encoded):
                    for gone in set(table) - alive:
                        del table[gone]
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
        small_faces = self._wants_small_faces(frame.faces, self.cadence.detect_width)
        request = Request(small, encode_small, small_faces, tuple(crop for crop, _ in crops))
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
        if not self._stop.is_set():  # a stopped picture's message stays
            self.error = reply.problem  # e.g. YuNet's model is damaged: HOG finds the faces

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

    def _wants_small_faces(self, faces: Sequence[LiveFace], width: int) -> bool:
        """Not while every tracked face is big (HOG then looks several times faster), except
        every few rounds, for someone small joining in the back. YuNet always looks."""
        big = all((f.box.right - f.box.left) * width >= BIG_FACE_PX for f in faces)
        return not (faces and big and self.stats.detections % 5)

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
