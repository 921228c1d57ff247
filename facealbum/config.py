"""Where things live on disk, and every user setting with its default, in one place."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from platformdirs import PlatformDirs

APP_NAME = "facealbum"
LIBRARY_ENV = "FACEALBUM_LIBRARY"

_dirs = PlatformDirs(APP_NAME, appauthor=False)

DATABASE_NAME = "library.sqlite3"
INDEX_DIR_NAME = "index"
THUMBNAIL_DIR_NAME = "thumbnails"
LIBRARY_SETTINGS_NAME = "settings.json"
# Photos of a family are private: what facealbum creates is readable by its owner only.
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def user_data_dir() -> Path:
    """The user's facealbum data: the default library, the look-alike collections."""
    return Path(_dirs.user_data_dir)


def default_library_dir() -> Path:
    """The library used when neither --library nor $FACEALBUM_LIBRARY names one."""
    return user_data_dir() / "library"


def resolve_library_dir(explicit: str | os.PathLike | None = None) -> Path:
    """--library DIR, else $FACEALBUM_LIBRARY, else the platform's user data folder."""
    if explicit:
        return Path(explicit).expanduser()
    from_env = os.environ.get(LIBRARY_ENV)
    if from_env:
        return Path(from_env).expanduser()
    return default_library_dir()


def user_config_dir() -> Path:
    """Per-user state that is not tied to one library (recent libraries, window layout)."""
    return Path(_dirs.user_config_dir)


# The face detectors a library can use: key -> (name, what it is good at), for the user.
DETECTORS = {
    "yunet": ("YuNet", "finds small and turned faces"),
    "hog": ("HOG", "dlib's detector of frontal faces"),
    "cnn": ("CNN", "dlib's slowest detector, seconds a photo without a GPU"),
}
# What new libraries use, and what "find faces again" offers to libraries made with HOG.
RECOMMENDED_DETECTOR = "yunet"
DEFAULT_DETECTOR = RECOMMENDED_DETECTOR
# Faces narrower than this, in pixels of the full photo, are not looked at. YuNet finds
# faces of 20-40 px in a 500 px photo, but its box measures some 21-22 px faces at 18 px:
# bench/results/detection.json, at 16 px every face of 20-30 px is kept (25 of 25; 23 at
# 20 px) and 8 of 9 under 20 px, with no false detection added in any set.
DEFAULT_MIN_FACE_PX = 16


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class SettingInfo:
    """How a setting is shown and bounded: its label (with & before the key to reach it),
    help for a tooltip, and for numbers the range a value is clamped into."""

    label: str
    help: str
    low: float | None = None
    high: float | None = None


def _setting(default: Any, label: str, help: str, low: float | None = None,
             high: float | None = None) -> Any:  # fmt: skip
    return field(default=default, metadata={"info": SettingInfo(label, help, low, high)})


@dataclass(frozen=True)
class Settings:
    """Settings of one library, saved as settings.json inside it; each field is declared
    here once, with its default, label, help and range (see info()).

    They belong to the library rather than the user because a library of museum
    portraits wants other thresholds than a family album.
    """

    # Euclidean distance between dlib encodings under which two faces match
    # (face_recognition's default tolerance).
    tolerance: float = _setting(
        0.6, "Match &tolerance:", "Lower = stricter matches; 0.6 is the usual default", 0.1, 1.2
    )
    # One of DETECTORS. A library keeps the detector it was made with until the user finds
    # its faces again with another (faces of one detector are boxed alike).
    detector: str = _setting(DEFAULT_DETECTOR, "Face &detector:", "What finds the faces")
    min_face_px: int = _setting(
        DEFAULT_MIN_FACE_PX, "&Smallest face:", "Faces narrower than this are ignored", 12, 1000
    )
    # Scan worker processes; the encoder holds the GIL, so cores need processes.
    workers: int = _setting(0, "Scan &workers:", "Processes a scan runs; 0 = one per core", 0, 64)
    # Assign faces very close to a person's confirmed faces without asking.
    auto_assign: bool = _setting(True, "", "Assign very close faces to people without asking")

    @staticmethod
    def info(name: str) -> SettingInfo:
        """How the setting `name` is shown and bounded."""
        return next(f.metadata["info"] for f in fields(Settings) if f.name == name)

    def effective_workers(self) -> int:
        return self.workers if self.workers > 0 else default_workers()

    def validated(self) -> Settings:
        """A copy with every value of its type and clamped into its meaningful range."""
        values: dict[str, Any] = {}
        for f in fields(self):
            info, value = f.metadata["info"], getattr(self, f.name)
            kind = type(f.default)
            value = kind(value)
            if info.low is not None:
                value = kind(min(max(value, info.low), info.high))
            values[f.name] = value
        if values["detector"] not in DETECTORS:
            values["detector"] = DEFAULT_DETECTOR
        return replace(self, **values)


def load_settings(library_dir: Path, defaults: Settings | None = None) -> Settings:
    """Read a library's settings; unknown keys are ignored, missing ones come from
    ``defaults`` (Settings() when not given), and a broken file gives ``defaults``."""
    defaults = defaults or Settings()
    path = library_dir / LIBRARY_SETTINGS_NAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return defaults
    if not isinstance(raw, dict):
        return defaults
    known = {f.name for f in fields(Settings)}
    try:
        return replace(defaults, **{k: v for k, v in raw.items() if k in known}).validated()
    except (TypeError, ValueError):
        return defaults


def save_settings(library_dir: Path, settings: Settings) -> None:
    """Write settings atomically so a crash never leaves half a file."""
    path = library_dir / LIBRARY_SETTINGS_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(asdict(settings.validated()), indent=2), encoding="utf-8")
    os.replace(tmp, path)
