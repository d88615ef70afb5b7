"""Write small TFLite flatbuffers, for tests and examples of :mod:`.tflite_graph`.

:func:`build_tflite` takes the tensors (name, shape, and a numpy constant or a dtype name for a
computed value), the operators (builtin name, input and output tensor indices, options by their
schema field names) and the graph's input and output indices, and returns the file's bytes. It
uses the builder functions of the ``tflite`` package (the TFLite schema, imported lazily).

Example:
    >>> data = build_tflite([("x", (1, 2), "float32"), ("y", (1, 2), "float32")],
    ...                     [("RELU", [0], [1], {})], inputs=[0], outputs=[1])
    >>> data[4:8]
    b'TFL3'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["build_tflite", "OPTIONS", "TENSOR_TYPES"]

#: The options table of each operator that has one (as named in the TFLite schema).
OPTIONS = {
    "CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions", "ADD": "AddOptions",
    "SUB": "SubOptions", "MUL": "MulOptions", "DIV": "DivOptions", "MAX_POOL_2D": "Pool2DOptions",
    "CONCATENATION": "ConcatenationOptions", "MEAN": "ReducerOptions", "SUM": "ReducerOptions",
    "STRIDED_SLICE": "StridedSliceOptions", "RESHAPE": "ReshapeOptions", "TRANSPOSE": "TransposeOptions",
    "PAD": "PadOptions", "SQUARED_DIFFERENCE": "SquaredDifferenceOptions", "DEQUANTIZE": "DequantizeOptions",
    "REDUCE_MAX": "ReducerOptions", "PADV2": "PadV2Options", "SQUEEZE": "SqueezeOptions",
    "EXPAND_DIMS": "ExpandDimsOptions",
}
#: TFLite tensor type codes by numpy dtype name.
TENSOR_TYPES = {"float32": 0, "float16": 1, "int32": 2, "uint8": 3, "int64": 4, "bool": 6, "int16": 7,
                "int8": 9, "float64": 10}

Tensor = tuple[str, Sequence[int], "np.ndarray | str"]
Operator = tuple[str, Sequence[int], Sequence[int], dict[str, Any]]


def _bytes_vector(b: Any, raw: bytes) -> int:
    """A byte vector aligned to 16, as the TFLite converter writes buffer data."""
    b.StartVector(1, len(raw), 16)
    b.head -= len(raw)
    b.Bytes[b.head:b.head + len(raw)] = raw
    return b.EndVector()


def _int_vector(b: Any, values: Sequence[int]) -> int:
    return b.CreateNumpyVector(np.asarray(values, np.int32))


def _offsets(b: Any, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def build_tflite(tensors: Sequence[Tensor], operators: Sequence[Operator], inputs: Sequence[int],
                 outputs: Sequence[int]) -> bytes:
    """The bytes of a one-subgraph TFLite model (see the module docs)."""
    import flatbuffers
    import tflite

    b = flatbuffers.Builder(1024)
    buffers, tensor_offs = [_bytes_vector(b, b"")], []
    for name, shape, value in tensors:
        if isinstance(value, np.ndarray):
            buffers.append(_bytes_vector(b, np.ascontiguousarray(value).tobytes()))
    names = [b.CreateString(name) for name, _, _ in tensors]
    shapes = [_int_vector(b, list(shape)) for _, shape, _ in tensors]
    next_buffer = 1
    for (name, shape, value), name_off, shape_off in zip(tensors, names, shapes):
        dtype = value.dtype.name if isinstance(value, np.ndarray) else value
        tflite.TensorStart(b)
        tflite.TensorAddName(b, name_off)
        tflite.TensorAddShape(b, shape_off)
        tflite.TensorAddType(b, TENSOR_TYPES[dtype])
        if isinstance(value, np.ndarray):
            tflite.TensorAddBuffer(b, next_buffer)
            next_buffer += 1
        tensor_offs.append(tflite.TensorEnd(b))
    buffer_offs = []
    for data in buffers:
        tflite.BufferStart(b)
        tflite.BufferAddData(b, data)
        buffer_offs.append(tflite.BufferEnd(b))
    codes = list(dict.fromkeys(op for op, *_ in operators))
    code_offs = []
    for op in codes:
        code = getattr(tflite.BuiltinOperator, op)
        tflite.OperatorCodeStart(b)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
        tflite.OperatorCodeAddBuiltinCode(b, code)
        tflite.OperatorCodeAddVersion(b, 1)
        code_offs.append(tflite.OperatorCodeEnd(b))
    op_offs = []
    for op, ins, outs, options in operators:
        table = OPTIONS.get(op)
        opts = None
        if table:
            getattr(tflite, f"{table}Start")(b)
            for key, value in options.items():
                getattr(tflite, f"{table}Add{key}")(b, value)
            opts = getattr(tflite, f"{table}End")(b)
        ins_off, outs_off = _int_vector(b, ins), _int_vector(b, outs)
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, codes.index(op))
        tflite.OperatorAddInputs(b, ins_off)
        tflite.OperatorAddOutputs(b, outs_off)
        if opts is not None:
            tflite.OperatorAddBuiltinOptionsType(b, getattr(tflite.BuiltinOptions, table))
            tflite.OperatorAddBuiltinOptions(b, opts)
        op_offs.append(tflite.OperatorEnd(b))
    vectors = [_offsets(b, tensor_offs), _int_vector(b, inputs), _int_vector(b, outputs), _offsets(b, op_offs)]
    tflite.SubGraphStart(b)
    for add, vec in zip((tflite.SubGraphAddTensors, tflite.SubGraphAddInputs, tflite.SubGraphAddOutputs,
                         tflite.SubGraphAddOperators), vectors):
        add(b, vec)
    subgraph = tflite.SubGraphEnd(b)
    model_vectors = [_offsets(b, code_offs), _offsets(b, [subgraph]), _offsets(b, buffer_offs)]
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, model_vectors[0])
    tflite.ModelAddSubgraphs(b, model_vectors[1])
    tflite.ModelAddBuffers(b, model_vectors[2])
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())
