"""Worker processes start ready: forked from a process that loaded the engine once (Linux)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from facealbum.engine import faces, pool
from facealbum.engine.pool import ProcessPool

forked = pytest.mark.skipif(
    pool._start_method() != "forkserver", reason="workers are spawned on this platform"
)


def _setup_report():
    """What a new worker holds before its set-up loads anything itself."""
    import cv2

    from facealbum.engine import encoder
    from facealbum.engine import faces as worker_faces

    held = {
        "predictors": len(worker_faces._preloaded_predictors),
        "encoder_model": encoder._cached_model.cache_info().currsize,
        "opencv_threads": cv2.getNumThreads(),
        # it starts a thread, so the fork server must not have imported it
        "onnxruntime": "onnxruntime" in sys.modules,
    }
    engine = worker_faces.FaceEngine()
    engine.load_models()
    held["predictors_left"] = len(worker_faces._preloaded_predictors)
    return lambda task, context: held


@forked
def test_a_worker_starts_with_the_models_loaded_and_takes_them() -> None:
    with ProcessPool(1, _setup_report) as workers:
        [(_, held)] = list(workers.run(["what do you hold?"]))
    assert held == {
        "predictors": 1,
        "encoder_model": 1,
        "opencv_threads": 1,
        "onnxruntime": False,
        "predictors_left": 0,
    }


def test_a_preloaded_predictor_goes_to_one_engine_only(monkeypatch) -> None:
    monkeypatch.setattr(faces, "_preloaded_predictors", {})
    faces.preload_models()
    [preloaded] = faces._preloaded_predictors.values()
    first, second = faces.FaceEngine(), faces.FaceEngine()
    first.load_models()
    second.load_models()
    assert first._predictor is preloaded
    assert second._predictor is not preloaded and faces._preloaded_predictors == {}


@forked
def test_without_model_files_each_worker_still_says_what_is_missing(tmp_path: Path) -> None:
    # A models package without its files: the fork server cannot preload them, and
    # must still fork workers, whose own set-up then reports what is missing.
    fake = tmp_path / "face_recognition_models"
    (fake / "models").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    script = textwrap.dedent(
        """
        from facealbum.engine.pool import WorkerStartError
        from facealbum.engine.scanner import ScanPool

        if __name__ == "__main__":
            try:
                with ScanPool(1, "yunet", 16) as scan:
                    list(scan.run(["never analysed"]))
            except WorkerStartError as exc:
                print("stopped:", exc)
        """
    )
    (tmp_path / "start.py").write_text(script)
    done = subprocess.run(
        [sys.executable, str(tmp_path / "start.py")],
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "stopped: ModelsNotFoundError: The face model file" in done.stdout
    assert "shape_predictor_5_face_landmarks.dat is missing" in done.stdout


@forked
def test_a_fork_server_that_cannot_start_early_does_not_stop_the_command(monkeypatch) -> None:
    from multiprocessing import forkserver

    def no_room() -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(forkserver, "ensure_running", no_room)
    pool.start_fork_server()  # the scan's own start tries again and reports what is wrong
