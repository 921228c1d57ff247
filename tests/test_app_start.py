"""Starting the app where it cannot open a window: one clear line and exit code 2, where Qt
would abort the process with a misleading "libxcb-cursor0 is needed"."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest

from facealbum.ui import app

REPO = Path(__file__).resolve().parents[1]
WHERE_QT_DRAWS = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")


@pytest.mark.parametrize("platform", ["linux", "freebsd14", "openbsd7"])
@pytest.mark.parametrize("environ", [{}, {"DISPLAY": "", "WAYLAND_DISPLAY": ""}])
def test_no_display_on_linux_or_bsd_is_named(platform, environ):
    assert app.display_problem(environ, platform) == app.NO_DISPLAY


@pytest.mark.parametrize(
    "environ",
    [{"DISPLAY": ":0"}, {"WAYLAND_DISPLAY": "wayland-0"}, {"QT_QPA_PLATFORM": "offscreen"}],
)
def test_a_display_or_a_chosen_qt_platform_lets_qt_start(environ):
    assert app.display_problem(environ, "linux") is None


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_windows_and_macos_need_no_display_variable(platform):
    assert app.display_problem({}, platform) is None


def test_the_x11_plugin_is_checked_only_where_qt_will_load_it():
    assert app.uses_x11_plugin({"DISPLAY": ":0"}, "linux")
    assert not app.uses_x11_plugin({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not app.uses_x11_plugin({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, "linux")
    assert not app.uses_x11_plugin({"DISPLAY": ":0"}, "darwin")


def test_missing_libraries_are_named_with_their_debian_packages():
    error = "libxcb-icccm.so.4: cannot open shared object file: No such file or directory"
    assert app.missing_library(error) == "libxcb-icccm.so.4"
    assert app.missing_library("libqxcb.so: undefined symbol: xcb_foo") is None
    message = app.missing_libraries_message(
        ["libxcb-cursor.so.0", "libxkbcommon-x11.so.0", "libunknown.so.3"]
    )
    assert message == (
        "Qt's X11 plugin cannot start: missing libxcb-cursor.so.0, libxkbcommon-x11.so.0,"
        " libunknown.so.3; on Debian or Ubuntu: sudo apt install libxcb-cursor0"
        " libxkbcommon-x11-0"
    )


def test_no_display_is_found_before_qt_is_imported(monkeypatch):
    for name in WHERE_QT_DRAWS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    for module in [m for m in sys.modules if m.split(".")[0] == "PySide6"] + ["PySide6"]:
        monkeypatch.setitem(sys.modules, module, None)  # any import of Qt now fails
    assert app.run_gui(None) == 2


def run_app(tmp_path: Path, **environ: str) -> subprocess.CompletedProcess:
    """`python -m facealbum` (the app) with no display but the one given."""
    env = {k: v for k, v in os.environ.items() if k not in WHERE_QT_DRAWS}
    env.update(PYTHONPATH=str(REPO), HOME=str(tmp_path), **environ)
    return subprocess.run(
        [sys.executable, "-m", "facealbum"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 and Wayland: Linux, BSD")
def test_the_app_without_a_display_exits_2_with_one_clear_line(tmp_path):
    result = run_app(tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "facealbum: no display found (DISPLAY and WAYLAND_DISPLAY are not set); the app needs"
        " a desktop session — the command line works without one: facealbum --help\n"
    )


def x11_plugin_loads() -> bool:
    from PySide6.QtCore import QLibraryInfo

    plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))
    try:
        ctypes.CDLL(str(plugins / "platforms" / "libqxcb.so"))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11: Linux, BSD")
def test_missing_x11_libraries_are_named_instead_of_qts_abort(tmp_path):
    if x11_plugin_loads():
        pytest.skip("every library Qt's X11 plugin needs is installed here")
    result = run_app(tmp_path, DISPLAY=":99")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("facealbum: Qt's X11 plugin cannot start: missing lib")
    assert "; on Debian or Ubuntu: sudo apt install lib" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
