"""Benchmark: how many suggestions are right and how many wrong, nearest-face rule against
the support rule (the mean distance to a person's nearest few faces, engine/suggest.py).

    python bench/suggest_quality.py                 # synthetic 100k faces + real photos
    python bench/suggest_quality.py --no-real       # synthetic only

Synthetic: 100k dlib-like faces of 5k identities (bench/synthetic.py); 300 people named
with 1, 2, 3, 5 or 10 faces of their identity. A suggestion is right when the face is of
the person's identity; every other one is wrong (mostly strangers).
Real: the labelled photos (../shared/faces) copied at most 1600 px on the long side
(tests/library_builder.py), scanned into a library; each person with two or more photos
is named on the face of their first photo (then of their first two), and the library's
own suggestions are judged against labels.csv.

Writes bench/results/suggest_quality.json.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests"))

from facealbum.album import grouping as album_grouping  # noqa: E402
from facealbum.engine.faceset import FaceTable  # noqa: E402
from facealbum.engine.suggest import SuggestParams, suggest_people  # noqa: E402

RESULTS = REPO / "bench" / "results" / "suggest_quality.json"
FACES_DIR = Path(os.environ.get("FACEALBUM_TEST_FACES", REPO.parent / "shared" / "faces"))
SIZES = (1, 2, 3, 5, 10)  # faces the user named, per person, in turn
# The nearest-face rule: any one face within the tolerance is enough.
RULES = {"nearest_face": SuggestParams(support_margin=-10.0), "support": SuggestParams()}


def synthetic(n_faces: int, n_identities: int, n_named: int) -> dict:
    from synthetic import synthetic_encodings

    enc, identity = synthetic_encodings(n_faces, n_identities)
    person = np.zeros(n_faces, np.int64)
    for p in range(n_named):
        person[np.flatnonzero(identity == p)[: SIZES[p % len(SIZES)]]] = p + 1
    ids = np.arange(1, n_faces + 1)
    table = FaceTable.of(ids, enc, ids, person_ids=person)
    true_faces = int(np.sum((identity < n_named) & (person == 0)))
    out: dict = {"faces": n_faces, "identities": n_identities, "named_people": n_named,
                 "named_faces_per_person": list(SIZES), "true_faces": true_faces}  # fmt: skip
    for name, params in RULES.items():
        start = time.perf_counter()
        found = suggest_people(table, table, params=params, allow_auto=False)
        seconds = time.perf_counter() - start
        right = sum(identity[s.face_id - 1] == s.person_id - 1 for s in found)
        out[name] = {"suggested": len(found), "right": int(right),
                     "wrong": len(found) - int(right), "seconds": round(seconds, 2)}  # fmt: skip
        print(name, out[name], flush=True)
    return out


def _labels() -> list[tuple[str, list[str]]]:
    with open(FACES_DIR / "labels.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [(r["path"], [i for i in r["identities"].split(";") if i]) for r in rows]


def _truth(album, by_path: dict[str, list[str]]) -> dict[int, str]:
    """face id -> identity: the face of a one-face photo is its person; each face of a group
    photo takes the nearest listed person (by centroid), the rest are strangers."""
    photos = album.photos(album.photo_ids())
    faces = {pid: album.faces_in_photo(pid) for pid in photos}
    enc = {r[0]: np.frombuffer(r[1], np.float32)
           for r in album._store.conn.execute("SELECT id, encoding FROM faces")}  # fmt: skip
    out: dict[int, str] = {}
    seen: dict[str, list[np.ndarray]] = {}
    for pid, info in photos.items():
        names = by_path.get(info.path, [])
        if len(faces[pid]) == 1 and len(names) == 1 and names[0] != "?":
            out[faces[pid][0].id] = names[0]
            seen.setdefault(names[0], []).append(enc[faces[pid][0].id])
    centroid = {n: np.mean(v, axis=0) for n, v in seen.items()}
    for pid, info in photos.items():
        todo = [f.id for f in faces[pid] if f.id not in out]
        names = [n for n in by_path.get(info.path, []) if n in centroid]
        for _, f, n in sorted(
            (float(np.linalg.norm(enc[f] - centroid[n])), f, n) for f in todo for n in names
        ):
            if f not in out and n not in [out.get(g) for g in todo]:
                out[f] = n
        for f in todo:
            out.setdefault(f, "?")
    return out


def _judge(album, truth: dict[int, str], rule: SuggestParams) -> dict:
    patched = functools.partial(
        SuggestParams, support_faces=rule.support_faces, support_margin=rule.support_margin
    )
    original = album_grouping.SuggestParams
    album_grouping.SuggestParams = patched
    try:
        album.regroup()  # suggestions of every unassigned face again, under this rule
    finally:
        album_grouping.SuggestParams = original
    name_of = {p.id: p.name for p in album.people()}
    found = [s for s in album.suggestions() if s.source == "similar"]
    right = [s for s in found if truth.get(s.face_id) == name_of.get(s.person_id)]
    named = set(name_of.values())
    missed = [f for f, n in truth.items() if n in named and album.face(f).person_id is None]
    return {"suggested": len(found), "right": len(right), "wrong": len(found) - len(right),
            "faces_of_named_people_unassigned": len(missed),
            "wrong_examples": sorted(
                f"{truth.get(s.face_id)} as {name_of.get(s.person_id)} ({s.confidence:.2f})"
                for s in found if s not in right)}  # fmt: skip


def real() -> dict:
    from library_builder import reduced_copy

    from facealbum.album import Album
    from facealbum.config import Settings

    rows = _labels()
    with tempfile.TemporaryDirectory() as tmp:
        by_path = {}
        for rel, names in rows:
            copy = reduced_copy(FACES_DIR / rel, Path(tmp) / "photos" / Path(rel).with_suffix(
                ".jpg"), long_side=1600)  # fmt: skip
            by_path[str(copy)] = names
        with Album.open(Path(tmp) / "library") as album:
            album.update_settings(Settings(auto_assign=False))
            album.add_folder(Path(tmp) / "photos")
            start = time.perf_counter()
            album.scan()
            scan_s = time.perf_counter() - start
            truth = _truth(album, by_path)
            singles: dict[str, list[int]] = {}
            photos = album.photos(album.photo_ids())
            for pid, info in sorted(photos.items(), key=lambda item: item[1].path):
                faces = album.faces_in_photo(pid)
                if "/people/" in info.path and len(faces) == 1 and truth[faces[0].id] != "?":
                    singles.setdefault(truth[faces[0].id], []).append(faces[0].id)
            out: dict = {"faces": len(truth), "scan_s": round(scan_s, 1)}
            for n_named in (1, 2):
                for name, faces in singles.items():
                    if len(faces) > n_named:
                        album.assign_faces(faces[n_named - 1 : n_named], album.create_person(name))
                out[f"named_{n_named}"] = {
                    "people": len(album.people()),
                    **{rule: _judge(album, truth, params) for rule, params in RULES.items()},
                }
                print(n_named, out[f"named_{n_named}"], flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--identities", type=int, default=5_000)
    parser.add_argument("--named", type=int, default=300)
    parser.add_argument("--no-real", action="store_true")
    args = parser.parse_args()
    result = {"synthetic": synthetic(args.faces, args.identities, args.named)}
    if not args.no_real and (FACES_DIR / "labels.csv").is_file():
        result["real"] = real()
    result["rules"] = {
        "nearest_face": "nearest named face of the person within the tolerance (0.6)",
        "support": "and the mean distance to their nearest 3 faces (fewer if they have"
        " fewer) within tolerance - 0.07",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
