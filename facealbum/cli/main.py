"""The `facealbum` command: scan folders, search by photo, inspect a library.

Start-up stays light: heavy modules (numpy, dlib, Qt) are imported only by the
commands that need them. With no command, the GUI opens.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from facealbum.cli import backup, library, people
from facealbum.cli.output import EX_TEMPFAIL, PROG, CommandError, fail, stderr_line


class _PrintVersion(argparse.Action):
    """argparse's version action, but the version is looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS) -> None:
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            default=argparse.SUPPRESS,
            help="show the program's version number and exit",
        )

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        import facealbum

        print(f"{parser.prog} {facealbum.__version__}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Find, name and search the people in your own photo library."
    )
    parser.add_argument("--version", action=_PrintVersion)
    parser.add_argument(
        "--library",
        metavar="DIR",
        help="library folder (default: $FACEALBUM_LIBRARY, else the user data folder)",
    )
    # --json is accepted before or after the command.
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    json_flag = argparse.ArgumentParser(add_help=False)
    json_flag.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print machine-readable JSON on stdout",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    library.register(sub, json_flag)
    people.register(sub, json_flag)
    backup.register(sub, json_flag)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        return _run_gui(args.library)
    if getattr(args, "analyses_photos", False):
        # Worker processes get ready on the other core while this one opens the library.
        from facealbum.engine.pool import start_fork_server

        start_fork_server()
    from facealbum.album import LibraryError, StoreBusy, StoreError
    from facealbum.config import resolve_library_dir

    directory = resolve_library_dir(args.library)
    try:
        if hasattr(args, "library_handler"):  # backups, restore: the library stays closed
            return args.library_handler(directory, args)
        return _run_on_album(directory, args)
    except StoreBusy as e:
        return fail(str(e), code=EX_TEMPFAIL)
    except (CommandError, LibraryError, StoreError) as e:
        return fail(str(e))
    except KeyboardInterrupt:
        return fail("interrupted", code=130)
    except BrokenPipeError:  # `facealbum stats | head`: the reader has all it wants
        _silence_stdout()
        return 0
    except OSError as e:  # full disk, permissions: a message, never a traceback
        return fail(f"{e.filename + ': ' if e.filename else ''}{e.strerror or e}")


def _run_on_album(directory: Path, args: argparse.Namespace) -> int:
    """Open the library and run the command on it. Only the commands that add photos make
    a new library, and say so: a mistyped --library must not silently create one."""
    from facealbum.album import Album
    from facealbum.config import DATABASE_NAME

    new = not (directory / DATABASE_NAME).exists()
    if new and not _makes_library(args):
        raise CommandError(f"no facealbum library in {directory} (`{PROG} scan PHOTOS` makes one)")
    if new and args.command == "scan":
        problems = [library.not_a_folder(raw) for raw in args.paths]
        if all(problems):  # nothing to scan: no library made for it
            raise CommandError("; ".join(p for p in problems if p))
    with Album.open(directory) as album:
        if new:
            stderr_line(f"{PROG}: new library in {directory}")
        return args.handler(album, args)


def _makes_library(args: argparse.Namespace) -> bool:
    return args.command == "scan" or (args.command == "folders" and args.folder_command == "add")


def _run_gui(library: str | None) -> int:
    try:
        from facealbum.ui.app import run_gui
    except ImportError as e:
        return fail(f"the graphical interface is not available: {e}")
    return run_gui(Path(library).expanduser() if library else None)


def _silence_stdout() -> None:
    """Point stdout at the null device, so that Python's flush at exit does not fail on
    the closed pipe again and print a traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
