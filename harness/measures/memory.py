"""One memory model for every result; every reader goes through this module (docs/scoring.md §9).

    model_bytes               what is deployed (the .tflite file). The volume dimension compares
                              this only.
    working_memory_bytes      what inference costs on the device, by the one method of its runtime
    working_memory_method     class, stored with the row:
        arena                 TFLite-Micro and the reference firmware's engine: tensor arena used,
                              activations plus persistent allocations
        rss-increase          LiteRT, tflite-runtime, Edge TPU: the peak resident-set increase from
                              before the interpreter is created to the end of the warm-up (never
                              the process's absolute RSS, which is mostly Python; never the
                              harness's own sample list of the timed runs)
    planned_activation_bytes  the model's own greedy activation plan, computed from the flatbuffer:
                              a figure from the model, shown for comparison, never a measurement

Two figures of different methods are never put into one ratio: `ratio` returns None for them.

Exact and noisy methods: an arena is planned by the runtime, so identical code gives identical
bytes and any change is real (a plain threshold judges it). An RSS increase depends on the
allocator, page faults and what the process touched first, so it is judged against its
run-to-run history (harness/results/history.py), as latency is. (Identical code once varied by -15 % to
+32 % between runs on digits-cnn: the window then included the timed runs' sample list, whose
size follows the machine's load; the window now ends with the warm-up.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from harness.config.units import human_bytes

ARENA = "arena"
RSS_INCREASE = "rss-increase"
EXACT_METHODS = frozenset({ARENA})  # deterministic: identical code, identical bytes
METHODS = {
    ARENA: "tensor arena used (activations + persistent allocations)",
    RSS_INCREASE: "peak RSS increase, interpreter creation to the end of the warm-up",
}


@dataclass(frozen=True)
class WorkingMemory:
    bytes: int
    method: str

    @property
    def label(self) -> str:
        return f"{human_bytes(self.bytes)} ({self.method})"


def working_memory(row: Mapping[str, Any]) -> WorkingMemory | None:
    """The row's working memory with its method; None when not measured (or stored before the
    method was recorded: an old row's absolute RSS is not this figure)."""
    value, method = row.get("working_memory_bytes"), row.get("working_memory_method")
    if value is None or not method:
        return None
    return WorkingMemory(int(value), str(method))


def ratio(row: Mapping[str, Any], ref: Mapping[str, Any] | None) -> float | None:
    """row / ref working memory, only when both were measured by the same method."""
    a, b = working_memory(row), working_memory(ref) if ref is not None else None
    if a is None or b is None or a.method != b.method or b.bytes <= 0:
        return None
    return a.bytes / b.bytes


def methods(rows: list[Mapping[str, Any]]) -> dict[str, list[str]]:
    """method -> the devices whose rows use it (a report shows them side by side)."""
    out: dict[str, set[str]] = {}
    for r in rows:
        wm = working_memory(r)
        if wm is not None:
            out.setdefault(wm.method, set()).add(str(r["device"]))
    return {m: sorted(d) for m, d in sorted(out.items())}


def label(row: Mapping[str, Any]) -> str:
    wm = working_memory(row)
    return "not measured" if wm is None else wm.label
