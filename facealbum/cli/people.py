"""People commands of `facealbum`: list, name, correct, not a face, suggest, undo, XMP.

PERSON arguments take a name (any case) or a person id. Every change is undoable with
`facealbum undo`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facealbum.cli.output import PROG, CommandError, print_json, readable_path

if TYPE_CHECKING:
    from facealbum.album import Album


def register(sub: argparse._SubParsersAction, json_flag: argparse.ArgumentParser) -> None:
    """Add the people commands to the main parser's subcommands."""

    def add(name: str, help: str, handler: Any) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, parents=[json_flag], help=help)
        parser.set_defaults(handler=handler)
        return parser

    people = add("people", "named people with their face and photo counts", cmd_people)
    people.add_argument("--all", action="store_true", help="include hidden people")
    groups = add("groups", "unnamed groups of faces, largest first", cmd_groups)
    groups.add_argument("--all", action="store_true", help="include hidden groups")
    name = add("name", "name a group: it becomes that person", cmd_name)
    name.add_argument("group", type=int, metavar="GROUP")
    name.add_argument("name", metavar="NAME")
    rename = add("rename", "rename a person", cmd_rename)
    rename.add_argument("person", metavar="PERSON")
    rename.add_argument("name", metavar="NAME")
    merge = add("merge", "merge people into the last one given", cmd_merge)
    merge.add_argument("people", nargs="+", metavar="PERSON")
    assign = add("assign", "these faces are this person", cmd_assign)
    assign.add_argument("faces", nargs="+", type=int, metavar="FACE")
    assign.add_argument("person", metavar="PERSON")
    remove = add("remove", "take a face from its person (remembered)", cmd_remove)
    remove.add_argument("face", type=int, metavar="FACE")
    reject = add("reject", "this face is not this person (remembered)", cmd_reject)
    reject.add_argument("face", type=int, metavar="FACE")
    reject.add_argument("person", metavar="PERSON")
    not_face = add(
        "not-a-face",
        "these faces are no faces (a pet, a poster); without FACE or --group, list them",
        cmd_not_a_face,
    )
    not_face.add_argument("faces", nargs="*", type=int, metavar="FACE")
    not_face.add_argument(
        "--group", type=int, action="append", default=[], metavar="GROUP",
        help="every face of this unnamed group (may be given again)",
    )  # fmt: skip
    is_face = add("is-a-face", "take back not-a-face: these are faces after all", cmd_is_a_face)
    is_face.add_argument("faces", nargs="+", type=int, metavar="FACE")
    hide = add("hide", "hide a person (or a group with --group)", cmd_hide)
    hide.add_argument("target", metavar="PERSON")
    hide.add_argument("--group", action="store_true", help="TARGET is a group id")
    hide.add_argument("--show", action="store_true", help="show it again")
    delete = add("delete", "forget a person (their faces stay, unnamed)", cmd_delete)
    delete.add_argument("person", metavar="PERSON")
    suggestions = add("suggestions", "faces that are probably someone", cmd_suggestions)
    suggestions.add_argument("person", nargs="?", metavar="PERSON")
    confirm = add("confirm", "accept the suggestions of faces (or of a person)", cmd_confirm)
    confirm.add_argument("faces", nargs="*", type=int, metavar="FACE")
    confirm.add_argument("--person", metavar="PERSON", help="all of this person's suggestions")
    confirm.add_argument("--reject", action="store_true", help="reject them instead")
    person = add("person", "the photos of a person (or of several together)", cmd_person)
    person.add_argument("people", nargs="+", metavar="PERSON")
    export = add("export-xmp", "write named faces into .xmp sidecars", cmd_export_xmp)
    export.add_argument("photos", nargs="*", type=int, metavar="PHOTO_ID")
    add("undo", "undo the latest people change", cmd_undo)
    regroup = add("regroup", "group unnamed faces again", cmd_regroup)
    regroup.add_argument("--full", action="store_true", help="redo every group")


def _face_rows(album: Album, face_ids: list[int] | tuple[int, ...]) -> list[dict[str, Any]]:
    infos = album.faces_by_id(face_ids)
    return [
        {
            "face_id": f,
            "photo": infos[f].photo,
            "photo_id": infos[f].photo_id,
            "box": [round(v, 4) for v in infos[f].box.as_list()],
            "assigned_by": infos[f].assigned_by,
        }
        for f in face_ids
        if f in infos
    ]


def cmd_people(album: Album, args: argparse.Namespace) -> int:
    people = album.people(include_hidden=args.all)
    if args.json:
        print_json(
            [
                {
                    "id": p.id,
                    "name": p.name,
                    "hidden": p.hidden,
                    "face_count": p.face_count,
                    "photo_count": p.photo_count,
                    "cover_face_id": p.cover_face_id,
                    "to_review": p.to_review,
                    "faces": _face_rows(album, album.person_faces(p.id)),
                }
                for p in people
            ]
        )
        return 0
    if not people:
        print("nobody named yet (see `facealbum groups`, then `facealbum name GROUP NAME`)")
    for p in people:
        hidden = "  [hidden]" if p.hidden else ""
        waiting = f", {p.to_review} to review" if p.to_review else ""
        counts = f"{p.face_count} faces in {p.photo_count} photos{waiting}"
        print(f"{p.id:>4}  {p.name}  {counts}{hidden}")
    return 0


def cmd_groups(album: Album, args: argparse.Namespace) -> int:
    groups = album.groups(include_hidden=args.all)
    if args.json:
        print_json(
            [
                {
                    "id": g.id,
                    "hidden": g.hidden,
                    "size": len(g.face_ids),
                    "probably": (
                        {"person_id": g.probably[0], "name": g.probably[1]} if g.probably else None
                    ),
                    "faces": _face_rows(album, g.face_ids),
                }
                for g in groups
            ]
        )
        return 0
    if not groups:
        print("no unnamed groups")
    for g in groups:
        hidden = "  [hidden]" if g.hidden else ""
        faces = " ".join(str(f) for f in g.face_ids[:12]) + (" ..." if len(g.face_ids) > 12 else "")
        probably = (
            f"  probably {g.probably[1]}? (`{PROG} name {g.id} NAME` says yes)"
            if g.probably
            else ""
        )
        print(f"{g.id:>4}  {len(g.face_ids)} faces: {faces}{hidden}{probably}")
    return 0


def _done(album: Album, args: argparse.Namespace, text: str, **extra: Any) -> int:
    if args.json:
        print_json({"done": text, **extra})
    else:
        print(f"{text} (undo with `facealbum undo`)")
    return 0


def cmd_name(album: Album, args: argparse.Namespace) -> int:
    person_id = album.name_group(args.group, args.name)
    return _done(album, args, f"group {args.group} is now {args.name}", person_id=person_id)


def cmd_rename(album: Album, args: argparse.Namespace) -> int:
    album.rename_person(album.person_id(args.person), args.name)
    return _done(album, args, f"renamed {args.person} to {args.name}")


def cmd_merge(album: Album, args: argparse.Namespace) -> int:

    if len(args.people) < 2:
        raise CommandError("merge needs at least two people: SOURCE... TARGET")
    ids = [album.person_id(p) for p in args.people]
    album.merge_people(ids[:-1], ids[-1])
    return _done(album, args, f"merged into {args.people[-1]}")


def cmd_assign(album: Album, args: argparse.Namespace) -> int:
    album.assign_faces(args.faces, album.person_id(args.person))
    return _done(album, args, f"{len(args.faces)} face(s) assigned to {args.person}")


def cmd_remove(album: Album, args: argparse.Namespace) -> int:
    album.remove_faces([args.face])
    return _done(album, args, f"face {args.face} removed from its person")


def cmd_reject(album: Album, args: argparse.Namespace) -> int:
    album.reject(args.face, album.person_id(args.person))
    return _done(album, args, f"face {args.face} is not {args.person}")


def cmd_not_a_face(album: Album, args: argparse.Namespace) -> int:
    if not args.faces and not args.group:
        marked = album.not_a_face_ids()
        if args.json:
            print_json(_face_rows(album, marked))
            return 0
        if not marked:
            print("no face is marked not a face")
        infos = album.faces_by_id(marked)
        for face_id in marked:
            print(f"{face_id:>6}  {infos[face_id].photo}")
        return 0
    marked = album.mark_not_a_face(args.faces, group_ids=args.group)
    return _done(album, args, f"{marked} face(s) marked not a face", faces=marked)


def cmd_is_a_face(album: Album, args: argparse.Namespace) -> int:
    album.unmark_not_a_face(args.faces)
    return _done(album, args, f"{len(args.faces)} face(s) are faces again")


def cmd_hide(album: Album, args: argparse.Namespace) -> int:

    hidden = not args.show
    if args.group:
        if not args.target.isdigit():
            raise CommandError(f"{args.target}: a group id is a number")
        album.set_group_hidden(int(args.target), hidden)
    else:
        album.set_person_hidden(album.person_id(args.target), hidden)
    what = f"group {args.target}" if args.group else args.target
    return _done(album, args, f"{what} {'hidden' if hidden else 'shown'}")


def cmd_delete(album: Album, args: argparse.Namespace) -> int:
    album.delete_person(album.person_id(args.person))
    return _done(album, args, f"{args.person} forgotten; their faces are unnamed again")


def cmd_suggestions(album: Album, args: argparse.Namespace) -> int:
    person_id = album.person_id(args.person) if args.person else None
    found = album.suggestions(person_id)
    if args.json:
        infos = album.faces_by_id([s.face_id for s in found])
        print_json(
            [
                {
                    "face_id": s.face_id,
                    "photo": infos[s.face_id].photo,
                    "person_id": s.person_id,
                    "name": s.name,
                    "confidence": round(s.confidence, 3),
                    "source": s.source,
                }
                for s in found
                if s.face_id in infos
            ]
        )
        return 0
    if not found:
        print("no suggestions")

    for s in found:
        face = album.face(s.face_id)
        where = Path(face.photo).name if face else "?"
        new = "  (new person)" if s.person_id is None else ""
        print(
            f"{s.face_id:>6}  {s.name}{new}  {s.confidence:.0%} sure  {readable_path(where)}"
            f"  [{s.source}]"
        )
    return 0


def cmd_confirm(album: Album, args: argparse.Namespace) -> int:

    faces = list(args.faces)
    if args.person:
        faces += [s.face_id for s in album.suggestions(album.person_id(args.person))]
    if not faces:
        raise CommandError("nothing to confirm: give FACE ids or --person PERSON")
    if args.reject:
        album.reject_suggestions(faces)
        return _done(album, args, f"{len(faces)} suggestion(s) rejected")
    album.confirm(faces)
    return _done(album, args, f"{len(faces)} suggestion(s) confirmed")


def cmd_person(album: Album, args: argparse.Namespace) -> int:
    ids = [album.person_id(p) for p in args.people]
    photo_ids = album.photo_ids(person_id=ids[0]) if len(ids) == 1 else album.photos_with(ids)
    photos = album.photos(photo_ids)
    if args.json:
        print_json([{"photo_id": p, "photo": photos[p].path} for p in photo_ids if p in photos])
        return 0
    for p in photo_ids:
        if p in photos:
            print(photos[p].display_path)
    return 0


def cmd_export_xmp(album: Album, args: argparse.Namespace) -> int:

    errors: list[str] = []

    def report(line: str) -> None:
        errors.append(line)
        print(f"{PROG}: {line}", file=sys.stderr)

    written = album.export_xmp(args.photos or None, on_error=report)
    if args.json:
        print_json({"written": written, "errors": errors})
    else:
        print(f"{written} sidecar(s) written" + (f", {len(errors)} failed" if errors else ""))
    return 1 if errors else 0


def cmd_undo(album: Album, args: argparse.Namespace) -> int:
    undone = album.undo()
    if args.json:
        print_json({"undone": undone})
    else:
        print(f"undone: {undone}" if undone else "nothing to undo")
    return 0


def cmd_regroup(album: Album, args: argparse.Namespace) -> int:
    album.regroup(full=args.full)
    groups = album.groups()
    if args.json:
        print_json({"groups": len(groups)})
    else:
        print(f"{len(groups)} unnamed groups")
    return 0
