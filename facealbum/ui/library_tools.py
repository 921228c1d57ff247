"""Tools menu actions on the whole library: regroup unnamed faces, find faces again, write XMP
sidecars."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget

from facealbum.config import DETECTORS, RECOMMENDED_DETECTOR
from facealbum.ui.context import LibraryContext
from facealbum.ui.style import plural

if TYPE_CHECKING:
    from facealbum.album import Album

# The regroup's progress dialog (one at a time), shown only once a regroup takes this long.
REGROUP_DIALOG = "regroup-progress"
REGROUP_DIALOG_AFTER_MS = 1000

EXPORT_QUESTION = (
    "Write the names of the people in each photo into a .xmp file beside the photo, "
    "where digiKam, Lightroom and other photo apps find them?\n\n"
    "Your photos themselves are not changed; existing sidecars keep their other data."
)


def regroup(context: LibraryContext, parent: QWidget) -> QProgressDialog | None:
    """Redo the unnamed groups from scratch (after changing the tolerance, say). The window
    stays usable meanwhile; a dialog shows when it takes long (seconds on 100,000 faces),
    whose Cancel stops it while the new groups are computed, before anything changes.
    Closing the window cancels it too (stop_regroup)."""
    if context.album is None:
        return None
    running = parent.findChild(QProgressDialog, REGROUP_DIALOG)
    if running is not None:  # one regroup at a time
        if running.wasCanceled():
            context.status_message.emit("The last regroup is still stopping; try again soon")
        else:
            running.show()
            running.raise_()
        return running
    cancel = threading.Event()
    dialog = QProgressDialog(
        "Regrouping the unnamed faces…\nYou can go on working meanwhile.", "Cancel", 0, 0, parent
    )
    dialog.setObjectName(REGROUP_DIALOG)
    dialog.setWindowTitle("Regroup faces")
    dialog.setMinimumDuration(REGROUP_DIALOG_AFTER_MS)
    dialog.setValue(0)  # starts that clock: a busy dialog gets no other value
    dialog.setAutoClose(False)

    def cancelled_by_user() -> None:
        if not cancel.is_set():
            cancel.set()
            context.status_message.emit("Cancelling the regroup…")

    dialog.canceled.connect(cancelled_by_user)  # its button, and Esc while it is active
    # Esc reaching it while another window is active hides it without `canceled`:
    # cancelled all the same, not left running out of sight.
    dialog.rejected.connect(dialog.cancel)
    dialog.rejected.connect(cancelled_by_user)

    def report(regrouped: bool) -> None:
        if not regrouped:
            context.status_message.emit("Regroup cancelled: the groups are as they were")
        elif cancel.is_set():
            context.status_message.emit(
                "Regrouped the unnamed faces: they were being written, too late to cancel"
            )
        else:
            context.status_message.emit("Regrouped the unnamed faces")

    context.status_message.emit("Regrouping the unnamed faces…")
    context.act(
        lambda a: a.regroup(full=True, cancel=cancel),
        "",
        report,
        owner=parent,
        failure="Could not regroup",
        on_end=dialog.deleteLater,
    )
    return dialog


def stop_regroup(parent: QWidget) -> None:
    """Cancel the running regroup, as its Cancel does (the window is closing): it stops at
    once while it computes, and finishes its writes when it has begun them."""
    running = parent.findChild(QProgressDialog, REGROUP_DIALOG)
    if running is not None and not running.wasCanceled():
        running.canceled.emit()


def find_faces_again(context: LibraryContext, parent: QWidget) -> QMessageBox | None:
    """Find every photo's faces again with the recommended detector, once the user says yes
    in the question returned (window-modal, not blocking)."""
    album = context.album
    if album is None:
        return None
    if context.scan.is_running():
        QMessageBox.information(parent, "Scan running", "Wait for the scan or cancel it first.")
        return None
    name, good_at = DETECTORS[RECOMMENDED_DETECTOR]
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Find faces again",
        f"Look for the faces of every photo again with {name}?",
        parent=parent,
    )
    box.setInformativeText(
        f"{name} {good_at}. Every name, confirmation and “not this person” is "
        "kept, also for a face it does not find. It takes about as long as the first scan; "
        "you can pause or cancel it and go on later."
    )
    start = box.addButton("Find faces again", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(start)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.buttonClicked.connect(
        lambda button: (
            button is start and context.scan.start(album, None, redetect_with=RECOMMENDED_DETECTOR)
        )
    )
    box.open()
    return box


def export_xmp(context: LibraryContext, parent: QWidget) -> None:
    if context.album is None:
        return
    answer = QMessageBox.question(parent, "Write names to XMP sidecars", EXPORT_QUESTION)
    if answer != QMessageBox.StandardButton.Yes:
        return

    def work(album: Album) -> tuple[int, list[str]]:
        errors: list[str] = []
        written = album.export_xmp(on_error=errors.append)
        return written, errors

    context.status_message.emit("Writing XMP sidecars…")
    context.act(
        work,
        "Wrote the XMP sidecars",
        lambda result: show_export_report(parent, *result),
        owner=parent,
        failure="Could not write the XMP sidecars",
    )


def show_export_report(parent: QWidget, written: int, errors: list[str]) -> QMessageBox:
    """Non-modal: the user reads it while working on; every failure is listed in full."""
    done = f"{plural(written, 'sidecar')} written."
    if errors:
        text = f"{done} {plural(len(errors), 'photo')} could not get one:"
        return show_problems(parent, "Write names to XMP sidecars", text, errors)
    box = QMessageBox(parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setWindowTitle("Write names to XMP sidecars")
    box.setIcon(QMessageBox.Icon.Information)
    box.setText(done if written else "No photo has a named person yet; nothing to write.")
    box.open()
    return box


def show_problems(parent: QWidget, title: str, text: str, problems: list[str]) -> QMessageBox:
    """A non-modal warning listing each problem ("<file>: <reason>"), the first few at once
    and all of them under Details."""
    box = QMessageBox(parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setWindowTitle(title)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setText(text)
    shown = problems[:8]
    more = f"\n… and {len(problems) - len(shown)} more (see Details)" if problems[8:] else ""
    box.setInformativeText("\n".join(shown) + more)
    box.setDetailedText("\n".join(problems))
    box.open()
    return box
