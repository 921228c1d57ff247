"""Scan worker processes kept between the scans of the app.

A spawned scan worker spends about half a second of CPU on its imports and models before
its first photo; a forked one (Linux) starts from the fork server, which pays that once,
but still pays its first photo's warm-up. A scan on its own starts its workers once it
has planned and stops them when it ends. Workers given to Album.scan are used instead and
outlive the scan: the app keeps them for a while after each scan, so that a user adding
one folder after another does not wait for new workers each time (bench/kept_workers.py).
"""

from __future__ import annotations

from facealbum import config
from facealbum.engine.scanner import ScanPool


class ScanWorkers:
    """Worker processes for the scans of libraries with these settings; close() ends them.

    One scan at a time may use them. A scan whose library finds faces another way (its
    detector or smallest face differ) starts workers of its own and leaves these alone.
    """

    def __init__(self, settings: config.Settings) -> None:
        self._made_for = _setup(settings)
        self._pool = ScanPool(*self._made_for)

    @property
    def pool(self) -> ScanPool:
        return self._pool

    def made_for(self, settings: config.Settings) -> bool:
        """Whether these are the workers a library with `settings` would start."""
        return self._made_for == _setup(settings)

    def fits(self, detector: str, min_face_px: int) -> bool:
        """Whether these workers find faces as a scan with these settings must."""
        return self._made_for[1:] == (detector, min_face_px)

    def start(self) -> None:
        """Start the processes now (they also start on a scan's first photo)."""
        self._pool.start()

    def close(self) -> None:
        """End the processes; a later scan that is given these workers starts them again.
        They hold no photo between scans, and may still be loading their models (when
        closed right after start()), so they are ended without waiting."""
        self._pool.close(at_once=True)

    def __enter__(self) -> ScanWorkers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _setup(settings: config.Settings) -> tuple[int, str, int]:
    """(workers, detector, smallest face): ScanPool's arguments."""
    return settings.effective_workers(), settings.detector, settings.min_face_px
