"""What the live engine hands the display: tracked faces and their library matches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

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


# What the pipeline calls with each new encoding; the facade builds one from a library.
MatchFn = Callable[[np.ndarray], Sequence[LiveMatch]]
