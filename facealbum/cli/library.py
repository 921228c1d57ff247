"""The library commands: scan, redetect, search, similar, stats, folders."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from facealbum import config
from facealbum.cli.output import PROG, CommandError, fail, print_json, readable_path, stderr_line

if TYPE_CHECKING:
    from facealbum.album import Album
    from facealbum.model import Face, Match, ScanProgress

T = TypeVar("T")


def register(sub: argparse._SubParsersAction, json_flag: argparse.ArgumentParser) -> None:
    """Add the library commands to the main parser's subcommands."""

    scan = sub.add_parser("scan", parents=[json_flag], help="add folders if needed and scan them")
    scan.add_argument("paths", nargs="+", metavar="PATH")
    scan.add_argument(
        "--prune",
        action="store_true",
        help="remove photos that are gone even when they are most of a folder, or their "
        "folder is empty (without it such removals wait: an unplugged drive looks the same)",
    )
    _detector_option(scan, "the face detector of this library from now on")
    scan.set_defaults(handler=cmd_scan, analyses_photos=True)

    again = sub.add_parser(
        "redetect",
        parents=[json_flag],
        help="find the faces of the library's photos again with another detector, keeping "
        "every name, confirmation and rejection",
    )
    again.add_argument("paths", nargs="*", metavar="PATH", help="library folders (default: all)")
    _detector_option(again, f"the detector to use (default: {config.RECOMMENDED_DETECTOR})")
    again.set_defaults(handler=cmd_redetect, analyses_photos=True)

    search = sub.add_parser(
        "search", parents=[json_flag], help="find every photo of the people in a photo"
    )
    search.add_argument("image", metavar="IMAGE")
    _person_search_options(search)
    _detector_option(search, "the face detector for this photo (default: the library's)")
    search.set_defaults(handler=cmd_search)

    similar = sub.add_parser(
        "similar", parents=[json_flag], help="every other photo of a library face's person"
    )
    similar.add_argument("face_id", type=int, metavar="FACE_ID")
    _person_search_options(similar)
    similar.set_defaults(handler=cmd_similar)

    look = sub.add_parser(
        "lookalike",
        parents=[json_flag],
        help="whom the faces of a photo look like, in the library or a folder of portraits",
    )
    look.add_argument("image", metavar="IMAGE")
    look.add_argument(
        "--in", dest="where", metavar="DIR_OR_LIBRARY", default=None,
        help="a folder of images (made into a collection, or brought up to date, first) or "
        "a library (default: the library)",
    )  # fmt: skip
    look.add_argument("--top", type=int, default=5, metavar="K", help="faces per face (5)")
    look.set_defaults(library_handler=cmd_lookalike)

    stats = sub.add_parser("stats", parents=[json_flag], help="counts of the library")
    stats.set_defaults(handler=cmd_stats)

    folders = sub.add_parser("folders", parents=[json_flag], help="list, add or remove folders")
    folder_sub = folders.add_subparsers(dest="folder_command", metavar="ACTION", required=True)
    folder_sub.add_parser("list", parents=[json_flag], help="list the library's folders")
    add = folder_sub.add_parser("add", parents=[json_flag], help="add a folder (no scan)")
    add.add_argument("path", metavar="PATH")
    remove = folder_sub.add_parser("remove", parents=[json_flag], help="forget a folder")
    remove.add_argument("path", metavar="PATH")
    folders.set_defaults(handler=cmd_folders)


def _person_search_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--top", type=int, default=None, metavar="K", help="at most K photos")
    parser.add_argument(
        "--maybe",
        action="store_true",
        help="also list the photos that may be the person (not sure enough to say so)",
    )
    parser.add_argument(
        "--tolerance", type=float, default=None, metavar="T",
        help="how far a 'maybe' may be (default: the library's tolerance)",
    )  # fmt: skip


def _detector_option(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--detector", choices=list(config.DETECTORS), default=None, help=help)


# -- scan -------------------------------------------------------------------------------


def not_a_folder(raw: str) -> str | None:
    """What is wrong with a path given to scan, in a line; None when it is a folder."""
    path = Path(raw).expanduser()
    if path.is_dir():
        return None
    return f"{raw}: {'not a folder' if path.exists() else 'no such folder'}"


def cmd_scan(album: Album, args: argparse.Namespace) -> int:
    from facealbum.album import LibraryError

    roots: list[Path] = []
    failed = False
    known = [Path(f.path) for f in album.folders()]
    for raw in args.paths:
        problem = not_a_folder(raw)
        if problem is not None:
            failed = True
            fail(problem)
            continue
        real = Path(raw).expanduser().resolve()
        if not any(real == k or k in real.parents for k in known):
            try:
                album.add_folder(real)
            except LibraryError as e:
                failed = True
                fail(str(e))
                continue
            known = [Path(f.path) for f in album.folders()]
        roots.append(real)
    if not roots:
        return 1
    if args.detector and args.detector != album.settings.detector:
        album.update_settings(dataclasses.replace(album.settings, detector=args.detector))
        fail(
            f"the library finds faces with {args.detector} from now on; photos scanned "
            f"before keep theirs until `{PROG} redetect`"
        )
    final = _with_scan_feedback(lambda **kw: album.scan(roots, prune=args.prune, **kw))
    return _scan_summary(final, args.json, failed)


def cmd_redetect(album: Album, args: argparse.Namespace) -> int:
    roots = [Path(p).expanduser().absolute() for p in args.paths] or None
    detector = args.detector or config.RECOMMENDED_DETECTOR
    final = _with_scan_feedback(lambda **kw: album.find_faces_again(roots, detector=detector, **kw))
    return _scan_summary(final, args.json, failed=False)


def _scan_summary(final: ScanProgress, as_json: bool, failed: bool) -> int:
    from facealbum.model import ScanPhase  # numpy: not at start-up

    if as_json:
        print_json(_progress_dict(final))
    else:
        print(
            f"{final.phase}: {final.done} of {final.total} photos analysed, "
            f"{final.faces_found} faces found, {final.errors} could not be read"
        )
    _report_kept(final)
    attention = final.offline or final.held_back or final.notes
    return 1 if failed or attention or final.phase == ScanPhase.CANCELLED else 0


def _report_kept(final: ScanProgress) -> None:
    """What the scan did not remove, and why, and what else to know: one line each."""
    for note in final.notes:
        fail(note)
    for f in final.offline:
        fail(f"{f.path} is offline ({f.reason}): its {f.photos_kept} photos are kept")
    for h in final.held_back:
        fail(
            f"{h.gone} of {h.known} photos of {h.folder} are gone; they stay in the library "
            f"until you confirm with: {PROG} scan --prune {shlex.quote(h.folder)}"
        )


def _with_scan_feedback(run: Callable[..., T]) -> T:
    """`run(progress=..., cancel=...)`, a scan, with a progress bar on a terminal; bad files
    get one line each on stderr. The first Ctrl-C cancels the scan cleanly (committed
    work is kept)."""
    from facealbum.model import ScanPhase

    cancel = threading.Event()
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=0, unit="photo", file=sys.stderr)

    def report(p: ScanProgress) -> None:
        for line in p.new_errors:
            if bar is not None:
                bar.write(f"{PROG}: skipped {line}", file=sys.stderr)
            else:
                stderr_line(f"{PROG}: skipped {line}")
        if bar is not None:
            if p.phase == ScanPhase.WALKING:
                bar.set_description(f"finding photos ({p.done})")
            else:
                bar.set_description("scanning")
                bar.total = p.total
                bar.n = p.done
                bar.set_postfix_str(
                    f"{p.photos_per_second:.1f} photos/s, {p.faces_found} faces, {p.errors} errors",
                    refresh=False,
                )
                bar.refresh()

    previous = _install_cancel_on_sigint(cancel)
    try:
        return run(progress=report, cancel=cancel)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        if bar is not None:
            bar.close()


def _install_cancel_on_sigint(cancel: threading.Event) -> Callable | None:
    if threading.current_thread() is not threading.main_thread():
        return None

    def on_sigint(signum: int, frame: object) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        stderr_line(f"{PROG}: stopping after the photos in progress (Ctrl-C again to abort)")
        cancel.set()

    return signal.signal(signal.SIGINT, on_sigint)


def _progress_dict(p: ScanProgress) -> dict[str, Any]:
    return {
        "phase": p.phase,
        "done": p.done,
        "total": p.total,
        "faces_found": p.faces_found,
        "errors": p.errors,
        "photos_per_second": round(p.photos_per_second, 3),
        "offline": [dataclasses.asdict(f) for f in p.offline],
        "held_back": [dataclasses.asdict(h) for h in p.held_back],
        "notes": list(p.notes),
    }


# -- search -----------------------------------------------------------------------------


def _match_dict(m: Match, query_face: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "photo": m.photo,
        "photo_id": m.photo_id,
        "face_id": m.face_id,
        "distance": round(float(m.distance), 4),
        "box": [round(v, 4) for v in m.box.as_list()],
        "tier": m.tier,
        "confidence": m.confidence,
    }
    if query_face is not None:
        out["query_face"] = query_face
    return out


def cmd_search(album: Album, args: argparse.Namespace) -> int:
    from facealbum.engine.images import ImageLoadError

    _one_photo(args.image)
    if args.detector:  # for this search only
        album.settings = dataclasses.replace(album.settings, detector=args.detector)
    try:
        results = album.search_image(
            args.image, top=args.top, tolerance=args.tolerance, maybe=args.maybe
        )
    except ImageLoadError as e:
        raise CommandError(f"{args.image}: {e.reason}") from e
    if args.json:
        rows = []
        for n, (face, matches) in enumerate(results):
            query_box = [round(v, 4) for v in face.box.as_list()]
            rows += [{**_match_dict(m, n), "query_box": query_box} for m in matches]
        print_json(rows)
        return 0
    if not results:
        print(f"no face found in {readable_path(args.image)}")
    for n, (face, matches) in enumerate(results):
        box = ", ".join(f"{v:.2f}" for v in face.box.as_list())
        print(f"face {n} at ({box}):")
        _print_tiers(matches, indent="  ")
    return 0


def cmd_similar(album: Album, args: argparse.Namespace) -> int:
    matches = album.similar_to_face(
        args.face_id, top=args.top, tolerance=args.tolerance, maybe=args.maybe
    )
    if args.json:
        print_json([_match_dict(m) for m in matches])
        return 0
    _print_tiers(matches, indent="")
    return 0


def _print_tiers(matches: list[Match], indent: str) -> None:
    """The same-person photos, most certain first; then the maybes (only there when asked for)."""
    from facealbum.model import Tier

    same = [m for m in matches if m.tier == Tier.SAME]
    maybe = [m for m in matches if m.tier == Tier.MAYBE]
    print(f"{indent}{len(same) or 'no'} photos of the same person")
    for m in same:
        print(_match_line(m, indent))
    if maybe:
        print(f"{indent}{len(maybe)} that may be the person:")
        for m in maybe:
            print(_match_line(m, indent))


def _match_line(m: Match, indent: str) -> str:
    return f"{indent}  {m.confidence or 0:.0%}  {readable_path(m.photo)}  (face {m.face_id})"


def cmd_lookalike(directory: Path, args: argparse.Namespace) -> int:
    """Nearest faces first, whoever they are: who the photo's faces resemble."""
    from facealbum.album import Album
    from facealbum.album.collections import is_library, open_collection
    from facealbum.engine.images import ImageLoadError

    image = _one_photo(args.image)
    where = Path(args.where).expanduser() if args.where else directory
    if args.where and not where.is_dir():
        raise CommandError(f"{args.where}: no such folder or library")
    if is_library(where):
        album = Album.open(where, create=False)
    elif args.where:
        album = _with_scan_feedback(lambda **kw: open_collection(where, **kw))
    else:
        raise CommandError(f"no facealbum library in {where} (`{PROG} scan PHOTOS` makes one)")
    with album:
        try:
            faces = album.faces_in_image(image)
        except ImageLoadError as e:
            raise CommandError(f"{args.image}: {e.reason}") from e
        reach = 2 * album.settings.tolerance  # similarity 0 there: anyone nearer is shown
        found = [
            (face, album.similar_to_encoding(face.encoding, top=args.top, tolerance=reach))
            for face in faces
        ]
        rows = [
            _lookalike_dict(album, n, face, m) for n, (face, ms) in enumerate(found) for m in ms
        ]
    if args.json:
        print_json(rows)
        return 0
    if not faces:
        print(f"no face found in {readable_path(args.image)}")
    for n, (_, matches) in enumerate(found):
        print(f"face {n}: {len(matches) or 'no'} look-alikes")
        for row in (r for r in rows if r["query_face"] == n):
            what = row["caption"] or Path(row["photo"]).name
            print(f"  {row['similarity']:.0%} alike  {what}  ({readable_path(row['photo'])})")
    return 0


def _one_photo(given: str) -> Path:
    image = Path(given)
    if image.is_dir():
        raise CommandError(f"{given} is a folder: give one photo")
    if not image.is_file():
        raise CommandError(f"{given}: no such file")
    return image


def _lookalike_dict(album: Album, query_face: int, face: Face, m: Match) -> dict[str, Any]:
    from facealbum.model import similarity

    art = album.artwork(m.photo_id)
    out = _match_dict(m, query_face)
    del out["tier"], out["confidence"]  # nearest first, whoever: no tiers here
    out["query_box"] = [round(v, 4) for v in face.box.as_list()]
    out["similarity"] = round(similarity(m.distance, album.settings.tolerance), 3)
    out.update(title=art.title, creator=art.creator, date=art.date, link=art.link)
    out["caption"] = art.caption()
    return out


# -- library ----------------------------------------------------------------------------


def cmd_stats(album: Album, args: argparse.Namespace) -> int:
    stats = {"library": str(album.directory), **album.stats()}
    if args.json:
        print_json(stats)
        return 0
    for key, value in stats.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        print(f"{key}: {value}")
    return 0


def _folder_dict(f: Any) -> dict[str, Any]:
    return {
        "id": f.id,
        "path": f.path,
        "photos": f.photo_count,
        "faces": f.face_count,
        "available": f.available,
        "offline": f.offline,
    }


def cmd_folders(album: Album, args: argparse.Namespace) -> int:
    if args.folder_command == "add":
        info = album.add_folder(args.path)
        if args.json:
            print_json(_folder_dict(info))
        else:
            print(f"added {info.path} (run `{PROG} scan {info.path}` to find its faces)")
        return 0
    if args.folder_command == "remove":
        target: str | int = args.path
        removed = album.remove_folder(int(target) if str(target).isdigit() else target)
        if args.json:
            print_json({"removed": args.path, "faces_removed": removed})
        else:
            print(f"removed {args.path} ({removed} faces forgotten; the photos are untouched)")
        return 0
    folders = album.folders()
    if args.json:
        print_json([_folder_dict(f) for f in folders])
        return 0
    if not folders:
        print(f"no folders yet (add one with `{PROG} folders add PATH`)")
    for f in folders:
        offline = f"  [offline: {f.offline}]" if f.offline else ""
        print(f"{f.id:>4}  {f.path}  {f.photo_count} photos, {f.face_count} faces{offline}")
    return 0
