"""Backup commands of `facealbum`: list the automatic backups, restore one.

They work on the library folder without opening the library: opening would make the
day's backup and hold the database a restore replaces.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facealbum.cli.output import PROG, print_json

if TYPE_CHECKING:
    from facealbum.album.backup import BackupInfo


def register(sub: argparse._SubParsersAction, json_flag: argparse.ArgumentParser) -> None:
    """Add the backup commands; their handlers take the library folder, not an Album."""
    backups = sub.add_parser(
        "backups", parents=[json_flag], help="list the library's backups, newest first"
    )
    backups.set_defaults(library_handler=cmd_backups)
    restore = sub.add_parser(
        "restore",
        parents=[json_flag],
        help="put a backup back (the library as it is now is backed up first)",
    )
    which = restore.add_mutually_exclusive_group(required=True)
    which.add_argument("name", nargs="?", metavar="NAME", help="a name `backups` lists")
    which.add_argument("--latest", action="store_true", help="the newest backup")
    restore.set_defaults(library_handler=cmd_restore)


def _backup_dict(b: BackupInfo) -> dict[str, Any]:
    return {
        "name": b.name,
        "created": b.created.isoformat(),
        "reason": b.reason,
        "size": b.size,
        "photos": b.photos,
        "faces": b.faces,
        "people": b.people,
        "problem": b.problem,
    }


def _describe(b: BackupInfo) -> str:
    when = b.created.astimezone().strftime("%Y-%m-%d %H:%M")
    size = f"{b.size / 1e6:.1f} MB"
    if b.problem is not None:
        return f"{b.name}  {when}  {b.reason}  {size}  [{b.problem}]"
    counts = f"{b.photos} photos, {b.faces} faces, {b.people} people"
    return f"{b.name}  {when}  {b.reason}  {size}  {counts}"


def cmd_backups(directory: Path, args: argparse.Namespace) -> int:
    from facealbum.album.backup import backups

    found = backups(directory)
    if args.json:
        print_json([_backup_dict(b) for b in found])
        return 0
    if not found:
        print(
            f"no backups yet in {directory} (one is made each day the library is used, "
            "and before a full regroup or removing a folder)"
        )
    for b in found:
        print(_describe(b))
    return 0


def cmd_restore(directory: Path, args: argparse.Namespace) -> int:
    from facealbum.album.backup import restore

    restored, kept = restore(directory, None if args.latest else args.name)
    if args.json:
        print_json({"restored": _backup_dict(restored), "kept": str(kept) if kept else None})
        return 0
    print(f"restored {_describe(restored)}")
    if kept is None:
        return 0
    if kept.parent == Path(directory).expanduser():  # set aside beside it, not backed up
        print(f"the database it replaced could not be read; it is kept as {kept}")
    else:
        print(f"the library as it was is backed up as {kept.stem} (`{PROG} restore {kept.stem}`)")
    return 0
