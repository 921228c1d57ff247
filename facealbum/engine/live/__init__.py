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

The analyser finds faces with YuNet (HOG when YuNet's model is missing or damaged) and
encodes them with dlib's landmarks and encoder. Much of that keeps the GIL (dlib's HOG
and landmarks, the encoder's Python between its matrix products), which would stall the
display thread, so it runs in a child process; OpenCV, YuNet included, releases the GIL.
"""

from facealbum.engine.live.analyser import (
    LocalAnalyser,
    ProcessAnalyser,
    Reply,
    Request,
    face_crop,
    resize_to_width,
)
from facealbum.engine.live.pipeline import Cadence, LivePipeline, LiveStats
from facealbum.engine.live.results import LiveFace, LiveFrame, LiveMatch, MatchFn
from facealbum.engine.live.slots import LatestSlot
from facealbum.engine.live.sources import FrameSource, SourceError, probe_cameras
from facealbum.engine.live.tracker import FaceTracker

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
    "MatchFn",
    "Reply",
    "Request",
    "ProcessAnalyser",
    "SourceError",
    "face_crop",
    "probe_cameras",
    "resize_to_width",
]
