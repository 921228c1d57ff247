"""A user's names survive what happens to the disk: unplugged drives, unreadable folders,
photos moved between folders scanned one at a time, odd file names."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from helpers_storage import library_store
from library_builder import OBAMA, OTHERS, build_folder, move

from facealbum.album import Album
from facealbum.cli.main import main
from facealbum.config import Settings
from facealbum.db import people_queries
from facealbum.engine import scanner

pytestmark = pytest.mark.slow


def _open(root: Path) -> Album:
    album = Album.open(root / "library")
    album.update_settings(Settings(workers=1))
    return album


def _faces_by_stem(album: Album) -> dict[str, list]:
    photos = album.photos(album.photo_ids())
    return {Path(info.path).stem: album.faces_in_photo(pid) for pid, info in photos.items()}


def _name_everyone(album: Album) -> dict[str, int]:
    """Each photo's face named after the photo ("obama_1"): photo stem -> person id."""
    people = {}
    for stem, faces in _faces_by_stem(album).items():
        people[stem] = album.create_person(stem)
        album.assign_faces([faces[0].id], people[stem])
    return people


def _names(album: Album) -> dict[str, str | None]:
    return {stem: faces[0].person_name for stem, faces in _faces_by_stem(album).items()}


@pytest.fixture
def named(faces_dir: Path, tmp_path: Path):
    """A library of one folder, four one-face photos, each face named."""
    photos = tmp_path / "drive"
    build_folder(faces_dir, photos, (OBAMA[0], *OTHERS))
    album = _open(tmp_path)
    album.add_folder(photos)
    album.scan()
    _name_everyone(album)
    yield album, photos
    album.close()


def test_an_emptied_folder_is_offline_and_keeps_every_face_and_name(named, tmp_path: Path):
    album, photos = named
    before = _names(album)
    # An unmounted drive leaves an empty mount point behind.
    away = tmp_path / "unplugged"
    shutil.move(photos, away)
    photos.mkdir()

    final = album.scan()

    assert _names(album) == before
    assert album.stats()["faces"] == 4
    assert [(o.path, o.photos_kept) for o in final.offline] == [(str(photos), 4)]
    (folder,) = album.folders()
    assert folder.offline and folder.offline.startswith("empty")
    # Plugged back in: everything is there, nothing analysed again.
    photos.rmdir()
    shutil.move(away, photos)
    again = album.scan()
    assert again.total == 0 and not again.offline
    assert _names(album) == before
    assert album.folders()[0].available


def test_an_emptied_sub_folder_is_held_back_until_the_user_prunes(faces_dir: Path, tmp_path):
    photos = tmp_path / "photos"
    build_folder(faces_dir, photos, OBAMA[:1])
    build_folder(faces_dir, photos / "usb", OTHERS)
    with _open(tmp_path) as album:
        album.add_folder(photos)
        album.scan()
        _name_everyone(album)
        before = _names(album)
        shutil.rmtree(photos / "usb")
        (photos / "usb").mkdir()

        final = album.scan()

        assert album.stats()["photos"] == 4
        assert [o.photos_kept for o in final.offline] == [3]
        assert [(h.gone, h.known) for h in final.held_back] == [(3, 4)]
        assert _names(album) == before
        # The user says the photos are really gone; the way back is a backup.
        pruned = album.scan(prune=True)
        assert not pruned.held_back and album.stats()["photos"] == 1
        assert any("before-prune" in b.name for b in (album.directory / "backups").iterdir())


def test_an_unreadable_folder_keeps_its_photos_and_names(named, monkeypatch: pytest.MonkeyPatch):
    album, photos = named
    before = _names(album)
    real_scandir = os.scandir

    def scandir(path):
        if os.fspath(path) == str(photos):  # as root, chmod alone would not stop the read
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    final = album.scan()

    assert _names(album) == before
    assert [(o.reason, o.photos_kept) for o in final.offline] == [
        ("cannot be read: permission denied", 4)
    ]
    assert album.folders()[0].offline == "cannot be read: permission denied"


def test_removing_most_of_a_folder_waits_for_a_yes(named, monkeypatch: pytest.MonkeyPatch):
    album, photos = named
    monkeypatch.setattr(scanner, "PRUNE_MIN_PHOTOS", 2)  # four photos stand for many
    for photo in list(photos.iterdir())[:3]:
        photo.unlink()

    final = album.scan()
    assert [(h.gone, h.known) for h in final.held_back] == [(3, 4)]
    assert album.stats()["photos"] == 4

    assert main(["--library", str(album.directory), "scan", str(photos)]) == 1
    album.close()  # the command line is another process: let it write alone
    assert main(["--library", str(album.directory), "scan", "--prune", str(photos)]) == 0
    with Album.open(album.directory) as reopened:
        assert reopened.stats()["photos"] == 1


def test_photos_moved_to_another_folder_keep_names_and_rejections(faces_dir, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    obama, biden, _ = build_folder(faces_dir, first, (OBAMA[0], OTHERS[0], OTHERS[2]))
    build_folder(faces_dir, second, OTHERS[1:2])
    with _open(tmp_path) as album:
        album.add_folder(first)
        album.add_folder(second)
        album.scan()
        faces = _faces_by_stem(album)
        alice = album.create_person("Alice")
        album.assign_faces([faces["obama_1"][0].id], alice)
        album.reject(faces["biden_2"][0].id, alice)  # "not Alice", whatever looks alike
        album.update_settings(Settings(workers=1, auto_assign=True))

        move(obama, second)
        move(biden, second)
        album.scan([first])  # one folder at a time, as "Rescan this folder" does
        assert album.stats()["photos"] == 2
        assert album.stats()["vanished_photos"] == 2
        final = album.scan([second])

        assert final.faces_found == 2 and final.errors == 0
        moved = _faces_by_stem(album)
        assert Path(album.face(moved["obama_1"][0].id).photo).parent == second
        assert (moved["obama_1"][0].person_name, moved["obama_1"][0].assigned_by) == (
            "Alice",
            "user",
        )
        biden_face = moved["biden_2"][0].id
        assert biden_face not in [s.face_id for s in album.suggestions(alice)]
        assert moved["biden_2"][0].person_id is None
        # The rejection is back: assigning automatically never gives Biden to Alice.
        assert biden_face in people_queries.rejected_for(library_store(album).conn, alice)
        assert album.stats()["vanished_photos"] == 0
        assert album.stats()["index"]["size"] == album.stats()["faces"] == 4


def test_a_file_name_that_is_not_utf8_is_scanned_kept_and_shown(faces_dir, tmp_path, capsys):
    photos = tmp_path / "photos"
    (plain,) = build_folder(faces_dir, photos, OBAMA[:1])
    odd = os.path.join(os.fsencode(photos), b"caf\xe9 \xff.jpg")  # a Latin-1 name from a zip
    os.rename(plain, odd)
    build_folder(faces_dir, photos, OTHERS[:1])
    with _open(tmp_path) as album:
        album.add_folder(photos)
        final = album.scan()
        assert final.errors == 0 and final.faces_found == 2
        by_path = {info.path: info for info in album.photos(album.photo_ids()).values()}
        info = by_path[os.fsdecode(odd)]  # the exact name, to open the file with
        assert info.display_path == str(photos / "caf\\xe9 \\xff.jpg")
        assert open(info.path, "rb").read(2) == b"\xff\xd8"
        assert album.scan().total == 0  # known by its exact name: not analysed again
        (face,) = album.faces_in_photo(info.id)
        assert os.fsencode(face.photo) == odd
        library = str(album.directory)
    capsys.readouterr()
    assert main(["--library", library, "search", os.fsdecode(odd)]) == 0
    assert "caf\\xe9 \\xff.jpg" in capsys.readouterr().out  # readable, never a crash
    assert main(["--library", library, "search", "--json", os.fsdecode(odd)]) == 0
    assert capsys.readouterr().out


@pytest.fixture
def away(faces_dir: Path, tmp_path: Path):
    """Obama named Mom and Biden rejected for Mom, both photos then away from disk (moved
    to a folder not scanned yet); Mum, another person. Yields (album, ids, bring_back)."""
    first, second = tmp_path / "first", tmp_path / "second"
    obama, biden, _ = build_folder(faces_dir, first, (OBAMA[0], OTHERS[0], OTHERS[2]))
    second.mkdir()
    with _open(tmp_path) as album:
        album.add_folder(first)
        album.add_folder(second)
        album.scan()
        faces = _faces_by_stem(album)
        ids = {"mom": album.create_person("Mom"), "mum": album.create_person("Mum")}
        album.assign_faces([faces["obama_1"][0].id], ids["mom"])
        album.reject(faces["biden_2"][0].id, ids["mom"])
        move(obama, second)
        move(biden, second)
        album.scan([first])
        assert album.stats()["vanished_photos"] == 2
        yield album, ids, lambda: album.scan([second])


def _rejected_for(album: Album, person_id: int) -> set[str]:
    rejected = people_queries.rejected_for(library_store(album).conn, person_id)
    return {Path(album.face(f).photo).stem for f in rejected}


def test_a_person_merged_while_their_photo_is_away_keeps_it(away):
    album, ids, bring_back = away
    album.merge_people([ids["mom"]], ids["mum"])
    bring_back()
    assert _names(album) == {"obama_1": "Mum", "biden_2": None, "clapton_1": None}
    assert _rejected_for(album, ids["mum"]) == {"biden_2"}  # carried over, as at hand


def test_undoing_a_merge_or_a_delete_gives_an_away_photo_its_person_back(away):
    album, ids, bring_back = away
    album.merge_people([ids["mom"]], ids["mum"])
    album.undo()
    album.delete_person(ids["mom"])
    album.undo()
    bring_back()
    assert _names(album) == {"obama_1": "Mom", "biden_2": None, "clapton_1": None}
    assert _rejected_for(album, ids["mom"]) == {"biden_2"}
    assert _rejected_for(album, ids["mum"]) == set()
