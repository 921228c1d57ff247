"""What the window remembers between runs that belongs to no library (which collection
the Look-alike page matches against): QSettings in an INI file in the user's config
folder, beside the recent libraries."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from facealbum import config

UI_STATE_NAME = "ui.ini"


def ui_settings() -> QSettings:
    return QSettings(str(config.user_config_dir() / UI_STATE_NAME), QSettings.Format.IniFormat)
