"""Run blocking calls off the GUI thread and deliver their results back on it.

One helper, ``run_task``, in the style of Picard: the work runs on a pool thread,
the callbacks run on the GUI thread through a queued signal. A callback is
dropped when its owner widget has been deleted meanwhile.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)

_pools: dict[str, QThreadPool] = {}
# Relays stay referenced here until they delivered, or Python would collect them.
_pending: set[_Relay] = set()


def pool(name: str = "work") -> QThreadPool:
    """A named pool: "work" for searches and people actions, "thumbs" for images."""
    if name not in _pools:
        p = QThreadPool()
        p.setMaxThreadCount(2)
        p.setExpiryTimeout(-1)  # keep threads: the store keeps one connection per thread
        _pools[name] = p
    return _pools[name]


def shutdown_pools(timeout_ms: int = 5000) -> None:
    """Drop queued jobs and wait for running ones (called when the app quits)."""
    for p in _pools.values():
        p.clear()
        p.waitForDone(timeout_ms)


class _Relay(QObject):
    done = Signal(object)
    failed = Signal(object)

    def __init__(
        self,
        on_done: Callable[[Any], None] | None,
        on_error: Callable[[BaseException], None] | None,
        owner: QObject | None,
    ) -> None:
        super().__init__()
        self._on_done = on_done
        self._on_error = on_error
        self._owner = owner
        # Explicitly queued: the slots must run on the GUI thread this object lives in.
        self.done.connect(self._deliver_done, Qt.ConnectionType.QueuedConnection)
        self.failed.connect(self._deliver_error, Qt.ConnectionType.QueuedConnection)

    def _owner_alive(self) -> bool:
        return self._owner is None or shiboken6.isValid(self._owner)

    @Slot(object)
    def _deliver_done(self, result: object) -> None:
        _pending.discard(self)
        if self._on_done is not None and self._owner_alive():
            self._on_done(result)

    @Slot(object)
    def _deliver_error(self, error: object) -> None:
        _pending.discard(self)
        if not self._owner_alive():
            return
        if self._on_error is not None:
            self._on_error(error)  # type: ignore[arg-type]
        else:
            log.error("background task failed: %s", error)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self._fn = fn
        self._relay = relay

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception as e:  # delivered to the GUI as an error dialog or a log line
            log.debug("task failed\n%s", traceback.format_exc())
            self._relay.failed.emit(e)
        else:
            self._relay.done.emit(result)


def run_task(
    fn: Callable[[], Any],
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    *,
    owner: QObject | None = None,
    pool_name: str = "work",
    priority: int = 0,
) -> None:
    """Call ``fn()`` on a pool thread; then ``on_done(result)`` or ``on_error(exc)`` on the GUI.

    Must be called from the GUI thread. ``owner``: skip the callbacks if it was deleted.
    """
    relay = _Relay(on_done, on_error, owner)
    _pending.add(relay)
    pool(pool_name).start(_Job(fn, relay), priority)
