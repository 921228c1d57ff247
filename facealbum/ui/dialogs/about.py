"""Help > About: the version, and the licences of facealbum and of the models it ships."""

from __future__ import annotations

import html
from dataclasses import dataclass
from importlib import metadata, resources

from PySide6.QtWidgets import QMessageBox, QWidget

from facealbum import __version__

# YuNet ships inside the package beside its licence, read as a file: importing the engine
# for its path would load OpenCV.
YUNET_LICENSE = ("engine", "yunet", "LICENSE")
DLIB_MODELS = "face_recognition_models"  # dlib's trained models, as a Python package


@dataclass(frozen=True)
class Licence:
    what: str
    name: str  # the licence, as its owner states it
    text: str | None = None  # the full text, when this installation has it


def _package_licence(package: str) -> str | None:
    """The licence an installed package declares in its metadata, None when unknown."""
    try:
        meta = metadata.metadata(package)
    except metadata.PackageNotFoundError:
        return None
    return meta.get("License-Expression") or meta.get("License")


def _yunet() -> Licence:
    what = "YuNet face detector (Shiqi Yu and others, libfacedetection.train)"
    try:
        text = resources.files("facealbum").joinpath(*YUNET_LICENSE).read_text(encoding="utf-8")
    except OSError:
        return Licence(what, f"Apache License 2.0 ({'/'.join(YUNET_LICENSE)} is missing)")
    return Licence(what, "Apache License 2.0", text)


def _dlib_models() -> Licence:
    """Its package metadata says MIT, the licence file it ships says CC0: both are shown."""
    what = "dlib's face recognition models (Davis King), from face_recognition_models"
    try:
        dist = metadata.distribution(DLIB_MODELS)
    except metadata.PackageNotFoundError:
        return Licence(what, "not recorded in this installation")
    files = [f for f in dist.files or () if f.name.upper().startswith(("LICENSE", "COPYING"))]
    text = files[0].read_text(encoding="utf-8") if files else None
    declared = dist.metadata.get("License") or "no licence"
    if text is None:
        return Licence(f"{what} {dist.version}", f"{declared} (its package metadata)")
    stated = text.strip().splitlines()[0]
    name = stated if stated == declared else f"{stated} (its package metadata says {declared})"
    return Licence(f"{what} {dist.version}", name, text)


def licences() -> list[Licence]:
    return [
        Licence("facealbum", _package_licence("facealbum") or "unknown"),
        _yunet(),
        _dlib_models(),
    ]


def show_about(parent: QWidget) -> QMessageBox:
    """The About box (window-modal, not blocking); the licence texts under its details."""
    found = licences()
    items = "".join(f"<li>{html.escape(x.what)}: <b>{html.escape(x.name)}</b></li>" for x in found)
    box = QMessageBox(QMessageBox.Icon.NoIcon, "About facealbum", "", parent=parent)
    box.setText(
        f"<h3>facealbum {html.escape(__version__)}</h3>"
        "<p>facealbum finds, groups and searches the people in your own photos.<br>"
        "Everything stays on this computer; your photos are never changed.</p>"
        f"<p>Licences:</p><ul>{items}</ul>"
    )
    texts = [f"{x.what}\n\n{x.text.strip()}" for x in found if x.text]
    if texts:
        box.setInformativeText("The full licence texts are under Show Details.")
        box.setDetailedText(f"\n\n{'=' * 60}\n\n".join(texts))
    box.open()
    return box
