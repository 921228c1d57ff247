"""OpenCV's own log lines kept out of the user's terminal where we handle the failure.

OpenCV prints warnings to stderr for things we already turn into a clear message (a
camera index with no camera behind it, a detector model loaded without a GPU): a line
that says nothing to the user. Its log level is process-wide, so it is lowered only
around the calls that print them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import cv2


@contextmanager
def errors_only() -> Iterator[None]:
    """Let only OpenCV's errors through while the block runs."""
    logging = cv2.utils.logging
    level = logging.getLogLevel()
    logging.setLogLevel(min(level, logging.LOG_LEVEL_ERROR))
    try:
        yield
    finally:
        logging.setLogLevel(level)
