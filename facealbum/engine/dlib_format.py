"""Read the layers of a dlib DNN file (dlib's own binary serialisation) into numpy arrays.

Only what inference of face_recognition's ResNet needs is kept: the input layer's
channel means and each computational layer's parameters, in input-to-output order.

dlib writes a network outermost layer first, but each layer writes its sub-network
before its own details, so after a run of version numbers the file holds the input
layer and then every layer from the input upward, each as a name string, its fields,
and a fixed trailer (three flags and three empty tensors).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class DlibFormatError(ValueError):
    """The file is not a dlib network this reader understands."""


@dataclass(frozen=True)
class Layer:
    """One layer in input-to-output order: ``kind`` is dlib's name without its version."""

    kind: str  # "con", "affine", "relu", "max_pool", "avg_pool", "add_prev", "fc"
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    ints: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Network:
    input_name: str
    channel_means: tuple[float, float, float]  # red, green, blue
    input_size: tuple[int, int]  # rows, columns
    layers: tuple[Layer, ...]


class _Reader:
    def __init__(self, data: bytes) -> None:
        # Slices of a memoryview share the file's bytes: the 22 MB of weights are not
        # copied on their way to numpy.
        self.data = memoryview(data)
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise DlibFormatError("unexpected end of file")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def int(self) -> int:
        # dlib: one control byte (bit 7 = negative, low bits = byte count), then
        # the magnitude little-endian.
        control = self.byte()
        size = control & 0x0F
        if size > 8:
            raise DlibFormatError(f"bad integer at byte {self.pos - 1}")
        magnitude = int.from_bytes(self._take(size), "little")
        return -magnitude if control & 0x80 else magnitude

    def float(self) -> float:
        # dlib: mantissa and base-2 exponent as two integers; zero needs no exponent meaning.
        mantissa = self.int()
        exponent = self.int()
        return 0.0 if mantissa == 0 else float(mantissa) * 2.0**exponent

    def string(self) -> str:
        size = self.int()
        if not 0 <= size < 1_000_000:
            raise DlibFormatError(f"bad string length at byte {self.pos}")
        return bytes(self._take(size)).decode("latin-1")

    def peek_string(self, expected: str) -> bool:
        saved = self.pos
        try:
            return self.string() == expected
        except (DlibFormatError, UnicodeDecodeError):
            return False
        finally:
            self.pos = saved

    def flag(self) -> bool:
        value = self.byte()
        if value not in (ord("0"), ord("1")):
            raise DlibFormatError(f"bad flag at byte {self.pos - 1}")
        return value == ord("1")

    def tensor(self) -> np.ndarray:
        version = self.int()
        if version != 2:
            raise DlibFormatError(f"tensor version {version} at byte {self.pos}")
        shape = tuple(self.int() for _ in range(4))  # samples, k, rows, columns
        count = int(np.prod(shape))
        raw = self._take(4 * count)
        # A read-only view of the file's bytes: whoever keeps an array makes its own copy.
        return np.frombuffer(raw, dtype="<f4").reshape(shape)

    def alias_shape(self) -> tuple[int, int, int, int]:
        version = self.int()
        if version != 1:
            raise DlibFormatError(f"alias_tensor version {version} at byte {self.pos}")
        return tuple(self.int() for _ in range(4))  # type: ignore[return-value]

    def _take(self, size: int) -> memoryview:
        end = self.pos + size
        if end > len(self.data):
            raise DlibFormatError("unexpected end of file")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk


def _split(params: np.ndarray, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    """Cut a layer's flat parameter tensor into its aliases, laid out one after another."""
    flat = params.reshape(-1)
    out, start = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        out.append(flat[start : start + size].reshape(shape))
        start += size
    if start != flat.size:
        raise DlibFormatError("parameter sizes do not add up")
    return out


def _con(r: _Reader) -> Layer:
    params = r.tensor()
    filters_n, rows, cols, stride_y, stride_x, pad_y, pad_x = (r.int() for _ in range(7))
    filters_shape = r.alias_shape()
    bias_shape = r.alias_shape()
    for _ in range(4):  # learning-rate and weight-decay multipliers
        r.float()
    weights, bias = _split(params, filters_shape, bias_shape)
    if weights.shape != (filters_n, weights.shape[1], rows, cols):
        raise DlibFormatError("convolution filter shape disagrees with its fields")
    return Layer(
        "con",
        {"weights": weights, "bias": bias.reshape(-1)},
        {"stride_y": stride_y, "stride_x": stride_x, "pad_y": pad_y, "pad_x": pad_x},
    )


def _affine(r: _Reader) -> Layer:
    params = r.tensor()
    gamma_shape = r.alias_shape()
    beta_shape = r.alias_shape()
    mode = r.int()
    gamma, beta = _split(params, gamma_shape, beta_shape)
    return Layer("affine", {"gamma": gamma.reshape(-1), "beta": beta.reshape(-1)}, {"mode": mode})


def _pool(kind: str) -> object:
    def read(r: _Reader) -> Layer:
        names = ("rows", "cols", "stride_y", "stride_x", "pad_y", "pad_x")
        return Layer(kind, {}, {name: r.int() for name in names})

    return read


def _fc(r: _Reader) -> Layer:
    outputs, inputs = r.int(), r.int()
    params = r.tensor()
    weights_shape = r.alias_shape()
    bias_shape = r.alias_shape()
    bias_mode = r.int()  # 1 = no bias
    for _ in range(4):
        r.float()
    if bias_mode == 1:
        weights = params.reshape(weights_shape)
        bias = np.zeros(outputs, np.float32)
    else:
        weights, bias = _split(params, weights_shape, bias_shape)
    weights = weights.reshape(inputs, outputs)
    return Layer("fc", {"weights": weights, "bias": bias.reshape(-1)}, {})


_READERS = {
    "con_4": _con,
    "affine_": _affine,
    "relu_": lambda r: Layer("relu"),
    "max_pool_2": _pool("max_pool"),
    "avg_pool_2": _pool("avg_pool"),
    "add_prev_": lambda r: Layer("add_prev"),
    "fc_2": _fc,
}

INPUT_NAME = "input_rgb_image_sized"


def read_network(path: str | Path) -> Network:
    """Every layer of a dlib metric-learning network file, parameters as float32 arrays."""
    r = _Reader(Path(path).read_bytes())
    r.int()  # loss layer version
    loss = r.string()
    if not loss.startswith("loss_metric"):
        raise DlibFormatError(f"not a metric network: {loss!r}")
    r.float(), r.float()  # margin and distance threshold: training only
    while not r.peek_string(INPUT_NAME):  # versions of the nested layers
        r.int()
    input_name = r.string()
    means = (r.float(), r.float(), r.float())
    size = (r.int(), r.int())
    layers = []
    while not r.at_end():
        name = r.string()
        reader = _READERS.get(name)
        if reader is None:
            raise DlibFormatError(f"unsupported layer {name!r} at byte {r.pos}")
        layers.append(reader(r))
        for _ in range(3):
            r.flag()
        for _ in range(3):  # gradients and cached output: empty in a saved model
            r.tensor()
        if len(layers) == 1:
            r.int()  # the layer on the input also records the input's sample expansion
    return Network(input_name, means, size, tuple(layers))
