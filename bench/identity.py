"""Identity search benchmark: precision and recall of the same-person tier, per query.

Two libraries, every labelled face used as a query (its own photo left out):
  dev        the development photos (../shared/faces or $FACEALBUM_TEST_FACES: people/
             and groups/), scanned by the facade as a user would. The largest face of a
             people/<name>/ photo is that person; the faces of a group photo are the
             people labels.csv lists, each the face nearest their people/ photos.
             Run twice: with no names, and with each person named from one photo.
  synthetic  thousands of dlib-like faces (bench/synthetic.py) in photos of one to three
             faces, a tenth of the people with a look-alike twin whose photos sit
             0.52-0.60 from theirs, as the look-alike pairs measured for the issue.
Precision: same-tier photos that show the person / same-tier photos. Recall: photos of
the person found in the same tier / photos of the person. Targets: 0.99 and 0.95.
Writes bench/results/identity.json.

    python bench/identity.py [--synthetic-faces 6000] [--queries 400]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))
FACES_DIR = Path(os.environ.get("FACEALBUM_TEST_FACES", REPO_ROOT.parent / "shared" / "faces"))
RESULTS = REPO_ROOT / "bench" / "results" / "identity.json"

from facealbum.album import Album  # noqa: E402
from facealbum.db import scan_writes  # noqa: E402
from facealbum.model import Box, Face, PhotoAnalysis, Tier  # noqa: E402

TWIN_SHARE = 0.1  # people with a look-alike in the synthetic library
# The look-alike pairs measure 0.52-0.60 between their photos: the closest photos of
# a twin and the person sit this far apart.
TWIN_CLOSEST = (0.52, 0.56)


# -- scoring ----------------------------------------------------------------------------


def score(queries: list[dict]) -> dict:
    """Totals over all queries, and the queries that missed or let a stranger in."""
    right = sum(q["right"] for q in queries)
    wrong = sum(q["wrong"] for q in queries)
    true = sum(q["true"] for q in queries)
    return {
        "queries": len(queries),
        "precision": round(right / max(right + wrong, 1), 4),
        "recall": round(right / max(true, 1), 4),
        "strangers_in_same_tier": wrong,
        "photos_missed": true - right,
        "queries_with_a_stranger": sum(1 for q in queries if q["wrong"]),
        "queries_missing_a_photo": sum(1 for q in queries if q["right"] < q["true"]),
        "maybe_tier_photos": sum(q["maybe"] for q in queries),
        "maybe_tier_that_are_the_person": sum(q["maybe_right"] for q in queries),
        "calibration": calibration(queries),
    }


def run_queries(
    album: Album, queries: dict[int, str], label_of: dict[int, str], photo_of: dict[int, int]
) -> list[dict]:
    """Each face of `queries` searched for; the truth is every labelled photo of its person.
    Per query: photos of the person, right and wrong in the same tier, maybes."""
    photos_of: dict[str, set[int]] = defaultdict(set)
    for face, who in label_of.items():
        photos_of[who].add(photo_of[face])
    out = []
    for face, who in sorted(queries.items()):
        truth = photos_of[who] - {photo_of[face]}
        if not truth:
            continue
        found = album.similar_to_face(face)
        same = {m.photo_id for m in found if m.tier == Tier.SAME}
        maybe = {m.photo_id for m in found if m.tier == Tier.MAYBE}
        out.append(
            {"face": face, "person": who, "true": len(truth), "right": len(same & truth),
             "wrong": len(same - truth), "maybe": len(maybe), "maybe_right": len(maybe & truth),
             "confidence": [(m.confidence, m.photo_id in truth, round(m.distance, 4))
                            for m in found]}
        )  # fmt: skip
    return out


def _badness(query: dict) -> int:
    """Strangers weigh most, then missed photos (for sorting the worst queries first)."""
    return -(query["wrong"] * 10 + query["true"] - query["right"])


def calibration(queries: list[dict]) -> list[dict]:
    """Results of both tiers by confidence band: how many were the person, against how many
    the confidence promised."""
    bands = [(0.0, 0.5), (0.5, 0.8), (0.8, 0.95), (0.95, 0.99), (0.99, 1.01)]
    out = []
    for low, high in bands:
        hits = [(c, r) for q in queries for c, r, _ in q["confidence"] if low <= c < high]
        if hits:
            out.append(
                {"confidence": f"{low:.2f}-{min(high, 1.0):.2f}", "results": len(hits),
                 "mean_confidence": round(float(np.mean([c for c, _ in hits])), 3),
                 "share_that_are_the_person": round(float(np.mean([r for _, r in hits])), 3)}
            )  # fmt: skip
    return out


# -- the development photos --------------------------------------------------------------


def dev_library(directory: Path) -> tuple[Album, dict[int, str], dict[int, int]]:
    """Scan people/ and groups/; label each face (face id -> person) as the module says."""
    album = Album.open(directory)
    for sub in ("people", "groups"):
        album.add_folder(FACES_DIR / sub)
    album.scan()
    with open(FACES_DIR / "labels.csv", newline="", encoding="utf-8") as f:
        listed = {row["path"]: row["identities"].split(";") for row in csv.DictReader(f)}
    faces = {}
    for pid in album.photo_ids():
        info = album.photo(pid)
        assert info is not None
        rel = Path(info.path).relative_to(FACES_DIR).as_posix()
        faces[rel] = album.faces_in_photo(pid)
    label_of: dict[int, str] = {}
    photo_of: dict[int, int] = {}
    for rel, found in faces.items():
        for f in found:
            photo_of[f.id] = f.photo_id
        if rel.startswith("people/") and found:
            largest = max(found, key=lambda f: f.size_px)
            label_of[largest.id] = rel.split("/")[1]
    centres = _centres(album, label_of)
    for rel, found in faces.items():
        if not rel.startswith("groups/"):
            continue
        taken: set[int] = set()
        for who in listed.get(rel, []):
            if who not in centres:
                continue
            free = [f for f in found if f.id not in taken]
            if not free:
                break
            best = min(free, key=lambda f: _distance(album, f.id, centres[who]))
            taken.add(best.id)
            label_of[best.id] = who
    return album, label_of, photo_of


def _encoding(album: Album, face_id: int) -> np.ndarray:
    from facealbum.db import queries

    vector = queries.encoding_of(album._store.conn, face_id)
    assert vector is not None
    return vector


def _distance(album: Album, face_id: int, centre: np.ndarray) -> float:
    return float(np.linalg.norm(_encoding(album, face_id) - centre))


def _centres(album: Album, label_of: dict[int, str]) -> dict[str, np.ndarray]:
    by_person: dict[str, list[np.ndarray]] = defaultdict(list)
    for face, who in label_of.items():
        by_person[who].append(_encoding(album, face))
    return {who: np.mean(v, axis=0) for who, v in by_person.items()}


def name_one_photo_each(album: Album, label_of: dict[int, str]) -> dict[int, str]:
    """Name each person from their first photo, as a user starting out would; returns the
    labels of the faces left as queries (the named ones are the library's knowledge)."""
    first: dict[str, int] = {}
    for face, who in sorted(label_of.items()):
        first.setdefault(who, face)
    for who, face in first.items():
        album.assign_faces([face], album.create_person(who))
    named = set(first.values())
    return {f: who for f, who in label_of.items() if f not in named}


# -- the synthetic library ---------------------------------------------------------------


def synthetic_library(
    directory: Path, n_faces: int, seed: int = 0
) -> tuple[Album, dict[int, str], dict[int, int]]:
    from synthetic import synthetic_encodings

    rng = np.random.default_rng(seed)
    identities = max(2, n_faces // 12)
    vectors, labels = synthetic_encodings(n_faces, identities, seed=seed)
    vectors = vectors.astype(np.float64)
    _make_twins(vectors, labels, identities, rng)
    order = rng.permutation(n_faces)
    photos: list[list[int]] = []
    i = 0
    while i < n_faces:  # photos of one to three faces, of different people
        size = int(rng.choice([1, 1, 1, 2, 3]))
        group: list[int] = []
        while i < n_faces and len(group) < size:
            if all(labels[order[i]] != labels[g] for g in group):
                group.append(int(order[i]))
            i += 1
        photos.append(group)
    album = Album.open(directory)
    folder = album.add_folder(directory.parent).id
    face_rows: list[int] = []

    def write(conn) -> scan_writes.FaceChanges:
        changes = scan_writes.FaceChanges()
        for n, group in enumerate(photos):
            faces = tuple(
                Face(Box(0.1 + 0.3 * j, 0.1, 0.3 + 0.3 * j, 0.4), 0.95, 120, 50.0,
                     vectors[g].astype(np.float32))
                for j, g in enumerate(group)
            )  # fmt: skip
            path = f"{directory.parent}/synthetic/{n:06d}.jpg"
            a = PhotoAnalysis(path, 1000, 0.0, f"{n:032x}", 4000, 3000, None, faces)
            changes.extend(scan_writes.save_analysis(conn, folder, a)[1])
            face_rows.extend(group)
        return changes

    added = album._sync.write_faces(write).added_ids
    label_of = {int(f): f"p{labels[row]}" for f, row in zip(added, face_rows, strict=True)}
    photo_of = {f.id: f.photo_id for f in album.faces_by_id(list(label_of)).values()}
    return album, label_of, photo_of


def _make_twins(
    vectors: np.ndarray, labels: np.ndarray, identities: int, rng: np.random.Generator
) -> None:
    """Move a tenth of the people next to another person: their look-alike twin, whose
    closest photo sits TWIN_CLOSEST from the person's closest."""
    people = rng.permutation(identities)
    twins = int(identities * TWIN_SHARE)
    for a, b in zip(people[:twins], people[twins : 2 * twins], strict=True):
        rows_a, rows_b = labels == a, labels == b
        if not rows_a.any() or not rows_b.any():
            continue
        target = rng.uniform(*TWIN_CLOSEST)
        for _ in range(40):  # shift b's faces along the line of centres until they sit there
            pairs = np.linalg.norm(vectors[rows_a][:, None] - vectors[rows_b][None], axis=2)
            closest = float(pairs.min())
            if abs(closest - target) < 0.003:
                break
            line = vectors[rows_a].mean(0) - vectors[rows_b].mean(0)
            vectors[rows_b] += (closest - target) * line / np.linalg.norm(line)


# -- main -------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic-faces", type=int, default=6000)
    parser.add_argument("--queries", type=int, default=400, help="synthetic queries (sample)")
    args = parser.parse_args()
    if not (FACES_DIR / "labels.csv").is_file():
        print(f"development photos not found at {FACES_DIR}", file=sys.stderr)
        return 2
    started = time.monotonic()
    out: dict = {
        "benchmark": "identity search: the same-person tier",
        "targets": {"precision": 0.99, "recall": 0.95},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }
    with tempfile.TemporaryDirectory() as tmp:
        album, label_of, photo_of = dev_library(Path(tmp) / "dev")
        with album:
            plain = run_queries(album, label_of, label_of, photo_of)
            left = name_one_photo_each(album, label_of)
            named = run_queries(album, left, label_of, photo_of)
        out["dev"] = {
            "faces_labelled": len(label_of),
            "people": len(set(label_of.values())),
            "no_names": score(plain),
            "one_photo_named_each": score(named),
            "per_query_no_names": plain,
            "per_query_one_photo_named_each": named,
        }
        root = Path(tmp) / "synthetic" / "library"
        root.parent.mkdir()
        album, label_of, photo_of = synthetic_library(root, args.synthetic_faces)
        with album:
            rng = np.random.default_rng(1)
            sample = rng.choice(sorted(label_of), min(args.queries, len(label_of)), False)
            chosen = {int(f): label_of[int(f)] for f in sample}
            queries = run_queries(album, chosen, label_of, photo_of)
        out["synthetic"] = {
            "faces": args.synthetic_faces,
            "twin_share": TWIN_SHARE,
            "twin_closest_photos": TWIN_CLOSEST,
            **score(queries),
            "worst_queries": sorted(
                queries, key=lambda q: -(q["wrong"] * 10 + q["true"] - q["right"])
            )[:15],
        }
    out["run_seconds"] = round(time.monotonic() - started, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1) + "\n")
    parts = [("dev, no names", out["dev"]["no_names"]),
             ("dev, one photo named each", out["dev"]["one_photo_named_each"]),
             ("synthetic", out["synthetic"])]  # fmt: skip
    for name, part in parts:
        print(
            f"{name}: precision {part['precision']}, recall {part['recall']}, strangers "
            f"{part['strangers_in_same_tier']}, missed {part['photos_missed']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
