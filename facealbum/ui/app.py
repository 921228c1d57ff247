"""Start the desktop app: ``run_gui`` is what ``facealbum`` without a command calls.

Before Qt starts, two problems are caught that Qt reports only by aborting the process
with a misleading "xcb-cursor0 is needed" message: no display at all, and system libraries
missing for Qt's X11 plugin.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from facealbum import config

# Exit code when the app cannot start here: a usage problem, as the command line reports one.
CANNOT_START = 2

NO_DISPLAY = (
    "no display found (DISPLAY and WAYLAND_DISPLAY are not set); the app needs a desktop"
    " session — the command line works without one: facealbum --help"
)
# Platforms where Qt draws through X11 or Wayland, and so needs one of their displays.
_X11_PLATFORMS = ("linux", "freebsd", "openbsd", "netbsd", "dragonfly")

# What Qt's X11 plugin (libqxcb.so) links beyond Qt, with the Debian/Ubuntu package of each.
# Minimal installs and containers lack some of them.
XCB_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
}
# How the dynamic loader says a library is not installed (other failures are left to Qt).
_NOT_FOUND = re.compile(r"(\S+\.so[.\d]*): cannot open shared object file")


def display_problem(environ: Mapping[str, str], platform: str) -> str | None:
    """Why no window can open here, or None (say so before Qt, which would abort)."""
    if environ.get("QT_QPA_PLATFORM") or not platform.startswith(_X11_PLATFORMS):
        return None  # the user chose Qt's platform, or this one needs no display server
    if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return None
    return NO_DISPLAY


def uses_x11_plugin(environ: Mapping[str, str], platform: str) -> bool:
    """True when Qt will open its X11 (xcb) plugin and nothing else: a display but no Wayland."""
    return (
        platform.startswith(_X11_PLATFORMS)
        and not environ.get("QT_QPA_PLATFORM")
        and not environ.get("WAYLAND_DISPLAY")
        and bool(environ.get("DISPLAY"))
    )


def missing_library(load_error: str) -> str | None:
    """The library a failed load could not find ("libxcb-cursor.so.0"), None if another failure."""
    found = _NOT_FOUND.search(load_error)
    return found.group(1) if found else None


def missing_libraries_message(missing: Sequence[str]) -> str:
    packages = [XCB_PACKAGES[lib] for lib in missing if lib in XCB_PACKAGES]
    message = f"Qt's X11 plugin cannot start: missing {', '.join(missing)}"
    if packages:
        message += f"; on Debian or Ubuntu: sudo apt install {' '.join(packages)}"
    return message


def x11_plugin_problem() -> str | None:
    """Which system libraries Qt's X11 plugin lacks, as a message; None when it loads.

    Loading the plugin file with dlopen, as Qt will, resolves the very same dependencies, so
    only a library that is really missing is reported. Qt names only xcb-cursor0 then,
    whichever one it is, and aborts.
    """
    if "QT_PLUGIN_PATH" in os.environ or "QT_QPA_PLATFORM_PLUGIN_PATH" in os.environ:
        return None  # another plugin than the one found below may be used
    from PySide6.QtCore import QLibraryInfo

    plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))
    plugin = plugins / "platforms" / "libqxcb.so"
    if not plugin.is_file():
        return None
    try:
        ctypes.CDLL(str(plugin))
    except OSError as exc:
        first = missing_library(str(exc))
        if first is None:
            return None
        others = [lib for lib in XCB_PACKAGES if lib != first and not _loads(lib)]
        return missing_libraries_message([first, *others])
    return None


def _loads(library: str) -> bool:
    try:
        ctypes.CDLL(library)
    except OSError:
        return False
    return True


def _startup_problem() -> str | None:
    problem = display_problem(os.environ, sys.platform)
    if problem is None and uses_x11_plugin(os.environ, sys.platform):
        problem = x11_plugin_problem()
    return problem


def run_gui(library_dir: Path | None) -> int:
    """Open the main window on ``library_dir``, else the last library, else the default one."""
    problem = _startup_problem()
    if problem is not None:
        print(f"{config.APP_NAME}: {problem}", file=sys.stderr)
        return CANNOT_START
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
