"""One interface for "a model file", whatever its format.

A format is recognised by the file's content, never its name: a TFLite flatbuffer carries
'TFL3' at bytes 4..8, an ExecuTorch program 'ET' + version at the same place, an ONNX model is
a protobuf ModelProto whose first field is ir_version (tag 0x08). Each format reads the same
static facts (harness/models/tflite_model.py's TfliteModel, here called ModelInfo): inputs,
outputs, operators, parameters, MACs, dtypes, sizes. Planning, fit, check, inspect and
manifests read models only through `read_model` here. Formats register in the
`edge_harness.model_formats` entry-point group (harness/registry.py), so a plugin can add one.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Protocol

import numpy as np

from harness.errors import ModelError
from harness.models.tflite_model import (TensorInfo, TfliteModel, cached_facts, digest, is_tflite,
                                         parse_tflite, read_bytes, store_facts)

ModelInfo = TfliteModel  # the static facts of a model file, of any format


class ModelFormat(Protocol):
    name: str
    suffixes: tuple[str, ...]  # what model folders are globbed for; detection never uses it

    def detect(self, data: bytes) -> bool: ...
    def parse(self, path: Path, data: bytes) -> ModelInfo: ...


class TfliteFormat:
    name, suffixes = "tflite", (".tflite",)

    def detect(self, data: bytes) -> bool:
        return is_tflite(data)

    def parse(self, path: Path, data: bytes) -> ModelInfo:
        return parse_tflite(path, data)


# ONNX TensorProto data types
_ONNX_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64", 9: "bool",
                10: "float16", 11: "float64"}
_BYTES = {"float32": 4, "uint8": 1, "int8": 1, "int16": 2, "int32": 4, "int64": 8, "bool": 1,
          "float16": 2, "float64": 8}


class OnnxFormat:
    name, suffixes = "onnx", (".onnx",)

    def detect(self, data: bytes) -> bool:
        # ModelProto field 1 (ir_version, varint) comes first in every serializer's output.
        return len(data) > 16 and data[0] == 0x08 and not is_tflite(data)

    def parse(self, path: Path, data: bytes) -> ModelInfo:
        cached = cached_facts(path, data)
        if cached is not None:
            return cached
        try:
            import onnx
        except ImportError:
            raise ModelError(f"{path}: an ONNX model; reading it needs the onnx package "
                             "(pip install 'edge-harness[onnx]')") from None
        try:
            proto = onnx.load_from_string(data)
            onnx.checker.check_model(proto)
            inferred = onnx.shape_inference.infer_shapes(proto)
        except Exception as exc:  # DecodeError, ValidationError, InferenceError
            raise ModelError(f"{path}: corrupt ONNX model: {type(exc).__name__}: {str(exc)[:200]}") from None
        model = _onnx_facts(path, data, inferred.graph, onnx.numpy_helper)
        store_facts(model)
        return model


def _onnx_facts(path: Path, data: bytes, graph, numpy_helper) -> ModelInfo:  # noqa: ANN001 - onnx protos
    weights = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    shapes = {v.name: _value_shape(v) for v in [*graph.input, *graph.value_info, *graph.output]}
    dtypes = {v.name: _ONNX_DTYPES.get(v.type.tensor_type.elem_type, "?")
              for v in [*graph.input, *graph.value_info, *graph.output]}
    operators: Counter[str] = Counter()
    macs = 0
    for node in graph.node:
        operators[node.op_type] += 1
        macs += _onnx_macs(node, shapes, weights)
    weight_dtypes: Counter[str] = Counter()
    zeros = kernel = 0
    for array in weights.values():
        weight_dtypes[str(array.dtype)] += int(array.size)
        if array.ndim >= 2:
            kernel += int(array.size)
            zeros += int(np.count_nonzero(array == 0))
    activations = sum(int(np.prod(s)) * _BYTES.get(dtypes.get(n, ""), 4)
                      for n, s in shapes.items() if n not in weights and s)
    sha, size, gz = digest(data)
    inputs = [v for v in graph.input if v.name not in weights]
    return ModelInfo(
        path=str(path), bytes=size, gzip_bytes=gz, sha256=sha,
        inputs=tuple(TensorInfo(v.name, shapes[v.name], dtypes[v.name]) for v in inputs),
        outputs=tuple(TensorInfo(v.name, shapes[v.name], dtypes[v.name]) for v in graph.output),
        operators=dict(operators), parameters=sum(weight_dtypes.values()),
        weight_dtypes=dict(weight_dtypes), macs=macs, activation_bytes_upper_bound=activations,
        planned_activation_bytes=0,  # no arena plan for ONNX: its runtimes allocate their own way
        sparsity=round(zeros / kernel, 4) if kernel else 0.0, format="onnx",
    )


def _value_shape(value) -> tuple[int, ...]:  # noqa: ANN001 - onnx ValueInfoProto
    dims = value.type.tensor_type.shape.dim
    return tuple(int(d.dim_value) if d.dim_value > 0 else 1 for d in dims)  # symbolic batch -> 1


def _onnx_macs(node, shapes: dict[str, tuple[int, ...]], weights: dict[str, np.ndarray]) -> int:  # noqa: ANN001
    out = shapes.get(node.output[0]) if node.output else None
    w = weights.get(node.input[1]) if len(node.input) > 1 else None
    if not out or w is None:
        return 0
    if node.op_type == "Conv":  # weights [out_c, in_c/group, kh, kw]: each output reads in_c/group*kh*kw
        return int(np.prod(out)) * int(np.prod(w.shape[1:]))
    if node.op_type in ("Gemm", "MatMul"):
        return int(np.prod(out)) * int(w.shape[0] if node.op_type == "MatMul" else _gemm_k(node, w))
    return 0


def _gemm_k(node, w: np.ndarray) -> int:  # noqa: ANN001
    trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
    return int(w.shape[1] if trans_b else w.shape[0])


class PteFormat:
    """An ExecuTorch program: inputs, outputs and calls read from its flatbuffer
    (harness/models/pte_model.py); delegate blobs (XNNPACK) are opaque."""

    name, suffixes = "pte", (".pte",)

    def detect(self, data: bytes) -> bool:
        return len(data) >= 8 and data[4:6] == b"ET" and data[6:8].isdigit()

    def parse(self, path: Path, data: bytes) -> ModelInfo:
        from harness.models.pte_model import parse_pte

        return parse_pte(path, data)


def formats() -> dict[str, ModelFormat]:
    """Every format: the built-ins and those plugins register (harness/registry.py)."""
    from harness.registry import MODEL_FORMATS

    return MODEL_FORMATS.all()


def model_suffixes() -> tuple[str, ...]:
    return tuple(s for f in formats().values() for s in f.suffixes)


def detect(path: Path, data: bytes) -> ModelFormat:
    for fmt in formats().values():
        if fmt.detect(data):
            return fmt
    others = ", ".join(name for name in formats() if name != "tflite")
    raise ModelError(f"{path}: not a TFLite model (no 'TFL3' flatbuffer identifier), nor any other "
                     f"format this harness reads ({others})")


def read_model(path: Path) -> ModelInfo:
    """The static facts of the model file at `path`; a ModelError naming it when it is none."""
    data = read_bytes(path)
    return detect(path, data).parse(path, data)


def format_of(path: Path) -> str:
    return read_model(path).format
