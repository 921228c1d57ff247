"""Benchmark of face encoding: our onnxruntime encoder against dlib's own, side by side.

    python bench/encoder.py            # a minute or two on 2 cores
    python bench/encoder.py --faces 8 --rounds 2

Chips are the aligned faces of the development photos (../shared/faces beside the
repository, or $FACEALBUM_TEST_FACES). Every measurement runs in a new process with one
BLAS thread, as a scan worker does; onnxruntime runs one thread per session regardless:

- single: one process, ms per face (CPU and wall) of ours (engine/encoder.py, an
  onnxruntime session) and of dlib's ``compute_face_descriptor``, each at batch 1 and
  batch 8, all four in the same process; the live camera and search case;
- scan: two processes at once, as the scan pool runs them on two cores, each encoding
  batches of 8 with ours: faces per second of both together.

Rounds alternate between single and scan, and within single between ours first and
dlib first, so that load from other work on the machine spreads over all of them;
medians are reported. Also records the memory of making our encoder (the process's RSS
growth from building the model's bytes, importing onnxruntime and making the session,
and its peak RSS after encoding) and the largest error against dlib. Writes
bench/results/encoder.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

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


def _dlib_model():
    import dlib

    from facealbum.engine import models

    return dlib.face_recognition_model_v1(str(models.model_path(models.FACE_RECOGNITION_MODEL)))


def _dlib_encode(model, chips, batch: int) -> list:
    if batch == 1:
        return [model.compute_face_descriptor(c, 0) for c in chips]
    return [
        d
        for i in range(0, len(chips), batch)
        for d in model.compute_face_descriptor(list(chips[i : i + batch]), 0)
    ]


def child_single(chips_file: str, dlib_first: bool) -> dict:
    """ms per face of ours and dlib's at batch 1 and 8, all in this process."""
    import numpy as np

    from facealbum.engine.encoder import FaceEncoder

    chips = np.load(chips_file)
    n = len(chips)
    ours = {"ours_b1": FaceEncoder(batch_size=1), "ours_b8": FaceEncoder(batch_size=8)}
    dlib_model = _dlib_model()
    for encoder in ours.values():
        encoder.encode(chips[:8])  # first-run costs (per batch shape) out of the measurement
    _dlib_encode(dlib_model, chips[:2], 2)
    runs = {name: (lambda e=e: e.encode(chips)) for name, e in ours.items()}
    theirs = {f"dlib_b{b}": (lambda b=b: _dlib_encode(dlib_model, chips, b)) for b in (1, 8)}
    if dlib_first:
        runs = {**theirs, **runs}
    else:
        runs.update(theirs)
    out = {name: _timed(fn, n) for name, fn in runs.items()}
    return {name: out[name] for name in ("ours_b1", "ours_b8", "dlib_b1", "dlib_b8")}


def child_throughput(chips_file: str, seconds: float) -> dict:
    """Faces per second of one scan worker encoding batches of 8 with ours for `seconds`."""
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


def rss_mb() -> float:
    """The process's resident set now (Linux), in MiB; 0 where /proc is not there."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


MEMORY_NOTE = (
    "A scan's workers are forked from a process that has built the model's bytes already "
    "(engine/faces.py preload_models), so each worker adds only importing onnxruntime, "
    "its session and its encoding."
)


def child_memory(chips_file: str) -> dict:
    """RSS growth of each step of making our encoder, in a process that has numpy and the
    encoder's module only (as a scan worker before its first face), and the peak RSS."""
    import resource
    import tracemalloc

    import numpy as np

    from facealbum.engine import encoder as enc
    from facealbum.engine import models
    from facealbum.engine.dlib_format import read_network

    chips = np.load(chips_file)
    steps, cpu = {}, {}
    before = start = rss_mb()

    def step(name: str, fn):
        nonlocal before
        t = time.process_time()
        value = fn()
        cpu[name] = round(1000 * (time.process_time() - t), 1)
        now = rss_mb()
        steps[name] = round(now - before, 1)
        before = now
        return value

    model = step("model_bytes", enc.model_bytes)
    step("import_onnxruntime", lambda: __import__("onnxruntime"))
    encoder = step("session", lambda: enc.FaceEncoder(batch_size=8))
    step("first_encode_b1", lambda: encoder.encode(chips[:1]))
    step("first_encode_b8", lambda: encoder.encode(chips[:8]))
    encoder.encode(chips)
    total = rss_mb() - start
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # What the RSS growth of model_bytes is made of: Python's allocations while building
    # (read_network, build_weights, build_graph), most of them freed by the end.
    tracemalloc.start()
    enc.build_graph(
        enc.build_weights(read_network(models.model_path(models.FACE_RECOGNITION_MODEL)))
    )
    _, build_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "model_mb": round(len(model) / 2**20, 1),
        "model_build_allocated_peak_mb": round(build_peak / 2**20, 1),
        "rss_before_mb": round(start, 1),
        "rss_growth_mb": steps,
        "rss_growth_making_encoder_mb": round(
            steps["model_bytes"] + steps["import_onnxruntime"] + steps["session"], 1
        ),
        "rss_growth_total_mb": round(total, 1),
        "cpu_ms": cpu,
        "process_peak_rss_mb": round(peak_rss, 1),
        "note": MEMORY_NOTE,
    }


def child_accuracy(chips_file: str) -> dict:
    import numpy as np

    from facealbum.engine.encoder import FaceEncoder

    chips = np.load(chips_file)
    theirs = np.asarray(_dlib_encode(_dlib_model(), chips, 8), np.float64)
    ours = FaceEncoder(batch_size=8).encode(chips).astype(np.float64)
    one_by_one = FaceEncoder(batch_size=1).encode(chips).astype(np.float64)
    return {
        "faces": len(chips),
        "max_abs_component_error": float(np.abs(ours - theirs).max()),
        "max_distance_to_dlib": float(np.linalg.norm(ours - theirs, axis=1).max()),
        "max_abs_difference_b1_b8": float(np.abs(ours - one_by_one).max()),
    }


# -- parent ----------------------------------------------------------------------------


def run_child(args: list[str], wait: bool = True):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
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


def rounded(sample: dict) -> dict:
    return {name: {k: round(v, 2) for k, v in m.items()} for name, m in sample.items()}


def summarise(samples: list[dict]) -> dict:
    keys = samples[0].keys()
    return {
        name: {
            metric: round(statistics.median(s[name][metric] for s in samples), 2)
            for metric in samples[0][name]
        }
        for name in keys
    }


def write_atomically(path: Path, results: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, suffix=".tmp", delete=False, encoding="utf-8"
    ) as out:
        json.dump(results, out, indent=2)
        out.write("\n")
    os.replace(out.name, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=24, help="chips encoded per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scan-seconds", type=float, default=4.0)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, chips_file, *rest = args.child
        if kind == "single":
            result = child_single(chips_file, rest == ["dlib_first"])
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
    import detection  # bench/detection.py: the machine's description every bench records

    machine = detection.machine()  # its load average is taken now, at the start
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        import numpy as np
        import onnxruntime

        chips_file = str(Path(tmp) / "chips.npy")
        np.save(chips_file, build_chips(FACES_DIR, args.faces))
        single: list[dict] = []
        scan: list[float] = []
        for i in range(args.rounds):
            order = "dlib_first" if i % 2 else "ours_first"
            single.append(rounded(run_child(["single", chips_file, order])))
            procs = [
                run_child(["throughput", chips_file, str(args.scan_seconds)], False)
                for _ in range(2)
            ]
            scan.append(sum(collect(p)["faces_per_s"] for p in procs))
            print(f"round {i + 1}/{args.rounds}: {single[-1]}, scan {scan[-1]:.1f}", flush=True)
        memory = run_child(["memory", chips_file])
        accuracy = run_child(["accuracy", chips_file])

    per_face = summarise(single)
    results = {
        "faces": args.faces,
        "rounds": args.rounds,
        "machine": {
            **machine,
            "onnxruntime": onnxruntime.__version__,
            "numpy": np.__version__,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "threads": "1 onnxruntime intra-op and inter-op, 1 BLAS; dlib uses no BLAS",
        "single_process_ms_per_face": per_face,
        "single_process_ms_per_face_rounds": single,
        "speedup_ours_over_dlib_cpu": {
            f"b{b}": round(per_face[f"dlib_b{b}"]["cpu_ms"] / per_face[f"ours_b{b}"]["cpu_ms"], 2)
            for b in (1, 8)
        },
        "scan_two_processes_faces_per_s": round(statistics.median(scan), 1),
        "scan_two_processes_faces_per_s_rounds": [round(x, 1) for x in scan],
        "memory": memory,
        "accuracy": accuracy,
        "run_s": round(time.monotonic() - started, 1),
    }
    write_atomically(RESULTS, results)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
