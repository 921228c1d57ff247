"""The ONNX writer: what it writes, onnxruntime reads and runs as numpy would."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest

from facealbum.engine.onnx_graph import ELEMENT_TYPES, GraphWriter, _varint


def run(model: bytes, **inputs: np.ndarray) -> list[np.ndarray]:
    return onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, inputs)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"\x00"),
        (1, b"\x01"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (300, b"\xac\x02"),
        # protobuf writes a negative int64 as ten bytes of its two's complement
        (-1, b"\xff" * 9 + b"\x01"),
    ],
)
def test_varints_are_protobufs(value: int, encoded: bytes) -> None:
    assert _varint(value) == encoded


def test_a_graph_of_weights_and_attributes_runs_as_numpy() -> None:
    rng = np.random.default_rng(3)
    shift = rng.normal(size=(4, 3)).astype(np.float32)
    graph = GraphWriter("test")
    x = graph.input("x", np.uint8, ["n", 2, 4, 3])
    y = graph.node("Cast", [x], to=ELEMENT_TYPES[np.dtype(np.float32)])
    y = graph.node("Add", [y, graph.weight(shift)])
    y = graph.node("Transpose", [y], perm=[0, 3, 1, 2])
    y = graph.node("Pad", [y, graph.weight(np.array([0, 0, 0, 0, 0, 1, 2, 0], np.int64))])
    graph.node("Flatten", [y], output="out", axis=-3)  # a negative attribute
    graph.output("out", np.float32, ["n", 4 * 4 * 4])
    pixels = rng.integers(0, 256, (2, 2, 4, 3), dtype=np.uint8)

    [out] = run(graph.model(), x=pixels)

    expected = (pixels.astype(np.float32) + shift).transpose(0, 3, 1, 2)
    expected = np.pad(expected, [(0, 0), (0, 1), (0, 2), (0, 0)]).reshape(2, -1)
    assert out.shape == (2, 64) and out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)


def test_weights_of_another_byte_order_are_written_little_endian() -> None:
    big_endian = np.arange(6, dtype=">f4").reshape(2, 3)
    graph = GraphWriter("test")
    x = graph.input("x", np.float32, [2, 3])
    graph.node("Add", [x, graph.weight(big_endian)], output="out")
    graph.output("out", np.float32, [2, 3])
    [out] = run(graph.model(), x=np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(out, big_endian.astype(np.float32))
