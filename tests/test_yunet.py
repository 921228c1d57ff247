"""The YuNet face detector: its model file is checked, and a bad one falls back to HOG."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from library_builder import OBAMA, build_folder

from facealbum.album import Album
from facealbum.config import Settings
from facealbum.engine import yunet
from facealbum.engine.faces import usable_detector


def test_the_packaged_model_is_the_published_one():
    assert yunet.check_model() == yunet.MODEL_FILE


@pytest.mark.parametrize("damage", ["missing", "truncated", "other bytes"])
def test_a_missing_or_damaged_model_falls_back_to_hog_with_a_clear_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
):
    bad = tmp_path / yunet.MODEL_FILE.name
    if damage == "truncated":
        bad.write_bytes(yunet.MODEL_FILE.read_bytes()[:1000])
    elif damage == "other bytes":
        bad.write_bytes(b"\0" * yunet.MODEL_FILE.stat().st_size)
    monkeypatch.setattr(yunet, "MODEL_FILE", bad)
    detector, why = usable_detector("yunet")
    assert detector == "hog"
    word = "missing" if damage == "missing" else "damaged"
    assert word in why and "reinstall facealbum" in why and why.endswith("with HOG instead")
    assert usable_detector("cnn") == ("cnn", None)


@pytest.mark.slow
def test_a_scan_with_a_damaged_model_says_so_and_finds_faces_with_hog(
    faces_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    bad = tmp_path / "model.onnx"
    shutil.copy(yunet.MODEL_FILE, bad)
    with open(bad, "r+b") as f:
        f.seek(1000)
        f.write(b"damaged")
    monkeypatch.setattr(yunet, "MODEL_FILE", bad)
    photos = tmp_path / "photos"
    build_folder(faces_dir, photos, OBAMA)
    with Album.open(tmp_path / "library") as album:
        album.update_settings(Settings(workers=1, detector="yunet"))
        album.add_folder(photos)
        final = album.scan()
    assert final.faces_found == 2 and final.errors == 0
    assert len(final.notes) == 1 and "damaged" in final.notes[0]
