"""Run blocking calls off the GUI thread and deliver their results back on it.

One helper, ``run_task``, in the style of Picard: the work runs on a pool thread,
the callbacks run on the GUI thread through a queued signal. A callback is
dropped when its owner widget has been deleted meanwhile.

The pools are Python's own thread pools, not QThreadPool: a Qt-created thread gets
a fresh Python thread state for every job, and extension modules that cache the
thread state (pybind11's, in dlib and hnswlib) then reach a freed one and crash
the interpreter. Threads Python creates keep one thread state for their lifetime.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal, Slot

log = logging.getLogger(__name__)

# "work": searches and people actions; "thumbs": images; "scan": the one running scan.
_POOL_THREADS = {"work": 2, "thumbs": 2, "scan": 1}

_pools: dict[str, ThreadPoolExecutor] = {}
_running: dict[str, set[Future]] = {}
_pools_lock = threading.Lock()
# Relays stay referenced here until they delivered, or Python would collect them.
_pending: set[_Relay] = set()


def _pool(name: str) -> ThreadPoolExecutor:
    with _pools_lock:
        if name not in _pools:
            _pools[name] = ThreadPoolExecutor(
                max_workers=_POOL_THREADS.get(name, 2), thread_name_prefix=f"facealbum-{name}"
            )
            _running[name] = set()
        return _pools[name]


def wait_for_pool(name: str, timeout_s: float) -> bool:
    """Wait until the jobs of one pool are done; False if some still run after timeout_s."""
    with _pools_lock:
        futures = set(_running.get(name, ()))
    _done, not_done = wait(futures, timeout=timeout_s)
    return not not_done


def shutdown_pools(timeout_s: float = 5.0) -> None:
    """Drop queued jobs and wait for running ones (called when the app quits)."""
    with _pools_lock:
        pools = list(_pools.items())
        _pools.clear()
    for name, executor in pools:
        executor.shutdown(wait=False, cancel_futures=True)
        wait_for_pool(name, timeout_s)


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

    def run(self, fn: Callable[[], Any]) -> None:
        """Runs on a pool thread."""
        try:
            result = fn()
        except Exception as e:  # delivered to the GUI as an error dialog or a log line
            log.debug("task failed\n%s", traceback.format_exc())
            self.failed.emit(e)
        else:
            self.done.emit(result)


def run_task(
    fn: Callable[[], Any],
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    *,
    owner: QObject | None = None,
    pool_name: str = "work",
) -> None:
    """Call ``fn()`` on a pool thread; then ``on_done(result)`` or ``on_error(exc)`` on the GUI.

    Must be called from the GUI thread. ``owner``: skip the callbacks if it was deleted.
    """
    relay = _Relay(on_done, on_error, owner)
    _pending.add(relay)
    future = _pool(pool_name).submit(relay.run, fn)
    with _pools_lock:
        running = _running.setdefault(pool_name, set())
        running.add(future)
    future.add_done_callback(lambda f: _forget(pool_name, f))


def _forget(pool_name: str, future: Future) -> None:
    with _pools_lock:
        _running.get(pool_name, set()).discard(future)
