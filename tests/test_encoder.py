"""Our face encoder (dlib's ResNet as an ONNX graph) against dlib's own: same network, same
weights, same encodings."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

from facealbum.engine import encoder as encoder_module
from facealbum.engine import models
from facealbum.engine.dlib_format import DlibFormatError, read_network
from facealbum.engine.encoder import EncoderUnavailable, FaceEncoder, build_weights, model_bytes
from facealbum.engine.faces import CHIP_PADDING, CHIP_SIZE, FaceEngine
from facealbum.engine.images import load_image

# Components of dlib's encodings are around +-0.1; float32 rounding in another
# summation order moves them by ~1e-6.
MAX_COMPONENT_ERROR = 1e-4
MAX_DISTANCE_ERROR = 1e-3


@pytest.fixture(scope="module")
def dlib_encoder():
    import dlib

    return dlib.face_recognition_model_v1(str(models.model_path(models.FACE_RECOGNITION_MODEL)))


@pytest.fixture(scope="module")
def encoder() -> FaceEncoder:
    return FaceEncoder()


def dlib_encode(dlib_encoder, chips: np.ndarray) -> np.ndarray:
    return np.asarray(dlib_encoder.compute_face_descriptor(list(chips), 0), np.float32)


@pytest.fixture(scope="module")
def real_chips(labels) -> np.ndarray:
    """The aligned chip of every face dlib's HOG finds in the labelled photos (as labels.csv)."""
    import dlib

    engine = FaceEngine(min_face_px=12, detect_side=1600)
    predictor = dlib.shape_predictor(str(models.model_path(models.SHAPE_PREDICTOR_5)))
    chips = []
    for photo in labels:
        rgb = load_image(photo.path, max_side=1600).pixels
        for rect, _ in engine.detect(rgb):
            shape = predictor(rgb, rect)
            chips.append(dlib.get_face_chip(rgb, shape, size=CHIP_SIZE, padding=CHIP_PADDING))
    assert len(chips) >= sum(p.faces for p in labels)
    return np.stack(chips)


@pytest.fixture(scope="module")
def real_reference(dlib_encoder, real_chips) -> np.ndarray:
    return dlib_encode(dlib_encoder, real_chips)


def synthetic_chips(count: int, seed: int = 0) -> np.ndarray:
    """Smooth random images: they drive every channel and pooling path without real photos."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (count, 15, 15, 3)).astype(np.float32)
    smooth = np.repeat(np.repeat(coarse, 10, axis=1), 10, axis=2)
    noise = rng.normal(0, 12, smooth.shape)
    return np.clip(smooth + noise, 0, 255).astype(np.uint8)


def test_parsed_network_is_dlibs_resnet():
    network = read_network(models.model_path(models.FACE_RECOGNITION_MODEL))
    assert network.input_size == (150, 150)
    assert network.channel_means == pytest.approx((122.782, 117.001, 104.298), abs=1e-3)
    weights = build_weights(network)
    assert weights.stem.weights.shape == (32, 3, 7, 7)
    assert (weights.stem.stride, weights.stem.pad) == (2, 0)
    assert weights.pool == (3, 2)
    widths = [block.conv2.out_channels for block in weights.blocks]
    assert widths == [32] * 3 + [64] * 4 + [128] * 3 + [256] * 3 + [256]
    downs = [i for i, block in enumerate(weights.blocks) if block.down]
    assert downs == [3, 7, 10, 13]
    for block in weights.blocks:
        assert block.conv1.stride == (2 if block.down else 1)
        assert block.conv1.pad == (0 if block.down else 1)
        assert (block.conv2.stride, block.conv2.pad) == (1, 1)
    assert weights.fc.shape == (256, 128)
    assert all(np.isfinite(b.conv1.weights).all() for b in weights.blocks)


def test_truncated_model_file_is_refused(tmp_path):
    data = models.model_path(models.FACE_RECOGNITION_MODEL).read_bytes()
    broken = tmp_path / "broken.dat"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(DlibFormatError):
        read_network(broken)


def test_synthetic_chips_encode_as_dlib(encoder, dlib_encoder):
    chips = synthetic_chips(6)
    ours = encoder.encode(chips)
    theirs = dlib_encode(dlib_encoder, chips)
    assert ours.shape == (6, 128) and ours.dtype == np.float32
    assert np.abs(ours - theirs).max() < MAX_COMPONENT_ERROR


@pytest.mark.slow
def test_every_real_face_encodes_as_dlib(encoder, real_chips, real_reference):
    ours = encoder.encode(real_chips)
    errors = np.abs(ours - real_reference).max(axis=1)
    distances = np.linalg.norm(ours.astype(np.float64) - real_reference, axis=1)
    worst = int(np.argmax(distances))
    assert errors.max() < MAX_COMPONENT_ERROR, f"face {int(np.argmax(errors))}"
    assert distances.max() < MAX_DISTANCE_ERROR, f"face {worst}: {distances[worst]}"


@pytest.mark.slow
def test_distances_between_real_faces_keep_their_meaning(encoder, real_chips, real_reference):
    ours = encoder.encode(real_chips).astype(np.float64)
    theirs = real_reference.astype(np.float64)

    def pairwise(x: np.ndarray) -> np.ndarray:
        return np.linalg.norm(x[:, None, :] - x[None, :, :], axis=2)

    # Same-person and different-person decisions at the 0.6 tolerance cannot flip.
    assert np.abs(pairwise(ours) - pairwise(theirs)).max() < MAX_DISTANCE_ERROR


@pytest.mark.slow
def test_mirrored_and_rotated_chips_encode_as_dlib(encoder, dlib_encoder, real_chips):
    variants = np.concatenate([real_chips[:4, :, ::-1], np.rot90(real_chips[4:8], axes=(1, 2))])
    variants = np.ascontiguousarray(variants)
    diff = np.abs(encoder.encode(variants) - dlib_encode(dlib_encoder, variants))
    assert diff.max() < MAX_COMPONENT_ERROR


def test_batch_size_does_not_change_encodings():
    chips = synthetic_chips(11, seed=1)
    one_by_one = FaceEncoder(batch_size=1).encode(chips)
    batched = FaceEncoder(batch_size=8).encode(chips)
    whole = FaceEncoder(batch_size=64).encode(chips)
    assert np.abs(one_by_one - batched).max() < 1e-6
    assert np.abs(whole - batched).max() < 1e-6


def test_one_encoder_serves_two_threads():
    chips = synthetic_chips(4, seed=2)
    encoder = FaceEncoder()
    expected = encoder.encode(chips)
    results: list[np.ndarray] = [np.empty(0)] * 2

    def work(slot: int) -> None:
        for _ in range(3):
            results[slot] = encoder.encode(chips)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        assert np.abs(result - expected).max() < 1e-6


def test_bad_chips_are_refused(encoder):
    assert encoder.encode([]).shape == (0, 128)
    with pytest.raises(ValueError):
        encoder.encode(np.zeros((1, 100, 100, 3), np.uint8))
    with pytest.raises(ValueError):
        encoder.encode(np.zeros((1, 150, 150, 3), np.float32))
    with pytest.raises(ValueError):
        FaceEncoder(batch_size=0)


def test_the_model_is_built_once_per_process_and_shared():
    assert model_bytes() is model_bytes()
    assert FaceEncoder()._session is FaceEncoder(batch_size=2)._session


def test_without_onnxruntime_the_encoder_says_how_to_mend_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    encoder_module._session.cache_clear()
    try:
        with pytest.raises(EncoderUnavailable, match="pip install --force-reinstall onnxruntime"):
            FaceEncoder()
    finally:
        encoder_module._session.cache_clear()


@pytest.mark.slow
def test_face_engine_encodes_as_with_dlibs_encoder(faces_dir):
    image = load_image(faces_dir / "groups" / "obama_and_biden.jpg")
    fast = FaceEngine().find_faces(image)
    reference = FaceEngine(dlib_encoder=True).find_faces(image)
    assert len(fast) == len(reference) >= 2
    for ours, theirs in zip(fast, reference, strict=True):
        assert ours.box == theirs.box
        assert np.abs(ours.encoding - theirs.encoding).max() < MAX_COMPONENT_ERROR
