"""What a runner does with the plugin: note where the log stands before a phase, then turn the
invocations the phase added into the stored estimate (model.estimate)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.cycles.model import estimate, load_table
from harness.cycles.plugin import read_log


def log_offset(transport: Any) -> int | None:
    """Where the transport's plugin log ends now; None when the board counts no cycles."""
    log = getattr(transport, "cycle_log", None)
    return read_log(log)[2] if log is not None else None


def estimate_since(transport: Any, offset: int | None, model_path: Path) -> dict[str, Any] | None:
    """The estimate from the invocations run since `offset` (the latency phase: one input)."""
    log, section = getattr(transport, "cycle_log", None), getattr(transport, "cycles", None)
    if offset is None or log is None or section is None:
        return None
    _names, records, _end = read_log(log, offset)
    return estimate(records, operator_sequence(model_path), load_table(section["core"]),
                    clock_mhz=float(section["clock_mhz"]), exact_branches=section.get("branches") == "exact",
                    flash_wait_states=int(section.get("flash_wait_states") or 0))


def operator_sequence(model_path: Path) -> list[str]:
    """The builtin operator names of the first subgraph, in execution order (the engine's)."""
    from harness.models.tflite_model import tflite_schema

    schema = tflite_schema()
    model = schema.Model.GetRootAsModel(model_path.read_bytes(), 0)
    graph = model.Subgraphs(0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    out = []
    for i in range(graph.OperatorsLength()):
        code = model.OperatorCodes(graph.Operators(i).OpcodeIndex())
        out.append(names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "CUSTOM"))
    return out
