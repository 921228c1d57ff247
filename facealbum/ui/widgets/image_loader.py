"""Thumbnails and face crops made on the thumbnail pool and delivered as QPixmaps.

Views ask for an image by key; a placeholder is shown until ``ready`` fires.
``clear()`` drops every queued job when the view changes. With ``stale_after`` set, a
queued job also skips its work when its key has not been asked for during that many
newer requests (the row scrolled away), so a fast scroll through a large library never
builds a backlog the screen it stops on has to wait behind; ``dropped`` then tells the
view, which asks again if the row is still shown.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage, QPixmap

from facealbum.model import Box
from facealbum.ui.tasks import run_task
from facealbum.ui.widgets.thumbnails import ThumbnailCache, make_face_crop, make_photo_thumbnail


def pil_to_qimage(im: Image.Image) -> QImage:
    """Copy an RGB Pillow image into a QImage (safe on any thread, unlike QPixmap)."""
    rgb = im.convert("RGB")
    data = rgb.tobytes()
    qimg = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
    return qimg.copy()  # detach from the Python buffer


class ImageLoader(QObject):
    """Loads images by key on the thumbnail pool; keeps the latest few hundred in memory."""

    ready = Signal(object)  # the key whose pixmap just arrived
    failed = Signal(object, str)  # key, reason
    dropped = Signal(object)  # a key whose queued job was skipped as stale

    def __init__(
        self,
        cache: ThumbnailCache | None,
        capacity: int = 600,
        parent=None,
        stale_after: int | None = None,
    ) -> None:
        super().__init__(parent)
        self._cache = cache
        self._capacity = capacity
        self._stale_after = stale_after
        # Request counter and the count at which each queued key was last asked for;
        # pool threads only read them (an int and a dict lookup: atomic under the GIL).
        self._asked = 0
        self._last_asked: dict[Hashable, int] = {}
        self._pixmaps: OrderedDict[Hashable, QPixmap] = OrderedDict()
        self._inflight: set[Hashable] = set()
        self._broken: set[Hashable] = set()
        self._generation = 0
        # Counters for benchmarks and the curious: jobs queued, made, skipped, failed.
        self.counts = {"requested": 0, "made": 0, "skipped": 0, "failed": 0}

    def set_cache(self, cache: ThumbnailCache | None) -> None:
        self.clear()
        self._pixmaps.clear()
        self._broken.clear()
        self._cache = cache

    def pixmap(self, key: Hashable) -> QPixmap | None:
        pm = self._pixmaps.get(key)
        if pm is not None:
            self._pixmaps.move_to_end(key)
        return pm

    def is_broken(self, key: Hashable) -> bool:
        return key in self._broken

    def request(self, key: Hashable, path: str | Path, size: int, box: Box | None = None) -> None:
        """Start making the image unless it is cached, broken or already on its way."""
        if key in self._pixmaps or key in self._broken:
            return
        self._asked += 1
        if key in self._inflight:
            self._last_asked[key] = self._asked  # still wanted: keep it fresh
            return
        self._last_asked[key] = self._asked
        self._inflight.add(key)
        self.counts["requested"] += 1
        generation = self._generation
        cache = self._cache
        path = Path(path)

        def work() -> QImage | None:
            if generation != self._generation or self._is_stale(key):
                return None  # the view changed or scrolled on while this job waited
            if cache is not None:
                return pil_to_qimage(cache.get(path, size, box))
            if box is None:
                return pil_to_qimage(make_photo_thumbnail(path, size))
            return pil_to_qimage(make_face_crop(path, box, size))

        run_task(
            work,
            lambda img: self._arrived(generation, key, img),
            lambda err: self._broke(generation, key, err),
            owner=self,
            pool_name="thumbs",
        )

    def clear(self) -> None:
        """Forget queued jobs: they skip their work and their results are ignored."""
        self._generation += 1
        self._inflight.clear()
        self._last_asked.clear()

    def _is_stale(self, key: Hashable) -> bool:
        """Runs on a pool thread: whether newer requests have long overtaken this one."""
        if self._stale_after is None:
            return False
        return self._asked - self._last_asked.get(key, self._asked) > self._stale_after

    def _arrived(self, generation: int, key: Hashable, img: QImage | None) -> None:
        self.counts["skipped" if img is None else "made"] += 1
        if generation != self._generation:
            return
        self._inflight.discard(key)
        self._last_asked.pop(key, None)
        if img is None:
            self.dropped.emit(key)
            return
        self._pixmaps[key] = QPixmap.fromImage(img)
        while len(self._pixmaps) > self._capacity:
            self._pixmaps.popitem(last=False)
        self.ready.emit(key)

    def _broke(self, generation: int, key: Hashable, err: BaseException) -> None:
        self.counts["failed"] += 1
        if generation != self._generation:
            return
        self._inflight.discard(key)
        self._last_asked.pop(key, None)
        self._broken.add(key)
        self.failed.emit(key, str(err))
