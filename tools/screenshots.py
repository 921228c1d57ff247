"""Render every page of the app with a sample library, as PNGs for docs and review.

    python tools/screenshots.py OUTPUT_DIR

The sample library is built from the development photos in ../shared/faces beside the
repository (or $FACEALBUM_TEST_FACES), resized into a temporary folder (with one damaged
file, listed as unreadable) and scanned. A few people are named, then a second folder
arrives with new photos of them (offered as suggestions, and as a group that is probably
one of them) and a photo another app tagged in its XMP sidecar. The PNGs are reduced to
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
# A folder of "portraits" for the look-alike page, titled in its collection.csv; the first
# is the performer in the sample clip.
PORTRAITS = {
    "people/lin_manuel_miranda/lmm_1.png": "Portrait of a Young Man,Frans Hals,1650",
    "people/alex_lacamoire/alex_1.jpg": "Self-Portrait,Vincent van Gogh,1889",
    "people/kate_siegel/kate_siegel_1.jpg": "Portrait of a Lady,Rogier van der Weyden,1460",
    "people/guido_van_rossum/guido_1.jpg": "A Scholar in his Study,Rembrandt,1631",
    "people/paul_rudd/paul_rudd_1.jpg": "The Laughing Cavalier,Frans Hals,1624",
}
MAYBES = "alex_lacamoire_alex_3"  # searched for, his other photos are "maybe" him


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
    (first / "holiday_042.jpg").write_bytes(b"\xff\xd8\xff\xe0 a download cut short")


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


def build_portraits(folder: Path) -> None:
    from PIL import Image

    folder.mkdir()
    rows = ["file,title,artist,date"]
    for rel, titled in PORTRAITS.items():
        name = f"{Path(rel).stem}.jpg"
        with Image.open(FACES / rel) as im:
            im.convert("RGB").save(folder / name, "JPEG", quality=88)
        rows.append(f"{name},{titled}")
    (folder / "collection.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def save_image_small(image, path: Path) -> None:
    """A QImage as a 256-colour PNG, as save_small does a widget."""
    from PIL import Image

    full = path.with_suffix(".full.png")
    image.save(str(full))
    with Image.open(full) as im:
        im.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE).save(path, optimize=True)
    full.unlink()


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

    from facealbum import config
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
        # The look-alike collection and what the page remembers stay in here too.
        config.user_data_dir = lambda: tmp_dir / "user-data"
        config.user_config_dir = lambda: tmp_dir / "user-config"
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
        report = getattr(win, "scan_report", None)  # the damaged file's: its list is shown
        if report is not None:
            report.close()
        win.library_page.unreadable.toggle.setChecked(True)
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
        probable = [t for t in page.group_model.tiles() if t.payload.probably is not None]
        if probable:  # its "Probably ...?" with Yes and No
            page.group_view.setCurrentIndex(
                page.group_model.index(page.group_model.row_of(probable[0].key))
            )
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
        # Someone nobody named, whose other photos are not all sure: the maybes apart.
        win.search_file(next(first.glob(f"{MAYBES}.jpg")))
        settle(60, lambda: win.search_page.maybe_model.rowCount() > 0)
        settle(5)
        save_small(win, out / "search_maybe.png")

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

        # Every face of the library, newest first; one of Obama's with its similar faces.
        win.show_page(PAGES.index("Faces"))
        faces = win.faces_page
        settle(10, lambda: faces.model.rowCount() > 0)
        row = faces.model.row_of(album.person_faces(obama.id)[0])
        faces.grid.setCurrentIndex(faces.model.index(row or 0))
        settle(10, lambda: faces.similar_model.rowCount() > 0)
        settle(4)
        save_small(win, out / "faces.png")

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
        if clip.is_file() and hasattr(lookalike, "against"):
            # Against a folder of portraits, made into a collection: each look-alike titled,
            # the best revealed as a pair once it holds.
            build_portraits(tmp_dir / "Portraits")
            lookalike.against.match_against(tmp_dir / "Portraits")
            settle(600, lambda: lookalike.against.other is not None)
            lookalike.play_video(clip)
            settle(120, lambda: "Frans Hals" in lookalike.reveal.caption)
            settle(3)
            save_small(win, out / "lookalike_collection.png")
            save_image_small(lookalike.reveal.image(), out / "reveal.png")
        if hasattr(lookalike, "shutdown"):
            lookalike.shutdown()
        win.show_page(PAGES.index("Library"))
        dialog = SettingsDialog(album.settings, win)
        dialog.show()
        settle(1)
        save_small(dialog, out / "settings.png")
        dialog.close()
        win._about()
        settle(1)
        save_small(win.about_box, out / "about.png")
        win.about_box.close()
        win.close()
    for png in sorted(out.glob("*.png")):
        print(png, f"{png.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main(Path(sys.argv[1])))
