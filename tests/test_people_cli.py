"""The people commands of `facealbum` on a real scanned library."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from library_builder import build_folder

from facealbum.cli.main import main
from facealbum.interop.xmp import read_regions, sidecar_path

pytestmark = pytest.mark.slow

PHOTOS = (
    "people/barack_obama/obama_1.jpg",
    "people/barack_obama/obama_2.jpg",
    "people/joe_biden/biden_1.jpg",
    "people/joe_biden/biden_2.jpg",
    "groups/two_people.jpg",
)


@pytest.fixture(scope="module")
def scanned(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("people_cli")
    build_folder(faces_dir, root / "photos", PHOTOS)
    assert main(["--library", str(root / "library"), "scan", str(root / "photos")]) == 0
    return root / "library", root / "photos"


@pytest.fixture
def run(scanned: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture):
    """run(*args) -> (exit code, stdout, stderr) on a fresh copy of the library."""
    lib = tmp_path / "library"
    shutil.copytree(scanned[0], lib)
    capsys.readouterr()

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--library", str(lib), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def as_json(run, *args: str):
    code, out, err = run(*args, "--json")
    assert code == 0, err
    return json.loads(out)


def group_with(run, stem: str) -> dict:
    for group in as_json(run, "groups"):
        if any(Path(f["photo"]).stem == stem for f in group["faces"]):
            return group
    raise AssertionError(f"no group holds {stem}")


def test_groups_and_people_list_their_faces_as_json(run):
    groups = as_json(run, "groups")
    assert [g["size"] for g in groups] == sorted((g["size"] for g in groups), reverse=True)
    assert all({"face_id", "photo"} <= set(f) for g in groups for f in g["faces"])
    obama = group_with(run, "obama_1")
    stems = sorted(Path(f["photo"]).stem for f in obama["faces"])
    assert stems == ["obama_1", "obama_2", "two_people"]
    code, out, _ = run("name", str(obama["id"]), "Barack Obama")
    assert code == 0 and "Barack Obama" in out
    (person,) = as_json(run, "people")
    assert (person["name"], person["face_count"], person["photo_count"]) == ("Barack Obama", 3, 3)
    assert person["to_review"] == 0  # all of his faces were in the group named
    assert all("probably" in g for g in as_json(run, "groups"))
    assert sorted(f["face_id"] for f in person["faces"]) == sorted(
        f["face_id"] for f in obama["faces"]
    )
    assert all(f["photo"].endswith(".jpg") for f in person["faces"])
    code, out, _ = run("people")
    assert "Barack Obama  3 faces in 3 photos" in out


def test_person_accepts_name_or_id_and_lists_photos(run):
    obama = group_with(run, "obama_1")
    biden = group_with(run, "biden_1")
    run("name", str(obama["id"]), "Barack Obama")
    run("name", str(biden["id"]), "Joe Biden")
    people = {p["name"]: p["id"] for p in as_json(run, "people")}
    code, out, _ = run("person", "barack obama")
    assert code == 0 and len(out.splitlines()) == 3
    code, out, _ = run("person", str(people["Barack Obama"]), "Joe Biden")
    assert [Path(line).stem for line in out.splitlines()] == ["two_people"]


def test_same_photo_conflict_and_unknown_person_are_one_line_errors(run):
    obama = group_with(run, "obama_1")
    run("name", str(obama["id"]), "Barack Obama")
    biden_face = next(f for f in group_with(run, "biden_1")["faces"] if "two_people" in f["photo"])
    code, _, err = run("assign", str(biden_face["face_id"]), "Barack Obama")
    assert code == 1
    assert err.count("\n") == 1 and "already" in err and "Traceback" not in err
    code, _, err = run("reject", str(biden_face["face_id"]), "Nobody")
    assert code == 1 and "no person called 'Nobody'" in err


def test_reject_suggestions_confirm_and_undo(run):
    obama = group_with(run, "obama_1")
    obama_faces = [f["face_id"] for f in obama["faces"]]
    run("name", str(obama["id"]), "Obama")
    code, out, _ = run("remove", str(obama_faces[0]))
    assert code == 0
    assert as_json(run, "people")[0]["face_count"] == 2
    assert obama_faces[0] not in [s["face_id"] for s in as_json(run, "suggestions", "Obama")]
    code, out, _ = run("undo")
    assert "Remove a face from Obama" in out
    assert as_json(run, "people")[0]["face_count"] == 3
    run("rename", "Obama", "Barack")
    assert [p["name"] for p in as_json(run, "people")] == ["Barack"]
    run("hide", "Barack")
    assert as_json(run, "people") == []
    run("hide", "Barack", "--show")
    assert len(as_json(run, "people")) == 1


def test_export_xmp_writes_sidecars_of_named_photos(run, scanned):
    obama = group_with(run, "obama_1")
    run("name", str(obama["id"]), "Barack Obama")
    code, out, err = run("export-xmp")
    assert code == 0, err
    assert out.startswith("3 sidecar(s) written")
    two = scanned[1] / "two_people.jpg"
    assert sidecar_path(two).is_file()
    assert [r.name for r in read_regions(two)] == ["Barack Obama"]
