"""Static facts about a .tflite file, read from its flatbuffer without any interpreter.

The flatbuffer schema module ships inside the `tflite-micro` wheel, so parsing needs neither
TensorFlow nor LiteRT. A file that is not a valid TFLite flatbuffer is a ModelError naming it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import stat
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import ModelError

_TFLITE_IDENTIFIER = b"TFL3"
_DTYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool",
           7: "int16", 9: "int8", 10: "float64"}
_DTYPE_BYTES = {"float32": 4, "float16": 2, "int32": 4, "uint8": 1, "int64": 8, "bool": 1,
                "int16": 2, "int8": 1, "float64": 8}

# A flatbuffer cannot exceed 2 GiB; the largest edge models are a few hundred MB. Reading stops
# at 1 GiB so a wrong path (a disk image, a core dump) fails at once instead of filling memory.
MAX_MODEL_BYTES = 1 << 30


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float | None = None  # per-tensor quantization; None for float tensors
    zero_point: int | None = None


@dataclass(frozen=True)
class TfliteModel:
    """The static facts of one model file, whatever its format (harness/models/formats.py
    names it ModelInfo; it was born here with .tflite as the only format)."""

    path: str
    bytes: int
    gzip_bytes: int
    sha256: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    operators: dict[str, int]  # builtin operator name -> count, in first-use order
    parameters: int  # elements of constant tensors (weights and biases)
    weight_dtypes: dict[str, int] = field(default_factory=dict)  # dtype -> parameter count
    macs: int = 0  # multiply-accumulates of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED
    activation_bytes_upper_bound: int = 0  # all non-constant tensors, no memory reuse
    planned_activation_bytes: int = 0  # greedy placement by tensor lifetime, as TFLite-Micro plans
    sparsity: float = 0.0  # fraction of exact zeros among the weights
    format: str = "tflite"  # the model format that read it (harness/models/formats.py)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def quantization(self) -> str:
        """float32 | float16 | int8 dynamic-range | int8 full-integer."""
        dtypes = set(self.weight_dtypes)
        if "float16" in dtypes:
            return "float16"
        if "int8" in dtypes:
            io = {t.dtype for t in (*self.inputs, *self.outputs)}
            return "int8 full-integer" if io <= {"int8", "uint8"} else "int8 dynamic-range"
        return "float32"


def digest(data: bytes) -> tuple[str, int, int]:
    """sha256, bytes and gzip -9 bytes (what an over-the-air update ships)."""
    return hashlib.sha256(data).hexdigest(), len(data), len(gzip.compress(data, 9, mtime=0))


@cache
def tflite_schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

    return schema_py_generated


def read_bytes(path: Path) -> bytes:
    """The file's bytes, refusing what is never a model (a FIFO, a device, > 1 GiB)."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block, /dev/zero never end
            raise ModelError(f"{path}: not a regular file (a directory, FIFO or device is never a model)")
        if info.st_size > MAX_MODEL_BYTES:
            raise ModelError(f"{path}: {info.st_size / 2**30:.1f} GiB is larger than the "
                             f"{MAX_MODEL_BYTES >> 30} GiB a model may be (docs/operations.md)")
        return path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{path}: model file not found") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model: {exc.strerror}") from None


def is_tflite(data: bytes) -> bool:
    return len(data) >= 8 and data[4:8] == _TFLITE_IDENTIFIER


def read_model(path: Path) -> TfliteModel:
    return parse_tflite(path, read_bytes(path))


def parse_tflite(path: Path, data: bytes) -> TfliteModel:
    if not is_tflite(data):
        raise ModelError(f"{path}: not a TFLite model (no 'TFL3' flatbuffer identifier)")
    cached = cached_facts(path, data)
    if cached is not None:
        return cached
    try:
        model = _parse(path, data)
    except ModelError:
        raise
    except Exception as exc:  # a truncated flatbuffer raises anything from struct to IndexError
        raise ModelError(f"{path}: corrupt TFLite model: {type(exc).__name__}: {exc}") from None
    store_facts(model)
    return model


# Derived facts are cached by the file's sha256: a large model is parsed once, whatever its path.
FACTS_VERSION = "v1"  # bump when what _parse derives changes


def _facts_file(sha256: str) -> Path:
    from harness.locations import cache_dir

    return cache_dir() / "facts" / f"{sha256}-{FACTS_VERSION}.json"


def cached_facts(path: Path, data: bytes) -> TfliteModel | None:
    try:
        facts = json.loads(_facts_file(hashlib.sha256(data).hexdigest()).read_text())
        if set(facts) != {f.name for f in fields(TfliteModel)}:
            return None  # written by a version that derived other facts: parse again
        tensors = {k: tuple(TensorInfo(**{**t, "shape": tuple(t["shape"])}) for t in facts[k])
                   for k in ("inputs", "outputs")}
        return TfliteModel(**{**facts, **tensors, "path": str(path)})
    except (OSError, ValueError, TypeError, KeyError):
        return None  # not cached yet, or from another version: parse


def store_facts(model: TfliteModel) -> None:
    file = _facts_file(model.sha256)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(model.to_dict()))
        tmp.replace(file)
    except OSError:
        pass  # a cache that cannot be written only costs time


def _parse(path: Path, data: bytes) -> TfliteModel:
    schema = tflite_schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    if not model.subgraphs:
        raise ModelError(f"{path}: corrupt TFLite model: no subgraph")
    graph = model.subgraphs[0]
    op_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    tensors = graph.tensors
    constant = {i for i, t in enumerate(tensors) if _buffer_size(model, t) > 0}
    operators: Counter[str] = Counter()
    macs = 0
    for op in graph.operators or []:
        code = model.operatorCodes[op.opcodeIndex]
        name = _op_name(code, op_names)
        operators[name] += 1
        macs += _op_macs(name, op, tensors)
    weight_dtypes: Counter[str] = Counter()
    zeros = 0
    for i in constant:
        tensor = tensors[i]
        dtype = _DTYPES.get(tensor.type, f"type{tensor.type}")
        count = int(np.prod(tensor.shape)) if tensor.shape is not None and len(tensor.shape) else 1
        weight_dtypes[dtype] += count
        if dtype in ("float32", "int8", "float16") and len(_shape(tensor)) >= 2:
            raw = np.asarray(model.buffers[tensor.buffer].data, dtype=np.uint8).tobytes()
            zeros += int(np.count_nonzero(np.frombuffer(raw, dtype=dtype) == 0))
    kernel_count = sum(_elements(tensors[i]) for i in constant if len(_shape(tensors[i])) >= 2)
    activations = sum(_elements(t) * _DTYPE_BYTES.get(_DTYPES.get(t.type, ""), 4)
                      for i, t in enumerate(tensors) if i not in constant)
    planned = planned_activation_bytes(graph, tensors, constant)
    sha, size, gz = digest(data)
    return TfliteModel(
        path=str(path), bytes=size, gzip_bytes=gz, sha256=sha,
        inputs=tuple(_tensor_info(tensors[i]) for i in graph.inputs),
        outputs=tuple(_tensor_info(tensors[i]) for i in graph.outputs),
        operators=dict(operators), parameters=sum(weight_dtypes.values()),
        weight_dtypes=dict(weight_dtypes), macs=macs,
        activation_bytes_upper_bound=activations, planned_activation_bytes=planned,
        sparsity=round(zeros / kernel_count, 4) if kernel_count else 0.0,
    )


PLAN_ALIGNMENT = 16  # TFLite-Micro's buffer alignment


def planned_activation_bytes(graph: Any, tensors: list[Any], constant: set[int]) -> int:
    """The activation memory the model plans for: every non-constant tensor lives from the
    operator that first touches it to the last (graph inputs from the start, outputs to the
    end) and is placed, largest first, at the lowest aligned offset that no tensor alive at the
    same time occupies (TFLite-Micro's GreedyMemoryPlanner). Scratch buffers are not counted."""
    ops = graph.operators or []
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for i in graph.inputs if graph.inputs is not None else []:
        first[int(i)], last[int(i)] = 0, 0
    for step, op in enumerate(ops):
        for t in [*(op.inputs if op.inputs is not None else []), *(op.outputs if op.outputs is not None else [])]:
            t = int(t)
            if t >= 0 and t not in constant:
                first.setdefault(t, step)
                last[t] = max(last.get(t, step), step)
    for o in graph.outputs if graph.outputs is not None else []:
        first.setdefault(int(o), len(ops))
        last[int(o)] = len(ops)
    size = {t: -(-_elements(tensors[t]) * _DTYPE_BYTES.get(_DTYPES.get(tensors[t].type, ""), 4)
                 // PLAN_ALIGNMENT) * PLAN_ALIGNMENT for t in first}
    placed: list[tuple[int, int, int, int]] = []  # (offset, end, first, last)
    high = 0
    for t in sorted(first, key=lambda t: (-size[t], t)):
        offset = 0
        for o_start, o_end, f, l in sorted(placed):
            if f > last[t] or l < first[t]:
                continue  # not alive at the same time: may share memory
            if offset + size[t] <= o_start:
                break
            offset = max(offset, o_end)
        placed.append((offset, offset + size[t], first[t], last[t]))
        high = max(high, offset + size[t])
    return high


def _op_name(code: Any, op_names: dict[int, str]) -> str:
    """BUILTIN name; a custom op by its own name ('CUSTOM:TFLite_Detection_PostProcess'); a
    builtin code newer than this schema by its number, so no operator is ever anonymous."""
    number = max(code.builtinCode, code.deprecatedBuiltinCode)
    name = op_names.get(number)
    if name == "CUSTOM" or (name is None and code.customCode):
        custom = code.customCode
        custom = bytes(custom).decode("utf-8", "replace") if isinstance(custom, (bytes, bytearray, list)) else custom
        return f"CUSTOM:{custom or '?'}"
    return name or f"BUILTIN_{number}"


def _buffer_size(model: Any, tensor: Any) -> int:
    buffer = model.buffers[tensor.buffer] if tensor.buffer < len(model.buffers) else None
    if buffer is None:
        return 0
    if buffer.data is not None:
        return len(buffer.data)
    return int(getattr(buffer, "size", 0) or 0)  # large models keep buffers outside the flatbuffer


def _shape(tensor: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in tensor.shape) if tensor.shape is not None else ()


def _elements(tensor: Any) -> int:
    return int(np.prod(_shape(tensor))) if _shape(tensor) else 1


def _tensor_info(tensor: Any) -> TensorInfo:
    quant = tensor.quantization
    scale = zero = None
    if quant is not None and quant.scale is not None and len(quant.scale) == 1:
        scale, zero = float(quant.scale[0]), int(quant.zeroPoint[0])
    name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)
    return TensorInfo(name, _shape(tensor), _DTYPES.get(tensor.type, f"type{tensor.type}"), scale, zero)


def _op_macs(name: str, op: Any, tensors: list[Any]) -> int:
    if name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        return 0
    out = _shape(tensors[op.outputs[0]])
    weights = _shape(tensors[op.inputs[1]])
    if not out or not weights:
        return 0
    if name == "CONV_2D":  # weights [out_c, kh, kw, in_c]
        return int(np.prod(out)) * int(np.prod(weights[1:]))
    if name == "DEPTHWISE_CONV_2D":  # weights [1, kh, kw, out_c]
        return int(np.prod(out)) * weights[1] * weights[2]
    return int(np.prod(out)) * weights[-1]  # FULLY_CONNECTED: weights [out, in]
