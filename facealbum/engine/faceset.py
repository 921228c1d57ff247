"""The library's faces as parallel numpy arrays: what grouping and suggestions work on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from facealbum.model import ENCODING_DIM

# How a face got its person (faces.assigned_by); anything else means "no person yet".
NOT_ASSIGNED, ASSIGNED_AUTO, ASSIGNED_USER = 0, 1, 2
_ASSIGNMENT_CODES = {"auto": ASSIGNED_AUTO, "user": ASSIGNED_USER}


def assignment_codes(values: Sequence[str | None] | np.ndarray) -> np.ndarray:
    """int8 codes for assigned_by values: "user", "auto"; anything else (None, "suggested")
    is NOT_ASSIGNED, since a suggestion is not an assignment."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int8)
    return np.array([_ASSIGNMENT_CODES.get(v, NOT_ASSIGNED) for v in values], dtype=np.int8)


@dataclass(frozen=True, eq=False)
class FaceTable:
    """n faces, row i of every array describing the same face.

    face_ids     int64 (n,)     unique database ids
    encodings    float32 (n,128)
    photo_ids    int64 (n,)     faces sharing a photo are never the same person
    person_ids   int64 (n,)     0 = no person
    assigned_by  int8 (n,)      NOT_ASSIGNED / ASSIGNED_AUTO / ASSIGNED_USER
    group_ids    int64 (n,)     candidate group of an unassigned face, 0 = none
    groupable    bool (n,)      see quality.is_groupable
    """

    face_ids: np.ndarray
    encodings: np.ndarray
    photo_ids: np.ndarray
    person_ids: np.ndarray
    assigned_by: np.ndarray
    group_ids: np.ndarray
    groupable: np.ndarray

    @classmethod
    def of(
        cls,
        face_ids: Sequence[int] | np.ndarray,
        encodings: np.ndarray,
        photo_ids: Sequence[int] | np.ndarray,
        *,
        person_ids: Sequence[int] | np.ndarray | None = None,
        assigned_by: Sequence[str | None] | np.ndarray | None = None,
        group_ids: Sequence[int] | np.ndarray | None = None,
        groupable: Sequence[bool] | np.ndarray | None = None,
    ) -> FaceTable:
        """Build a table, filling what is not given: no people, no groups, all groupable.

        A face with a person but no assigned_by counts as assigned by the user.
        """
        ids = np.asarray(face_ids, dtype=np.int64).reshape(-1)
        n = len(ids)
        enc = np.ascontiguousarray(encodings, dtype=np.float32)
        # reshape(0, -1) is ambiguous for numpy: an empty table still has 128 columns.
        if n:
            enc = enc.reshape(n, -1)
        else:
            enc = enc.reshape(0, enc.shape[-1] if enc.ndim == 2 else ENCODING_DIM)
        people = np.zeros(n, np.int64) if person_ids is None else np.asarray(person_ids, np.int64)
        if assigned_by is None:
            how = np.where(people > 0, ASSIGNED_USER, NOT_ASSIGNED).astype(np.int8)
        else:
            how = assignment_codes(assigned_by)
        how = np.where(people > 0, how, NOT_ASSIGNED).astype(np.int8)
        people = np.where(how != NOT_ASSIGNED, people, 0)
        table = cls(
            face_ids=ids,
            encodings=enc,
            photo_ids=np.asarray(photo_ids, dtype=np.int64).reshape(n),
            person_ids=people,
            assigned_by=how,
            group_ids=np.zeros(n, np.int64) if group_ids is None else np.asarray(group_ids, "i8"),
            groupable=np.ones(n, bool) if groupable is None else np.asarray(groupable, bool),
        )
        if len(np.unique(ids)) != n:
            raise ValueError("face ids must be unique")
        return table

    def __len__(self) -> int:
        return len(self.face_ids)

    @property
    def assigned(self) -> np.ndarray:
        """Rows whose person was set by the user or automatically: fixed for grouping."""
        return self.person_ids > 0

    def subset(self, rows: np.ndarray) -> FaceTable:
        """The faces at `rows` (a bool mask or positions), in that order."""
        return FaceTable(
            face_ids=self.face_ids[rows],
            encodings=self.encodings[rows],
            photo_ids=self.photo_ids[rows],
            person_ids=self.person_ids[rows],
            assigned_by=self.assigned_by[rows],
            group_ids=self.group_ids[rows],
            groupable=self.groupable[rows],
        )

    @cached_property
    def _id_order(self) -> np.ndarray:
        return np.argsort(self.face_ids, kind="stable")

    def rows_of(self, face_ids: np.ndarray) -> np.ndarray:
        """Row of each id in this table, -1 where the id is not here (any shape)."""
        face_ids = np.asarray(face_ids, dtype=np.int64)
        order = self._id_order
        if len(order) == 0:
            return np.full(face_ids.shape, -1, np.int64)
        sorted_ids = self.face_ids[order]
        at = np.clip(np.searchsorted(sorted_ids, face_ids), 0, len(order) - 1)
        return np.where(sorted_ids[at] == face_ids, order[at], -1)
