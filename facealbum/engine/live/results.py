"""What the live engine hands the display: tracked faces and their library matches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from facealbum.model import Box, Match


@dataclass(frozen=True)
class LiveMatch:
    """One library face that looks like a live face."""

    match: Match
    name: str | None  # the person the library face belongs to, if named


@dataclass(frozen=True)
class LiveFace:
    track_id: int
    box: Box  # normalised to the frame
    matches: tuple[LiveMatch, ...] = ()  # nearest first; empty until first encoded


@dataclass(frozen=True)
class LiveFrame:
    """What the display draws: the newest frame with the newest boxes and matches."""

    seq: int
    rgb: np.ndarray = field(repr=False)
    faces: tuple[LiveFace, ...]


MatchFn = Callable[[np.ndarray], Sequence[LiveMatch]]


def library_match_fn(library: Any, top: int = 3) -> MatchFn:
    """Matches from a library with the facade's similar_to_encoding() and face().

    Look-alikes are wanted, not only the same person: faces up to twice the library's
    tolerance count (the similarity shown reaches 0% there).
    """
    reach = 2.0 * float(library.settings.tolerance)

    def match(encoding: np.ndarray) -> list[LiveMatch]:
        found = library.similar_to_encoding(encoding, top=top, tolerance=reach)
        out = []
        for m in found:
            info = library.face(m.face_id)
            out.append(LiveMatch(m, info.person_name if info is not None else None))
        return out

    return match
