"""Finding and encoding faces on the real development photos."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from facealbum.engine.faces import FaceEngine
from facealbum.engine.images import ImageLoadError, fingerprint, load_image
from facealbum.engine.models import (
    FACE_RECOGNITION_MODEL,
    SHAPE_PREDICTOR_5,
    model_path,
    models_dir,
)

pytestmark = pytest.mark.slow

ORIENTATION = 0x0112


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    # labels.csv counts every face HOG finds at 1600 px, and face_recognition detects with
    # HOG too: compare with that setting and the smallest min_face_px the settings allow.
    return FaceEngine(detector="hog", min_face_px=12, detect_side=1600)


def face_recognition_or_skip():
    try:
        import face_recognition
    except Exception as exc:  # its models package needs pkg_resources (setuptools < 81)
        pytest.skip(f"face_recognition is not importable: {exc}")
    # Importing it switches Pillow, process-wide, to silently loading truncated
    # files; put that back so later tests of our truncated-file errors stay honest.
    from PIL import ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    return face_recognition


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))


def test_model_files_are_found_without_importing_the_package():
    import sys

    assert models_dir().is_dir()
    assert model_path(SHAPE_PREDICTOR_5).stat().st_size > 1_000_000
    assert model_path(FACE_RECOGNITION_MODEL).is_file()
    assert "face_recognition_models" not in sys.modules


def test_face_counts_match_labels(engine, labels):
    fewer, different = [], []
    for photo in labels:
        found = len(engine.analyse_file(photo.path).faces)
        if found < photo.faces:
            fewer.append((photo.path.name, found, photo.faces))
        elif found != photo.faces:
            different.append((photo.path.name, found, photo.faces))
    assert not fewer, f"missed faces: {fewer}"
    assert len(different) <= len(labels) // 10, f"extra faces: {different}"


def test_default_detector_finds_each_known_person_and_nothing_else(labels):
    # The default (YuNet) against the labels: every face of a person with a folder is
    # found, and no photo gets more faces than HOG found (a box on Amy Adams's dress once
    # passed the second look on her real face above it).
    engine = FaceEngine()
    missed, extra = [], []
    for photo in labels:
        found = len(engine.analyse_file(photo.path).faces)
        known = sum(1 for who in photo.identities if who != "?")
        if found < known:
            missed.append((photo.path.name, found, known))
        if found > photo.faces:
            extra.append((photo.path.name, found, photo.faces))
    assert not missed, f"missed faces of known people: {missed}"
    assert not extra, f"more faces than the labels: {extra}"


def test_analysis_describes_the_photo(engine, faces_dir):
    path = faces_dir / "groups" / "obama_and_biden.jpg"
    analysis = engine.analyse_file(path)
    data = path.read_bytes()
    assert analysis.path == str(path)
    assert analysis.size == len(data)
    assert analysis.fingerprint == fingerprint(data)
    assert (analysis.width, analysis.height) == (2000, 1428)
    assert analysis.mtime == pytest.approx(path.stat().st_mtime)
    for face in analysis.faces:
        assert 0.0 <= face.box.left < face.box.right <= 1.0
        assert 0.0 <= face.box.top < face.box.bottom <= 1.0
        assert face.encoding.dtype == np.float32 and face.encoding.shape == (128,)
        assert face.sharpness > 0
        # size_px is in pixels of the full 2000 px photo, not of the reduced copy.
        assert face.size_px == pytest.approx((face.box.right - face.box.left) * 2000, abs=3)


def test_default_settings_find_the_group_faces(labels):
    engine = FaceEngine()
    for photo in labels:
        if photo.path.parent.name == "groups":
            assert len(engine.analyse_file(photo.path).faces) == photo.faces, photo.path.name


def test_no_face_in_noise(engine, faces_dir):
    assert engine.analyse_file(faces_dir / "no_faces" / "noise.jpg").faces == ()


def test_min_face_px_drops_small_faces(faces_dir):
    # HOG finds a second "face" about 37 px wide in allen_2.jpg beside Paul Allen's.
    path = faces_dir / "people" / "paul_allen" / "allen_2.jpg"
    # (labels.csv counts HOG's second box as a face: it is an out-of-focus light in a
    # window, which YuNet's second look rightly drops.)
    all_faces = FaceEngine("hog", min_face_px=12, detect_side=1600).analyse_file(path).faces
    large_only = FaceEngine("hog", min_face_px=40, detect_side=1600).analyse_file(path).faces
    assert len(all_faces) == 2
    assert len(large_only) == 1
    assert large_only[0].size_px >= 40
    assert min(f.size_px for f in all_faces) < 40


def test_exif_rotated_copy_finds_the_same_face(engine, faces_dir):
    upright = Image.open(faces_dir / "people" / "joe_biden" / "biden_2.jpg").convert("RGB")
    # Stored turned a quarter left, tagged "rotate 90 clockwise to display" (6).
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    buf = io.BytesIO()
    upright.transpose(Image.Transpose.ROTATE_90).save(buf, "JPEG", quality=95, exif=exif)

    plain = engine.find_faces(load_image(faces_dir / "people" / "joe_biden" / "biden_2.jpg"))
    turned = engine.find_faces(load_image(buf.getvalue()))

    assert len(plain) == len(turned) == 1
    for a, b in zip(plain[0].box.as_list(), turned[0].box.as_list(), strict=True):
        assert a == pytest.approx(b, abs=0.03)
    assert distance(plain[0].encoding, turned[0].encoding) < 0.1


def test_encodings_equal_face_recognition_at_the_same_locations(engine, faces_dir):
    fr = face_recognition_or_skip()
    for name in (
        "groups/obama_and_biden.jpg",
        "groups/multiface.jpg",
        "people/kit_harington/kit_1.jpeg",
    ):
        image = load_image(faces_dir / name, max_side=1600)
        faces = engine.find_faces(image)
        assert faces, name
        height, width = image.pixels.shape[:2]
        locations = []
        for face in faces:
            left, top, right, bottom = face.box.to_pixels(width, height)
            locations.append((top, right - 1, bottom - 1, left))  # css, inclusive edges
        theirs = fr.face_encodings(image.pixels, known_face_locations=locations)
        for face, other in zip(faces, theirs, strict=True):
            assert distance(face.encoding, other) < 1e-4, name


def test_encodings_match_face_recognition_end_to_end(engine, labels):
    fr = face_recognition_or_skip()
    singles = [p for p in labels if p.faces == 1 and p.identities[0] != "?"][::4]
    for photo in singles:
        ours = engine.analyse_file(photo.path).faces
        theirs = fr.face_encodings(fr.load_image_file(photo.path))
        assert len(ours) == 1 and len(theirs) == 1, photo.path.name
        # Same photo, same person: far below the 0.6 tolerance.
        assert distance(ours[0].encoding, theirs[0]) < 0.25, photo.path.name


def test_same_person_is_near_and_different_people_are_far(engine, faces_dir):
    def encoding(rel: str) -> np.ndarray:
        faces = engine.analyse_file(faces_dir / rel).faces
        assert len(faces) == 1, rel
        return faces[0].encoding

    obama_1 = encoding("people/barack_obama/obama_1.jpg")
    obama_4 = encoding("people/barack_obama/obama_4.jpg")
    woz = encoding("people/steve_wozniak/woz_3.jpg")
    assert distance(obama_1, obama_4) < 0.6
    assert distance(obama_1, woz) > 0.6


def test_live_frame_at_camera_size(engine, faces_dir):
    photo = load_image(faces_dir / "people" / "barack_obama" / "obama_4.jpg", max_side=640)
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[: photo.pixels.shape[0], : photo.pixels.shape[1]] = photo.pixels
    fast = engine.find_faces_in_pixels(frame, upsample=0)
    default = engine.find_faces_in_pixels(frame)
    assert len(fast) == len(default) == 1
    assert distance(fast[0].encoding, default[0].encoding) < 0.1


def test_full_size_tells_size_px_in_photo_pixels(engine, faces_dir):
    image = load_image(faces_dir / "people" / "barack_obama" / "obama_5.jpg", max_side=960)
    small = engine.find_faces_in_pixels(image.pixels)
    scaled = engine.find_faces_in_pixels(image.pixels, image.width, image.height)
    assert len(small) == len(scaled) == 1
    assert scaled[0].size_px == pytest.approx(small[0].size_px * 2, abs=2)
    # A high bar in full-size pixels drops the face even though it is large enough here.
    strict = FaceEngine(min_face_px=small[0].size_px + 10)
    assert strict.find_faces_in_pixels(image.pixels, image.width, image.height)
    assert not strict.find_faces_in_pixels(image.pixels)


def test_cnn_detector_finds_the_face(faces_dir):
    engine = FaceEngine(detector="cnn", detect_side=640)
    faces = engine.find_faces(load_image(faces_dir / "people" / "eric_clapton" / "clapton_2.jpg"))
    assert len(faces) == 1
    default = FaceEngine().find_faces(
        load_image(faces_dir / "people" / "eric_clapton" / "clapton_2.jpg")
    )
    assert distance(faces[0].encoding, default[0].encoding) < 0.3


def test_bad_input_is_refused_clearly(engine, tmp_path):
    with pytest.raises(ValueError):
        FaceEngine(detector="sift")
    with pytest.raises(ValueError):
        engine.find_faces_in_pixels(np.zeros((10, 10, 3), np.float32))
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageLoadError):
        engine.analyse_file(empty)
