"""dlib's face recognition ResNet run by onnxruntime: the same 128-d encodings, faster.

The dlib wheel we can depend on is built without BLAS, so its encoder spends ~70 ms of
CPU per face in plain loops (bench/encoder.py). The weights are read here from
face_recognition_models' own file, each convolution folded with the frozen batch norm
after it, and written as an ONNX graph (engine/onnx_graph.py) that onnxruntime runs in
~4 ms a face: half the time of the numpy port of the same arithmetic it replaced,
measured side by side. The encodings equal dlib's ``compute_face_descriptor`` up to
float rounding (below 1e-6 per component on the development faces;
tests/test_encoder.py holds every face to 1e-4).

The graph takes the uint8 chips as they come and does dlib's input scaling itself, so
a call is one session run per batch.

Threads: one onnxruntime thread per session. Scan workers run one process per core, so
more threads in each would only fight over the cores; one thread is ~250 faces/s for
the live camera. onnxruntime is imported only when an encoder is made: importing it
starts a thread, and the process scan workers are forked from must have one thread only
(engine/worker_start.py), so it preloads the graph's bytes and each worker makes its
own session.

A session may be run from several threads at once, so one encoder serves them all.
Batches of a few chips amortise the per-layer overhead; the result does not depend on
how chips are batched."""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from facealbum.engine import models
from facealbum.engine.dlib_format import DlibFormatError, Layer, Network, read_network
from facealbum.engine.onnx_graph import ELEMENT_TYPES, GraphWriter
from facealbum.model import ENCODING_DIM

CHIP_SIZE = 150
# dlib's input layer scales centred pixel values by 1/256.
INPUT_SCALE = 1.0 / 256.0
DEFAULT_BATCH = 8
INPUT, OUTPUT = "chips", "encodings"


@dataclass(frozen=True)
class Conv:
    """A convolution with the affine (frozen batch-norm) layer after it folded in."""

    weights: np.ndarray  # (out_channels, in_channels, rows, cols), as dlib and ONNX keep it
    bias: np.ndarray  # (out_channels,)
    stride: int
    pad: int

    @property
    def out_channels(self) -> int:
        return int(self.weights.shape[0])

    @property
    def kernel(self) -> int:
        return int(self.weights.shape[2])


@dataclass(frozen=True)
class ResidualBlock:
    """relu(conv2(relu(conv1(x))) + skip(x)); skip is a 2x2 average pool when ``down``."""

    conv1: Conv
    conv2: Conv
    down: bool


@dataclass(frozen=True)
class Weights:
    means: np.ndarray  # (3,) red, green, blue
    stem: Conv
    pool: tuple[int, int]  # max pool size and stride after the stem
    blocks: tuple[ResidualBlock, ...]
    fc: np.ndarray  # (channels, 128)


def _fold(con: Layer, affine: Layer) -> Conv:
    if con.kind != "con" or affine.kind != "affine":
        raise DlibFormatError(f"expected con + affine, got {con.kind} + {affine.kind}")
    w = con.arrays["weights"]  # (out, in, rows, cols)
    gamma = affine.arrays["gamma"].astype(np.float64)
    beta = affine.arrays["beta"].astype(np.float64)
    if con.ints["stride_y"] != con.ints["stride_x"] or con.ints["pad_y"] != con.ints["pad_x"]:
        raise DlibFormatError("only square strides and padding are supported")
    if w.shape[2] != w.shape[3]:
        raise DlibFormatError(f"only square kernels are supported, got {w.shape}")
    # Multiplied in float64 and rounded once to float32, in one pass.
    folded = np.empty(w.shape, np.float32)
    np.multiply(w, gamma[:, None, None, None], out=folded, dtype=np.float64, casting="same_kind")
    bias = con.arrays["bias"].astype(np.float64) * gamma + beta
    return Conv(
        weights=folded,
        bias=bias.astype(np.float32),
        stride=con.ints["stride_y"],
        pad=con.ints["pad_y"],
    )


def _expect(layers: Sequence[Layer], start: int, kinds: Sequence[str]) -> None:
    found = [layer.kind for layer in layers[start : start + len(kinds)]]
    if found != list(kinds):
        raise DlibFormatError(f"unexpected layers at {start}: {found}, wanted {list(kinds)}")


def build_weights(network: Network) -> Weights:
    """Turn dlib's flat layer list into the ResNet's stem, residual blocks and head."""
    layers = network.layers
    _expect(layers, 0, ("con", "affine", "relu", "max_pool"))
    stem = _fold(layers[0], layers[1])
    pool = layers[3].ints
    if pool["pad_y"] or pool["rows"] != pool["cols"] or pool["stride_y"] != pool["stride_x"]:
        raise DlibFormatError("unsupported max pool")
    blocks = []
    i = 4
    while layers[i].kind == "con":
        down = layers[i + 5].kind == "avg_pool"
        tail = ("avg_pool", "add_prev", "relu") if down else ("add_prev", "relu")
        _expect(layers, i, ("con", "affine", "relu", "con", "affine", *tail))
        if down and layers[i + 5].ints["rows"] != 2:
            raise DlibFormatError("the skip path of a down block must be a 2x2 pool")
        conv1, conv2 = _fold(layers[i], layers[i + 1]), _fold(layers[i + 3], layers[i + 4])
        blocks.append(ResidualBlock(conv1, conv2, down))
        i += 5 + len(tail)
    _expect(layers, i, ("avg_pool", "fc"))
    if layers[i].ints["rows"] != 0 or i + 2 != len(layers):
        raise DlibFormatError("the network must end in a global average pool and fc")
    fc = layers[i + 1].arrays["weights"]
    if fc.shape[1] != ENCODING_DIM or layers[i + 1].arrays["bias"].any():
        raise DlibFormatError(f"unexpected output layer {fc.shape}")
    return Weights(
        means=np.asarray(network.channel_means, np.float32),
        stem=stem,
        pool=(pool["rows"], pool["stride_y"]),
        blocks=tuple(blocks),
        fc=np.asarray(fc, np.float32),
    )


def _out_size(size: int, kernel: int, stride: int, pad: int) -> int:
    return 1 + (size + 2 * pad - kernel) // stride


def _conv_size(size: int, c: Conv) -> int:
    return _out_size(size, c.kernel, c.stride, c.pad)


def build_graph(weights: Weights) -> bytes:
    """The folded ResNet as an ONNX model taking (n, 150, 150, 3) uint8 RGB chips and
    giving (n, 128) float32 encodings."""
    graph = GraphWriter("dlib_face_recognition_resnet_model_v1")
    chips = graph.input(INPUT, np.uint8, ["chips", CHIP_SIZE, CHIP_SIZE, 3])
    x = graph.node("Cast", [chips], to=ELEMENT_TYPES[np.dtype(np.float32)])
    x = graph.node("Sub", [x, graph.weight(weights.means)])
    x = graph.node("Mul", [x, graph.weight(np.float32(INPUT_SCALE))])
    x = graph.node("Transpose", [x], perm=[0, 3, 1, 2])  # NHWC to ONNX's NCHW

    def conv(x: str, c: Conv) -> str:
        return graph.node(
            "Conv",
            [x, graph.weight(c.weights), graph.weight(c.bias)],
            kernel_shape=[c.kernel] * 2,
            strides=[c.stride] * 2,
            pads=[c.pad] * 4,
        )

    def grown(x: str, size: int, channels: int, to_size: int, to_channels: int) -> str:
        """dlib's add_prev adds tensors of different shapes as if the smaller were
        zero-filled to the larger, at the end of each axis."""
        if (size, channels) == (to_size, to_channels):
            return x
        ends = [0, to_channels - channels, to_size - size, to_size - size]
        return graph.node("Pad", [x, graph.weight(np.array([0, 0, 0, 0, *ends], np.int64))])

    stem = weights.stem
    x = graph.node("Relu", [conv(x, stem)])
    pool, pool_stride = weights.pool
    x = graph.node("MaxPool", [x], kernel_shape=[pool] * 2, strides=[pool_stride] * 2)
    size = _out_size(_conv_size(CHIP_SIZE, stem), pool, pool_stride, 0)
    channels = stem.out_channels
    for block in weights.blocks:
        c1, c2 = block.conv1, block.conv2
        y = conv(graph.node("Relu", [conv(x, c1)]), c2)
        y_size = _conv_size(_conv_size(size, c1), c2)
        skip, skip_size = x, size
        if block.down:
            # dlib's avg_pool<2,2,2,2>: no padding, an odd last row or column is dropped.
            skip = graph.node("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])
            skip_size = _out_size(size, 2, 2, 0)
        top, top_channels = max(skip_size, y_size), max(channels, c2.out_channels)
        added = graph.node(
            "Add",
            [
                grown(skip, skip_size, channels, top, top_channels),
                grown(y, y_size, c2.out_channels, top, top_channels),
            ],
        )
        x, size, channels = graph.node("Relu", [added]), top, top_channels
    pooled = graph.node("Flatten", [graph.node("GlobalAveragePool", [x])])
    graph.node("MatMul", [pooled, graph.weight(weights.fc)], output=OUTPUT)
    graph.output(OUTPUT, np.float32, ["chips", ENCODING_DIM])
    return graph.model()


def _model_key(model_file: str | Path | None) -> str:
    """The model file's full path (default: face_recognition_models'), one cache key
    however the file is named."""
    path = model_file or models.model_path(models.FACE_RECOGNITION_MODEL)
    return str(Path(path).resolve())


def model_bytes(model_file: str | Path | None = None) -> bytes:
    """The encoder's ONNX model, built from dlib's file (~0.15 s) once per process."""
    return _cached_model(_model_key(model_file))


@lru_cache(maxsize=2)
def _cached_model(path: str) -> bytes:
    model = build_graph(build_weights(read_network(path)))
    _return_freed_memory()  # the file's bytes and the unfolded weights
    return model


class EncoderUnavailable(RuntimeError):
    """onnxruntime cannot be loaded or cannot run the encoder; the message says why."""


@lru_cache(maxsize=2)
def _session(path: str) -> Any:
    """One onnxruntime session per model file and process, shared by every encoder."""
    try:
        # Imported here, not at the top: see the module's docstring.
        import onnxruntime
    except ImportError as exc:
        raise EncoderUnavailable(
            f"The face encoder needs onnxruntime, which cannot be loaded ({exc}): "
            "reinstall it with 'pip install --force-reinstall onnxruntime'."
        ) from exc
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: its warnings are for model authors
    try:
        session = onnxruntime.InferenceSession(
            _cached_model(path), options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime's own error types differ between versions
        raise EncoderUnavailable(f"onnxruntime cannot run the face encoder: {exc}") from exc
    _return_freed_memory()
    return session


def _return_freed_memory() -> None:
    """Building the model and making a session use ~40 and ~50 MB of short-lived memory,
    which glibc keeps in the process's heap once freed: making a session left a process
    85 MB larger instead of 32 (measured; bench/encoder.py records the 32). Hand it back
    to the system."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: musl, say, has no malloc_trim
        pass


class FaceEncoder:
    """Encodes aligned 150x150 face chips exactly as dlib's face_recognition_model_v1."""

    def __init__(self, model_file: str | Path | None = None, batch_size: int = DEFAULT_BATCH):
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._session = _session(_model_key(model_file))
        self.batch_size = int(batch_size)

    def encode(self, chips: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """(n, 128) float32 encodings of n RGB uint8 chips of 150x150 (dlib.get_face_chip's)."""
        stack = (
            np.asarray(chips) if len(chips) else np.empty((0, CHIP_SIZE, CHIP_SIZE, 3), np.uint8)
        )
        if stack.dtype != np.uint8 or stack.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
            raise ValueError(
                f"chips must be uint8 RGB {CHIP_SIZE}x{CHIP_SIZE}, got {stack.dtype} {stack.shape}"
            )
        out = np.empty((len(stack), ENCODING_DIM), np.float32)
        for start in range(0, len(stack), self.batch_size):
            batch = np.ascontiguousarray(stack[start : start + self.batch_size])
            out[start : start + len(batch)] = self._session.run([OUTPUT], {INPUT: batch})[0]
        return out
