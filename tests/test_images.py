"""Loading photos: orientation, reduced decoding, pixel modes, and clear errors."""

from __future__ import annotations

import builtins
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from helpers_orientation import as_stored
from PIL import Image, features

from facealbum.engine import images
from facealbum.engine.images import (
    MAX_PIXELS,
    ImageLoadError,
    LoadedImage,
    fingerprint,
    load_image,
    read_photo_bytes,
)
from facealbum.model import PHOTO_EXTENSIONS

ORIENTATION = 0x0112
EXIF_IFD = 0x8769
DATETIME_ORIGINAL = 0x9003


def scene(width: int = 240, height: int = 160) -> Image.Image:
    """An RGB picture with no symmetry, so any wrong rotation or flip shows."""
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[..., 0] = (x * 255 // width).astype(np.uint8)
    pixels[..., 1] = (y * 255 // height).astype(np.uint8)
    pixels[: height // 4, : width // 5, 2] = 255  # a blue block in the top-left corner
    return Image.fromarray(pixels, "RGB")


def jpeg_bytes(im: Image.Image, exif: Image.Exif | None = None, quality: int = 95) -> bytes:
    buf = io.BytesIO()
    kwargs = {"exif": exif} if exif is not None else {}
    im.save(buf, "JPEG", quality=quality, **kwargs)
    return buf.getvalue()


def png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_gives_the_same_upright_pixels(tmp_path, orientation):
    upright = scene()
    stored = as_stored(upright, orientation)
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    path = write(tmp_path, f"o{orientation}.jpg", jpeg_bytes(stored, exif))

    loaded = load_image(path)

    assert (loaded.width, loaded.height) == upright.size
    assert loaded.pixels.shape == (upright.height, upright.width, 3)
    assert mean_abs_diff(loaded.pixels, np.asarray(upright)) < 3.0
    # The reduced decode is upright too, with the full upright size kept.
    small = load_image(path, max_side=120)
    assert small.pixels.shape == (80, 120, 3)
    assert (small.width, small.height) == upright.size


def test_max_side_decodes_a_large_jpeg_at_the_requested_size(tmp_path):
    big = scene(4000, 3000)
    path = write(tmp_path, "big.jpg", jpeg_bytes(big, quality=85))

    loaded = load_image(path, max_side=1000)

    assert loaded.pixels.shape == (750, 1000, 3)
    assert loaded.pixels.dtype == np.uint8
    assert (loaded.width, loaded.height) == (4000, 3000)
    assert loaded.scale == pytest.approx(0.25)
    reference = np.asarray(big.resize((1000, 750), Image.Resampling.BOX))
    assert mean_abs_diff(loaded.pixels, reference) < 4.0


def test_max_side_uses_jpeg_dct_scaling(tmp_path, monkeypatch):
    from PIL import JpegImagePlugin

    requested = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        requested.append(size)
        return original(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    path = write(tmp_path, "big.jpg", jpeg_bytes(scene(3200, 2400), quality=80))
    loaded = load_image(path, max_side=800)
    assert requested == [(800, 600)]
    assert loaded.pixels.shape == (600, 800, 3)


def test_small_photo_is_not_enlarged(tmp_path):
    path = write(tmp_path, "small.jpg", jpeg_bytes(scene(200, 100)))
    loaded = load_image(path, max_side=1600)
    assert loaded.pixels.shape == (100, 200, 3)
    assert loaded.scale == 1.0


def test_bytes_and_path_give_the_same_image(tmp_path):
    data = jpeg_bytes(scene())
    from_bytes = load_image(data)
    from_path = load_image(write(tmp_path, "a.jpg", data))
    assert np.array_equal(from_bytes.pixels, from_path.pixels)


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path):
    rgb = Image.new("RGB", (64, 48), (200, 30, 40))
    buf = io.BytesIO()
    rgb.convert("CMYK").save(buf, "JPEG", quality=95)
    loaded = load_image(write(tmp_path, "cmyk.jpg", buf.getvalue()))
    assert loaded.pixels.shape == (48, 64, 3)
    assert np.allclose(loaded.pixels.reshape(-1, 3).mean(axis=0), (200, 30, 40), atol=8)


def test_palette_png_with_transparency_is_laid_on_white(tmp_path):
    im = Image.new("P", (40, 30), 0)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.paste(1, (0, 0, 20, 30))  # left half red, right half transparent black
    buf = io.BytesIO()
    im.save(buf, "PNG", transparency=0)
    loaded = load_image(write(tmp_path, "p.png", buf.getvalue()))
    assert tuple(loaded.pixels[10, 5]) == (255, 0, 0)
    assert tuple(loaded.pixels[10, 35]) == (255, 255, 255)


def test_palette_gif_without_transparency(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (30, 20), (0, 0, 255)).convert("P").save(buf, "GIF")
    loaded = load_image(write(tmp_path, "p.gif", buf.getvalue()))
    assert tuple(loaded.pixels[5, 5]) == (0, 0, 255)


def test_la_png_is_grey_on_white(tmp_path):
    la = Image.new("LA", (20, 10), (50, 255))
    la.paste((50, 0), (10, 0, 20, 10))  # right half fully transparent
    loaded = load_image(write(tmp_path, "la.png", png_bytes(la)))
    assert tuple(loaded.pixels[5, 2]) == (50, 50, 50)
    assert tuple(loaded.pixels[5, 15]) == (255, 255, 255)


def test_rgba_png_half_transparent_is_blended_with_white(tmp_path):
    rgba = Image.new("RGBA", (10, 10), (0, 0, 0, 128))
    loaded = load_image(write(tmp_path, "rgba.png", png_bytes(rgba)))
    assert loaded.pixels.shape == (10, 10, 3)
    assert 120 <= int(loaded.pixels[5, 5, 0]) <= 135


def test_16_bit_grey_png_keeps_its_range(tmp_path):
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (8, 1))
    im = Image.frombytes("I;16", (64, 8), ramp.astype("<u2").tobytes())
    loaded = load_image(write(tmp_path, "16.png", png_bytes(im)))
    assert loaded.pixels.shape == (8, 64, 3)
    row = loaded.pixels[0, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255
    assert np.all(np.diff(row) >= 0)  # a ramp, not clipped to white after the first steps


def test_float_tiff_is_scaled_to_8_bit(tmp_path):
    im = Image.fromarray(np.full((6, 6), 0.5, np.float32), "F")
    buf = io.BytesIO()
    im.save(buf, "TIFF")
    loaded = load_image(write(tmp_path, "f.tif", buf.getvalue()))
    assert 126 <= int(loaded.pixels[0, 0, 0]) <= 128


def test_heic_written_with_pillow_heif_is_read_back(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    upright = scene(320, 200)
    heif = pillow_heif.from_pillow(upright)
    path = tmp_path / "photo.heic"
    heif.save(str(path), quality=95)

    loaded = load_image(path)
    assert (loaded.width, loaded.height) == (320, 200)
    assert mean_abs_diff(loaded.pixels, np.asarray(upright)) < 6.0
    assert load_image(path, max_side=160).pixels.shape == (100, 160, 3)


def test_taken_at_comes_from_exif_date_time_original(tmp_path):
    exif = Image.Exif()
    exif.get_ifd(EXIF_IFD)[DATETIME_ORIGINAL] = "2019:07:04 18:30:05"
    loaded = load_image(write(tmp_path, "dated.jpg", jpeg_bytes(scene(), exif)))
    assert loaded.taken_at == "2019-07-04T18:30:05"
    assert load_image(write(tmp_path, "undated.jpg", jpeg_bytes(scene()))).taken_at is None


def test_zero_byte_file(tmp_path):
    path = write(tmp_path, "empty.jpg", b"")
    with pytest.raises(ImageLoadError) as err:
        load_image(path)
    assert err.value.reason == "file is empty"
    assert err.value.path == str(path)


def test_text_file_is_not_an_image(tmp_path):
    path = write(tmp_path, "notes.jpg", b"shopping list: milk, eggs\n" * 20)
    with pytest.raises(ImageLoadError) as err:
        load_image(path)
    assert err.value.reason == "not an image (its first bytes match no image format)"


def test_truncated_jpeg(tmp_path):
    data = jpeg_bytes(scene(800, 600), quality=90)
    path = write(tmp_path, "cut.jpg", data[: len(data) // 2])
    with pytest.raises(ImageLoadError) as err:
        load_image(path)
    assert err.value.reason == "truncated or corrupt JPEG"


def test_corrupt_jpeg_body(tmp_path):
    data = jpeg_bytes(scene(200, 100))
    path = write(tmp_path, "bad.jpg", data[:20] + bytes(range(256)) * 4)
    with pytest.raises(ImageLoadError) as err:
        load_image(path)
    assert "JPEG" in err.value.reason or err.value.reason == "not an image"


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    # A tiny PNG whose header claims 15000 x 15000 pixels.
    data = bytearray(png_bytes(Image.new("L", (10, 10))))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", 15000, 15000)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17]))
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", crc)
    assert 15000 * 15000 > MAX_PIXELS
    path = write(tmp_path, "bomb.png", bytes(data))
    with pytest.raises(ImageLoadError) as err:
        load_image(path)
    assert err.value.reason.startswith("image too large")
    assert "225,000,000 pixels" in err.value.reason


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageLoadError) as err:
        load_image(tmp_path / "gone.jpg")
    assert err.value.reason == "file not found"
    with pytest.raises(ImageLoadError):
        load_image(tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path):
    path = write(tmp_path, "locked.jpg", jpeg_bytes(scene()))
    path.chmod(0)
    try:
        with pytest.raises(ImageLoadError) as err:
            load_image(path)
        assert err.value.reason == "unreadable: permission denied"
    finally:
        path.chmod(0o644)


def test_read_photo_bytes_and_fingerprint(tmp_path):
    data = jpeg_bytes(scene())
    path = write(tmp_path, "a.jpg", data)
    assert read_photo_bytes(path) == data
    digest = fingerprint(data)
    assert len(digest) == 32 and int(digest, 16) >= 0
    assert fingerprint(data) == digest
    assert fingerprint(data + b"\0") != digest


def test_photo_extensions_are_lower_case_suffixes():
    for ext in (".jpg", ".jpeg", ".png", ".heic", ".heif", ".webp", ".tif", ".tiff", ".bmp"):
        assert ext in PHOTO_EXTENSIONS
    assert ".gif" in PHOTO_EXTENSIONS
    assert all(e.startswith(".") and e == e.lower() for e in PHOTO_EXTENSIONS)


def test_real_alpha_png_loads_as_rgb(faces_dir):
    loaded = load_image(faces_dir / "odd" / "32bit.png")
    assert isinstance(loaded, LoadedImage)
    assert loaded.pixels.shape == (1200, 626, 3)


def test_16_bit_rgb_png_is_read_as_8_bit_colour(tmp_path):
    cv2 = pytest.importorskip("cv2")
    bgr16 = np.zeros((8, 8, 3), np.uint16)
    bgr16[..., 2] = 65535  # red at full 16-bit scale
    bgr16[..., 1] = 32896  # green at half scale
    path = tmp_path / "rgb16.png"
    assert cv2.imwrite(str(path), bgr16)
    loaded = load_image(path)
    assert tuple(loaded.pixels[3, 3]) == (255, 128, 0)


# --- files that only look like photos by name ----------------------------------------------

GIGABYTES = 3 * 1024**3
MP4_HEADER = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"


def sparse_file(path: Path, header: bytes, size: int) -> Path:
    """A file of `size` bytes that starts with `header` and takes no disk space for the rest."""
    path.write_bytes(header)
    os.truncate(path, size)
    return path


@pytest.fixture
def bytes_read(monkeypatch) -> list[int]:
    """The size of every read made through Python's open while the test runs."""
    sizes: list[int] = []
    real_open = builtins.open

    class CountingFile:
        def __init__(self, file):
            self._file = file

        def read(self, size=-1):
            data = self._file.read(size)
            sizes.append(len(data))
            return data

        def __getattr__(self, name):
            return getattr(self._file, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._file.close()

    monkeypatch.setattr(builtins, "open", lambda *a, **k: CountingFile(real_open(*a, **k)))
    return sizes


@pytest.mark.parametrize(
    ("name", "header", "reason"),
    [
        ("holiday.jpg", MP4_HEADER, "not an image (ISO media of brand 'isom', such as a video)"),
        ("scan.tif", b"", "not an image (its first bytes match no image format)"),
    ],
)
def test_gigabytes_named_like_a_photo_are_refused_after_reading_a_few_bytes(
    tmp_path, bytes_read, name, header, reason
):
    path = sparse_file(tmp_path / name, header, GIGABYTES)
    with pytest.raises(ImageLoadError) as err:
        read_photo_bytes(path)
    assert err.value.reason == reason
    assert bytes_read and sum(bytes_read) <= 4096


def test_an_image_larger_than_any_photo_can_be_is_refused_after_reading_a_few_bytes(
    tmp_path, bytes_read
):
    tiff_header = b"II*\0\x08\0\0\0"
    path = sparse_file(tmp_path / "huge.tif", tiff_header, images.MAX_FILE_BYTES + 1)
    with pytest.raises(ImageLoadError) as err:
        load_image(path)
    assert err.value.reason.startswith("file too large for a photo (1.7 GB;")
    assert bytes_read and sum(bytes_read) <= 4096
    # The cap follows from the pixel limit: 8 bytes a pixel is the widest layout we decode.
    assert MAX_PIXELS * 8 < images.MAX_FILE_BYTES < MAX_PIXELS * 9


def saved(tmp_path: Path, suffix: str, **params) -> Path:
    path = tmp_path / f"photo{suffix}"
    scene(64, 48).save(path, **params)
    return path


PHOTO_FILES = {
    ".jpg": {},
    ".png": {},
    ".gif": {},
    ".webp": {"lossless": True},
    ".tif": {},
    ".tiff": {"big_tiff": True},
    ".bmp": {},
}


@pytest.mark.parametrize(("suffix", "params"), PHOTO_FILES.items(), ids=list(PHOTO_FILES))
def test_every_photo_format_we_list_is_read_whole_in_one_go(tmp_path, bytes_read, suffix, params):
    path = saved(tmp_path, suffix, **params)
    assert suffix in PHOTO_EXTENSIONS
    data = read_photo_bytes(path)
    assert sum(bytes_read) <= len(data) + 4096  # the header, then the file once: no second pass
    assert data == path.read_bytes()
    loaded = load_image(data)
    assert (loaded.width, loaded.height) == (64, 48)


def test_heif_and_avif_files_pass_the_header_check(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    heic = tmp_path / "photo.heic"
    pillow_heif.from_pillow(scene(64, 48)).save(str(heic), quality=90)
    assert load_image(heic).width == 64
    if features.check("avif"):
        avif = saved(tmp_path, ".avif", quality=90)
        assert load_image(avif).width == 64
