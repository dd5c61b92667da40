"""`harness compare --cycles-pct PCT`: gate CI on the emulated board's estimated cycles.

The estimate is exact and repeatable (the same firmware and model give the same count on every
run, whatever the host's load), so any change is real: no statistics, no noise band. A case
whose estimated cycles grew by more than PCT % (0: by anything) is a regression; the
per-operator diff says where. Cases estimated with different cycle models are not compared.
This is separate from the latency verdicts (harness/results/regression.py): a figure of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.results import baselines
from harness.results.ci_outputs import EXIT_REGRESSION
from harness.results.store import Store


@dataclass(frozen=True)
class CycleVerdict:
    device: str
    family: str
    variant: str
    verdict: str  # regressed | improved | unchanged | not comparable
    base_cycles: int | None
    new_cycles: int | None
    change_pct: float | None
    operators: list[dict[str, Any]] = field(default_factory=list)  # changed operators, largest first
    why: str = ""


def compare_cycles(base_rows: list[dict[str, Any]], new_rows: list[dict[str, Any]],
                   pct: float) -> list[CycleVerdict]:
    """Verdicts for every case with an estimate on both sides."""
    base = {(r["device"], r["family"], r["variant"]): r for r in base_rows if r.get("estimated_cycles")}
    out = []
    for new in new_rows:
        key = (new["device"], new["family"], new["variant"])
        old = base.get(key)
        if old is None or not new.get("estimated_cycles"):
            continue
        if old["cycle_model"] != new["cycle_model"]:
            out.append(CycleVerdict(*key, "not comparable", old["estimated_cycles"], new["estimated_cycles"],
                                    None, why=f"cycle model {old['cycle_model']} -> {new['cycle_model']}"))
            continue
        a, b = int(old["estimated_cycles"]), int(new["estimated_cycles"])
        change = 100.0 * (b - a) / a
        verdict = ("regressed" if b > a and change > pct else "improved" if b < a and -change > pct
                   else "unchanged")
        out.append(CycleVerdict(*key, verdict, a, b, change, operator_diff(old, new),
                                why=f"{a:,} -> {b:,} cycles ({change:+.3f} %, limit {pct:g} %)"))
    return out


def operator_diff(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """The operators whose estimated cycles changed, largest change first. Operators are
    matched by position when the two graphs have the same operator sequence, else by name."""
    ops_a = ((old.get("extra") or {}).get("cycles") or {}).get("operators") or []
    ops_b = ((new.get("extra") or {}).get("cycles") or {}).get("operators") or []
    if [o["op"] for o in ops_a] == [o["op"] for o in ops_b]:
        pairs = [(f"{o['index']} {o['op']}", o["cycles"], p["cycles"]) for o, p in zip(ops_a, ops_b)]
    else:  # a changed graph: compare the total per operator type
        names = dict.fromkeys(o["op"] for o in [*ops_a, *ops_b])
        pairs = [(n, sum(o["cycles"] for o in ops_a if o["op"] == n),
                  sum(o["cycles"] for o in ops_b if o["op"] == n)) for n in names]
    diff = [{"operator": name, "base": a, "new": b, "delta": b - a} for name, a, b in pairs if a != b]
    return sorted(diff, key=lambda d: -abs(d["delta"]))


def cycles_gate(store_url: str | None, base: str, new: str, pct: float, quiet: bool, code: int) -> int:
    """The `compare` exit code with the cycle gate applied: regression (4) when any case's
    estimate grew beyond `pct`; printed unless `quiet` (JSON output)."""
    from harness.cli.views import console

    store = Store(store_url)
    new_ref, new_family, _ = baselines.parse_selector(new)
    base_ref, _, _ = baselines.parse_selector(base)
    if new_family is not None:
        return code  # A/B of two variants: their cycles differ by design
    new_id = baselines.resolve(store, new_ref)
    if base_ref == baselines.LAST_GOOD and baselines.last_good(store, store.run(new_id)) is None:
        return code  # a first run (--allow-no-baseline): nothing to gate against
    base_id = baselines.resolve(store, base_ref, relative_to=new_id)
    verdicts = compare_cycles(store.results(base_id), store.results(new_id), pct)
    if not quiet:
        print_cycle_verdicts(console, verdicts)
    return EXIT_REGRESSION if any(v.verdict == "regressed" for v in verdicts) else code


def print_cycle_verdicts(console: Any, verdicts: list[CycleVerdict]) -> None:
    if not verdicts:
        console.print("estimated cycles: no case has an estimate on both sides")
        return
    console.print("estimated cycles (emulated, cycle model; not latency):")
    for v in verdicts:
        console.print(f"  {v.device} {v.family}/{v.variant}: {v.verdict}, {v.why}")
        for d in v.operators[:10]:
            console.print(f"      op {d['operator']}: {d['base']:,} -> {d['new']:,} ({d['delta']:+,})")
