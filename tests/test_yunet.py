"""The YuNet face detector: its model file is checked, and a bad one falls back to HOG."""

from __future__ import annotations

import shutil
from dataclasses import replace
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
        searched = album.faces_in_image(photos / "obama_1.jpg")  # search falls back too
    assert final.faces_found == 2 and final.errors == 0
    assert len(searched) == 1
    assert len(final.notes) == 1 and "damaged" in final.notes[0]


# -- finding faces ----------------------------------------------------------------------


def _marked_faces(faces_dir: Path) -> dict[str, list[tuple[int, int, int, int]]]:
    import csv

    marked: dict[str, list[tuple[int, int, int, int]]] = {}
    with open(faces_dir / "detection" / "boxes.csv", newline="") as f:
        for row in csv.DictReader(f):
            box = tuple(int(row[k]) for k in ("left", "top", "width", "height"))
            marked.setdefault(row["file"], []).append(box)  # type: ignore[arg-type]
    return marked


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (left, top, width, height) boxes."""
    w = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return w * h / (a[2] * a[3] + b[2] * b[3] - w * h)


@pytest.mark.slow
def test_yunet_finds_the_hand_marked_faces_and_no_dog_or_noise(faces_dir: Path):
    from facealbum.engine.faces import FaceEngine

    engine = FaceEngine("yunet", min_face_px=20)  # the smallest marked face is 37 px
    found = total = 0
    for name, boxes in _marked_faces(faces_dir).items():
        analysis = engine.analyse_file(faces_dir / "detection" / name)
        w, h = analysis.width, analysis.height
        seen = [
            (
                f.box.left * w,
                f.box.top * h,
                (f.box.right - f.box.left) * w,
                (f.box.bottom - f.box.top) * h,
            )
            for f in analysis.faces
        ]
        total += len(boxes)
        found += sum(any(_overlap(box, s) >= 0.3 for s in seen) for box in boxes)
    assert found / total >= 0.95
    assert engine.analyse_file(faces_dir / "detection" / "dogs.jpg").faces == ()
    assert engine.analyse_file(faces_dir / "no_faces" / "noise.jpg").faces == ()


@pytest.mark.slow
def test_faces_of_20_to_40_px_in_a_500_px_photo_are_found(faces_dir: Path, labels):
    import numpy as np
    from PIL import Image

    from facealbum.engine.faces import FaceEngine

    canvas = Image.new("RGB", (500, 375), (120, 130, 125))
    portraits = [i.path for i in labels if i.faces == 1 and "people/" in i.path.as_posix()]
    hog = FaceEngine("hog")  # measures each portrait's face, as wide as a scan would box it
    placed = []
    for n, (side, path) in enumerate(zip((20, 26, 32, 40) * 2, portraits, strict=False)):
        (face,) = hog.analyse_file(path).faces
        with Image.open(path) as im:
            im = im.convert("RGB")
            scale = side / face.size_px  # the face becomes `side` px wide
            im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))))
            # 100 x 150 px around the face, so that eight fit.
            cx = (face.box.left + face.box.right) / 2 * im.width
            cy = (face.box.top + face.box.bottom) / 2 * im.height
            im = im.crop((round(cx) - 50, round(cy) - 75, round(cx) + 50, round(cy) + 75))
        x, y = 20 + (n % 4) * 120, 20 + (n // 4) * 180
        canvas.paste(im, (x, y))
        placed.append((x, y, im.width, im.height))
    faces = FaceEngine().find_faces_in_pixels(np.asarray(canvas))  # a scan's defaults
    centres = [
        ((f.box.left + f.box.right) * 250, (f.box.top + f.box.bottom) * 187.5) for f in faces
    ]
    hits = sum(
        any(x <= cx <= x + w and y <= cy <= y + h for cx, cy in centres) for x, y, w, h in placed
    )
    assert hits == len(placed)


@pytest.mark.slow
def test_encodings_through_yunet_stay_close_to_the_hog_based_ones(faces_dir: Path, labels):
    import numpy as np

    from facealbum.engine.faces import FaceEngine

    yunet_engine, hog_engine = FaceEngine("yunet"), FaceEngine("hog")
    distances = []
    for item in labels:
        if item.faces != 1 or "people/" not in item.path.as_posix():
            continue
        (hog_face,) = hog_engine.analyse_file(item.path).faces or (None,)
        near = [
            float(np.linalg.norm(f.encoding - hog_face.encoding))
            for f in yunet_engine.analyse_file(item.path).faces
            if hog_face is not None and f.box.iou(hog_face.box) >= 0.3
        ]
        if near:
            distances.append(min(near))
    assert len(distances) >= 30
    # Measured by bench/yunet_study.py: median 0.054, 90th percentile 0.115.
    assert np.median(distances) <= 0.08 and np.percentile(distances, 90) <= 0.16


def test_a_verified_model_is_not_read_again_but_a_changed_one_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    model = tmp_path / yunet.MODEL_FILE.name
    shutil.copy(yunet.MODEL_FILE, model)
    assert yunet.check_model(model) == model
    reads = []
    real_read = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda p: reads.append(p) or real_read(p))
    yunet.check_model(model)
    assert reads == []  # each search asks: no re-hash while the file is unchanged
    model.write_bytes(b"\0" * 10)
    with pytest.raises(yunet.DetectorUnavailable, match="damaged"):
        yunet.check_model(model)


@pytest.mark.slow
def test_the_dogs_never_become_a_face_or_a_group_in_a_library(faces_dir: Path, tmp_path: Path):
    from PIL import Image

    # dogs.jpg resampled to many sizes: at 4x one of its dogs once passed a one-chip second
    # look, and copies of one dog across photos are what would make a group of it.
    photos = tmp_path / "photos"
    dogs = []
    with Image.open(faces_dir / "detection" / "dogs.jpg") as im:
        im = im.convert("RGB")
        for scale in (0.5, 1, 1.5, 2, 2.5, 3, 3.25, 3.5, 3.75, 4, 4.5, 5):
            for quality in (95, 75):
                size = (round(im.width * scale), round(im.height * scale))
                dest = photos / f"dogs_{scale}_{quality}.jpg"
                dest.parent.mkdir(parents=True, exist_ok=True)
                im.resize(size, Image.LANCZOS).save(dest, "JPEG", quality=quality)
                dogs.append(dest)
    people = build_folder(faces_dir, photos, OBAMA)
    with Album.open(tmp_path / "library") as album:
        assert album.settings.detector == "yunet"  # a new library's default
        album.update_settings(replace(album.settings, workers=1))
        album.add_folder(photos)
        final = album.scan()
        by_path = {Path(p.path).name: p for p in album.photos(album.photo_ids()).values()}
        grouped_photos = {
            Path(face.photo).name
            for group in album.groups(include_hidden=True)
            for face in album.faces_by_id(list(group.face_ids)).values()
        }
    assert final.errors == 0
    assert all(by_path[p.name].face_count == 1 for p in people)
    assert {p.name: by_path[p.name].face_count for p in dogs} == {p.name: 0 for p in dogs}
    assert not grouped_photos & {p.name for p in dogs}


def test_loading_yunet_writes_nothing_to_the_terminal():
    import subprocess
    import sys

    # A fresh process: OpenCV 5 warned once per process, on the model's first load.
    code = (
        "import numpy as np\n"
        "from facealbum.engine.yunet import YuNet\n"
        "YuNet().detect(np.zeros((64, 64, 3), np.uint8))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
