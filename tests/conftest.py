"""Shared fixtures: the real face photos beside the repository, and fresh libraries."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parents[1]
# The development photos live in ../shared/faces beside the repository; a fresh
# clone does not have them, so tests that need them skip with this reason.
FACES_DIR = Path(os.environ.get("FACEALBUM_TEST_FACES", REPO_ROOT.parent / "shared" / "faces"))
MISSING_FACES = f"real face photos not found at {FACES_DIR} (set FACEALBUM_TEST_FACES)"


@dataclass(frozen=True)
class LabelledPhoto:
    path: Path
    faces: int
    identities: tuple[str, ...]  # "?" = someone without a folder


def load_labels(faces_dir: Path = FACES_DIR) -> list[LabelledPhoto]:
    with open(faces_dir / "labels.csv", newline="", encoding="utf-8") as f:
        return [
            LabelledPhoto(
                path=faces_dir / row["path"],
                faces=int(row["faces"]),
                identities=tuple(i for i in row["identities"].split(";") if i),
            )
            for row in csv.DictReader(f)
        ]


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    if not (FACES_DIR / "labels.csv").is_file():
        pytest.skip(MISSING_FACES)
    return FACES_DIR


@pytest.fixture(scope="session")
def labels(faces_dir: Path) -> list[LabelledPhoto]:
    return load_labels(faces_dir)
