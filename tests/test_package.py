"""The packaged app: built from this checkout, it runs without Python and finds what the
pip install finds."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
from library_builder import GROUP, OBAMA, OTHERS, build_folder

REPO = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="tools/package.py is Linux's"),
]


@pytest.fixture(scope="module")
def frozen(tmp_path_factory) -> Path:
    """The app folder tools/package.py builds (PyInstaller, no .deb)."""
    pytest.importorskip("PyInstaller", reason="PyInstaller is a test dependency")
    out = tmp_path_factory.mktemp("package")
    subprocess.run(
        [sys.executable, str(REPO / "tools" / "package.py"), "--folder-only",
         "--dist", str(out / "dist"), "--work", str(out / "work")],
        check=True, cwd=REPO, capture_output=True,
    )  # fmt: skip
    (app,) = (out / "dist").glob("facealbum-*")
    return app / "facealbum"


def run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_bundle_holds_what_the_app_loads_and_not_what_it_never_reads(frozen):
    inside = frozen.parent / "_internal"
    assert list(inside.rglob("face_detection_yunet_2023mar.onnx"))  # YuNet, not HOG
    assert list(inside.rglob("dlib_face_recognition_resnet_model_v1.dat"))
    assert not list(inside.rglob("shape_predictor_68_face_landmarks.dat"))
    assert not list(inside.rglob("PySide6/Qt/translations/*.qm"))


def test_the_frozen_app_scans_and_searches_as_the_pip_install_does(frozen, faces_dir, tmp_path):
    assert run([str(frozen), "--version"]).strip() == f"facealbum {version('facealbum')}"
    photos = tmp_path / "photos"
    build_folder(faces_dir, photos, (*OBAMA, OTHERS[0], GROUP))
    query = str(faces_dir / "people/barack_obama/obama_4.jpg")
    installed = [sys.executable, "-m", "facealbum"]
    found = {}
    for name, command in (("frozen", [str(frozen)]), ("installed", installed)):
        library = ["--library", str(tmp_path / name)]
        scan = json.loads(run([*command, *library, "scan", str(photos), "--json"]))
        assert scan["phase"] == "done" and scan["errors"] == 0 and scan["notes"] == []
        search = json.loads(run([*command, *library, "search", query, "--json", "--maybe"]))
        found[name] = (scan["faces_found"], _by_photo(search))
    (frozen_faces, frozen_hits), (faces, hits) = found["frozen"], found["installed"]
    assert frozen_faces == faces >= 4  # worker processes ran in both
    assert frozen_hits.keys() == hits.keys() and hits
    for photo, (tier, distance) in hits.items():
        assert frozen_hits[photo][0] == tier
        assert np.isclose(frozen_hits[photo][1], distance, atol=1e-3)


def _by_photo(rows: list[dict]) -> dict[str, tuple[str, float]]:
    return {Path(r["photo"]).name: (r["tier"], r["distance"]) for r in rows}
