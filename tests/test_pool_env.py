"""Scan workers start with a single-threaded BLAS: one worker per core already."""

from __future__ import annotations

import os

from facealbum.engine.pool import ProcessPool


def _setup():
    return _blas_threads


def _blas_threads(task, context):
    return os.environ.get("OPENBLAS_NUM_THREADS")


def test_workers_get_one_blas_thread_and_the_parent_keeps_its_own(monkeypatch):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    with ProcessPool(1, _setup) as pool:
        results = [result for _task, result in pool.run([1, 2])]
    assert results == ["1", "1"]
    assert "OPENBLAS_NUM_THREADS" not in os.environ
