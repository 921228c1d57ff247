"""Error messages and small file actions shared by the pages."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

from facealbum.album import StoreError


def describe_error(error: BaseException) -> str:
    """A sentence for the user: LibraryError and OS errors already read well."""
    if isinstance(error, StoreError):  # says what failed and that the change was not saved
        text = str(error)
        return text[:1].upper() + text[1:]
    if isinstance(error, PermissionError):
        name = error.filename or "the library"
        return f"Permission denied: {name}. Is the library or folder read-only?"
    if isinstance(error, FileNotFoundError):
        return f"Not found: {error.filename or error}"
    if isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror}{where}"
    text = str(error).strip()
    if "readonly" in text.lower() or "read-only" in text.lower():
        return "The library is read-only: changes cannot be saved. " + text
    return text or type(error).__name__


def show_error(parent: QWidget | None, title: str, error: BaseException | str) -> None:
    """A modal warning with a readable message; never a traceback."""
    message = error if isinstance(error, str) else describe_error(error)
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok)
    if parent is not None:
        box.setParent(parent, box.windowFlags())
    box.open()


def copy_files(paths: Iterable[str | Path], target: Path) -> tuple[int, list[str]]:
    """Copy photos into ``target`` without overwriting: a clash gets a numbered name.

    Runs on a worker thread. Returns (copied, problems).
    """
    copied, problems = 0, []
    target.mkdir(parents=True, exist_ok=True)
    for src in map(Path, paths):
        dest = target / src.name
        n = 1
        while dest.exists():
            dest = target / f"{src.stem} ({n}){src.suffix}"
            n += 1
        try:
            shutil.copy2(src, dest)
            copied += 1
        except OSError as e:
            problems.append(f"{src.name}: {e.strerror or e}")
    return copied, problems
