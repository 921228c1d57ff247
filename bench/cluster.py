"""Grouping quality on the labelled photos and speed/memory at 100k faces.

    python bench/cluster.py            # everything, writes bench/results/cluster.json
    python bench/cluster.py --quick    # real photos without augmented copies, 20k synthetic faces

Quality is BCubed precision/recall of the groups against labels.csv (every '?' its own
identity). Real photos are also re-encoded as mirrored+recompressed and half-size copies,
each a photo of its own, to check that the grouping survives what a real library holds.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from facealbum.engine import cluster  # noqa: E402
from facealbum.engine.quality import is_groupable  # noqa: E402

FACES_DIR = REPO.parent / "shared" / "faces"
RESULTS = REPO / "bench" / "results" / "cluster.json"
MAX_SIDE = 1600


# ---------------------------------------------------------------- encoding real photos


@dataclass
class Detected:
    """One face found in one photo, with what the grouping needs and its true identity."""

    photo_id: int
    center_x: float  # normalised, to match faces across augmented copies
    center_y: float
    size_px: int
    sharpness: float
    score: float
    encoding: np.ndarray
    identity: str = ""


class DlibEncoder:
    """HOG detector + 5-point landmarks + ResNet encoder, as the scanner uses them."""

    def __init__(self) -> None:
        import dlib
        import face_recognition_models as frm

        self.dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        self.encoder = dlib.face_recognition_model_v1(frm.face_recognition_model_location())

    def faces(self, image: Image.Image, photo_id: int) -> list[Detected]:
        import cv2

        image = ImageOps.exif_transpose(image).convert("RGB")
        scale = min(1.0, MAX_SIDE / max(image.size))
        small = image.resize((round(image.width * scale), round(image.height * scale)))
        pixels = np.asarray(small)
        rects, scores, _ = self.detector.run(pixels, 1)
        found = []
        for rect, score in zip(rects, scores, strict=True):
            shape = self.predictor(pixels, rect)
            encoding = np.asarray(self.encoder.compute_face_descriptor(pixels, shape, 1))
            chip = self.dlib.get_face_chip(pixels, shape, size=150)
            grey = cv2.cvtColor(np.asarray(chip), cv2.COLOR_RGB2GRAY)
            found.append(
                Detected(
                    photo_id=photo_id,
                    center_x=(rect.left() + rect.right()) / 2 / small.width,
                    center_y=(rect.top() + rect.bottom()) / 2 / small.height,
                    size_px=round(rect.width() / scale),
                    sharpness=float(cv2.Laplacian(grey, cv2.CV_64F).var()),
                    score=float(score),
                    encoding=encoding.astype(np.float32),
                )
            )
        return found


def _recompress(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer)


def augmented_copies(image: Image.Image) -> list[tuple[Image.Image, bool]]:
    """(copy, mirrored) pairs: mirrored + JPEG q50, and half size + JPEG q70."""
    image = ImageOps.exif_transpose(image).convert("RGB")
    half = image.resize((max(1, image.width // 2), max(1, image.height // 2)))
    return [(_recompress(ImageOps.mirror(image), 50), True), (_recompress(half, 70), False)]


def read_labels(faces_dir: Path) -> list[tuple[str, list[str]]]:
    with open(faces_dir / "labels.csv", newline="", encoding="utf-8") as f:
        return [
            (r["path"], [i for i in r["identities"].split(";") if i]) for r in csv.DictReader(f)
        ]


def _label_photo(found: list[Detected], names: list[str], centroids: dict, tag: str) -> None:
    """Give each detection an identity: labelled people by nearest centroid, the rest by x."""
    unknown = [f"?{tag}:{i}" for i in range(len(found))]
    known = [n for n in names if n in centroids]
    rest = [n for n in names if n not in centroids]
    best: tuple[float, tuple[int, ...]] = (np.inf, ())
    for chosen in itertools.permutations(range(len(found)), min(len(known), len(found))):
        cost = sum(
            float(np.linalg.norm(found[d].encoding - centroids[n]))
            for d, n in zip(chosen, known, strict=False)
        )
        best = min(best, (cost, chosen))
    for d, name in zip(best[1], known, strict=False):
        found[d].identity = name
    left = sorted((f for f in found if not f.identity), key=lambda f: f.center_x)
    for face, name in itertools.zip_longest(left, rest):
        if face is None:
            break
        face.identity = unknown[found.index(face)] if name in (None, "?") else name


def _label_copy(copy: list[Detected], original: list[Detected], mirrored: bool, tag: str) -> None:
    """A face in an augmented copy is whoever sat at the same place in the original."""
    for i, face in enumerate(copy):
        x = 1 - face.center_x if mirrored else face.center_x
        near = min(
            original,
            key=lambda o: (o.center_x - x) ** 2 + (o.center_y - face.center_y) ** 2,
            default=None,
        )
        if near is not None and abs(near.center_x - x) + abs(near.center_y - face.center_y) < 0.1:
            face.identity = near.identity
        else:
            face.identity = f"?{tag}:{i}"


def encode_labelled(faces_dir: Path, augment: bool) -> list[Detected]:
    """Every face of the labelled photos (and their augmented copies) with its identity."""
    encoder = DlibEncoder()
    rows = read_labels(faces_dir)
    per_photo: list[list[Detected]] = []
    for photo_id, (path, _) in enumerate(rows, start=1):
        with Image.open(faces_dir / path) as image:
            per_photo.append(encoder.faces(image, photo_id))
    # Centroids of people from their single-face photos, to name faces in group photos.
    sums: dict[str, list[np.ndarray]] = {}
    for (_, names), found in zip(rows, per_photo, strict=True):
        if len(found) == 1 and len(names) == 1 and names[0] != "?":
            sums.setdefault(names[0], []).append(found[0].encoding)
    centroids = {n: np.mean(v, axis=0) for n, v in sums.items()}
    for (path, names), found in zip(rows, per_photo, strict=True):
        _label_photo(found, names, centroids, path)
    faces = [f for found in per_photo for f in found]
    if augment:
        next_id = len(rows) + 1
        for (path, _), found in zip(rows, per_photo, strict=True):
            with Image.open(faces_dir / path) as image:
                copies = augmented_copies(image)
            for n, (copy, mirrored) in enumerate(copies):
                extra = encoder.faces(copy, next_id)
                _label_copy(extra, found, mirrored, f"{path}#{n}")
                faces.extend(extra)
                next_id += 1
    return faces


# ---------------------------------------------------------------- quality


LINKAGES = {
    "single (connected components)": cluster.GroupingParams(linkage="single"),
    "centroid 0.40": cluster.GroupingParams(linkage="centroid", group_distance=0.4),
    "average 0.55 (default)": cluster.GroupingParams(),
}


def score_grouping(truth: np.ndarray, labels: np.ndarray) -> dict:
    precision, recall = cluster.bcubed(truth, cluster.singletons_apart(labels))
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "groups": int(labels.max(initial=-1) + 1),
        "ungrouped_share": round(float(np.mean(labels < 0)), 4),
    }


def real_quality(faces: list[Detected]) -> dict:
    """BCubed of each linkage on the photos alone and with their augmented copies."""
    out = {}
    n_photos = len(read_labels(FACES_DIR))
    originals = [f for f in faces if f.photo_id <= n_photos]
    for name, subset in (("photos", originals), ("augmented", faces)):
        keep = is_groupable(
            np.array([f.size_px for f in subset]),
            np.array([f.sharpness for f in subset]),
            np.array([f.score for f in subset]),
        )
        used = [f for f, k in zip(subset, keep, strict=True) if k]
        enc = np.stack([f.encoding for f in used])
        photos = np.array([f.photo_id for f in used])
        truth = np.array([f.identity for f in used])
        out[name] = {
            "faces": len(subset),
            "groupable": len(used),
            "identities": len(set(truth.tolist())),
            "linkages": {
                label: score_grouping(truth, cluster.group_faces(enc, photos, params=params))
                for label, params in LINKAGES.items()
            },
        }
    return out


# ---------------------------------------------------------------- synthetic scale


def synthetic_library(n_faces: int, n_identities: int, seed: int, lookalikes: bool):
    """Encodings, identities and photo ids: 70% one face per photo, the rest 2-5 per photo.

    With lookalikes, a tenth of the people are moved to 0.55 from another person's centre
    (siblings), as far as dlib puts close relatives.
    """
    from synthetic import synthetic_encodings

    enc, who = synthetic_encodings(n_faces, n_identities, seed=seed)
    rng = np.random.default_rng(seed + 1)
    if lookalikes:
        centres = np.zeros((n_identities, enc.shape[1]))
        np.add.at(centres, who, enc)
        centres /= np.maximum(np.bincount(who, minlength=n_identities), 1)[:, None]
        for a in rng.choice(n_identities, n_identities // 10, replace=False).tolist():
            gap = centres[(a + 1) % n_identities] - centres[a]
            length = float(np.linalg.norm(gap))
            if length > 0.55:
                enc[who == a] += (gap * (1 - 0.55 / length)).astype(np.float32)
    photos = np.arange(n_faces, dtype=np.int64)
    shared = rng.random(n_faces) < 0.3
    photos[shared] = n_faces + rng.integers(0, max(1, int(shared.sum()) // 3), int(shared.sum()))
    # A person appears once per photo: move repeated (photo, person) faces to photos of their own.
    _, first = np.unique(np.stack([photos, who], 1), axis=0, return_index=True)
    repeated = np.setdiff1d(np.arange(n_faces), first)
    photos[repeated] = 3 * n_faces + repeated
    return enc, who, photos


def _dense(groups: np.ndarray) -> np.ndarray:
    """Group ids (0 = none) as labels 0..g-1 with -1 for ungrouped."""
    labels = np.unique(groups, return_inverse=True)[1].reshape(-1) - 1
    return labels if (groups == 0).any() else labels + 1


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scale_run(n_faces: int, n_identities: int, n_new: int, lookalikes: bool) -> dict:
    """Full grouping of n_faces, then n_new more joined incrementally."""
    from facealbum.engine.incremental import join_new_faces
    from facealbum.engine.knn import hnsw_knn

    enc, who, photos = synthetic_library(n_faces + n_new, n_identities, 7, lookalikes)
    ids = np.arange(1, len(enc) + 1, dtype=np.int64)
    lib = slice(0, n_faces)
    t0 = time.perf_counter()
    knn = hnsw_knn(enc[lib], ids[lib])
    t_index = time.perf_counter() - t0
    rss_before = peak_rss_mb()
    t0 = time.perf_counter()
    library = cluster.FaceTable.of(ids[lib], enc[lib], photos[lib])
    groups, next_id = cluster.regroup(library, knn)
    t_group = time.perf_counter() - t0
    result = {
        "faces": n_faces,
        "identities": n_identities,
        "lookalikes": lookalikes,
        "index_build_s": round(t_index, 2),
        "group_s": round(t_group, 2),
        "peak_rss_before_group_mb": round(rss_before, 1),
        "peak_rss_after_group_mb": round(peak_rss_mb(), 1),
        "quality": score_grouping(who[lib], _dense(groups)),
    }
    library = cluster.FaceTable.of(ids[lib], enc[lib], photos[lib], group_ids=groups)
    new = cluster.FaceTable.of(ids[n_faces:], enc[n_faces:], photos[n_faces:])
    t0 = time.perf_counter()
    joined, new_groups, _ = join_new_faces(library, new, knn, next_id)
    result["incremental"] = {
        "new_faces": n_new,
        "seconds": round(time.perf_counter() - t0, 3),
        "placed_in_groups": int(len(joined)),
    }
    # Joined faces should land in the group holding most of their identity.
    majority: dict = {}
    for g, w in zip(groups[groups > 0].tolist(), who[lib][groups > 0].tolist(), strict=True):
        majority.setdefault(g, []).append(w)
    majority = {g: max(set(ws), key=ws.count) for g, ws in majority.items()}
    new_who = dict(zip(ids[n_faces:].tolist(), who[n_faces:].tolist(), strict=True))
    pairs = zip(joined.tolist(), new_groups.tolist(), strict=True)
    into_old = [(f, g) for f, g in pairs if g in majority]
    right = sum(majority[g] == new_who.get(f, -1) for f, g in into_old)
    result["incremental"]["joined_existing_correct"] = round(right / max(1, len(into_old)), 4)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="no augmented copies, 20k faces")
    args = parser.parse_args()
    defaults = cluster.GroupingParams()
    report: dict = {"params": {k: getattr(defaults, k) for k in defaults.__dataclass_fields__}}
    if (FACES_DIR / "labels.csv").is_file():
        t0 = time.perf_counter()
        faces = encode_labelled(FACES_DIR, augment=not args.quick)
        report["real"] = real_quality(faces)
        report["real"]["encode_s"] = round(time.perf_counter() - t0, 1)
        print(json.dumps(report["real"], indent=1), flush=True)
    n = 20_000 if args.quick else 100_000
    ident = 2_000 if args.quick else 3_000
    report["synthetic"] = [scale_run(n, ident, 1_000, lookalikes) for lookalikes in (False, True)]
    print(json.dumps(report["synthetic"], indent=1), flush=True)
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
