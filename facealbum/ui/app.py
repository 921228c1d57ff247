"""Start the desktop app: ``run_gui`` is what ``facealbum`` without a command calls."""

from __future__ import annotations

import sys
from pathlib import Path

from facealbum import config


def run_gui(library_dir: Path | None) -> int:
    """Open the main window on ``library_dir``, else the last library, else the default one."""
    from PySide6.QtWidgets import QApplication

    from facealbum.ui.icon import app_icon
    from facealbum.ui.main_window import MainWindow
    from facealbum.ui.recent import RecentLibraries
    from facealbum.ui.style import STYLE_SHEET
    from facealbum.ui.tasks import shutdown_pools

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(config.APP_NAME)
    app.setApplicationDisplayName("facealbum")
    app.setOrganizationName(config.APP_NAME)
    app.setDesktopFileName("facealbum")
    app.setWindowIcon(app_icon())
    app.setStyleSheet(STYLE_SHEET)
    recent = RecentLibraries(config.user_config_dir() / "recent.json")
    directory = library_dir or recent.last() or config.resolve_library_dir()
    window = MainWindow(recent)
    window.show()
    window.open_library(Path(directory), create=True)
    code = app.exec()
    shutdown_pools()
    return code
