"""Render every page of the app with a sample library, as PNGs for docs and review.

    python tools/screenshots.py OUTPUT_DIR

The sample library is built from the development photos in ../shared/faces beside the
repository (or $FACEALBUM_TEST_FACES), resized into a temporary folder and scanned.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FACES = Path(os.environ.get("FACEALBUM_TEST_FACES", REPO.parent / "shared" / "faces"))


def build_photos(target: Path) -> None:
    from PIL import Image, ImageOps

    for src in sorted((FACES / "people").rglob("*")) + sorted((FACES / "groups").glob("*")):
        if src.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        with Image.open(src) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
            im.thumbnail((900, 900))
            im.save(target / f"{src.parent.name}_{src.stem}.jpg", "JPEG", quality=88)


def main(out: Path) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(REPO))
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from facealbum.ui.icon import app_icon
    from facealbum.ui.main_window import PAGES, MainWindow
    from facealbum.ui.photo_viewer import PhotoViewer
    from facealbum.ui.recent import RecentLibraries
    from facealbum.ui.settings_dialog import SettingsDialog
    from facealbum.ui.style import STYLE_SHEET

    app = QApplication(sys.argv[:1])
    app.setWindowIcon(app_icon())
    app.setStyleSheet(STYLE_SHEET)
    out.mkdir(parents=True, exist_ok=True)

    def settle(seconds: float, until=lambda: False) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not until():
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)

    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        photos = tmp_dir / "Family photos"
        photos.mkdir()
        build_photos(photos)
        win = MainWindow(RecentLibraries(tmp_dir / "recent.json"))
        win.resize(1280, 820)
        win.show()
        win.open_library(tmp_dir / "library")
        settle(30, lambda: win.context.album is not None)
        win.grab().save(str(out / "welcome.png"))

        win.handle_dropped([photos])
        settle(20, lambda: win.scan_status.isVisible() and win.scan_status.bar.maximum() > 0)
        settle(4)
        win.grab().save(str(out / "scanning.png"))
        settle(900, lambda: not win.context.scan.is_running())
        settle(8)
        win.grab().save(str(out / "library.png"))

        album = win.context.album
        if hasattr(album, "groups"):
            album.regroup() if hasattr(album, "regroup") else None
            groups = album.groups()
            names = ["Barack Obama", "Joe Biden"]
            for group, name in zip(groups[:2], names, strict=False):
                album.name_group(group.id, name)
        win.show_page(PAGES.index("People"))
        win.people_page.refresh()
        settle(8)
        win.grab().save(str(out / "people.png"))
        if win.people_page.people_model.rowCount():
            win.people_page.open_person(win.people_page.people_model.tile(0).key)
            settle(8)
            win.grab().save(str(out / "person.png"))

        group_photo = next((p for p in sorted(photos.glob("groups_*"))), None)
        if group_photo is not None:
            win.search_file(group_photo)
            settle(60, lambda: win.search_page.results_model.rowCount() > 0)
            settle(5)
            win.grab().save(str(out / "search.png"))
            ids = album.photo_ids()
            target = next((i for i in ids if album.photo(i).face_count > 1), ids[0])
            viewer = PhotoViewer(win.context, target, win)
            viewer.resize(1000, 720)
            viewer.show()
            settle(10, lambda: viewer.canvas._pixmap is not None)
            settle(1)
            viewer.grab().save(str(out / "photo.png"))
            viewer.close()

        win.show_page(PAGES.index("Look-alike"))
        settle(3)
        win.grab().save(str(out / "lookalike.png"))
        win.show_page(PAGES.index("Library"))
        dialog = SettingsDialog(album.settings, win)
        dialog.show()
        settle(1)
        dialog.grab().save(str(out / "settings.png"))
        dialog.close()
        win.close()
    for png in sorted(out.glob("*.png")):
        print(png)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main(Path(sys.argv[1])))
