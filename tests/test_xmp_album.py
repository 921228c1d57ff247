"""XMP and the library: named faces exported to sidecars, names other tools stored offered."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest
from library_builder import build_folder

from facealbum.album import Album, LibraryError
from facealbum.interop import xmp
from facealbum.interop.xmp import FaceRegion, read_regions, sidecar_path, write_regions

pytestmark = pytest.mark.slow

MWG_RS = "http://www.metadataworkinggroup.com/schemas/regions/"
PHOTOS = ("people/barack_obama/obama_1.jpg", "groups/two_people.jpg")


@pytest.fixture
def library(faces_dir: Path, tmp_path: Path):
    photos = build_folder(faces_dir, tmp_path / "photos", PHOTOS)
    with Album.open(tmp_path / "library") as album:
        album.add_folder(tmp_path / "photos")
        album.scan()
        yield album, {p.stem: p for p in photos}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def face_ids(album: Album, photo: Path) -> list[int]:
    (pid,) = [p for p, i in album.photos(album.photo_ids()).items() if i.path == str(photo)]
    return [f.id for f in album.faces_in_photo(pid)]


def test_export_writes_named_faces_and_leaves_photos_alone(library):
    album, photos = library
    before = {name: digest(p) for name, p in photos.items()}
    (group,) = [g for g in album.groups() if len(g.face_ids) == 2]
    album.name_group(group.id, "Barack Obama")
    assert album.export_xmp() == 2
    for name, photo in photos.items():
        assert digest(photo) == before[name]
        sidecar = sidecar_path(photo)
        # A plain XML parser reads it, with the MWG region name where digiKam looks.
        tree = ElementTree.parse(sidecar)
        names = [e.get(f"{{{MWG_RS}}}Name") for e in tree.iter() if e.get(f"{{{MWG_RS}}}Name")]
        assert names == ["Barack Obama"]
    (region,) = read_regions(photos["two_people"])
    obama_face = next(
        album.face(f) for f in face_ids(album, photos["two_people"]) if album.face(f).person_id
    )
    assert region.name == "Barack Obama"
    for got, want in zip(region.box.as_list(), obama_face.box.as_list(), strict=True):
        assert abs(got - want) < 0.01


def test_export_failures_are_messages_and_the_rest_is_written(library):
    album, photos = library
    (group,) = [g for g in album.groups() if len(g.face_ids) == 2]
    album.name_group(group.id, "Barack Obama")
    damaged = sidecar_path(photos["obama_1"])
    damaged.write_bytes(b"<x:xmpmeta this is not xml")
    blocked = sidecar_path(photos["two_people"])
    blocked.mkdir()  # a sidecar that cannot be written (as a read-only folder would)
    errors: list[str] = []
    assert album.export_xmp(on_error=errors.append) == 0
    assert len(errors) == 2 and all("\n" not in e for e in errors)
    assert any("obama_1.jpg" in e and "not XMP" in e for e in errors)
    assert damaged.read_bytes() == b"<x:xmpmeta this is not xml"
    with pytest.raises(LibraryError, match="0 sidecars written"):
        album.export_xmp()
    blocked.rmdir()
    assert album.export_xmp([face_ids_photo(album, photos["two_people"])]) == 1


def face_ids_photo(album: Album, photo: Path) -> int:
    return album.face(face_ids(album, photo)[0]).photo_id


def test_names_in_a_photos_xmp_are_offered_on_scan(library, tmp_path: Path, faces_dir: Path):
    album, photos = library
    face = album.face(face_ids(album, photos["obama_1"])[0])
    # Another tool named him in a new photo's sidecar (a copy of the same shot).
    (new,) = build_folder(faces_dir, tmp_path / "tagged", PHOTOS[:1])
    info = album.photo(face.photo_id)
    write_regions(new, [FaceRegion("Mom", face.box)], info.width, info.height)
    album.add_folder(tmp_path / "tagged")
    album.scan([tmp_path / "tagged"])
    (new_face,) = face_ids(album, new)
    (hint,) = [s for s in album.suggestions() if s.face_id == new_face]
    assert (hint.name, hint.person_id, hint.source) == ("Mom", None, "xmp")
    assert album.people() == []  # nobody is created before the user agrees
    album.confirm([new_face])
    (mom,) = album.people()
    assert mom.name == "Mom" and album.face(new_face).person_id == mom.id
    assert album.undo() == "Confirm 1 face"
    assert album.people() == []
    album.reject_suggestions([new_face])
    album.scan()
    assert new_face not in [s.face_id for s in album.suggestions()]


def test_a_scan_reads_each_photos_xmp_once_as_it_goes_not_all_again_at_the_end(
    library, tmp_path: Path, faces_dir: Path, monkeypatch
):
    # Read while the photo is fresh in the disk cache; at the end, thousands of photos on
    # a slow drive would each be read again after the last one was analysed.
    from facealbum.album import xmp_names
    from facealbum.model import ScanPhase

    album, photos = library
    face = album.face(face_ids(album, photos["obama_1"])[0])
    tagged = build_folder(faces_dir, tmp_path / "tagged", PHOTOS)
    info = album.photo(face.photo_id)
    write_regions(tagged[0], [FaceRegion("Mom", face.box)], info.width, info.height)
    finished: list[bool] = []
    reads: list[tuple[str, bool]] = []

    def reading(photo: Path) -> list[FaceRegion]:
        reads.append((Path(photo).name, bool(finished)))
        return read_regions(photo)

    def progress(report) -> None:
        if report.phase == ScanPhase.DONE:
            finished.append(True)

    monkeypatch.setattr(xmp_names, "read_regions", reading)
    album.add_folder(tmp_path / "tagged")
    album.scan([tmp_path / "tagged"], progress=progress)
    assert finished and sorted(reads) == [("obama_1.jpg", False), ("two_people.jpg", False)]
    (new_face,) = face_ids(album, tagged[0])
    (hint,) = [s for s in album.suggestions() if s.face_id == new_face]
    assert (hint.name, hint.source) == ("Mom", "xmp")


RATED_SIDECAR = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF'
    ' xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about=""'
    ' xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="5"/></rdf:RDF></x:xmpmeta>'
)


def test_export_never_writes_through_a_symlinked_sidecar_and_writes_the_rest(
    library, tmp_path: Path
):
    album, photos = library
    (group,) = [g for g in album.groups() if len(g.face_ids) == 2]
    album.name_group(group.id, "Barack Obama")
    # Another photo's sidecar outside the library: followed, the link would overwrite it.
    elsewhere = tmp_path / "other.jpg.xmp"
    elsewhere.write_text(RATED_SIDECAR, encoding="utf-8")
    sidecar_path(photos["obama_1"]).symlink_to(elsewhere)
    errors: list[str] = []
    assert album.export_xmp(on_error=errors.append) == 1
    assert errors == [
        f"{photos['obama_1']}: sidecar obama_1.jpg.xmp is a symbolic link; not written"
    ]
    assert elsewhere.read_text(encoding="utf-8") == RATED_SIDECAR
    assert [r.name for r in read_regions(photos["two_people"])] == ["Barack Obama"]


def test_export_removes_the_temp_files_a_killed_export_left(library):
    album, photos = library
    (group,) = [g for g in album.groups() if len(g.face_ids) == 2]
    album.name_group(group.id, "Barack Obama")
    folder = photos["obama_1"].parent
    stale = folder / ".obama_1.jpg.xmp.facealbum-4242-0123abcd.tmp"
    fresh = folder / ".two_people.jpg.xmp.facealbum-4243-0123abcd.tmp"  # an export running now
    foreign = folder / ".obama_1.jpg.xmp.tmp"
    for leftover in (stale, fresh, foreign):
        leftover.write_text("half a sidecar")
    an_hour_and_more = time.time() - xmp.STALE_TEMP_SECONDS - 60
    for leftover in (stale, foreign):
        os.utime(leftover, (an_hour_and_more, an_hour_and_more))
    assert album.export_xmp() == 2
    assert not stale.exists()
    assert fresh.exists() and foreign.exists()
