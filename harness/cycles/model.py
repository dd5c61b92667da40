"""Cycle tables per core and the estimate from the plugin's per-class instruction counts."""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from harness.errors import ConfigError

CORES = ("cortex-m3", "cortex-m4", "cortex-m7")
# Counters that add to an instruction already counted in its primary class (thumb.h "+").
EXTRAS = frozenset({"LDSTM_REGS", "BCOND_TAKEN", "PC_LOAD", "LIT_LOAD", "FLASH_FETCH"})
COND = ("BCOND_BACK", "BCOND_FWD")


@dataclass(frozen=True)
class Weight:
    cycles: int | None  # None: the core does not have the instruction
    low: int
    high: int
    refills: int  # + refills x P


@dataclass(frozen=True)
class CycleTable:
    model: str  # e.g. cortex-m3-trm/v1: the method named with every estimate
    core: str
    rough: bool
    source: str
    refill: tuple[int, int, int]  # P assumed, min, max
    not_taken: int
    taken_refills: int
    weights: dict[str, Weight]


@functools.cache
def load_table(core: str) -> CycleTable:
    if core not in CORES:
        raise ConfigError(f"no cycle table for core {core!r}; known: {', '.join(CORES)}")
    text = resources.files("harness.cycles").joinpath("tables", f"{core}.yaml").read_text()
    data = yaml.safe_load(text)
    weights = {}
    for name, w in data["weights"].items():
        c = w.get("cycles")
        weights[name] = Weight(c, w.get("min", c if c is not None else 0), w.get("max", c if c is not None else 0),
                               int(w.get("refills", 0)))
    r, cond = data["refill"], data["conditional_branch"]
    return CycleTable(model=data["model"], core=data["core"], rough=bool(data["rough"]), source=data["source"],
                      refill=(r["assumed"], r["min"], r["max"]), not_taken=int(cond["not_taken"]),
                      taken_refills=int(cond["taken_refills"]), weights=weights)


@dataclass(frozen=True)
class Cycles:
    cycles: int
    low: int
    high: int
    instructions: int

    def __add__(self, other: "Cycles") -> "Cycles":
        return Cycles(self.cycles + other.cycles, self.low + other.low, self.high + other.high,
                      self.instructions + other.instructions)


def cycles_of(counts: dict[str, int], table: CycleTable, exact_branches: bool,
              flash_wait_states: int = 0) -> Cycles:
    """Sum of count x weight. Conditional branches: counted taken (exact_branches) or assumed
    taken when backward, not taken when forward (a loop's back edge), bounded by 1..1+P_max.
    Flash wait states: one per 32-bit fetch from flash and per literal load (no prefetch
    buffer or accelerator assumed: the upper bound; the lower bound counts none)."""
    p, p_min, p_max = table.refill
    est = low = high = 0
    for name, n in counts.items():
        if not n or name in COND:
            continue
        w = table.weights.get(name)
        if w is None:
            raise ConfigError(f"{table.model}: the plugin counted class {name!r}, which the table lacks")
        if w.cycles is None:
            raise ConfigError(f"{table.model}: {n} instructions of class {name} executed, which a "
                              f"{table.core} does not have")
        est += n * (w.cycles + w.refills * p)
        low += n * (w.low + w.refills * p_min)
        high += n * (w.high + w.refills * p_max)
    branches = sum(counts.get(c, 0) for c in COND)
    refill = table.taken_refills
    if exact_branches:
        taken = counts.get("BCOND_TAKEN", 0)
        est += branches * table.not_taken + taken * refill * p
        low += branches * table.not_taken + taken * refill * p_min
        high += branches * table.not_taken + taken * refill * p_max
    else:
        est += branches * table.not_taken + counts.get("BCOND_BACK", 0) * refill * p
        low += branches * table.not_taken
        high += branches * (table.not_taken + refill * p_max)
    stalls = flash_wait_states * (counts.get("FLASH_FETCH", 0) // 4 + counts.get("LIT_LOAD", 0))
    instructions = sum(n for name, n in counts.items() if name not in EXTRAS)
    return Cycles(est + stalls, low, high + stalls, instructions)


def estimate(records: list[list[dict[str, int]]], operators: list[str], table: CycleTable, *,
             clock_mhz: float, exact_branches: bool, flash_wait_states: int = 0) -> dict[str, Any] | None:
    """The figure stored for a case: one invocation's cycles and per-operator breakdown.
    `records` are per-invocation lists of per-operator counts (plugin.read_records); those
    whose operator count differs from the model's (a reset mid-invocation) are left out. The
    most frequent invocation is reported: with one input every invocation is the same code
    path, and the few that differ had the board's timer interrupt land in them."""
    runs = [r for r in records if len(r) == len(operators)]
    if not runs:
        return None
    per_run = [[cycles_of(op, table, exact_branches, flash_wait_states) for op in run] for run in runs]
    totals = [sum(ops, Cycles(0, 0, 0, 0)) for ops in per_run]
    # The most frequent total: invocations that a timer interrupt (SysTick) did not land in.
    freq = Counter(t.cycles for t in totals)
    common = min(freq, key=lambda c: (-freq[c], c))
    pick = next(i for i, t in enumerate(totals) if t.cycles == common)
    whole, ops, counts = totals[pick], per_run[pick], runs[pick]
    classes: dict[str, int] = {}
    for op in counts:
        for name, n in op.items():
            if n:
                classes[name] = classes.get(name, 0) + n
    return {
        "model": table.model, "core": table.core, "rough": table.rough, "clock_mhz": clock_mhz,
        "flash_wait_states": flash_wait_states, "branches": "exact" if exact_branches else "assumed",
        "cycles": whole.cycles, "low": whole.low, "high": whole.high,
        "latency_us": whole.cycles / clock_mhz, "instructions": whole.instructions,
        "exact": whole.low == whole.high,
        "invocations": len(runs), "invocations_matching": freq[common],
        "operators": [{"index": i, "op": name, "cycles": c.cycles, "low": c.low, "high": c.high,
                       "instructions": c.instructions}
                      for i, (name, c) in enumerate(zip(operators, ops))],
        "classes": classes,
    }
