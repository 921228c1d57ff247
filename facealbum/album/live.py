"""The live look-alike camera as the UI sees it: engine/live's pipeline, sources and
values, and the match function that looks a live face up in an Album."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from facealbum.engine.live import (
    FrameSource,
    LiveFace,
    LiveFrame,
    LiveMatch,
    LivePipeline,
    MatchFn,
    SourceError,
    probe_cameras,
)

if TYPE_CHECKING:
    from facealbum.album.library import Album

__all__ = [
    "FrameSource",
    "LiveFace",
    "LiveFrame",
    "LiveMatch",
    "LivePipeline",
    "MatchFn",
    "SourceError",
    "library_match_fn",
    "probe_cameras",
]


def library_match_fn(library: Album, top: int = 3) -> MatchFn:
    """Matches from a library with the facade's similar_to_encoding().

    Look-alikes are wanted, not only the same person: faces up to twice the library's
    tolerance count (the similarity shown reaches 0% there).
    """
    reach = 2.0 * float(library.settings.tolerance)

    def match(encoding: np.ndarray) -> list[LiveMatch]:
        found = library.similar_to_encoding(encoding, top=top, tolerance=reach)
        return [LiveMatch(m, m.person_name) for m in found]

    return match
