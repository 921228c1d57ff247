"""The "not a face" action of the photo view and the People page: its key, its wording,
and the undoable facade calls behind it (a pet, a poster or a pattern the detector took
for a face leaves People for good; Edit > Undo takes it back)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from facealbum.ui.context import LibraryContext
from facealbum.ui.style import plural

if TYPE_CHECKING:
    from facealbum.album import Album

# Shift+Del, beside Del ("Not them" on a person's page): the same family, a stronger word.
NOT_A_FACE_KEY = "Shift+Del"
NOT_A_FACE_TEXT = "Not a face"  # the action, and the label of a marked face's box
IS_A_FACE_TEXT = "It is a face after all"
UNDO_HINT = "Ctrl+Z undoes"


def mark_faces(context: LibraryContext, face_ids: Sequence[int], owner: QObject) -> None:
    """These faces are no faces."""
    ids = list(face_ids)
    done = f"Marked {plural(len(ids), 'face')} as not a face"
    _act(context, owner, lambda a: a.mark_not_a_face(ids), done, "mark it as not a face")


def mark_groups(context: LibraryContext, group_ids: Sequence[int], owner: QObject) -> None:
    """Every face of these unnamed groups is no face (a group of dog faces)."""
    ids = list(group_ids)
    done = f"Marked {plural(len(ids), 'group')} as not faces"
    _act(context, owner, lambda a: a.mark_not_a_face(group_ids=ids), done, "mark them as not faces")


def unmark_faces(context: LibraryContext, face_ids: Sequence[int], owner: QObject) -> None:
    """These faces are faces after all: they are grouped and suggested again."""
    ids = list(face_ids)
    done = f"Took back 'not a face' for {plural(len(ids), 'face')}"
    _act(context, owner, lambda a: a.unmark_not_a_face(ids), done, "take back 'not a face'")


def _act(
    context: LibraryContext, owner: QObject, call: Callable[[Album], object], done: str, what: str
) -> None:
    context.act(call, f"{done} ({UNDO_HINT})", owner=owner, failure=f"Could not {what}")
