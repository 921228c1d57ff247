"""What ONNX Runtime would save a scan: YuNet and dlib's ResNet, ours against ORT's.

    pip install onnxruntime onnx    # not dependencies of facealbum: only this study's
    python bench/onnxruntime_study.py

1. YuNet on the same 640x640 image (the model file declares a fixed 640x640 input, so
   ORT runs that size only; OpenCV's FaceDetectorYN resizes the network to any size):
   CPU ms per call through cv2.FaceDetectorYN and through an ORT session of the same file.
2. dlib's face recognition ResNet: our numpy port (engine/encoder.py) against the same
   folded weights written as an ONNX graph and run by ORT, CPU ms per face at the batch
   sizes a scan sees, and the largest difference between the two encodings of the same
   aligned chips of the development photos.

One thread each, as in a scan's worker; the two sides alternate round by round so that
the load of a shared machine falls on both. Writes bench/results/onnxruntime_study.json.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import functools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
FACES = Path(os.environ.get("FACEALBUM_TEST_FACES", REPO.parent / "shared" / "faces"))
RESULTS = REPO / "bench" / "results" / "onnxruntime_study.json"
ROUNDS = 5
SECONDS_PER_MEASURE = 1.0
BATCHES = (1, 2, 3, 4)

from facealbum.engine import encoder as enc  # noqa: E402
from facealbum.engine.faces import FaceEngine  # noqa: E402
from facealbum.engine.images import load_image  # noqa: E402
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


def resnet_as_onnx(weights: enc.Weights, onnx) -> bytes:
    """The folded ResNet as an ONNX graph taking (n, 3, 150, 150) scaled, centred pixels."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, tensors = [], []

    def fresh(kind: str) -> str:
        return f"{kind}{len(nodes)}_{len(tensors)}"

    def const(array: np.ndarray) -> str:
        name = fresh("const")
        tensors.append(numpy_helper.from_array(array, name))
        return name

    def node(op: str, inputs: list[str], **attrs) -> str:
        out = fresh(op.lower())
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def conv(x: str, c: enc.Conv) -> str:
        in_c = c.weights.shape[0] // (c.rows * c.cols)
        kernel = c.weights.reshape(c.rows, c.cols, in_c, c.out_channels).transpose(3, 2, 0, 1)
        return node(
            "Conv",
            [x, const(np.ascontiguousarray(kernel)), const(c.bias)],
            kernel_shape=[c.rows, c.cols],
            strides=[c.stride] * 2,
            pads=[c.pad] * 4,
        )

    def out_size(size: int, kernel: int, stride: int, pad: int) -> int:
        return 1 + (size + 2 * pad - kernel) // stride

    def pad_to(x: str, size: int, channels: int, to_size: int, to_channels: int) -> str:
        # dlib's add_prev adds tensors of different shapes as if zero-filled to the larger.
        if (size, channels) == (to_size, to_channels):
            return x
        grow = [0, 0, 0, 0, 0, to_channels - channels, to_size - size, to_size - size]
        return node("Pad", [x, const(np.array(grow, np.int64))])

    x = node("Relu", [conv("input", weights.stem)])
    x = node("MaxPool", [x], kernel_shape=[weights.pool[0]] * 2, strides=[weights.pool[1]] * 2)
    size = out_size(150, weights.stem.rows, weights.stem.stride, weights.stem.pad)
    size = out_size(size, weights.pool[0], weights.pool[1], 0)
    channels = weights.stem.out_channels
    for block in weights.blocks:
        y = conv(node("Relu", [conv(x, block.conv1)]), block.conv2)
        y_size = out_size(size, block.conv1.rows, block.conv1.stride, block.conv1.pad)
        skip, skip_size = x, size
        if block.down:
            skip = node("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])
            skip_size = size // 2
        top, top_c = max(skip_size, y_size), max(channels, block.conv2.out_channels)
        added = node(
            "Add",
            [
                pad_to(skip, skip_size, channels, top, top_c),
                pad_to(y, y_size, block.conv2.out_channels, top, top_c),
            ],
        )
        x, size, channels = node("Relu", [added]), top, top_c
    pooled = node("Flatten", [node("GlobalAveragePool", [x])])
    nodes.append(helper.make_node("MatMul", [pooled, const(weights.fc)], ["encoding"]))
    graph = helper.make_graph(
        nodes,
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 3, 150, 150])],
        [helper.make_tensor_value_info("encoding", TensorProto.FLOAT, ["n", 128])],
        tensors,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model.SerializeToString()


def development_chips(limit: int = 24) -> np.ndarray:
    """Aligned 150 px chips of the faces in the development photos."""
    engine = FaceEngine()
    chips: list[np.ndarray] = []
    for path in sorted((FACES / "people").rglob("*.jpg")):
        image = load_image(path, max_side=engine.detect_side)
        located = engine._located(image.pixels, 1.0, None)
        chips += engine._aligned_chips(image.pixels, [shape for _, _, shape in located])
        if len(chips) >= limit:
            break
    return np.stack(chips[:limit])


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


def encoder_study(ort, onnx) -> dict:
    weights = enc.load_weights()
    graph = resnet_as_onnx(weights, onnx)
    start = time.process_time()
    session = ort_session(graph, ort)
    made_ms = (time.process_time() - start) * 1000
    chips = development_chips()

    def ort_input(batch: np.ndarray) -> np.ndarray:
        scaled = (batch.astype(np.float32) - weights.means) * np.float32(enc.INPUT_SCALE)
        return np.ascontiguousarray(scaled.transpose(0, 3, 1, 2))

    ours = enc.forward(weights, chips)
    theirs = np.concatenate(
        [
            session.run(None, {"input": ort_input(chips[i : i + 4])})[0]
            for i in range(0, len(chips), 4)
        ]
    )
    per_batch: dict[str, dict] = {}
    for batch in BATCHES:
        part = chips[:batch]
        ready = ort_input(part)
        rounds: dict[str, list[float]] = {"numpy": [], "onnxruntime": []}
        ours_call = functools.partial(enc.forward, weights, part)
        ort_call = functools.partial(session.run, None, {"input": ready})
        for _ in range(ROUNDS):
            rounds["numpy"].append(cpu_ms_per_item(ours_call, batch))
            rounds["onnxruntime"].append(cpu_ms_per_item(ort_call, batch))
        per_batch[str(batch)] = {k: round(float(np.median(v)), 2) for k, v in rounds.items()}
        print("encoder batch", batch, per_batch[str(batch)], flush=True)
    return {
        "chips": len(chips),
        "max_abs_encoding_difference": float(np.abs(ours - theirs).max()),
        "onnxruntime_session_cpu_ms": round(made_ms, 1),
        "cpu_ms_per_face_median_by_batch": per_batch,
    }


def main() -> int:
    try:
        import onnx
        import onnxruntime as ort
    except ImportError as exc:
        raise SystemExit(
            f"this study needs onnxruntime and onnx ({exc}): see its docstring"
        ) from None
    if not (FACES / "labels.csv").is_file():
        raise SystemExit(f"development faces not found at {FACES}")
    cv2.setNumThreads(1)
    started = time.monotonic()
    started_ort = import_cost()
    yunet = yunet_study(ort)
    print("yunet", yunet["cpu_ms_per_call_median"], flush=True)
    encoder = encoder_study(ort, onnx)
    result = {
        "what": __doc__.split("\n\n")[0],
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "opencv": cv2.__version__,
            "numpy": np.__version__,
            "onnxruntime": ort.__version__,
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "threads": "1 OpenCV, 1 BLAS, 1 ORT intra-op and inter-op",
        "yunet": yunet,
        "encoder": encoder,
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
