"""dlib's face recognition ResNet run in numpy: the same 128-d encodings, several times faster.

The dlib wheel we can depend on is built without BLAS, so its encoder spends ~90 ms
of CPU per face in plain loops; numpy's OpenBLAS matrix products do the same
arithmetic in ~12 ms (bench/encoder.py). The weights are read from
face_recognition_models' own file, so the encodings equal dlib's
``compute_face_descriptor`` up to float rounding (measured below 1e-6 per component
on the development faces; tests/test_encoder.py holds every face to 1e-4).

Activations are kept NHWC (samples, rows, columns, channels) so that every
convolution is one matrix product over contiguous channel vectors.

Threads: one BLAS thread per process is the right setting for scan workers (two
processes with two OpenBLAS threads each on two cores encoded 8x fewer faces per
second than with one each), and is already 80 faces/s for the live camera.
OpenBLAS reads OPENBLAS_NUM_THREADS once, when numpy is first imported, so a worker
process must get it in its environment at start.

The encoder holds only read-only numpy arrays, so unlike dlib's objects one instance
may be used from several threads. Batches of a few chips amortise the per-layer
overhead; the result does not depend on how chips are batched."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from facealbum.engine import models
from facealbum.engine.dlib_format import DlibFormatError, Layer, Network, read_network
from facealbum.model import ENCODING_DIM

CHIP_SIZE = 150
# dlib's input layer scales centred pixel values by 1/256.
INPUT_SCALE = 1.0 / 256.0
DEFAULT_BATCH = 8


@dataclass(frozen=True)
class Conv:
    """A convolution with the affine (frozen batch-norm) layer after it folded in."""

    weights: np.ndarray  # (rows * cols * in_channels, out_channels), rows outermost
    bias: np.ndarray  # (out_channels,)
    rows: int
    cols: int
    stride: int
    pad: int

    @property
    def out_channels(self) -> int:
        return int(self.weights.shape[1])


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
    out_c, in_c, rows, cols = w.shape
    if con.ints["stride_y"] != con.ints["stride_x"] or con.ints["pad_y"] != con.ints["pad_x"]:
        raise DlibFormatError("only square strides and padding are supported")
    # Multiplied in float64 and rounded once to float32, in one pass; the transposition
    # to (rows, cols, in, out) then moves float32, half the bytes.
    folded = np.empty(w.shape, np.float32)
    np.multiply(w, gamma[:, None, None, None], out=folded, dtype=np.float64, casting="same_kind")
    bias = con.arrays["bias"].astype(np.float64) * gamma + beta
    return Conv(
        weights=np.ascontiguousarray(folded.transpose(2, 3, 1, 0)).reshape(
            rows * cols * in_c, out_c
        ),
        bias=bias.astype(np.float32),
        rows=rows,
        cols=cols,
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
        fc=np.array(fc, np.float32),  # a copy: the layer's array is a view of the file
    )


def load_weights(model_file: str | Path | None = None) -> Weights:
    """Parsed weights of the face recognition model (~0.1 s), read once per process."""
    path = model_file or models.model_path(models.FACE_RECOGNITION_MODEL)
    return _cached_weights(str(Path(path).resolve()))


@lru_cache(maxsize=2)
def _cached_weights(path: str) -> Weights:
    return build_weights(read_network(path))


def _out_size(size: int, kernel: int, stride: int, pad: int) -> int:
    return 1 + (size + 2 * pad - kernel) // stride


def conv(x: np.ndarray, c: Conv) -> np.ndarray:
    """NHWC convolution as im2col + one matrix product; zero padding as dlib's con_."""
    n, h, w, ch = x.shape
    ho, wo = _out_size(h, c.rows, c.stride, c.pad), _out_size(w, c.cols, c.stride, c.pad)
    if c.pad:
        padded = np.zeros((n, h + 2 * c.pad, w + 2 * c.pad, ch), np.float32)
        padded[:, c.pad : c.pad + h, c.pad : c.pad + w] = x
        x = padded
    x = np.ascontiguousarray(x)  # the runs below assume (columns, channels) contiguous
    # im2col: a view whose last axes are (kernel row, kernel cols * channels), so
    # each kernel row of an output pixel is a contiguous run of the input row,
    # then one copy; a copy per kernel tap is several times slower.
    s0, s1, s2, s3 = x.strides
    windows = np.lib.stride_tricks.as_strided(
        x,
        shape=(n, ho, wo, c.rows, c.cols * ch),
        strides=(s0, s1 * c.stride, s2 * c.stride, s1, s3),
        writeable=False,
    )
    cols = np.ascontiguousarray(windows)
    out = cols.reshape(n * ho * wo, -1) @ c.weights
    out += c.bias
    return out.reshape(n, ho, wo, c.out_channels)


def max_pool(x: np.ndarray, size: int, stride: int) -> np.ndarray:
    n, h, w, ch = x.shape
    ho, wo = _out_size(h, size, stride, 0), _out_size(w, size, stride, 0)
    row_span, col_span = (ho - 1) * stride + 1, (wo - 1) * stride + 1
    out = None
    for i in range(size):
        for j in range(size):
            view = x[:, i : i + row_span : stride, j : j + col_span : stride]
            out = view.copy() if out is None else np.maximum(out, view, out=out)
    return out


def avg_pool2(x: np.ndarray) -> np.ndarray:
    """dlib's avg_pool<2,2,2,2>: no padding, an odd last row or column is dropped."""
    n, h, w, ch = x.shape
    ho, wo = _out_size(h, 2, 2, 0), _out_size(w, 2, 2, 0)
    x = x[:, : 2 * ho, : 2 * wo]
    total = x[:, 0::2, 0::2] + x[:, 1::2, 0::2]
    total += x[:, 0::2, 1::2]
    total += x[:, 1::2, 1::2]
    total *= 0.25
    return total


def add_padded(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """dlib's add_prev: tensors of different sizes add as if zero-filled to the larger one."""
    if a.shape == b.shape:
        return a + b
    shape = tuple(max(p, q) for p, q in zip(a.shape, b.shape, strict=True))
    out = np.zeros(shape, np.float32)
    out[: a.shape[0], : a.shape[1], : a.shape[2], : a.shape[3]] += a
    out[: b.shape[0], : b.shape[1], : b.shape[2], : b.shape[3]] += b
    return out


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0, out=x)


def forward(weights: Weights, chips: np.ndarray) -> np.ndarray:
    """(n, 150, 150, 3) uint8 RGB chips -> (n, 128) float32 encodings."""
    x = (chips.astype(np.float32) - weights.means) * np.float32(INPUT_SCALE)
    x = _relu(conv(x, weights.stem))
    x = max_pool(x, *weights.pool)
    for block in weights.blocks:
        y = _relu(conv(x, block.conv1))
        y = conv(y, block.conv2)
        x = _relu(add_padded(avg_pool2(x) if block.down else x, y))
    pooled = x.mean(axis=(1, 2), dtype=np.float32)
    return pooled @ weights.fc


class FaceEncoder:
    """Encodes aligned 150x150 face chips exactly as dlib's face_recognition_model_v1."""

    def __init__(self, model_file: str | Path | None = None, batch_size: int = DEFAULT_BATCH):
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.weights = load_weights(model_file)
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
            batch = stack[start : start + self.batch_size]
            out[start : start + len(batch)] = forward(self.weights, batch)
        return out
