"""The People page on a real scanned library: naming, merging, suggestions, corrections,
undo, hidden people, XMP names and the Tools menu, driven through the real widgets."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from helpers_storage import every_face, library_store  # noqa: E402
from library_builder import FOUR_PEOPLE_PHOTOS as PHOTOS  # noqa: E402
from library_builder import build_folder, reduced_copy  # noqa: E402
from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QInputDialog, QMessageBox  # noqa: E402

from facealbum.album import Album  # noqa: E402
from facealbum.config import Settings  # noqa: E402
from facealbum.interop.xmp import FaceRegion, sidecar_path, write_regions  # noqa: E402
from facealbum.ui.main_window import PAGES, MainWindow  # noqa: E402
from facealbum.ui.recent import RecentLibraries  # noqa: E402
from facealbum.ui.widgets.tiles import TileView  # noqa: E402

pytestmark = pytest.mark.slow

# Scanned after naming, with automatic assignment off: offered as suggestions.
LATER = ("people/barack_obama/obama_4.jpg", "people/barack_obama/obama_5.jpg")
WAIT_MS = 30_000


def faces_of(album: Album, stem: str) -> list[int]:
    for pid, info in album.photos(album.photo_ids()).items():
        if Path(info.path).stem == stem:
            return [f.id for f in album.faces_in_photo(pid)]
    raise KeyError(stem)


def person_named(album: Album, name: str):
    return next((p for p in album.people(include_hidden=True) if p.name == name), None)


@pytest.fixture(scope="module")
def scanned(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Obama and Guido named; two new photos of Obama suggested; Rose's photo copied into a
    folder where another app named her in the XMP sidecar."""
    root = tmp_path_factory.mktemp("ui_people")
    build_folder(faces_dir, root / "photos", PHOTOS)
    with Album.open(root / "library") as album:
        album.add_folder(root / "photos")
        album.scan()
        for stem, name in (("obama_1", "Barack Obama"), ("guido_1", "Guido van Rossum")):
            album.name_group(album.face(faces_of(album, stem)[0]).group_id, name)
        album.update_settings(Settings(auto_assign=False))
        later = root / "later"
        build_folder(faces_dir, later, LATER)
        rose = album.face(faces_of(album, "rose_1")[0])
        info = album.photo(rose.photo_id)
        tagged = reduced_copy(faces_dir / PHOTOS[-1], later / "rose_tagged.jpg")
        write_regions(tagged, [FaceRegion("Rose Leslie", rose.box)], info.width, info.height)
        album.add_folder(later)
        album.scan([later])
    return root / "library"


@pytest.fixture
def open_window(qtbot, scanned: Path, tmp_path: Path):
    """A window on a fresh copy of the scanned library, showing the People page;
    `prepare(album)` may change the copy first."""
    windows: list[MainWindow] = []

    def make(prepare: Callable[[Album], object] | None = None) -> MainWindow:
        library = tmp_path / "library"
        shutil.copytree(scanned, library)
        if prepare is not None:
            with Album.open(library) as album:
                prepare(album)
        win = MainWindow(RecentLibraries(tmp_path / "recent.json"))
        qtbot.addWidget(win)
        windows.append(win)
        win.show()
        with qtbot.waitSignal(win.context.album_changed, timeout=WAIT_MS):
            win.open_library(library, create=False)
        win.show_page(PAGES.index("People"))
        page = win.people_page
        qtbot.waitUntil(lambda: page.people_model.rowCount() > 0, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: page.group_model.rowCount() > 0, timeout=WAIT_MS)
        return win

    yield make
    for win in windows:
        win.close()


def names(win: MainWindow) -> list[str]:
    return [t.title for t in win.people_page.people_model.tiles()]


def select_key(view: TileView, key: int) -> None:
    model = view.model()
    row = model.row_of(key)
    assert row is not None, f"no tile {key}"
    view.setCurrentIndex(model.index(row))


def click_tile(qtbot, view: TileView, key: int, modifier=Qt.KeyboardModifier.NoModifier):
    rect = view.visualRect(view.model().index(view.model().row_of(key)))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())


def drag(view: TileView, mime, onto) -> None:
    """What a mouse drag delivers to the list under the pointer: enter, move, drop."""
    at = onto.center()
    move, left, plain = (
        Qt.DropAction.MoveAction,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    for event in (
        QDragEnterEvent(at, move, mime, left, plain),
        QDragMoveEvent(at, move, mime, left, plain),
        QDropEvent(QPointF(at), move, mime, left, plain),
    ):
        QApplication.sendEvent(view.viewport(), event)


def open_person(qtbot, win: MainWindow, name: str):
    page = win.people_page
    person = person_named(win.context.album, name)
    view = page.people_view
    rect = view.visualRect(view.model().index(view.model().row_of(person.id)))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: page.stack.currentWidget() is page.person_view, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: name in page.person_view.title.text(), timeout=WAIT_MS)
    return page.person_view, person


def test_name_a_group_by_typing(qtbot, open_window):
    win = open_window()
    album, page = win.context.album, win.people_page
    group = album.face(faces_of(album, "biden_1")[0]).group_id
    click_tile(qtbot, page.group_view, group)

    qtbot.keyClicks(page.name_edit, "Joe Biden")
    qtbot.keyClick(page.name_edit, Qt.Key.Key_Return)

    qtbot.waitUntil(lambda: "Joe Biden" in names(win), timeout=WAIT_MS)
    assert page.group_model.row_of(group) is None
    biden = person_named(album, "Joe Biden")
    stems = {Path(album.photo(p).path).stem for p in album.photo_ids(person_id=biden.id)}
    assert {"biden_1", "biden_2"} <= stems
    assert page.name_edit.text() == ""


def _rose_twice(album: Album) -> None:
    """Another app's name for one photo confirmed, the user's own name for her group."""
    album.confirm(faces_of(album, "rose_tagged"))
    album.name_group(album.face(faces_of(album, "rose_1")[0]).group_id, "Rose")


def test_merge_two_people_by_multi_select(qtbot, open_window, monkeypatch):
    win = open_window(_rose_twice)
    album, page = win.context.album, win.people_page
    rose, leslie = person_named(album, "Rose"), person_named(album, "Rose Leslie")
    faces = rose.face_count + leslie.face_count
    asked = []

    def keep_name(_parent, _title, _label, items, *_args):
        asked.append(list(items))
        return "Rose Leslie", True

    monkeypatch.setattr(QInputDialog, "getItem", keep_name)
    click_tile(qtbot, page.people_view, rose.id)
    click_tile(qtbot, page.people_view, leslie.id, Qt.KeyboardModifier.ControlModifier)
    qtbot.mouseClick(page.merge_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: "Rose" not in names(win), timeout=WAIT_MS)
    assert sorted(asked[0]) == ["Rose", "Rose Leslie"]
    merged = person_named(album, "Rose Leslie")
    assert person_named(album, "Rose") is None and merged.face_count == faces


def test_merge_by_dropping_one_person_on_another(qtbot, open_window, monkeypatch):
    win = open_window(_rose_twice)
    album, view = win.context.album, win.people_page.people_view
    rose, leslie = person_named(album, "Rose"), person_named(album, "Rose Leslie")
    questions = []
    monkeypatch.setattr(
        QMessageBox,
        "question",
        lambda _p, _t, text, *a: questions.append(text) or QMessageBox.StandardButton.Yes,
    )
    model = view.model()
    dragged = model.mimeData([model.index(model.row_of(rose.id))])
    drag(view, dragged, view.visualRect(model.index(model.row_of(leslie.id))))

    qtbot.waitUntil(lambda: "Rose" not in names(win), timeout=WAIT_MS)
    assert questions and "Merge Rose into Rose Leslie" in questions[0]
    assert person_named(album, "Rose Leslie").face_count == rose.face_count + leslie.face_count


def test_dropping_a_group_on_a_person_gives_them_its_faces(qtbot, open_window):
    win = open_window(lambda album: album.create_person("Joe Biden"))
    album, page = win.context.album, win.people_page
    biden = person_named(album, "Joe Biden")
    group = album.face(faces_of(album, "biden_1")[0]).group_id
    groups = page.group_model
    dragged = groups.mimeData([groups.index(groups.row_of(group))])
    view = page.people_view
    drag(view, dragged, view.visualRect(view.model().index(view.model().row_of(biden.id))))

    qtbot.waitUntil(lambda: page.group_model.row_of(group) is None, timeout=WAIT_MS)
    assert names(win) == ["Barack Obama", "Guido van Rossum", "Joe Biden"]
    photos = {Path(album.photo(p).path).stem for p in album.photo_ids(person_id=biden.id)}
    assert {"biden_1", "biden_2"} <= photos


def test_reject_one_suggestion_and_confirm_another(qtbot, open_window):
    win = open_window()
    album = win.context.album
    view, obama = open_person(qtbot, win, "Barack Obama")
    new = {stem: faces_of(album, stem)[0] for stem in ("obama_4", "obama_5")}
    qtbot.waitUntil(lambda: view.suggest_model.rowCount() == 2, timeout=WAIT_MS)
    assert {t.key for t in view.suggest_model.tiles()} == set(new.values())
    assert all(t.title.endswith("% sure") for t in view.suggest_model.tiles())
    photos = view.photos_model.rowCount()

    click_tile(qtbot, view.suggestions, new["obama_5"])
    qtbot.mouseClick(view.reject_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.suggest_model.rowCount() == 1, timeout=WAIT_MS)
    assert new["obama_5"] not in [s.face_id for s in album.suggestions(obama.id)]

    click_tile(qtbot, view.suggestions, new["obama_4"])
    qtbot.mouseClick(view.confirm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.photos_model.rowCount() == photos + 1, timeout=WAIT_MS)
    assert view.suggest_model.rowCount() == 0
    assert album.face(new["obama_4"]).person_id == obama.id
    assert album.face(new["obama_5"]).person_id is None
    assert f"{photos + 1} photos" in view.title.text()


def test_remove_a_wrong_face_then_undo_with_ctrl_z(qtbot, open_window):
    win = open_window()
    album = win.context.album
    view, obama = open_person(qtbot, win, "Barack Obama")
    qtbot.waitUntil(lambda: view.photos_model.rowCount() == obama.photo_count, timeout=WAIT_MS)
    wrong = faces_of(album, "obama_3")[0]
    photo = album.face(wrong).photo_id
    row = view.photos_model.ids().index(photo)
    view.photos.setCurrentIndex(view.photos_model.index(row))
    assert view.remove_button.isEnabled() and "Barack Obama" in view.remove_button.text()

    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    qtbot.keyClick(view.photos, Qt.Key.Key_Delete)

    qtbot.waitUntil(lambda: photo not in view.photos_model.ids(), timeout=WAIT_MS)
    assert album.face(wrong).person_id is None
    qtbot.waitUntil(lambda: "Remove a face" in win.undo_action.text(), timeout=WAIT_MS)

    qtbot.keyClick(view.photos, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)

    qtbot.waitUntil(lambda: photo in view.photos_model.ids(), timeout=WAIT_MS)
    assert album.face(wrong).person_id == obama.id
    assert "Undone" in win.statusBar().currentMessage()


def test_hidden_people_only_behind_the_toggle(qtbot, open_window):
    win = open_window()
    page = win.people_page
    guido = person_named(win.context.album, "Guido van Rossum")
    click_tile(qtbot, page.people_view, guido.id)

    qtbot.mouseClick(page.hide_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: page.people_model.row_of(guido.id) is None, timeout=WAIT_MS)
    assert names(win) == ["Barack Obama"]
    page.show_hidden.setChecked(True)
    qtbot.waitUntil(lambda: page.people_model.row_of(guido.id) is not None, timeout=WAIT_MS)
    assert "Guido van Rossum (hidden)" in names(win)
    page.show_hidden.setChecked(False)
    qtbot.waitUntil(lambda: page.people_model.row_of(guido.id) is None, timeout=WAIT_MS)


def test_a_name_from_xmp_is_offered_with_that_name(qtbot, open_window):
    win = open_window()
    album, hints = win.context.album, win.people_page.hints
    (tagged,) = faces_of(album, "rose_tagged")
    qtbot.waitUntil(lambda: hints.model.rowCount() == 1, timeout=WAIT_MS)
    assert hints.isVisible()
    (tile,) = hints.model.tiles()
    assert (tile.key, tile.title) == (tagged, "Rose Leslie?")
    assert "Rose Leslie" not in names(win)  # nobody is created before the user agrees

    click_tile(qtbot, hints.view, tagged)
    qtbot.mouseClick(hints.confirm_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: "Rose Leslie" in names(win), timeout=WAIT_MS)
    assert album.face(tagged).person_name == "Rose Leslie"
    qtbot.waitUntil(lambda: not hints.isVisible(), timeout=WAIT_MS)


def _report(win: MainWindow) -> QMessageBox | None:
    boxes = [b for b in win.findChildren(QMessageBox) if "sidecar" in b.text()]
    return boxes[-1] if boxes else None


def test_write_names_to_xmp_sidecars_reports_each_failure(qtbot, open_window, monkeypatch):
    win = open_window()
    album = win.context.album
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    named = {
        Path(album.photo(p).path)
        for person in album.people()
        for p in album.photo_ids(person_id=person.id)
    }
    blocked = next(p for p in named if p.stem == "obama_2")
    sidecar_path(blocked).mkdir()  # a sidecar that cannot be written

    win.export_action.trigger()

    qtbot.waitUntil(lambda: _report(win) is not None, timeout=WAIT_MS)
    report = _report(win)
    assert report.icon() == QMessageBox.Icon.Warning
    assert "1 photo could not" in report.text()
    assert "obama_2.jpg" in report.informativeText()
    written = [p for p in named if sidecar_path(p).is_file()]
    assert len(written) == len(named) - 1
    assert f"{len(written)} sidecars written" in report.text()


def test_regroup_keeps_named_people_and_regroups_the_rest(qtbot, open_window):
    win = open_window()
    album, page = win.context.album, win.people_page
    before = {p.name: p.face_count for p in album.people()}
    with qtbot.waitSignal(win.context.data_changed, timeout=WAIT_MS):
        win.regroup_action.trigger()
    assert {p.name: p.face_count for p in album.people()} == before
    regrouped = album.face(faces_of(album, "biden_1")[0]).group_id
    assert regrouped is not None
    assert regrouped == album.face(faces_of(album, "biden_2")[0]).group_id
    qtbot.waitUntil(lambda: page.group_model.row_of(regrouped) is not None, timeout=WAIT_MS)


@pytest.mark.parametrize("how", ["button", "escape", "rejected", "while_written"])
def test_a_long_regroup_shows_a_dialog_whose_cancel_changes_nothing(
    qtbot, open_window, monkeypatch, tmp_path, how
):
    from PySide6.QtWidgets import QProgressDialog, QPushButton

    from facealbum.album import grouping
    from facealbum.ui import library_tools

    win = open_window()
    album = win.context.album
    with library_store(album).write() as conn:  # ungrouped: a full regroup groups them
        conn.execute("UPDATE faces SET group_id = NULL WHERE person_id IS NULL")
    groups_before = [(f.id, f.group_id) for f in every_face(album)]
    # The step the user cancels in is made to take as long as on a large library.
    release = threading.Event()
    slow_step = (
        (grouping.Batches, "write_regroup")
        if how == "while_written"
        else (grouping.Grouping, "_knn_of_free")
    )
    original = getattr(*slow_step)

    def as_on_a_large_library(*args, **kwargs):
        release.wait(30)
        return original(*args, **kwargs)

    monkeypatch.setattr(*slow_step, as_on_a_large_library)
    messages: list[str] = []
    win.context.status_message.connect(messages.append)

    win.regroup_action.trigger()
    dialog = win.findChild(QProgressDialog, library_tools.REGROUP_DIALOG)
    # shown once it takes long: soon, not after QProgressDialog's own 4 s
    qtbot.waitUntil(dialog.isVisible, timeout=library_tools.REGROUP_DIALOG_AFTER_MS + 2000)
    win.regroup_action.trigger()  # a second regroup meanwhile: the same dialog, no other
    assert win.findChildren(QProgressDialog) == [dialog]
    dialog.grab().save(str(tmp_path / "regroup.png"))
    if how == "escape":
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    elif how == "rejected":  # what Esc does when another window is the active one
        dialog.reject()
    else:
        dialog.findChild(QPushButton).click()
    assert "Cancelling the regroup…" in messages
    win.regroup_action.trigger()  # again while it stops: no second one, the dialog stays hidden
    assert win.findChildren(QProgressDialog) == [dialog] and not dialog.isVisible()
    assert messages[-1] == "The last regroup is still stopping; try again soon"
    release.set()

    qtbot.waitUntil(lambda: win.findChild(QProgressDialog) is None, timeout=WAIT_MS)
    groups_after = [(f.id, f.group_id) for f in every_face(album)]
    if how == "while_written":  # too late: it finishes, and says so
        assert any("too late to cancel" in m for m in messages)
        assert groups_after != groups_before
    else:
        assert "Regroup cancelled: the groups are as they were" in messages
        assert groups_after == groups_before


def test_closing_the_window_cancels_a_regroup_that_is_computing(qtbot, open_window, monkeypatch):
    from facealbum.album import grouping
    from facealbum.db import backup as db_backup
    from facealbum.ui.tasks import wait_for_pool

    win = open_window()
    album = win.context.album
    store = library_store(album)
    with store.write() as conn:  # ungrouped: a full regroup groups them
        conn.execute("UPDATE faces SET group_id = NULL WHERE person_id IS NULL")
    groups_before = [(f.id, f.group_id) for f in every_face(album)]
    backups_before = db_backup.list_backups(store.path)
    release = threading.Event()
    original = grouping.Grouping._knn_of_free

    def as_on_a_large_library(*args, **kwargs):
        release.wait(30)
        return original(*args, **kwargs)

    monkeypatch.setattr(grouping.Grouping, "_knn_of_free", as_on_a_large_library)
    win.regroup_action.trigger()
    threading.Timer(0.5, release.set).start()  # the close below waits for it
    win.close()
    wait_for_pool("work", 30.0)  # whatever the regroup still does, it has done it now

    assert db_backup.list_backups(store.path) == backups_before
    with Album.open(store.path.parent) as reopened:
        assert [(f.id, f.group_id) for f in every_face(reopened)] == groups_before


def test_keyboard_shortcuts_lists_every_shortcut(qtbot, open_window):
    from PySide6.QtGui import QAction, QKeySequence
    from PySide6.QtWidgets import QAbstractButton

    win = open_window()
    help_action = next(a for a in win.findChildren(QAction) if a.text() == "Keyboard shortcuts")
    help_action.trigger()
    qtbot.waitUntil(lambda: getattr(win, "shortcuts_dialog", None) is not None)
    text = win.shortcuts_dialog.label.text()
    portable = QKeySequence.SequenceFormat.PortableText
    keys = {a.shortcut().toString(portable) for a in win.findChildren(QAction)}
    keys |= {b.shortcut().toString(portable) for b in win.findChildren(QAbstractButton)}
    keys.discard("")
    assert {"Ctrl+S", "Ctrl+Z", "Y", "N", "Del"} <= keys
    missing = [k for k in keys if f"<tt>{k}</tt>" not in text]
    assert missing == []
    assert "Search with this frame" in text or "Send the current picture" in text


def test_yes_to_all_confirms_every_suggestion(qtbot, open_window):
    win = open_window()
    album = win.context.album
    view, obama = open_person(qtbot, win, "Barack Obama")
    new = [faces_of(album, stem)[0] for stem in ("obama_4", "obama_5")]
    qtbot.waitUntil(lambda: view.suggest_model.rowCount() == 2, timeout=WAIT_MS)
    photos = view.photos_model.rowCount()
    assert view.confirm_all_button.isEnabled()

    qtbot.mouseClick(view.confirm_all_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: view.photos_model.rowCount() == photos + 2, timeout=WAIT_MS)
    assert view.suggest_model.rowCount() == 0
    assert [album.face(f).person_id for f in new] == [obama.id, obama.id]
    assert all(album.face(f).assigned_by == "user" for f in new)
    assert view.suggest_label.text() == "No suggestions right now"
    assert not view.confirm_all_button.isEnabled()
    qtbot.waitUntil(lambda: "Confirm 2 faces" in win.undo_action.text(), timeout=WAIT_MS)


def test_no_to_all_rejects_every_suggestion_for_good(qtbot, open_window):
    win = open_window()
    album = win.context.album
    view, obama = open_person(qtbot, win, "Barack Obama")
    new = [faces_of(album, stem)[0] for stem in ("obama_4", "obama_5")]
    qtbot.waitUntil(lambda: view.suggest_model.rowCount() == 2, timeout=WAIT_MS)
    photos = view.photos_model.rowCount()

    qtbot.mouseClick(view.reject_all_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: view.suggest_model.rowCount() == 0, timeout=WAIT_MS)
    assert view.photos_model.rowCount() == photos
    assert [album.face(f).person_id for f in new] == [None, None]
    assert not set(new) & {s.face_id for s in album.suggestions(obama.id)}
    album.regroup(full=True)  # rejected for good: a regroup does not bring them back
    assert not set(new) & {s.face_id for s in album.suggestions(obama.id)}


def test_not_them_on_several_photos_is_undone_by_one_ctrl_z(qtbot, open_window):
    from PySide6.QtCore import QItemSelectionModel

    win = open_window()
    album = win.context.album
    view, obama = open_person(qtbot, win, "Barack Obama")
    qtbot.waitUntil(lambda: view.photos_model.rowCount() == obama.photo_count, timeout=WAIT_MS)
    wrong = [faces_of(album, stem)[0] for stem in ("obama_2", "obama_3")]
    photos = [album.face(f).photo_id for f in wrong]
    selection = view.photos.selectionModel()
    for photo in photos:
        index = view.photos_model.index(view.photos_model.ids().index(photo))
        selection.select(index, QItemSelectionModel.SelectionFlag.Select)
    assert view.remove_button.text() == "Not Barack Obama (2)"

    qtbot.mouseClick(view.remove_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: not set(photos) & set(view.photos_model.ids()), timeout=WAIT_MS)
    assert [album.face(f).person_id for f in wrong] == [None, None]
    qtbot.waitUntil(lambda: "Remove 2 faces" in win.undo_action.text(), timeout=WAIT_MS)

    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    qtbot.keyClick(view.photos, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)

    qtbot.waitUntil(lambda: set(photos) <= set(view.photos_model.ids()), timeout=WAIT_MS)
    assert [album.face(f).person_id for f in wrong] == [obama.id, obama.id]
    assert not (album.undo_description() or "").startswith("Remove")  # one step undid both
    qtbot.waitUntil(lambda: "Remove" not in win.undo_action.text(), timeout=WAIT_MS)


def test_a_person_with_suggestions_says_so_and_opens_on_them(qtbot, open_window):
    win = open_window()
    page = win.people_page
    obama = person_named(win.context.album, "Barack Obama")
    guido = person_named(win.context.album, "Guido van Rossum")
    assert obama.to_review == len(win.context.album.suggestions(obama.id)) == 2
    tiles = {t.key: t for t in page.people_model.tiles()}
    assert tiles[obama.id].subtitle == "2 to review"  # obama_4 and obama_5 wait for a yes
    assert "to review" not in tiles[guido.id].subtitle
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)

    view, _ = open_person(qtbot, win, "Barack Obama")

    qtbot.waitUntil(lambda: view.suggest_model.rowCount() == 2, timeout=WAIT_MS)
    qtbot.waitUntil(view.suggestions.hasFocus)
    first = view.suggest_model.tile(0)
    assert view.suggestions.selected_tiles() == [first]
    qtbot.keyClick(view.suggestions, Qt.Key.Key_Y)  # the first one is Obama: one key
    qtbot.waitUntil(lambda: view.suggest_model.rowCount() == 1, timeout=WAIT_MS)
    assert win.context.album.face(first.key).person_id == obama.id
    view.back.emit()
    qtbot.waitUntil(
        lambda: (
            page.people_model.tile(page.people_model.row_of(obama.id)).subtitle == "1 to review"
        ),
        timeout=WAIT_MS,
    )


def _probable_group(win: MainWindow) -> tuple[int, list[int]]:
    """The group of the two photos of Obama scanned after he was named, and its faces."""
    album = win.context.album
    later = [faces_of(album, Path(rel).stem)[0] for rel in LATER]
    group = album.face(later[0]).group_id
    assert group is not None and album.face(later[1]).group_id == group
    return group, later


def group_title(win: MainWindow, group: int) -> str | None:
    model = win.people_page.group_model
    row = model.row_of(group)
    return None if row is None else model.tile(row).title


def test_yes_to_probably_gives_the_group_to_that_person(qtbot, open_window):
    win = open_window()
    album, page = win.context.album, win.people_page
    obama = person_named(album, "Barack Obama")
    group, later = _probable_group(win)
    assert group_title(win, group) == "Probably Barack Obama?"
    assert {t.title for t in page.group_model.tiles() if t.key != group} == {"Who is this?"}
    assert not page.probably_bar.isVisible()

    click_tile(qtbot, page.group_view, group)
    assert page.probably_bar.isVisible()
    assert page.probably_label.text() == "Probably Barack Obama?"
    qtbot.mouseClick(page.yes_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: group_title(win, group) is None, timeout=WAIT_MS)
    assert [album.face(f).person_id for f in later] == [obama.id, obama.id]
    assert {album.face(f).assigned_by for f in later} == {"user"}
    qtbot.waitUntil(lambda: "Name a group" in win.undo_action.text(), timeout=WAIT_MS)

    win.undo_action.trigger()  # one step takes both back

    qtbot.waitUntil(lambda: group_title(win, group) == "Probably Barack Obama?", timeout=WAIT_MS)
    assert [album.face(f).person_id for f in later] == [None, None]


def test_no_to_probably_is_never_asked_again_until_undone(qtbot, open_window):
    win = open_window()
    album, page = win.context.album, win.people_page
    obama = person_named(album, "Barack Obama")
    group, later = _probable_group(win)
    click_tile(qtbot, page.group_view, group)

    qtbot.mouseClick(page.no_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: group_title(win, group) == "Who is this?", timeout=WAIT_MS)
    assert [album.face(f).person_id for f in later] == [None, None]
    assert not set(later) & {s.face_id for s in album.suggestions(obama.id)}
    assert [t.key for t in page.group_view.selected_tiles()] == [group]  # to name otherwise
    assert not page.probably_bar.isVisible()
    album.regroup(full=True)  # rejected for good: a regroup does not ask again
    assert all(g.probably is None for g in album.groups())
    qtbot.waitUntil(lambda: win.undo_action.text() == "&Undo Not Barack Obama", timeout=WAIT_MS)

    win.undo_action.trigger()

    qtbot.waitUntil(lambda: group_title(win, group) == "Probably Barack Obama?", timeout=WAIT_MS)


def test_naming_a_group_moves_on_to_the_next(qtbot, open_window):
    win = open_window()
    album, page = win.context.album, win.people_page
    first, second = [t.key for t in page.group_model.tiles()][:2]
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    click_tile(qtbot, page.group_view, first)
    page.name_edit.setFocus()

    qtbot.keyClicks(page.name_edit, "Joe Biden")
    qtbot.keyClick(page.name_edit, Qt.Key.Key_Return)

    qtbot.waitUntil(lambda: group_title(win, first) is None, timeout=WAIT_MS)
    qtbot.waitUntil(
        lambda: [t.key for t in page.group_view.selected_tiles()] == [second], timeout=WAIT_MS
    )
    assert page.name_edit.hasFocus()
    qtbot.keyClicks(page.name_edit, "Someone Else")  # straight on with the keyboard
    qtbot.keyClick(page.name_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: group_title(win, second) is None, timeout=WAIT_MS)
    assert {"Joe Biden", "Someone Else"} <= set(names(win))
    assert person_named(album, "Someone Else").face_count == 2


def test_search_names_the_faces_the_library_knows(qtbot, open_window, faces_dir, tmp_path):
    win = open_window()
    page = win.search_page
    # Obama (named) and Biden (not named) side by side, in a photo the library never saw.
    dropped = reduced_copy(faces_dir / "groups/two_people.jpg", tmp_path / "drop" / "both.jpg")
    win.search_file(dropped)
    qtbot.waitUntil(lambda: page.query is not None, timeout=120_000)
    labels = page.query.labels
    assert sorted(labels) == ["", "Barack Obama?"]

    obama = labels.index("Barack Obama?")
    if page.query.selected != obama:
        page._face_clicked(obama, QPointF())
    # The results of the face searched first may still be shown: wait for Obama's.
    qtbot.waitUntil(
        lambda: "Barack Obama" in [t.subtitle for t in page.results_model.tiles()],
        timeout=WAIT_MS,
    )
    album = win.context.album
    for tile in page.results_model.tiles():
        face = album.face(tile.key)
        assert tile.subtitle == (face.person_name or Path(face.photo).name)
    for tile in page.maybe_model.tiles():  # a maybe is nobody's, even a named face
        assert tile.subtitle == Path(album.face(tile.key).photo).name
