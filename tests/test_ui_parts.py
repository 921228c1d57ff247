"""Pieces of the desktop app that need no scan: thumbnails, recent list, settings, grid."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from facealbum.config import Settings
from facealbum.model import Box
from facealbum.ui.recent import RecentLibraries
from facealbum.ui.widgets.photo_grid import PHOTO_ID_ROLE, PHOTO_INFO_ROLE, PhotoGridModel
from facealbum.ui.widgets.thumbnails import ThumbnailCache, make_face_crop


@pytest.fixture()
def rotated_photo(tmp_path: Path, labels) -> Path:
    """A real photo stored sideways with an EXIF orientation tag, as cameras do."""
    src = next(i.path for i in labels if i.faces == 1 and i.path.suffix == ".jpg")
    with Image.open(src) as im:
        sideways = im.convert("RGB").rotate(90, expand=True)  # stored rotated left
        exif = Image.Exif()
        exif[0x0112] = 6  # "rotate 90 CW to display"
        path = tmp_path / "sideways.jpg"
        sideways.save(path, "JPEG", exif=exif.tobytes())
    return path


def test_thumbnail_is_upright_small_and_cached(tmp_path, rotated_photo):
    cache = ThumbnailCache(tmp_path / "thumbnails")
    with Image.open(rotated_photo) as stored:
        stored_w, stored_h = stored.size
    thumb = cache.get(rotated_photo, 160)
    assert max(thumb.size) == 160
    # displayed upright: the stored sideways width becomes the height
    assert (thumb.width > thumb.height) == (stored_h > stored_w)
    files = list((tmp_path / "thumbnails").rglob("*.jpg"))
    assert len(files) == 1
    assert cache.get(rotated_photo, 160).size == thumb.size  # served from disk
    assert len(list((tmp_path / "thumbnails").rglob("*.jpg"))) == 1


def test_edited_photo_gets_a_fresh_thumbnail(tmp_path, rotated_photo):
    cache = ThumbnailCache(tmp_path / "thumbnails")
    first = cache.key(rotated_photo, 160)
    with Image.open(rotated_photo) as im:
        im.convert("L").save(rotated_photo, "JPEG")
    assert cache.key(rotated_photo, 160) != first


def test_face_crop_is_square_and_centred_on_the_face(tmp_path):
    img = Image.new("RGB", (400, 300), "white")
    img.paste((255, 0, 0), (180, 120, 220, 160))  # a red "face"
    path = tmp_path / "red.png"
    img.save(path)
    crop = make_face_crop(path, Box(180 / 400, 120 / 300, 220 / 400, 160 / 300), 64)
    assert crop.size == (64, 64)
    assert crop.getpixel((32, 32))[0] > 200 and crop.getpixel((32, 32))[1] < 60
    assert crop.getpixel((1, 1)) == (255, 255, 255)


def test_corrupt_photo_raises_instead_of_caching(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(OSError):
        ThumbnailCache(tmp_path / "thumbnails").get(bad, 160)
    assert not list((tmp_path / "thumbnails").rglob("*.jpg"))


def test_recent_libraries_most_recent_first_without_duplicates(tmp_path):
    recent = RecentLibraries(tmp_path / "cfg" / "recent.json")
    assert recent.last() is None
    a, b = tmp_path / "a", tmp_path / "b"
    recent.add(a)
    recent.add(b)
    recent.add(a)
    assert recent.load() == [a.resolve(), b.resolve()]
    (tmp_path / "cfg" / "recent.json").write_text("{broken")
    assert recent.load() == []


def test_settings_dialog_returns_validated_settings(qtbot):
    from facealbum.ui.dialogs.settings import SettingsDialog

    dialog = SettingsDialog(Settings(tolerance=0.5, detector="cnn", auto_assign=False))
    qtbot.addWidget(dialog)
    assert dialog.tolerance.value() == pytest.approx(0.5)
    assert dialog.detector.currentData() == "cnn"
    dialog.min_face.setValue(80)
    dialog.detector.setCurrentIndex(dialog.detector.findData("hog"))
    dialog.auto_assign.setChecked(True)
    result = dialog.settings()
    assert result == Settings(tolerance=0.5, detector="hog", min_face_px=80, auto_assign=True)


def test_settings_dialog_and_validation_share_each_settings_range(qtbot):
    from facealbum.ui.dialogs.settings import SettingsDialog

    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    editors = {"tolerance": dialog.tolerance, "min_face_px": dialog.min_face,
               "workers": dialog.workers}  # fmt: skip
    for name, editor in editors.items():
        info = Settings.info(name)
        assert (editor.minimum(), editor.maximum()) == (info.low, info.high), name
        assert editor.toolTip() == info.help
        below = Settings(**{name: info.low - 1}).validated()
        above = Settings(**{name: info.high + 1}).validated()
        assert (getattr(below, name), getattr(above, name)) == (info.low, info.high), name


@dataclass(frozen=True)
class _Info:
    id: int
    path: str
    status: str = "ok"
    error: str | None = None
    face_count: int = 1


class _CountingAlbum:
    """Records which photo infos the grid asks for."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.asked: list[int] = []

    def photos(self, ids):
        self.asked.extend(ids)
        return {i: _Info(i, str(self.path)) for i in ids}


def test_grid_model_fetches_only_the_rows_it_shows(qtbot, rotated_photo):
    from facealbum.ui.widgets.image_loader import ImageLoader

    loader = ImageLoader(None)
    model = PhotoGridModel(loader)
    album = _CountingAlbum(rotated_photo)
    model.set_album(album)
    model.set_ids(range(100_000))
    assert model.rowCount() == 100_000

    model.index(5).data(1)  # DecorationRole: a placeholder now, a fetch queued
    qtbot.waitUntil(lambda: album.asked == [5], timeout=5_000)
    qtbot.waitUntil(lambda: model.index(5).data(PHOTO_INFO_ROLE) is not None, timeout=5_000)
    model.index(5).data(1)  # the view asks again after dataChanged: now the thumbnail
    qtbot.waitUntil(lambda: loader.pixmap(("photo", 5)) is not None, timeout=10_000)
    assert model.index(5).data(PHOTO_ID_ROLE) == 5

    model.append_ids([5, 100_000, 100_001])  # a scan reports new photos; 5 is already shown
    assert model.rowCount() == 100_002


def test_a_fast_scroll_skips_thumbnails_of_rows_it_left_behind(qtbot, tmp_path):
    import threading

    from facealbum.ui.tasks import run_task
    from facealbum.ui.widgets.image_loader import ImageLoader

    photo = tmp_path / "p.jpg"
    Image.new("RGB", (64, 48), (200, 120, 40)).save(photo)
    loader = ImageLoader(None, stale_after=5)
    made, dropped = [], []
    loader.ready.connect(made.append)
    loader.dropped.connect(dropped.append)
    # Hold both thumbnail threads so that the requests queue up, as in a fast scroll.
    release = threading.Event()
    for _ in range(2):
        run_task(lambda: release.wait(10), pool_name="thumbs")
    for row in range(30):
        loader.request(row, photo, 32)
    release.set()
    qtbot.waitUntil(lambda: len(made) + len(dropped) == 30, timeout=10_000)
    assert sorted(made) == list(range(24, 30))  # the screen the scroll stopped on
    assert sorted(dropped) == list(range(24))  # passed by: skipped, nothing decoded
    loader.request(3, photo, 32)  # scrolled back: asked again, made this time
    qtbot.waitUntil(lambda: 3 in made, timeout=10_000)
