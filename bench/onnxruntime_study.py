"""What ONNX Runtime saves YuNet, and what starting onnxruntime costs a scan worker.

    python bench/onnxruntime_study.py    # nothing extra: onnxruntime comes with facealbum

1. YuNet on the same 640x640 image (the model file declares a fixed 640x640 input, so
   ORT runs that size only; OpenCV's FaceDetectorYN resizes the network to any size):
   CPU ms per call through cv2.FaceDetectorYN and through an ORT session of the same file.
2. The CPU of importing onnxruntime in a new process that has numpy already, and the
   threads that process has after it.

The face encoder runs on onnxruntime now (engine/encoder.py): its comparison with
dlib's own encoder lives in bench/encoder.py.

One thread each, as in a scan's worker; the two sides alternate round by round so that
the load of a shared machine falls on both. Writes bench/results/onnxruntime_study.json.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
FACES = Path(os.environ.get("FACEALBUM_TEST_FACES", REPO.parent / "shared" / "faces"))
RESULTS = REPO / "bench" / "results" / "onnxruntime_study.json"
ROUNDS = 5
SECONDS_PER_MEASURE = 1.0

import detection  # noqa: E402  (bench/detection.py: the machine's description)

from facealbum.engine.yunet import MODEL_FILE  # noqa: E402


def cpu_ms_per_item(call, items: int) -> float:
    """CPU ms per item of `call`, repeated for about SECONDS_PER_MEASURE."""
    call()  # warm: first calls allocate
    start, done = time.process_time(), 0
    while time.process_time() - start < SECONDS_PER_MEASURE:
        call()
        done += items
    return (time.process_time() - start) / done * 1000


def ort_session(model: str | bytes, ort):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def import_cost() -> dict:
    """CPU of importing onnxruntime in a new process that has numpy already (as a scan
    worker would), and the threads the process has after it: a fork server may fork only
    from a single thread."""
    probe = (
        "import os, time, numpy; start = time.process_time(); import onnxruntime; "
        "print(round((time.process_time() - start) * 1000, 1), "
        "len(os.listdir('/proc/self/task')) if os.path.isdir('/proc/self/task') else -1)"
    )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    runs = [subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           env=env, check=True).stdout.split() for _ in range(ROUNDS)]  # fmt: skip
    return {
        "cpu_ms_median": float(np.median([float(ms) for ms, _ in runs])),
        "threads_after": int(runs[0][1]),
    }


def yunet_study(ort) -> dict:
    photo = next(p for p in sorted((FACES / "groups").glob("*.jpg")))
    image = cv2.resize(cv2.imread(str(photo)), (640, 640))
    opencv = cv2.FaceDetectorYN.create(str(MODEL_FILE), "", (640, 640), 0.3, 0.3, 5000)
    start = time.process_time()
    session = ort_session(str(MODEL_FILE), ort)
    made_ms = (time.process_time() - start) * 1000
    blob = image.transpose(2, 0, 1)[None].astype(np.float32)
    declared = session.get_inputs()[0].shape
    rounds: dict[str, list[float]] = {"opencv": [], "onnxruntime": []}
    for _ in range(ROUNDS):
        rounds["opencv"].append(cpu_ms_per_item(lambda: opencv.detect(image), 1))
        rounds["onnxruntime"].append(cpu_ms_per_item(lambda: session.run(None, {"input": blob}), 1))
    return {
        "image": "640x640 BGR (a group photo of the development faces, resized)",
        "model_input_declared": declared,
        "cpu_ms_per_call_median": {k: round(float(np.median(v)), 2) for k, v in rounds.items()},
        "cpu_ms_per_call_rounds": {k: [round(x, 2) for x in v] for k, v in rounds.items()},
        "onnxruntime_session_cpu_ms": round(made_ms, 1),
    }


def main() -> int:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise SystemExit(f"this study needs onnxruntime ({exc}): reinstall facealbum") from None
    if not (FACES / "labels.csv").is_file():
        raise SystemExit(f"development faces not found at {FACES}")
    cv2.setNumThreads(1)
    machine = detection.machine()  # its load average is taken now, at the start
    started = time.monotonic()
    started_ort = import_cost()
    yunet = yunet_study(ort)
    print("yunet", yunet["cpu_ms_per_call_median"], flush=True)
    result = {
        "what": __doc__.split("\n\n")[0],
        "machine": {
            **machine,
            "numpy": np.__version__,
            "onnxruntime": ort.__version__,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "threads": "1 OpenCV, 1 BLAS, 1 ORT intra-op and inter-op",
        "yunet": yunet,
        "onnxruntime_import": started_ort,
        "run_s": round(time.monotonic() - started, 1),
    }
    with tempfile.NamedTemporaryFile("w", dir=RESULTS.parent, delete=False) as out:
        json.dump(result, out, indent=1)
    os.replace(out.name, RESULTS)
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
