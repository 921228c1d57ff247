"""Benchmark of face encoding: dlib's encoder against the numpy one, side by side.

    python bench/encoder.py            # about a minute on 2 cores
    python bench/encoder.py --faces 8 --rounds 2

Chips are the aligned faces of the development photos (../shared/faces beside the
repository, or $FACEALBUM_TEST_FACES). Each configuration runs in its own process
because OpenBLAS reads OPENBLAS_NUM_THREADS only when numpy is imported:

- single: one process, ms per face for dlib and numpy at batch 1 and batch 8, with
  1 BLAS thread and with every core (the live camera and search case);
- scan: two processes at once, as the scan pool runs them, each with 1 BLAS thread
  or with every core: faces per second of both together.

Rounds alternate between configurations so that load from other work on the machine
spreads over all of them; medians are reported, with wall and CPU time. Also records
the peak memory the numpy forward allocates (tracemalloc) and the largest error
against dlib. Writes bench/results/encoder.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

FACES_DIR = Path(os.environ.get("FACEALBUM_TEST_FACES", REPO_ROOT.parent / "shared" / "faces"))
RESULTS = Path(__file__).resolve().parent / "results" / "encoder.json"
CORES = os.cpu_count() or 1


def build_chips(faces_dir: Path, count: int):
    """Aligned 150x150 chips of the first `count` faces found in the labelled photos."""
    import csv

    import dlib
    import numpy as np

    from facealbum.engine import models
    from facealbum.engine.faces import CHIP_PADDING, CHIP_SIZE, FaceEngine
    from facealbum.engine.images import load_image

    engine = FaceEngine(min_face_px=12)
    predictor = dlib.shape_predictor(str(models.model_path(models.SHAPE_PREDICTOR_5)))
    chips = []
    with open(faces_dir / "labels.csv", newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if int(r["faces"]) > 0]
    for row in rows:
        rgb = load_image(faces_dir / row["path"]).pixels
        for rect, _ in engine.detect(rgb):
            shape = predictor(rgb, rect)
            chips.append(dlib.get_face_chip(rgb, shape, size=CHIP_SIZE, padding=CHIP_PADDING))
        if len(chips) >= count:
            break
    return np.stack(chips[:count])


# -- child processes ---------------------------------------------------------------------


def _timed(fn, faces: int) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall_ms": 1000 * wall / faces, "cpu_ms": 1000 * cpu / faces}


def child_single(chips_file: str, with_dlib: bool) -> dict:
    """ms per face of each encoder in this process (BLAS threads set by the parent)."""
    import numpy as np

    from facealbum.engine import models
    from facealbum.engine.encoder import FaceEncoder

    chips = np.load(chips_file)
    n = len(chips)
    encoders = {"numpy_b1": FaceEncoder(batch_size=1), "numpy_b8": FaceEncoder(batch_size=8)}
    for encoder in encoders.values():
        encoder.encode(chips[:2])  # first-touch costs out of the measurement
    out = {name: _timed(lambda e=e: e.encode(chips), n) for name, e in encoders.items()}
    if with_dlib:
        import dlib

        path = str(models.model_path(models.FACE_RECOGNITION_MODEL))
        model = dlib.face_recognition_model_v1(path)
        model.compute_face_descriptor(list(chips[:1]), 0)
        out["dlib_b1"] = _timed(lambda: [model.compute_face_descriptor(c, 0) for c in chips], n)
        out["dlib_b8"] = _timed(
            lambda: [
                model.compute_face_descriptor(list(chips[i : i + 8]), 0) for i in range(0, n, 8)
            ],
            n,
        )
    return out


def child_throughput(chips_file: str, seconds: float) -> dict:
    """Faces per second of one scan worker encoding batches of 8 for about `seconds`."""
    import numpy as np

    from facealbum.engine.encoder import FaceEncoder

    chips = np.load(chips_file)[:8]
    encoder = FaceEncoder(batch_size=8)
    encoder.encode(chips)
    faces, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        encoder.encode(chips)
        faces += len(chips)
    return {"faces_per_s": faces / (time.perf_counter() - start)}


def child_memory(chips_file: str) -> dict:
    """Peak bytes numpy allocates during one forward, beyond the loaded weights."""
    import resource
    import tracemalloc

    import numpy as np

    from facealbum.engine.encoder import FaceEncoder, load_weights

    chips = np.load(chips_file)
    weights = load_weights()
    weight_bytes = sum(a.nbytes for a in _arrays(weights))
    out = {"weights_mb": round(weight_bytes / 2**20, 1)}
    for batch in (1, 8):
        encoder = FaceEncoder(batch_size=batch)
        tracemalloc.start()
        encoder.encode(chips[:batch])
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out[f"forward_peak_mb_b{batch}"] = round(peak / 2**20, 1)
    out["process_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def child_accuracy(chips_file: str) -> dict:
    import dlib
    import numpy as np

    from facealbum.engine import models
    from facealbum.engine.encoder import FaceEncoder

    chips = np.load(chips_file)
    model = dlib.face_recognition_model_v1(str(models.model_path(models.FACE_RECOGNITION_MODEL)))
    theirs = np.asarray(model.compute_face_descriptor(list(chips), 0), np.float64)
    ours = FaceEncoder().encode(chips).astype(np.float64)
    return {
        "faces": len(chips),
        "max_abs_component_error": float(np.abs(ours - theirs).max()),
        "max_distance_to_dlib": float(np.linalg.norm(ours - theirs, axis=1).max()),
    }


def _arrays(weights):
    yield weights.stem.weights
    for block in weights.blocks:
        yield block.conv1.weights
        yield block.conv2.weights
    yield weights.fc


# -- parent ----------------------------------------------------------------------------


def run_child(args: list[str], threads: int, wait: bool = True):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    cmd = [sys.executable, __file__, "--child", *args]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    if not wait:
        return proc
    return collect(proc)


def collect(proc) -> dict:
    out, _ = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"benchmark child failed: {proc.args}")
    return json.loads(out.strip().splitlines()[-1])


def summarise(samples: list[dict]) -> dict:
    keys = samples[0].keys()
    return {
        name: {
            metric: round(statistics.median(s[name][metric] for s in samples), 2)
            for metric in samples[0][name]
        }
        for name in keys
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=16, help="chips encoded per measurement")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--scan-seconds", type=float, default=4.0)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, chips_file, *rest = args.child
        if kind == "single":
            result = child_single(chips_file, rest == ["dlib"])
        elif kind == "throughput":
            result = child_throughput(chips_file, float(rest[0]))
        elif kind == "memory":
            result = child_memory(chips_file)
        else:
            result = child_accuracy(chips_file)
        print(json.dumps(result))
        return

    if not (FACES_DIR / "labels.csv").is_file():
        sys.exit(f"development faces not found at {FACES_DIR} (set FACEALBUM_TEST_FACES)")
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        import numpy as np

        chips_file = str(Path(tmp) / "chips.npy")
        np.save(chips_file, build_chips(FACES_DIR, args.faces))
        single: dict[int, list[dict]] = {1: [], CORES: []}
        scan: dict[int, list[float]] = {1: [], CORES: []}
        for _ in range(args.rounds):
            for threads in single:  # dlib does not use BLAS: measured in every child alike
                single[threads].append(run_child(["single", chips_file, "dlib"], threads))
            for threads in scan:
                procs = [
                    run_child(["throughput", chips_file, str(args.scan_seconds)], threads, False)
                    for _ in range(2)
                ]
                scan[threads].append(sum(collect(p)["faces_per_s"] for p in procs))
        memory = run_child(["memory", chips_file], 1)
        accuracy = run_child(["accuracy", chips_file], CORES)

    results = {
        "faces": args.faces,
        "rounds": args.rounds,
        "cpu_count": CORES,
        "load_average_at_start": round(load_start, 2),
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "single_process_ms_per_face": {
            f"blas_threads_{t}": summarise(samples) for t, samples in single.items()
        },
        "scan_two_processes_faces_per_s": {
            f"blas_threads_{t}_each": round(statistics.median(v), 1) for t, v in scan.items()
        },
        "memory": memory,
        "accuracy": accuracy,
    }
    one = results["single_process_ms_per_face"]["blas_threads_1"]
    results["speedup_numpy_b8_over_dlib_cpu_1_thread"] = round(
        one["dlib_b8"]["cpu_ms"] / one["numpy_b8"]["cpu_ms"], 2
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
