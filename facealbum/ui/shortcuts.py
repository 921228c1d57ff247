"""Help > Keyboard shortcuts: read from the window's own menus and buttons, so it never
goes stale when a page adds one."""

from __future__ import annotations

import html
import re

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from facealbum.ui.not_a_face import NOT_A_FACE_KEY, NOT_A_FACE_TEXT

# Keys Qt handles itself or that live in windows opened later.
BUILT_IN = (
    ("Everywhere", "Enter", "Open the selected photo or person"),
    ("Everywhere", "Ctrl+A", "Select all"),
    ("Everywhere", "Ctrl+click, Shift+click", "Select several"),
    ("Photo", "Ctrl+W", "Close the photo"),
    (
        "Photo",
        NOT_A_FACE_KEY,
        f"{NOT_A_FACE_TEXT}: the face under the pointer (again to take it back)",
    ),
)


def _key(sequence: QKeySequence) -> str:
    return sequence.toString(QKeySequence.SequenceFormat.PortableText)


def _clean(text: str) -> str:
    text = text.replace("&", "").replace("…", "").strip()
    return re.sub(r"\s*\([^()]*\)$", "", text)  # a trailing "(Y)" repeats the key


def _page_of(widget: QWidget, pages: QStackedWidget, names: list[str]) -> str:
    while widget is not None and widget.parentWidget() is not pages:
        widget = widget.parentWidget()
    if widget is None:
        return "Everywhere"
    return names[pages.indexOf(widget)]


def collect_shortcuts(
    window: QMainWindow, pages: QStackedWidget, page_names: list[str]
) -> list[tuple[str, str, str]]:
    """(where, keys, what) for every menu action and button with a shortcut, then the
    built-in keys."""
    rows: list[tuple[str, str, str]] = []
    for menu_action in window.menuBar().actions():
        menu = menu_action.menu()
        for action in menu.actions() if menu is not None else []:
            if not action.shortcut().isEmpty():
                where = _clean(menu_action.text())
                rows.append((where, _key(action.shortcut()), _clean(action.text())))
    buttons = []
    for button in window.findChildren(QAbstractButton):
        if button.shortcut().isEmpty():
            continue
        what = _clean(button.toolTip().split("\n")[0] or button.text())
        buttons.append((_page_of(button, pages, page_names), _key(button.shortcut()), what))
    order = {name: i for i, name in enumerate(page_names)}
    buttons.sort(key=lambda row: order.get(row[0], -1))  # stable: layout order within a page
    return rows + buttons + list(BUILT_IN)


def shortcuts_html(rows: list[tuple[str, str, str]]) -> str:
    out = ["<table cellspacing='0' cellpadding='3'>"]
    last = None
    for where, keys, what in rows:
        if where != last:
            out.append(f"<tr><td colspan='2'><br><b>{html.escape(where)}</b></td></tr>")
            last = where
        out.append(
            f"<tr><td style='padding-right:18px'><tt>{html.escape(keys)}</tt></td>"
            f"<td>{html.escape(what)}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


class ShortcutsDialog(QDialog):
    def __init__(self, rows: list[tuple[str, str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.rows = rows
        layout = QVBoxLayout(self)
        self.label = QLabel(shortcuts_html(rows))
        layout.addWidget(self.label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
