"""A scan whose worker processes cannot start (face models missing) fails with one message."""

from __future__ import annotations

from pathlib import Path

import pytest
from library_builder import OBAMA, build_folder

from facealbum.album import Album, LibraryError
from facealbum.album import scan as album_scan
from facealbum.cli.main import main
from facealbum.engine.models import ModelsNotFoundError
from facealbum.engine.pool import ProcessPool
from facealbum.engine.scanner import ScanPool

MISSING = "The face models are missing: install them with 'pip install face_recognition_models'."


def _setup_without_models():
    raise ModelsNotFoundError(MISSING)


class _PoolWithoutModels(ScanPool):
    """Real worker processes whose set-up fails as it does when the model files are gone."""

    def __init__(self, workers: int, detector: str = "hog", min_face_px: int = 40) -> None:
        self._pool = ProcessPool(workers, _setup_without_models, name="facealbum-test")


@pytest.fixture
def no_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(album_scan, "ScanPool", _PoolWithoutModels)


def test_scan_without_models_raises_one_library_error(faces_dir, tmp_path, no_models) -> None:
    photos = tmp_path / "photos"
    build_folder(faces_dir, photos, OBAMA)
    with Album.open(tmp_path / "lib") as album:
        album.add_folder(photos)
        with pytest.raises(LibraryError) as caught:
            album.scan()
        assert str(caught.value) == f"cannot analyse photos: {MISSING}"
        # The photos were not judged unreadable: a scan with the models analyses them.
        stats = album.stats()
        assert stats["faces"] == 0 and stats["errors"] == 0


def test_cli_scan_without_models_prints_one_line(faces_dir, tmp_path, no_models, capsys) -> None:
    photos = tmp_path / "photos"
    build_folder(faces_dir, photos, OBAMA)
    code = main(["--library", str(tmp_path / "lib"), "scan", str(photos), "--json"])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 1 and out == ""
    assert lines == [
        f"facealbum: new library in {tmp_path / 'lib'}",
        f"facealbum: cannot analyse photos: {MISSING}",
    ]


def test_photos_are_analysed_once_the_models_are_back(faces_dir, tmp_path: Path, monkeypatch):
    photos = tmp_path / "photos"
    build_folder(faces_dir, photos, OBAMA)
    with Album.open(tmp_path / "lib") as album:
        album.add_folder(photos)
        monkeypatch.setattr(album_scan, "ScanPool", _PoolWithoutModels)
        with pytest.raises(LibraryError):
            album.scan()
        monkeypatch.undo()
        final = album.scan()
        assert final.phase == "done" and final.done == len(OBAMA) and final.errors == 0
        assert final.faces_found == len(OBAMA)


def test_a_worker_without_the_model_files_fails_at_its_start(monkeypatch, tmp_path) -> None:
    # What a real worker runs first: it loads every model, so a missing file stops the
    # scan with the message above before any photo is handed out.
    from facealbum.engine import models
    from facealbum.engine.scanner import _photo_handler

    monkeypatch.setattr(models, "models_dir", lambda: tmp_path)
    with pytest.raises(ModelsNotFoundError, match="shape_predictor_5_face_landmarks.dat"):
        _photo_handler("yunet", 16)
