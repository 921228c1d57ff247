"""Tools menu actions on the whole library: regroup unnamed faces, write XMP sidecars."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from facealbum.ui.context import LibraryContext
from facealbum.ui.style import plural

EXPORT_QUESTION = (
    "Write the names of the people in each photo into a .xmp file beside the photo, "
    "where digiKam, Lightroom and other photo apps find them?\n\n"
    "Your photos themselves are not changed; existing sidecars keep their other data."
)


def regroup(context: LibraryContext, parent: QWidget) -> None:
    """Redo the unnamed groups from scratch (after changing the tolerance, say)."""
    if context.album is None:
        return
    context.status_message.emit("Regrouping the unnamed faces…")
    context.act(
        lambda a: a.regroup(full=True),
        "Regrouped the unnamed faces",
        owner=parent,
        failure="Could not regroup",
    )


def export_xmp(context: LibraryContext, parent: QWidget) -> None:
    if context.album is None:
        return
    answer = QMessageBox.question(parent, "Write names to XMP sidecars", EXPORT_QUESTION)
    if answer != QMessageBox.StandardButton.Yes:
        return

    def work(album: Any) -> tuple[int, list[str]]:
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
