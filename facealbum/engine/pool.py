"""A small pool of worker processes with bounded submission, pause, cancel and crash recovery.

Why not concurrent.futures.ProcessPoolExecutor: when a worker dies (dlib crashing on a
strange image, the OS killing it for memory) the executor breaks as a whole and cannot
say which task did it. Here every worker has its own pipe, so the pool knows exactly
which task each worker holds: a crash fails that one task and the worker is replaced.
It also lets cancel terminate busy workers and lets a run send shared context (such as
the fingerprints of vanished photos) to every worker once instead of with every task.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

# How often an idle wait looks at the cancel and pause events (seconds).
_POLL_SECONDS = 0.05
# How long a worker asked to stop may take before it is terminated (seconds).
_STOP_GRACE_SECONDS = 2.0

# Each worker already has a core of its own: a BLAS that also spreads one matrix product
# over every core makes the workers fight (measured 3x fewer faces per second with two
# OpenBLAS threads per worker, when the encoder ran on numpy; onnxruntime's threads are
# set in engine/encoder.py). numpy reads these when it loads, in a spawned worker as
# it unpickles its setup and in the fork server as it starts (forked workers inherit its
# numpy), so they must be in the environment either starts with.
_WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_env_lock = threading.Lock()

# Modules the fork server loads once for every worker forked from it (see _start_method).
# "__main__" is the program's own script, which each worker would import otherwise.
_FORK_SERVER_PRELOAD = ["__main__", "facealbum.engine.worker_start"]

Handler = Callable[[Any, Any], Any]  # handler(task, context) -> result, runs in a worker
Setup = Callable[[], Handler]  # picklable; called once in each worker process


class WorkerStartError(RuntimeError):
    """A worker process could not set itself up; no task can run, so the run stops."""


@dataclass(frozen=True)
class WorkerError:
    """A task whose handler raised, or whose worker process died while running it."""

    reason: str


def _worker_main(conn: Connection, setup: Setup) -> None:
    # Ctrl-C in a terminal reaches the whole process group; the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        handler = setup()
    except Exception as exc:  # e.g. missing models: every task would fail the same way
        conn.send((None, WorkerError(f"{type(exc).__name__}: {exc}")))
        return
    context: Any = None
    while True:
        try:
            kind, payload = conn.recv()
        except (EOFError, OSError):
            return  # the parent went away
        if kind == "stop":
            return
        if kind == "context":
            context = payload
            continue
        task_id, task = payload
        try:
            outcome: Any = handler(task, context)
        except Exception as exc:  # one bad task must not end the worker
            outcome = WorkerError(f"{type(exc).__name__}: {exc}")
        try:
            conn.send((task_id, outcome))
        except Exception as exc:  # e.g. an unpicklable result
            conn.send((task_id, WorkerError(f"cannot return result: {exc}")))


@dataclass
class _Worker:
    process: Any  # multiprocessing.Process of the pool's start method
    conn: Connection
    held: deque = field(default_factory=deque)  # (task_id, task) in the order sent

    def alive(self) -> bool:
        return self.process.is_alive()


class ProcessPool:
    """Runs handler(task, context) in `workers` processes, results in completion order.

    `setup` is called once per worker process and returns the handler, so expensive state
    (models) is built once per process and never crosses a process boundary. Each worker
    holds at most `depth` tasks, which bounds memory and keeps cancel prompt.
    """

    def __init__(
        self, workers: int, setup: Setup, depth: int = 2, name: str = "facealbum-worker"
    ) -> None:
        self._name = name  # shown in process lists
        self._size = max(1, int(workers))
        self._setup = setup
        self._depth = max(1, int(depth))
        self._ctx = _context()
        self._workers: list[_Worker] = []
        self._next_id = 0

    @property
    def workers(self) -> int:
        return self._size

    def __enter__(self) -> ProcessPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the workers now rather than on the first run: they set themselves up
        (models, imports) while the caller prepares its tasks."""
        self._start_workers(None)

    def close(self, at_once: bool = False) -> None:
        """Stop every worker: politely first, then by force. `at_once`: by force straight
        away, for workers that hold nothing but may still be setting themselves up (they
        would read the polite request only once set up)."""
        workers, self._workers = self._workers, []
        for w in workers:
            if w.held or at_once:
                w.process.terminate()
            else:
                try:
                    w.conn.send(("stop", None))
                except OSError:
                    pass
        for w in workers:
            w.process.join(_STOP_GRACE_SECONDS)
            if w.process.is_alive():
                w.process.terminate()
                w.process.join(_STOP_GRACE_SECONDS)
            w.conn.close()

    def run(
        self,
        tasks: Iterable[Any],
        context: Any = None,
        cancel: threading.Event | None = None,
        pause: threading.Event | None = None,
    ) -> Iterator[tuple[Any, Any]]:
        """Yield (task, result) as tasks finish; result is a WorkerError when a task failed.

        Raises WorkerStartError when a worker's setup fails (nothing could succeed).

        While `pause` is set no new task is handed out (held ones still finish). Once
        `cancel` is set, or the caller stops iterating, the rest is dropped and workers
        still busy are terminated; they are started again on the next run.
        """
        pending = iter(tasks)
        retry: deque = deque()  # tasks a crashed worker held besides the one it crashed on
        exhausted = False
        self._start_workers(context)
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    return
                if not (pause is not None and pause.is_set()):
                    exhausted = self._hand_out(pending, retry, exhausted, context)
                if exhausted and not retry and not self._held():
                    return
                for finished in self._collect(retry, context):
                    yield finished
                    if cancel is not None and cancel.is_set():
                        return  # not one more result after cancel
        finally:
            self._drop_busy_workers()

    # -- internals -------------------------------------------------------------------------

    def _start_workers(self, context: Any) -> None:
        self._workers = [w for w in self._workers if w.alive()]
        while len(self._workers) < self._size:
            self._workers.append(self._spawn())
        # Sent after every spawn so that the workers' start-ups overlap.
        for w in list(self._workers):
            self._send_context(w, context)

    def _spawn(self) -> _Worker:
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=_worker_main,
            args=(child_conn, self._setup),
            daemon=True,
            name=self._name,
        )
        with _worker_environment():
            process.start()
        child_conn.close()
        return _Worker(process, parent_conn)

    def _send_context(self, w: _Worker, context: Any) -> _Worker:
        try:
            w.conn.send(("context", context))
            return w
        except OSError:  # it died while idle: replace it
            return self._respawn(w, context)

    def _respawn(self, w: _Worker, context: Any) -> _Worker:
        w.process.join(_STOP_GRACE_SECONDS)
        w.conn.close()
        fresh = self._spawn()
        self._workers[self._workers.index(w)] = fresh
        return self._send_context(fresh, context)

    def _held(self) -> int:
        return sum(len(w.held) for w in self._workers)

    def _hand_out(
        self, pending: Iterator[Any], retry: deque, exhausted: bool, context: Any
    ) -> bool:
        """Fill every worker up to `depth` tasks; return whether `pending` ran out."""
        for depth in range(1, self._depth + 1):
            for w in self._workers:
                if len(w.held) >= depth:
                    continue
                if retry:
                    task = retry.popleft()
                elif exhausted:
                    return True
                else:
                    try:
                        task = next(pending)
                    except StopIteration:
                        return True
                self._next_id += 1
                try:
                    w.conn.send(("task", (self._next_id, task)))
                except OSError:  # died while idle; its replacement gets the next round
                    retry.appendleft(task)
                    self._respawn(w, context)
                    continue
                w.held.append((self._next_id, task))
        return exhausted

    def _collect(self, retry: deque, context: Any) -> Iterator[tuple[Any, Any]]:
        """Wait briefly for results or deaths; yield finished tasks."""
        busy = [w for w in self._workers if w.held]
        if not busy:
            threading.Event().wait(_POLL_SECONDS)  # paused: nothing to wait on
            return
        by_handle: dict[Any, _Worker] = {}
        for w in busy:
            by_handle[w.conn] = w
            by_handle[w.process.sentinel] = w
        ready = wait(list(by_handle), timeout=_POLL_SECONDS)
        done: list[_Worker] = []
        for handle in ready:
            w = by_handle[handle]
            if w in done:
                continue
            result = self._receive(w)
            if result is not None:
                yield result
            elif not w.alive():
                done.append(w)
                yield self._replace_crashed(w, retry, context)

    def _receive(self, w: _Worker) -> tuple[Any, Any] | None:
        try:
            if not w.conn.poll():
                return None
            task_id, outcome = w.conn.recv()
        except (EOFError, OSError):
            return None
        if task_id is None:
            raise WorkerStartError(outcome.reason)
        held_id, task = w.held.popleft()
        assert held_id == task_id, "a worker answers its tasks in order"
        return task, outcome

    def _replace_crashed(self, w: _Worker, retry: deque, context: Any) -> tuple[Any, Any]:
        w.process.join(_STOP_GRACE_SECONDS)
        code = w.process.exitcode
        _, crashed = w.held.popleft()
        # The worker runs its tasks in order, so only the first one it held was running.
        retry.extend(task for _, task in w.held)
        w.held.clear()
        self._respawn(w, context)
        reason = describe_exit(code)
        return crashed, WorkerError(f"the analysis stopped the worker process ({reason})")

    def _drop_busy_workers(self) -> None:
        """Terminate workers still holding tasks so no stale result reaches a later run."""
        keep: list[_Worker] = []
        for w in self._workers:
            if w.held:
                w.process.terminate()
                w.process.join(_STOP_GRACE_SECONDS)
                w.conn.close()
            else:
                keep.append(w)
        self._workers = keep


def start_fork_server() -> None:
    """Start the process workers are forked from now, where they are forked, so that it
    loads what they need while the caller opens its library and plans its work. A
    program about to run a pool calls this first; without it, the first pool starts it."""
    if _context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        with _worker_environment():
            try:
                forkserver.ensure_running()
            except OSError:
                pass  # only sooner than needed: the pool's own start tries again, and reports


def _context() -> Any:
    ctx = multiprocessing.get_context(_start_method())
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(_FORK_SERVER_PRELOAD)
    return ctx


def _start_method() -> str:
    """How worker processes start: forked from multiprocessing's fork server on Linux,
    spawned elsewhere.

    A spawned worker imports and loads everything itself (about half a second of CPU
    each, bench/kept_workers.py); the fork server does it once and forks each worker ready to
    work. It is a clean process started for this alone, so forking from it is safe even
    from a program with threads, such as the app. Not in a frozen app, whose bootloader
    only knows how to spawn, nor on macOS, where forking a process that has loaded
    system frameworks is unsafe.
    """
    if sys.platform == "linux" and not getattr(sys, "frozen", False):
        return "forkserver"
    return "spawn"


@contextmanager
def _worker_environment() -> Iterator[None]:
    """Start a child with _WORKER_ENV; the parent's own environment is put back after."""
    with _env_lock:
        saved = {key: os.environ.get(key) for key in _WORKER_ENV}
        os.environ.update(_WORKER_ENV)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def describe_exit(code: int | None) -> str:
    """Human words for a process exit code (negative = killed by that signal)."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
