"""Render every page of the app with a sample library, as PNGs for docs and review.

    python tools/screenshots.py OUTPUT_DIR

The sample library is built from the development photos in ../shared/faces beside the
repository (or $FACEALBUM_TEST_FACES), resized into a temporary folder and scanned. A few
people are named, then a second folder arrives with new photos of them (offered as
suggestions) and a photo another app tagged in its XMP sidecar. The PNGs are reduced to
256 colours, which keeps them small enough for a README.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FACES = Path(os.environ.get("FACEALBUM_TEST_FACES", REPO.parent / "shared" / "faces"))
WINDOW = (1280, 860)
# Arrive after the naming, as a second folder: suggestions for the people named.
LATER = {"obama_4", "obama_5", "biden_2", "guido_5", "woz_5"}
NAMED = {
    "barack_obama": "Barack Obama",
    "joe_biden": "Joe Biden",
    "guido_van_rossum": "Guido van Rossum",
    "steve_wozniak": "Steve Wozniak",
    "paul_allen": "Paul Allen",
}
TAGGED = ("rose_leslie", "rose_2", "Rose Leslie")  # folder, photo, the name another app gave


def build_photos(first: Path, later: Path) -> None:
    from PIL import Image, ImageOps

    sources = sorted((FACES / "people").rglob("*")) + sorted((FACES / "groups").glob("*"))
    for src in sources:
        if src.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        with Image.open(src) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
            im.thumbnail((900, 900))
            folder = later if src.stem in LATER else first
            im.save(folder / f"{src.parent.name}_{src.stem}.jpg", "JPEG", quality=88)


def identity(photo_path: str) -> str:
    """The person a photo's file name says it shows ("barack_obama_obama_1.jpg")."""
    name = Path(photo_path).name
    return next((who for who in (*NAMED, TAGGED[0]) if name.startswith(who)), "")


def name_people(album) -> None:
    """Name the group where most faces are of each of NAMED, as a user would."""
    for group in album.groups():
        faces = album.faces_by_id(list(group.face_ids)).values()
        # Group photos say nobody in their name: decide by the portraits in the group.
        known = Counter(identity(f.photo) for f in faces if identity(f.photo))
        if not known:
            continue
        who, count = known.most_common(1)[0]
        taken = {p.name for p in album.people()}
        if who in NAMED and count * 2 > sum(known.values()) and NAMED[who] not in taken:
            album.name_group(group.id, NAMED[who])


def tag_with_xmp(album, first: Path, later: Path) -> None:
    """A copy of one photo, named in its sidecar by another app (as digiKam would)."""
    import shutil

    from facealbum.interop.xmp import FaceRegion, write_regions

    folder, stem, name = TAGGED
    original = first / f"{folder}_{stem}.jpg"
    photo_id = next(
        p for p, i in album.photos(album.photo_ids()).items() if i.path == str(original)
    )
    info, (face, *_) = album.photo(photo_id), album.faces_in_photo(photo_id)
    copy = shutil.copy(original, later / "garden_party.jpg")
    write_regions(Path(copy), [FaceRegion(name, face.box)], info.width, info.height)


def save_small(widget, path: Path) -> None:
    """A grab of the widget as a 256-colour PNG: a third of the bytes, much the same look."""
    from PIL import Image

    full = path.with_suffix(".full.png")
    widget.grab().save(str(full))
    with Image.open(full) as im:
        small = im.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE)
        small.save(path, optimize=True)
    full.unlink()


def main(out: Path) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(REPO))
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from facealbum.config import Settings
    from facealbum.ui.dialogs.settings import SettingsDialog
    from facealbum.ui.icon import app_icon
    from facealbum.ui.main_window import PAGES, MainWindow
    from facealbum.ui.recent import RecentLibraries
    from facealbum.ui.style import STYLE_SHEET
    from facealbum.ui.widgets.photo_viewer import PhotoViewer

    app = QApplication(sys.argv[:1])
    app.setWindowIcon(app_icon())
    app.setStyleSheet(STYLE_SHEET)
    out.mkdir(parents=True, exist_ok=True)

    def settle(seconds: float, until=lambda: False) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not until():
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)

    def scan(folder: Path) -> None:
        win.handle_dropped([folder])
        settle(30, lambda: win.context.scan.is_running())
        settle(900, lambda: not win.context.scan.is_running())
        settle(3)

    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        first, later = tmp_dir / "Family photos", tmp_dir / "New photos"
        first.mkdir()
        later.mkdir()
        build_photos(first, later)
        win = MainWindow(RecentLibraries(tmp_dir / "recent.json"))
        win.resize(*WINDOW)
        win.show()
        win.open_library(tmp_dir / "library")
        settle(30, lambda: win.context.album is not None)
        save_small(win, out / "welcome.png")

        win.handle_dropped([first])
        # A scan under way: the progress bar moving and the first photos in the grid.
        settle(120, lambda: win.scan_status.bar.value() >= 10)
        settle(2)
        save_small(win, out / "scanning.png")
        settle(900, lambda: not win.context.scan.is_running())
        settle(8)
        save_small(win, out / "library.png")

        album = win.context.album
        name_people(album)
        album.update_settings(Settings(auto_assign=False))  # new faces wait for a yes
        tag_with_xmp(album, first, later)
        scan(later)
        win.context.data_changed.emit()

        page = win.people_page
        win.show_page(PAGES.index("People"))
        settle(10, lambda: page.people_model.rowCount() >= len(NAMED))
        settle(4)
        page.hints.view.setCurrentIndex(page.hints.model.index(0))
        save_small(win, out / "people.png")
        obama = next(p for p in album.people() if p.name == "Barack Obama")
        page.open_person(obama.id)
        view = page.person_view
        settle(10, lambda: view.suggest_model.rowCount() > 0)
        settle(4)
        view.suggestions.setCurrentIndex(view.suggest_model.index(0))
        save_small(win, out / "person.png")
        page.show_overview()

        group_photo = next(first.glob("groups_obama_and_biden*"))
        win.search_file(group_photo)
        settle(60, lambda: win.search_page.results_model.rowCount() > 0)
        settle(5)
        save_small(win, out / "search.png")

        photo_id = next(
            p for p, i in album.photos(album.photo_ids()).items() if i.path == str(group_photo)
        )
        viewer = PhotoViewer(win.context, photo_id, win)
        viewer.resize(1000, 720)
        viewer.show()
        settle(10, lambda: viewer.canvas._pixmap is not None)
        settle(1)
        save_small(viewer, out / "photo.png")
        viewer.close()

        # The look-alike page on the sample clip (no camera here), once a face has matches.
        win.show_page(PAGES.index("Look-alike"))
        lookalike = win.lookalike_page
        clip = FACES / "video" / "short_hamilton_clip.mp4"
        if clip.is_file() and hasattr(lookalike, "play_video"):
            lookalike.play_video(clip)
            settle(60, lambda: bool(lookalike.panel.matches()))
            settle(1)
        else:
            settle(3)
        save_small(win, out / "lookalike.png")
        if hasattr(lookalike, "shutdown"):
            lookalike.shutdown()
        win.show_page(PAGES.index("Library"))
        dialog = SettingsDialog(album.settings, win)
        dialog.show()
        settle(1)
        save_small(dialog, out / "settings.png")
        dialog.close()
        win.close()
    for png in sorted(out.glob("*.png")):
        print(png, f"{png.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main(Path(sys.argv[1])))
