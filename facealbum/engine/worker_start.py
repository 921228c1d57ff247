"""What every worker process needs, loaded once in the process the workers are forked from.

Where processes can be forked safely (Linux), worker processes are forked from
multiprocessing's fork server, which imports this module once, before it forks any
worker. A spawned worker spends about half a second of CPU importing numpy, OpenCV, dlib
and our engine and reading the face models before its first photo; a forked one starts
with all of that in memory, shared with its siblings until written. The fork server
forks from a single thread, so nothing here may start one: OpenCV is kept to one thread
before any model is loaded (its thread pool would not survive a fork).
"""

from __future__ import annotations

import cv2

cv2.setNumThreads(1)

from facealbum.engine import faces, scanner  # noqa: E402,F401  (imported to be inherited)

try:
    faces.preload_models()
except Exception:
    # A missing or damaged model must not stop the fork server: each worker then loads
    # its models itself and reports the problem as a scan does.
    pass
