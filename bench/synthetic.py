"""Synthetic dlib-like face encodings at any scale, built by perturbing real ones.

The real encodings come from the development photos beside the repository
(../shared/faces, or $FACEALBUM_TEST_FACES), computed once with dlib's HOG detector,
the 5-point shape predictor and the ResNet encoder of face_recognition_models, and
cached in bench/results/cache/.

How the synthetic set is made:
- Each identity centre is a real face pulled towards the mean of all real faces
  (so it keeps the real offset and norm), plus a random offset drawn from the
  covariance of the real faces (so it varies along the directions real faces vary).
- Each face is its centre plus noise from the same covariance, scaled per face,
  so some photos of a person are close and some far, as in a real album.

Spreads measured with `python bench/synthetic.py` (20k faces, 2k identities), against the
real development faces (same person: 0.22-0.53; different people: mostly 0.7-1.0):
    same identity:        p5 0.34, median 0.41, p95 0.50, max 0.59
    different identities: p5 0.70, median 0.84, p95 0.99, max 1.36
The real faces measure 0.26 / 0.40 / 0.51 / 0.55 and 0.70 / 0.84 / 0.98 / 1.07.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
FACES_DIR = Path(os.environ.get("FACEALBUM_TEST_FACES", REPO_ROOT.parent / "shared" / "faces"))
CACHE_DIR = REPO_ROOT / "bench" / "results" / "cache"
REAL_CACHE = CACHE_DIR / "real_encodings.npz"

# Calibrated against the real development faces (see the module docstring).
CENTRE_PULL = 0.6  # how much of a real face's offset from the mean a centre keeps
CENTRE_SCALE = 0.68  # scale of the random centre offset, in real-face standard deviations
FACE_SCALE = 0.5  # scale of a face's offset from its centre
FACE_SCALE_SPREAD = 0.15  # log-normal sigma of the per-face scale
ISOTROPY = 0.8  # share of the real variance spread evenly over all 128 directions
MAX_LONG_SIDE = 1600  # the photos are detected at this size at most, as the scanner does


def _load_rgb(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        scale = MAX_LONG_SIDE / max(im.size)
        if scale < 1:
            im = im.resize((round(im.width * scale), round(im.height * scale)))
        return np.asarray(im)


def _compute_real_encodings(faces_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Encode every face of the photos in labels.csv with dlib directly."""
    import dlib
    import face_recognition_models as models

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
    encoder = dlib.face_recognition_model_v1(models.face_recognition_model_location())
    encodings: list[np.ndarray] = []
    names: list[str] = []
    with open(faces_dir / "labels.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if not row["path"].startswith("people/") or int(row["faces"]) < 1:
            continue
        image = _load_rgb(faces_dir / row["path"])
        rects = sorted(detector(image, 1), key=lambda r: -r.area())
        for i, rect in enumerate(rects):
            shape = predictor(image, rect)
            encodings.append(np.asarray(encoder.compute_face_descriptor(image, shape)))
            # The largest face of a person's photo is that person; others are bystanders.
            names.append(row["path"].split("/")[1] if i == 0 else "?")
    return np.asarray(encodings, dtype=np.float32), np.asarray(names)


def real_encodings() -> tuple[np.ndarray, np.ndarray]:
    """Encodings (n, 128) float32 and person names of the development photos, cached."""
    if REAL_CACHE.is_file():
        with np.load(REAL_CACHE) as data:
            return data["encodings"], data["names"]
    if not (FACES_DIR / "labels.csv").is_file():
        raise FileNotFoundError(f"real face photos not found at {FACES_DIR}")
    encodings, names = _compute_real_encodings(FACES_DIR)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.savez(REAL_CACHE, encodings=encodings, names=names)
    return encodings, names


def _real_covariance_factor(real: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A (128, 128) matrix L with L @ L.T shaped like the covariance of real faces.

    The few real faces span fewer than 128 directions, so the remaining directions get
    the smallest real variance, keeping every synthetic set full-rank like real data.
    """
    centred = real - real.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    var = s**2 / max(len(real) - 1, 1)
    rank = int(np.sum(var > var[0] * 1e-6))
    dim = real.shape[1]
    basis = np.linalg.qr(np.vstack([vt[:rank], rng.standard_normal((dim - rank, dim))]).T)[0].T
    spectrum = np.concatenate([var[:rank], np.full(dim - rank, var[rank - 1])])
    # A few real faces overstate their top directions; flattening the spectrum makes the
    # distances between many identities as narrowly spread as between the real people.
    spectrum = (1 - ISOTROPY) * spectrum + ISOTROPY * spectrum.mean()
    # Normalise so the total variance equals the real faces' total variance.
    std = np.sqrt(spectrum * var.sum() / spectrum.sum())
    return (basis.T * std).astype(np.float64)


def synthetic_encodings(
    n_faces: int, n_identities: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """`n_faces` dlib-like encodings, float32 (n, 128), and their identity labels int64 (n,).

    Identities get about the same number of faces each (every identity has at least one
    when n_faces >= n_identities). The same seed gives the same set.
    """
    if n_faces < 0 or n_identities < 1:
        raise ValueError("need n_faces >= 0 and n_identities >= 1")
    real, _ = real_encodings()
    rng = np.random.default_rng(seed)
    real64 = real.astype(np.float64)
    mean = real64.mean(axis=0)
    factor = _real_covariance_factor(real64, rng)
    dim = real.shape[1]

    bases = real64[rng.integers(0, len(real64), n_identities)]
    centres = mean + CENTRE_PULL * (bases - mean)
    centres += CENTRE_SCALE * rng.standard_normal((n_identities, dim)) @ factor.T

    labels = np.arange(n_faces, dtype=np.int64) % n_identities
    rng.shuffle(labels)
    out = np.empty((n_faces, dim), dtype=np.float32)
    for start in range(0, n_faces, 100_000):  # chunks keep memory flat at millions
        part = labels[start : start + 100_000]
        scale = FACE_SCALE * rng.lognormal(0.0, FACE_SCALE_SPREAD, (len(part), 1))
        noise = rng.standard_normal((len(part), dim)) @ factor.T
        out[start : start + len(part)] = centres[part] + scale * noise
    return out, labels


def _pair_distances(x: np.ndarray, same: bool, labels: np.ndarray, rng, n: int) -> np.ndarray:
    i = rng.integers(0, len(x), n * 4)
    j = rng.integers(0, len(x), n * 4)
    keep = (labels[i] == labels[j]) if same else (labels[i] != labels[j])
    keep &= i != j
    return np.linalg.norm(x[i[keep]] - x[j[keep]], axis=1)[:n]


def _describe(d: np.ndarray) -> str:
    p = np.percentile(d, [5, 50, 95])
    return f"p5 {p[0]:.2f}, median {p[1]:.2f}, p95 {p[2]:.2f}, max {d.max():.2f} (n={len(d)})"


def main() -> None:
    """Print the spreads of the real and the synthetic encodings side by side."""
    real, names = real_encodings()
    known = names != "?"
    codes = np.unique(names[known], return_inverse=True)[1]
    kr = real[known]
    d = np.linalg.norm(kr[:, None] - kr[None], axis=2)
    iu = np.triu_indices(len(kr), 1)
    same = codes[iu[0]] == codes[iu[1]]
    print(f"real faces: {len(real)} ({known.sum()} labelled, {codes.max() + 1} people)")
    print("  real same:     ", _describe(d[iu][same]))
    print("  real different:", _describe(d[iu][~same]))
    n_faces = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    x, labels = synthetic_encodings(n_faces, max(1, n_faces // 10))
    rng = np.random.default_rng(1)
    print(f"synthetic: {n_faces} faces, {labels.max() + 1} identities")
    print("  synth same:     ", _describe(_pair_distances(x, True, labels, rng, 200_000)))
    print("  synth different:", _describe(_pair_distances(x, False, labels, rng, 200_000)))
    print(
        f"  norms: real {np.linalg.norm(real, axis=1).mean():.3f}, "
        f"synthetic {np.linalg.norm(x, axis=1).mean():.3f}"
    )


if __name__ == "__main__":
    main()
