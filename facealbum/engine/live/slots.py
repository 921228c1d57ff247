"""The newest-only hand-over between the live threads."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


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
