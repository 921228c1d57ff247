"""Where the dlib model files of face_recognition_models live on disk.

The package's own ``__init__`` imports ``pkg_resources``, which recent setuptools
no longer ships, so it is never imported: the files are found through its
import spec instead.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

MODELS_PACKAGE = "face_recognition_models"

SHAPE_PREDICTOR_5 = "shape_predictor_5_face_landmarks.dat"
FACE_RECOGNITION_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
CNN_FACE_DETECTOR = "mmod_human_face_detector.dat"
# What the app loads, so what a packaged app ships (the package's 68-point landmark
# model is never read).
BUNDLED_MODELS = (SHAPE_PREDICTOR_5, FACE_RECOGNITION_MODEL, CNN_FACE_DETECTOR)


class ModelsNotFoundError(RuntimeError):
    """The face model files are not installed; the message says how to fix it."""


def models_dir() -> Path:
    """The folder holding the .dat model files, without importing the package."""
    try:
        spec = importlib.util.find_spec(MODELS_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        folder = Path(location) / "models"
        if folder.is_dir():
            return folder
    raise ModelsNotFoundError(
        f"The face models are missing: install them with 'pip install {MODELS_PACKAGE}'."
    )


def model_path(name: str) -> Path:
    """Full path of one model file, e.g. ``model_path(SHAPE_PREDICTOR_5)``."""
    path = models_dir() / name
    if not path.is_file():
        raise ModelsNotFoundError(
            f"The face model file {name} is missing from {path.parent}: "
            f"reinstall it with 'pip install --force-reinstall {MODELS_PACKAGE}'."
        )
    return path
