"""The static facts of an ExecuTorch program (.pte) without ExecuTorch: the file is a flatbuffer of
ExecuTorch's schema/program.fbs (identifier ET12), read here with the `flatbuffers` package the
.tflite reader already uses. From the `forward` execution plan: inputs and outputs (shape, dtype),
the operators the portable runtime runs and one `delegate:<backend>` entry per delegate call.
Weights lowered into a delegate (XNNPACK) live in its opaque blob, so parameters and MACs are
not read (0), as for any delegated model.
"""

from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path

from flatbuffers import number_types as N
from flatbuffers.table import Table

from harness.errors import ModelError
from harness.models.tflite_model import TensorInfo, TfliteModel, digest

# Field slots of program.fbs tables (vtable index = 4 + 2 * slot)
_PROGRAM_PLANS, _PROGRAM_SEGMENTS = 1, 4
_PLAN_NAME, _PLAN_VALUES, _PLAN_INPUTS, _PLAN_OUTPUTS, _PLAN_CHAINS, _PLAN_OPERATORS, _PLAN_DELEGATES = 0, 2, 3, 4, 5, 6, 7
_EVALUE_TYPE, _EVALUE_VAL = 0, 1  # union `val`: its type tag, then the table
_TENSOR = 5  # KernelTypes: NONE, Null, Int, Bool, Double, Tensor, ...
_TENSOR_SCALAR_TYPE, _TENSOR_SIZES = 0, 2
_CHAIN_INSTRUCTIONS = 2
_INSTRUCTION_TYPE, _INSTRUCTION_ARGS = 0, 1
_KERNEL_CALL, _DELEGATE_CALL = 1, 2  # InstructionArguments: NONE, KernelCall, DelegateCall, ...
_SCALAR_TYPES = {0: "uint8", 1: "int8", 2: "int16", 3: "int32", 4: "int64", 5: "float16", 6: "float32",
                 7: "float64", 11: "bool", 15: "bfloat16"}


def _field(table: Table, slot: int) -> int:
    return table.Offset(4 + 2 * slot)


def _tables(table: Table, slot: int) -> list[Table]:
    off = _field(table, slot)
    if not off:
        return []
    start = table.Vector(off)
    return [Table(table.Bytes, table.Indirect(start + 4 * i)) for i in range(table.VectorLen(off))]


def _table(table: Table, slot: int) -> Table | None:
    off = _field(table, slot)
    return Table(table.Bytes, table.Indirect(table.Pos + off)) if off else None


def _ints(table: Table, slot: int, kind=N.Int32Flags) -> list[int]:  # noqa: ANN001 - a flatbuffers flags class
    off = _field(table, slot)
    return [int(v) for v in table.GetVectorAsNumpy(kind, off)] if off else []


def _string(table: Table, slot: int) -> str:
    off = _field(table, slot)
    return table.String(table.Pos + off).decode() if off else ""


def _scalar(table: Table, slot: int, kind=N.Uint8Flags) -> int:  # noqa: ANN001
    off = _field(table, slot)
    return int(table.Get(kind, table.Pos + off)) if off else 0


def parse_pte(path: Path, data: bytes) -> TfliteModel:
    try:
        program = Table(data, N.UOffsetTFlags.py_type(int.from_bytes(data[:4], "little")))
        plans = _tables(program, _PROGRAM_PLANS)
        plan = next((p for p in plans if _string(p, _PLAN_NAME) == "forward"), plans[0] if plans else None)
        if plan is None:
            raise ModelError(f"{path}: an ExecuTorch program without an execution plan")
        values = _tables(plan, _PLAN_VALUES)
        inputs = tuple(_tensor(values, i, f"input{n}") for n, i in enumerate(_ints(plan, _PLAN_INPUTS)))
        outputs = tuple(_tensor(values, i, f"output{n}") for n, i in enumerate(_ints(plan, _PLAN_OUTPUTS)))
        operators = _operators(plan)
        missing = _segments_end(program, data) - len(data)
    except (IndexError, ValueError, TypeError, struct.error) as exc:  # offsets past the end, garbage tables
        raise ModelError(f"{path}: corrupt ExecuTorch program: {type(exc).__name__}: {exc}") from None
    if missing > 0:  # the delegate blobs and constants follow the program: a cut file loses them
        raise ModelError(f"{path}: corrupt ExecuTorch program: truncated, {missing} bytes of its segments missing")
    sha, size, gz = digest(data)
    return TfliteModel(path=str(path), bytes=size, gzip_bytes=gz, sha256=sha, inputs=inputs, outputs=outputs,
                       operators=operators, parameters=0, format="pte")


def _segments_end(program: Table, data: bytes) -> int:
    """Where the last data segment ends: segments are placed from the extended header's
    segment_base_offset ('eh00' at bytes 8..12, then length u32, program_size u64, base u64)."""
    segments = _tables(program, _PROGRAM_SEGMENTS)
    if not segments or data[8:12] != b"eh00":
        return 0
    base = struct.unpack_from("<Q", data, 24)[0]
    return base + max(_scalar(s, 0, N.Uint64Flags) + _scalar(s, 1, N.Uint64Flags) for s in segments)


def _tensor(values: list[Table], index: int, name: str) -> TensorInfo:
    value = values[index]
    tensor = _table(value, _EVALUE_VAL) if _scalar(value, _EVALUE_TYPE) == _TENSOR else None
    if tensor is None:
        return TensorInfo(name, (), "?")  # a non-tensor input (an int, a list)
    dtype = _SCALAR_TYPES.get(_scalar(tensor, _TENSOR_SCALAR_TYPE, N.Int8Flags), "?")
    return TensorInfo(name, tuple(_ints(tensor, _TENSOR_SIZES)), dtype)


def _operators(plan: Table) -> dict[str, int]:
    """Operator name -> calls, in first-call order; a delegate call counts as `delegate:<id>`."""
    ops = [_string(o, 0) for o in _tables(plan, _PLAN_OPERATORS)]
    delegates = [_string(d, 0) for d in _tables(plan, _PLAN_DELEGATES)]
    calls: Counter[str] = Counter()
    for chain in _tables(plan, _PLAN_CHAINS):
        for instruction in _tables(chain, _CHAIN_INSTRUCTIONS):
            kind, args = _scalar(instruction, _INSTRUCTION_TYPE), _table(instruction, _INSTRUCTION_ARGS)
            if args is None or kind not in (_KERNEL_CALL, _DELEGATE_CALL):
                continue  # moves, jumps, frees
            index = _scalar(args, 0, N.Int32Flags)
            calls[ops[index] if kind == _KERNEL_CALL else f"delegate:{delegates[index]}"] += 1
    return dict(calls)
