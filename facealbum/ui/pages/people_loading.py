"""What the People page shows, read from the library on a worker thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from facealbum.ui.pages.name_hints import hint_tile
from facealbum.ui.style import plural
from facealbum.ui.widgets.tiles import Tile

if TYPE_CHECKING:
    from facealbum.album import Album
    from facealbum.model import FaceInfo, GroupInfo

MAX_GROUPS = 400  # the largest groups; the rest are mostly single stray faces


@dataclass(frozen=True)
class PeopleTiles:
    people: list[Tile]
    groups: list[Tile]
    hints: list[Tile]  # faces other apps named in XMP, with a name nobody has here yet
    names: list[str]  # every person's name, hidden ones too, for completion


def load_people_and_groups(album: Album, include_hidden: bool) -> PeopleTiles:
    """Tiles for every person, the largest groups and the XMP names (on a worker thread)."""
    everyone = album.people(include_hidden=True)
    people = [p for p in everyone if include_hidden or not p.hidden]
    groups = album.groups(include_hidden=include_hidden, limit=MAX_GROUPS)
    # XMP names of people the library has are offered on that person's page instead.
    hints = [s for s in album.suggestions(source="xmp") if s.person_id is None][:MAX_GROUPS]
    wanted = [p.cover_face_id for p in people if p.cover_face_id is not None]
    wanted += [g.face_ids[0] for g in groups if g.face_ids]
    wanted += [s.face_id for s in hints]
    faces = album.faces_by_id(wanted)
    person_tiles = []
    for p in people:
        cover = faces.get(p.cover_face_id) if p.cover_face_id is not None else None
        hidden = " (hidden)" if p.hidden else ""
        waiting = (
            f"\n{plural(p.to_review, 'face')} may be {p.name}: open to say yes or no"
            if p.to_review
            else ""
        )
        person_tiles.append(
            Tile(
                p.id,
                p.name + hidden,
                f"{p.to_review:,} to review" if p.to_review else plural(p.photo_count, "photo"),
                cover.photo if cover else None,
                cover.box if cover else None,
                f"{p.name}: {plural(p.face_count, 'face')} in {plural(p.photo_count, 'photo')}"
                f"{waiting}\nDouble-click to open; drag onto someone to merge",
                p,
            )
        )
    group_tiles = [group_tile(g, faces.get(g.face_ids[0]) if g.face_ids else None) for g in groups]
    hint_tiles = [hint_tile(s, faces.get(s.face_id)) for s in hints]
    names = sorted((p.name for p in everyone), key=str.casefold)
    return PeopleTiles(person_tiles, group_tiles, hint_tiles, names)


def group_tile(group: GroupInfo, cover: FaceInfo | None) -> Tile:
    """An unnamed group: "Who is this?", or "Probably Mom?" when most of its faces are
    suggested for her."""
    size = plural(len(group.face_ids), "face")
    if group.hidden:
        title, tip = "Hidden group", ""
    elif group.probably is not None:
        title = f"Probably {group.probably[1]}?"
        tip = f"Most of these {size} look like {group.probably[1]}: select to say yes or no\n"
    else:
        title, tip = "Who is this?", ""
    return Tile(
        group.id,
        title,
        size,
        cover.photo if cover else None,
        cover.box if cover else None,
        f"{tip}Select, then type a name below; double-click to name;"
        " drag onto a person to give them these faces",
        group,
    )
