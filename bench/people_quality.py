"""Quality of the library's groups on the labelled photos, through the real facade.

    python bench/people_quality.py     # writes bench/results/people_quality.json

The labelled photos (../shared/faces) are scanned into a fresh temporary library, exactly
as a user would; album.groups() is then scored with BCubed precision/recall against the
identities of labels.csv (each '?' face, and each face of an unlabelled photo, is its own
identity; a face in no group counts as a group of its own). Scored twice: the groups the
scan left (incremental joins) and after a full regroup. Target: P >= 0.98, R >= 0.90.
"""

from __future__ import annotations

import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from facealbum.album import Album  # noqa: E402
from facealbum.engine.cluster import bcubed  # noqa: E402

FACES_DIR = REPO.parent / "shared" / "faces"
RESULTS = REPO / "bench" / "results" / "people_quality.json"


def read_labels() -> dict[str, list[str]]:
    with open(FACES_DIR / "labels.csv", newline="", encoding="utf-8") as f:
        return {
            str(FACES_DIR / r["path"]): [i for i in r["identities"].split(";") if i]
            for r in csv.DictReader(f)
        }


def identities(album: Album, labels: dict[str, list[str]]) -> dict[int, str]:
    """face id -> identity. Single-face photos give centroids; faces of group photos take
    the nearest listed identity (each once), the others stay unknown."""
    photos = album.photos(album.photo_ids())
    faces = {pid: album.faces_in_photo(pid) for pid in photos}
    conn = album._store.conn
    enc = {
        r[0]: np.frombuffer(r[1], np.float32)
        for r in conn.execute("SELECT id, encoding FROM faces")
    }
    out: dict[int, str] = {}
    by_name: dict[str, list[np.ndarray]] = {}
    for pid, info in photos.items():
        names = labels.get(info.path, [])
        if len(faces[pid]) == 1 and len(names) == 1 and names[0] != "?":
            out[faces[pid][0].id] = names[0]
            by_name.setdefault(names[0], []).append(enc[faces[pid][0].id])
    centroids = {n: np.mean(v, axis=0) for n, v in by_name.items()}
    for pid, info in photos.items():
        todo = [f.id for f in faces[pid] if f.id not in out]
        names = [n for n in labels.get(info.path, []) if n in centroids]
        pairs = sorted(
            (float(np.linalg.norm(enc[f] - centroids[n])), f, n) for f in todo for n in names
        )
        for _, f, n in pairs:
            if f not in out and n not in [out.get(g) for g in todo]:
                out[f] = n
        for f in todo:
            out.setdefault(f, f"?{f}")
    return out


def score(album: Album, truth: dict[int, str]) -> dict[str, float | int]:
    group_of = {f: g.id for g in album.groups(include_hidden=True) for f in g.face_ids}
    ids = sorted(truth)
    predicted = [group_of.get(f, -f) for f in ids]
    p, r = bcubed(np.array([truth[f] for f in ids]), np.array(predicted))
    return {
        "precision": round(p, 4),
        "recall": round(r, 4),
        "groups": len(album.groups(include_hidden=True)),
        "faces_in_groups": len(group_of),
    }


def main() -> None:
    labels = read_labels()
    with tempfile.TemporaryDirectory() as tmp, Album.open(Path(tmp) / "library") as album:
        album.add_folder(FACES_DIR)
        start = time.perf_counter()
        album.scan()
        scan_seconds = time.perf_counter() - start
        truth = identities(album, labels)
        after_scan = score(album, truth)
        start = time.perf_counter()
        album.regroup(full=True)
        regroup_seconds = time.perf_counter() - start
        after_regroup = score(album, truth)
        result = {
            "photos": len(album.photo_ids()),
            "faces": len(truth),
            "identities": len(set(truth.values())),
            "scan_seconds": round(scan_seconds, 1),
            "after_scan": after_scan,
            "regroup_seconds": round(regroup_seconds, 3),
            "after_full_regroup": after_regroup,
            "target": {"precision": 0.98, "recall": 0.90},
        }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
