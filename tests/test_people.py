"""People on a real scanned library: groups, naming, corrections, suggestions and undo."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from helpers_storage import every_face, library_store
from library_builder import FOUR_PEOPLE_PHOTOS, build_folder, reduced_copy

from facealbum.album import Album, LibraryError
from facealbum.config import Settings
from facealbum.db import people_queries

pytestmark = pytest.mark.slow

# The four people of the People page tests, and Kit Harington with Rose Leslie.
PHOTOS = (*FOUR_PEOPLE_PHOTOS, "groups/kit_with_rose.jpg", "people/kit_harington/kit_1.jpeg")


@pytest.fixture(scope="module")
def scanned(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("people")
    build_folder(faces_dir, root / "photos", PHOTOS)
    with Album.open(root / "library") as album:
        album.add_folder(root / "photos")
        album.scan()
    return root / "library"


@pytest.fixture
def album(scanned: Path, tmp_path: Path):
    lib = tmp_path / "library"
    shutil.copytree(scanned, lib)
    with Album.open(lib) as album:
        yield album


def faces_of(album: Album, stem: str) -> list[int]:
    """Face ids of one photo (by file stem), left to right."""
    for pid, info in album.photos(album.photo_ids()).items():
        if Path(info.path).stem == stem:
            return [f.id for f in album.faces_in_photo(pid)]
    raise KeyError(stem)


def group_of(album: Album, face_id: int) -> int:
    group = album.face(face_id).group_id
    assert group is not None, f"face {face_id} is in no group"
    return group


def person(album: Album, name: str):
    (p,) = [p for p in album.people(include_hidden=True) if p.name == name]
    return p


def state(album: Album) -> tuple:
    """Everything a user decision can change, to compare before and after an undo."""
    conn = library_store(album).conn
    faces = every_face(album)
    return (
        sorted(
            (p.id, p.name, p.hidden, people_queries.cover_choice(conn, p.id))
            for p in album.people(include_hidden=True)
        ),
        [(f.id, f.person_id, f.assigned_by, f.group_id) for f in faces],
        sorted(people_queries.rejections_of(conn, [f.id for f in faces])),
        sorted((g.id, g.hidden) for g in album.groups(include_hidden=True)),
    )


def name_obama(album: Album) -> int:
    return album.name_group(group_of(album, faces_of(album, "obama_1")[0]), "Barack Obama")


def test_scan_groups_each_person_and_never_two_faces_of_one_photo(album: Album):
    groups = album.groups()
    obama = group_of(album, faces_of(album, "obama_1")[0])
    (obama_group,) = [g for g in groups if g.id == obama]
    assert set(obama_group.face_ids) >= {faces_of(album, s)[0] for s in ("obama_2", "obama_3")}
    assert group_of(album, faces_of(album, "guido_1")[0]) == group_of(
        album, faces_of(album, "guido_2")[0]
    )
    assert group_of(album, faces_of(album, "biden_1")[0]) != obama
    for g in groups:
        photos = [album.face(f).photo_id for f in g.face_ids]
        assert len(photos) == len(set(photos))
    sizes = [len(g.face_ids) for g in groups]
    assert sizes == sorted(sizes, reverse=True)


def test_naming_a_group_makes_a_person_with_all_their_photos(album: Album):
    group = group_of(album, faces_of(album, "obama_1")[0])
    size = len([g for g in album.groups() if g.id == group][0].face_ids)
    pid = album.name_group(group, "Barack Obama")
    info = person(album, "Barack Obama")
    assert (info.id, info.face_count, info.photo_count) == (pid, size, size)
    assert info.cover_face_id is not None
    assert group not in [g.id for g in album.groups()]
    stems = {Path(album.photo(p).path).stem for p in album.photo_ids(person_id=pid)}
    assert {"obama_1", "obama_2", "obama_3", "two_people"} <= stems
    biden = album.name_group(group_of(album, faces_of(album, "biden_1")[0]), "Joe Biden")
    together = album.face(faces_of(album, "two_people")[0]).photo_id
    assert album.photos_with([pid, biden]) == [together]


def test_an_existing_name_merges_the_group_into_that_person(album: Album):
    pid = album.name_group(group_of(album, faces_of(album, "guido_1")[0]), "Guido")
    album.remove_faces([faces_of(album, "guido_2")[0]])
    album.reject(faces_of(album, "guido_2")[0], pid)
    album.assign_faces([faces_of(album, "guido_2")[0]], pid)  # the user's word wins
    assert person(album, "Guido").face_count == 2
    kit = group_of(album, faces_of(album, "kit_1")[0])
    assert album.name_group(kit, "guido") == pid
    assert person(album, "Guido").face_count == 4


def test_same_photo_rule_refuses_user_actions(album: Album):
    obama = name_obama(album)
    obama_face, biden_face = sorted(
        faces_of(album, "two_people"), key=lambda f: album.face(f).person_id is None
    )
    assert album.face(obama_face).person_id == obama
    with pytest.raises(LibraryError, match="already"):
        album.assign_faces([biden_face], obama)
    kit, rose = faces_of(album, "kit_with_rose")
    other = album.create_person("Someone")
    with pytest.raises(LibraryError, match="same photo"):
        album.assign_faces([kit, rose], other)
    assert album.face(kit).person_id is None and album.face(rose).person_id is None


def test_moving_a_face_to_another_person(album: Album):
    obama = name_obama(album)
    guido = album.name_group(group_of(album, faces_of(album, "guido_1")[0]), "Guido")
    face = faces_of(album, "obama_3")[0]
    album.assign_faces([face], guido)
    assert album.face(face).person_id == guido
    assert album.face(face).assigned_by == "user"
    assert person(album, "Barack Obama").face_count == 3
    assert obama != guido


def test_a_removed_face_never_comes_back_through_rescans_and_regroups(
    album: Album, faces_dir: Path, tmp_path: Path
):
    obama = name_obama(album)
    removed = faces_of(album, "obama_3")[0]
    album.remove_faces([removed])
    assert album.face(removed).person_id is None
    assert removed not in [s.face_id for s in album.suggestions(obama)]
    # New photos of him arrive, everything is regrouped, the photo is touched.
    extra = tmp_path / "extra"
    reduced_copy(faces_dir / "people/barack_obama/obama_4.jpg", extra / "obama_4.jpg")
    album.add_folder(extra)
    album.scan([extra])
    album.regroup(full=True)
    album.regroup()
    album.scan()
    assert album.face(removed).person_id is None
    assert removed not in [s.face_id for s in album.suggestions(obama)]
    assert removed not in [s.face_id for s in album.suggestions()]
    # The new photo did join him (automatically: it is very close to his faces).
    new_face = faces_of(album, "obama_4")[0]
    assert album.face(new_face).person_id == obama
    assert album.face(new_face).assigned_by == "auto"


def test_suggestions_confirm_and_reject(album: Album, faces_dir: Path, tmp_path: Path):
    album.update_settings(Settings(auto_assign=False))
    obama = name_obama(album)
    extra = tmp_path / "extra"
    reduced_copy(faces_dir / "people/barack_obama/obama_4.jpg", extra / "obama_4.jpg")
    reduced_copy(faces_dir / "people/barack_obama/obama_5.jpg", extra / "obama_5.jpg")
    album.add_folder(extra)
    album.scan([extra])
    new = [faces_of(album, "obama_4")[0], faces_of(album, "obama_5")[0]]
    offered = {s.face_id: s for s in album.suggestions(obama)}
    assert set(new) <= set(offered)
    assert all(0 < offered[f].confidence <= 1 and offered[f].name == "Barack Obama" for f in new)
    assert album.face(new[0]).person_id is None  # auto-assignment is off
    album.confirm([new[0]])
    assert album.face(new[0]).person_id == obama and album.face(new[0]).assigned_by == "user"
    album.reject_suggestions([new[1]])
    assert new[1] not in [s.face_id for s in album.suggestions()]
    album.regroup(full=True)
    album.scan()
    assert new[1] not in [s.face_id for s in album.suggestions(obama)]
    assert album.face(new[1]).person_id is None


def test_full_regroup_keeps_every_user_decision(album: Album):
    name_obama(album)
    guido = album.name_group(group_of(album, faces_of(album, "guido_1")[0]), "Guido")
    kit, rose = faces_of(album, "kit_with_rose")
    album.assign_faces([rose], guido)  # wrong, but the user said so
    album.remove_faces([faces_of(album, "obama_2")[0]])
    before = state(album)
    album.regroup(full=True)
    after = state(album)
    assigned = lambda s: [(f, p, how) for f, p, how, _ in s[1] if p is not None]  # noqa: E731
    assert assigned(after) == assigned(before)
    assert after[0] == before[0] and after[2] == before[2]
    assert album.face(rose).person_id == guido


@pytest.mark.parametrize("step", ["_knn_of_free", "regroup"])
def test_a_full_regroup_cancelled_while_computed_changes_nothing(album: Album, monkeypatch, step):
    from facealbum.album import grouping
    from facealbum.db import backup as db_backup

    with library_store(album).write() as conn:  # ungrouped: a full regroup groups them
        conn.execute("UPDATE faces SET group_id = NULL WHERE person_id IS NULL")
    before = state(album)
    cancel = threading.Event()
    # The user cancels while one of the plan's long steps runs.
    if step == "regroup":
        original = grouping.regroup
        target, name = grouping, "regroup"
    else:
        original = grouping.Grouping._knn_of_free
        target, name = grouping.Grouping, "_knn_of_free"

    def cancelled_meanwhile(*args, **kwargs):
        cancel.set()
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, cancelled_meanwhile)
    backups = db_backup.list_backups(library_store(album).path)

    assert album.regroup(full=True, cancel=cancel) is False
    assert state(album) == before
    assert db_backup.list_backups(library_store(album).path) == backups  # nothing to undo

    monkeypatch.undo()
    assert album.regroup(full=True, cancel=threading.Event()) is True
    assert state(album) != before  # the same regroup, not cancelled, does change groups


def test_merge_carries_rejections_to_the_target(album: Album):
    obama = name_obama(album)
    guido = album.name_group(group_of(album, faces_of(album, "guido_1")[0]), "Guido")
    kit_face = faces_of(album, "kit_1")[0]
    album.reject(kit_face, guido)
    album.merge_people([guido], obama)
    assert [p.name for p in album.people()] == ["Barack Obama"]
    assert person(album, "Barack Obama").face_count == 6
    assert kit_face in people_queries.rejected_for(library_store(album).conn, obama)
    album.regroup(full=True)
    assert kit_face not in [s.face_id for s in album.suggestions(obama)]


def test_hide_and_delete_people_and_groups(album: Album):
    obama = name_obama(album)
    album.set_person_hidden(obama, True)
    assert album.people() == [] and album.people(include_hidden=True)[0].hidden
    album.set_person_hidden(obama, False)
    guido_group = group_of(album, faces_of(album, "guido_1")[0])
    album.set_group_hidden(guido_group, True)
    assert guido_group not in [g.id for g in album.groups()]
    assert guido_group in [g.id for g in album.groups(include_hidden=True)]
    faces = sorted(f for s in ("obama_1", "obama_2", "obama_3") for f in faces_of(album, s))
    album.delete_person(obama)
    assert album.people(include_hidden=True) == []
    assert all(album.face(f) is not None and album.face(f).person_id is None for f in faces)
    (regrouped,) = {album.face(f).group_id for f in faces}  # back together, unnamed
    assert regrouped is not None


def test_cover_is_the_users_choice_while_the_face_is_theirs(album: Album):
    obama = name_obama(album)
    chosen = faces_of(album, "obama_2")[0]
    album.set_cover(obama, chosen)
    assert person(album, "Barack Obama").cover_face_id == chosen
    with pytest.raises(LibraryError):
        album.set_cover(obama, faces_of(album, "guido_1")[0])
    album.remove_faces([chosen])
    assert person(album, "Barack Obama").cover_face_id not in (None, chosen)


@pytest.mark.parametrize(
    "action",
    [
        "name_group",
        "name_into_existing",
        "rename",
        "merge",
        "assign",
        "remove",
        "reject",
        "hide_person",
        "hide_group",
        "delete",
        "cover",
        "confirm",
        "reject_suggestions",
    ],
)
def test_undo_puts_back_each_action(album: Album, action: str):
    obama = name_obama(album)
    guido_group = group_of(album, faces_of(album, "guido_1")[0])
    face = faces_of(album, "obama_3")[0]
    if action in ("confirm", "reject_suggestions"):
        album.update_settings(Settings(auto_assign=False))
        album.assign_faces([face], album.create_person("Placeholder"))
        album.delete_person(person(album, "Placeholder").id)  # unassigned, never rejected
        assert face in [s.face_id for s in album.suggestions(obama)]
    before = state(album)
    depth = people_queries.undo_depth(library_store(album).conn)
    run = {
        "name_group": lambda: album.name_group(guido_group, "Guido"),
        "name_into_existing": lambda: album.name_group(guido_group, "barack obama"),
        "rename": lambda: album.rename_person(obama, "Obama"),
        "merge": lambda: album.merge_people([album.name_group(guido_group, "G")], obama),
        "assign": lambda: album.assign_faces([faces_of(album, "guido_2")[0]], obama),
        "remove": lambda: album.remove_faces([face]),
        "reject": lambda: album.reject(faces_of(album, "guido_2")[0], obama),
        "hide_person": lambda: album.set_person_hidden(obama, True),
        "hide_group": lambda: album.set_group_hidden(guido_group, True),
        "delete": lambda: album.delete_person(obama),
        "cover": lambda: album.set_cover(obama, face),
        "confirm": lambda: album.confirm([face]),
        "reject_suggestions": lambda: album.reject_suggestions([face]),
    }[action]
    run()
    assert state(album) != before
    assert album.undo_description()
    undone = [album.undo() for _ in range(2 if action == "merge" else 1)]
    assert all(undone)
    assert state(album) == before
    assert people_queries.undo_depth(library_store(album).conn) == depth


def test_undo_of_an_unrelated_action_keeps_a_rejection(album: Album):
    obama = name_obama(album)
    face = faces_of(album, "obama_3")[0]
    album.remove_faces([face])
    album.rename_person(obama, "Obama")
    assert album.undo() == "Rename to Obama"
    assert person(album, "Barack Obama")
    assert album.face(face).person_id is None
    assert face not in [s.face_id for s in album.suggestions(obama)]
    assert album.undo() == "Remove a face from Barack Obama"
    assert album.face(face).person_id == obama


def test_unknown_people_and_faces_are_clear_errors(album: Album):
    with pytest.raises(LibraryError, match="no person"):
        album.person_id("Nobody")
    with pytest.raises(LibraryError, match="no unnamed group"):
        album.name_group(99999, "X")
    with pytest.raises(LibraryError, match="no face"):
        album.assign_faces([99999], album.create_person("X"))
    with pytest.raises(LibraryError, match="empty"):
        album.create_person("  ")
    obama = name_obama(album)
    other = album.create_person("Other")
    with pytest.raises(LibraryError, match="already exists"):
        album.rename_person(other, "barack obama")
    assert album.person_id("BARACK OBAMA") == obama == album.person_id(str(obama))


def test_removing_several_faces_is_one_step_that_one_undo_restores(album: Album):
    obama = name_obama(album)
    wrong = [faces_of(album, stem)[0] for stem in ("obama_2", "obama_3")]
    before = state(album)

    album.remove_faces(wrong)

    assert all(album.face(f).person_id is None for f in wrong)
    offered = [s.face_id for s in album.suggestions()]
    assert not set(wrong) & set(offered)
    assert album.undo_description() == "Remove 2 faces from Barack Obama"
    album.undo()
    assert state(album) == before
    assert all(album.face(f).person_id == obama for f in wrong)
    assert album.undo_description() != "Remove 2 faces from Barack Obama"


def test_removing_faces_refuses_a_face_without_a_person_and_changes_nothing(album: Album):
    name_obama(album)
    named = faces_of(album, "obama_2")[0]
    free = faces_of(album, "guido_1")[0]
    before = state(album)
    with pytest.raises(LibraryError, match="no person"):
        album.remove_faces([named, free])
    assert state(album) == before


def test_groups_and_suggestions_come_in_pages_largest_and_surest_first(
    album: Album, faces_dir: Path, tmp_path: Path
):
    every = album.groups()
    assert len(every) >= 3
    assert album.groups(limit=2) == every[:2]
    assert album.groups(limit=0) == []
    album.update_settings(Settings(auto_assign=False))
    name_obama(album)
    extra = tmp_path / "extra"
    for stem in ("obama_4", "obama_5"):
        reduced_copy(faces_dir / f"people/barack_obama/{stem}.jpg", extra / f"{stem}.jpg")
    album.add_folder(extra)
    album.scan([extra])
    offered = album.suggestions()
    assert len(offered) >= 2
    assert album.suggestions(limit=1) == offered[:1]
    assert album.suggestions(source="similar") == offered  # no XMP names here
    assert album.suggestions(source="xmp") == []
    with pytest.raises(ValueError):
        album.suggestions(source="gossip")
