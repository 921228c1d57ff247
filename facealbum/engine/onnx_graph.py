"""Writes a feed-forward network of standard ONNX operators as an ONNX model file.

ONNX files are protocol buffers (onnx.proto). onnxruntime runs them but cannot write
them, and the onnx package (31 MB) would be a dependency only to serialise one graph
whose weights we fold ourselves (engine/encoder.py). What that graph needs is a handful
of messages: the model, its graph, nodes with integer attributes, tensors as raw
little-endian bytes, and typed inputs and outputs. Field numbers below are onnx.proto's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# onnx.proto's TensorProto.DataType values for the element types we write.
ELEMENT_TYPES = {np.dtype(np.float32): 1, np.dtype(np.uint8): 2, np.dtype(np.int64): 7}
# IR version 8 and opset 17 came with ONNX 1.12; every onnxruntime we allow
# (pyproject.toml) runs them.
IR_VERSION = 8
OPSET = 17

_VARINT, _LENGTH_DELIMITED = 0, 2
Part = bytes | memoryview  # a piece of a message, written as it is
# AttributeProto.AttributeType
_ATTRIBUTE_INT, _ATTRIBUTE_INTS = 2, 7


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64s are written as their two's complement
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3 | _VARINT) + _varint(value)


def _bytes(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | _LENGTH_DELIMITED) + _varint(len(payload)) + payload


def _text(field: int, text: str) -> bytes:
    return _bytes(field, text.encode("utf-8"))


def _attribute(name: str, value: int | Sequence[int]) -> bytes:
    if isinstance(value, int):
        return _text(1, name) + _int(3, value) + _int(20, _ATTRIBUTE_INT)
    return _text(1, name) + b"".join(_int(8, v) for v in value) + _int(20, _ATTRIBUTE_INTS)


def _message(field: int, parts: list[Part]) -> list[Part]:
    """A nested message whose parts stay apart: a model's weights are copied only once,
    when ``model`` joins every part (joining at each level would copy them three times)."""
    size = sum(memoryview(part).nbytes for part in parts)
    return [_varint(field << 3 | _LENGTH_DELIMITED) + _varint(size), *parts]


def _tensor(name: str, array: np.ndarray) -> list[Part]:
    data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return [
        *(_int(1, dim) for dim in data.shape),
        _int(2, ELEMENT_TYPES[data.dtype.newbyteorder("=")]),
        _text(8, name),
        *_message(9, [memoryview(data).cast("B")]),
    ]


def _value_info(name: str, dtype: np.dtype, shape: Sequence[int | str]) -> bytes:
    dims = b"".join(
        _bytes(1, _text(2, dim) if isinstance(dim, str) else _int(1, dim)) for dim in shape
    )
    tensor_type = _int(1, ELEMENT_TYPES[np.dtype(dtype)]) + _bytes(2, dims)
    return _text(1, name) + _bytes(2, _bytes(1, tensor_type))


class GraphWriter:
    """Collects nodes and weights in order; ``model`` gives the ONNX file's bytes.

    Every node has one output, named after its position, which ``node`` returns for
    the next node to take as input."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._nodes: list[bytes] = []
        self._weights: list[Part] = []
        self._inputs: list[bytes] = []
        self._outputs: list[bytes] = []
        self._names = 0

    def _fresh(self, kind: str) -> str:
        self._names += 1
        return f"{kind}_{self._names}"

    def input(self, name: str, dtype: type | np.dtype, shape: Sequence[int | str]) -> str:
        """A model input; a str in `shape` is a dimension of any size (a batch)."""
        self._inputs.append(_value_info(name, np.dtype(dtype), shape))
        return name

    def weight(self, array: np.ndarray) -> str:
        name = self._fresh("weight")
        self._weights += _message(5, _tensor(name, np.asarray(array)))
        return name

    def node(
        self,
        op: str,
        inputs: Sequence[str],
        output: str | None = None,
        **attributes: int | Sequence[int],
    ) -> str:
        output = output or self._fresh(op.lower())
        self._nodes.append(
            b"".join(
                [
                    *(_text(1, name) for name in inputs),
                    _text(2, output),
                    _text(4, op),
                    *(_bytes(5, _attribute(k, v)) for k, v in attributes.items()),
                ]
            )
        )
        return output

    def output(self, name: str, dtype: type | np.dtype, shape: Sequence[int | str]) -> None:
        self._outputs.append(_value_info(name, np.dtype(dtype), shape))

    def model(self) -> bytes:
        graph = [
            *(_bytes(1, node) for node in self._nodes),
            _text(2, self.name),
            *self._weights,
            *(_bytes(11, value) for value in self._inputs),
            *(_bytes(12, value) for value in self._outputs),
        ]
        opset = _int(2, OPSET)  # the default domain: ONNX's own operators
        return b"".join(
            [_int(1, IR_VERSION), _text(2, "facealbum"), *_message(7, graph), _bytes(8, opset)]
        )
