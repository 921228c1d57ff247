"""Face boxes that follow the picture by optical flow between (late) detections."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from facealbum.model import Box

# Mean grey-level change (0-255) between two frames that means a cut, not motion: the
# clip's cuts measure 28-30, its fastest motion 14.
CUT_DIFFERENCE = 22.0
# A track no detection has confirmed for this long is gone (left, turned away).
TRACK_TIMEOUT_S = 1.0


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
