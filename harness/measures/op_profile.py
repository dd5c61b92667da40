"""Per-operator profiles: where the time goes inside a model, as the runtime itself measured it.

A profile is stored with its result (results.extra["op_profile"]):
    {"method": "onnxruntime profiler" | "dwt cycles" | "qemu icount ticks" | "board timer ticks",
     "unit": "us" | "cycles" | "ticks",
     "total": sum of the operators' values,
     "runtime_total": the same runtime's own whole-inference figure, same clock, when it gives one,
     ["clock_hz": the firmware's clock rate],
     "ops": [{"index", "op", "name", "value", "share"}]}   share: of `total`, 0..1
Runtimes that cannot give per-operator figures (LiteRT, tflite-runtime, the Edge TPU,
TFLite-Micro's Python wheel, ExecuTorch's wheel) store none; nothing is estimated.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence


def build(ops: Sequence[Mapping[str, Any]], *, method: str, unit: str,
          runtime_total: float | None = None) -> dict[str, Any]:
    """ops: [{index, op, name?, time_us | cycles | value}] in execution order."""
    values = [float(o.get("value", o.get("time_us", o.get("cycles", 0.0)))) for o in ops]
    total = sum(values)
    rows = [{"index": int(o.get("index", i)), "op": str(o.get("op", "?")), "name": str(o.get("name", "")),
             "value": v, "share": v / total if total > 0 else 0.0}
            for i, (o, v) in enumerate(zip(ops, values))]
    return {"method": method, "unit": unit, "total": total, "runtime_total": runtime_total, "ops": rows}


def of_row(row: Mapping[str, Any]) -> dict[str, Any] | None:
    extra = row.get("extra") or {}
    return extra.get("op_profile") if isinstance(extra, Mapping) else None


def by_type(profile: Mapping[str, Any]) -> dict[str, float]:
    """Share of the total per operator type (CONV_2D, Conv, ...), largest first."""
    out: dict[str, float] = {}
    for o in profile["ops"]:
        out[o["op"]] = out.get(o["op"], 0.0) + o["share"]
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def share_moves(base: Mapping[str, Any], new: Mapping[str, Any], top: int = 5) -> list[dict[str, Any]]:
    """The operators whose share of the total moved most from `base` to `new`, matched by index
    and type (the same model: the same graph); by type when the graphs differ."""
    def key_map(p: Mapping[str, Any]) -> dict[tuple[Any, str], float]:
        return {(o["index"], o["op"]): o["share"] for o in p["ops"]}

    a, b = key_map(base), key_map(new)
    if set(a) != set(b):  # another graph: compare operator types
        a = {(None, k): v for k, v in by_type(base).items()}
        b = {(None, k): v for k, v in by_type(new).items()}
    moves = [{"index": k[0], "op": k[1], "base_share": a.get(k, 0.0), "new_share": b.get(k, 0.0),
              "moved_points": 100 * (b.get(k, 0.0) - a.get(k, 0.0))} for k in {*a, *b}]
    moves.sort(key=lambda m: (-abs(m["moved_points"]), m["index"] or 0, m["op"]))  # ties: graph order
    return moves[:top]


def format_moves(moves: list[dict[str, Any]]) -> list[str]:
    return [f"  {('#' + str(m['index']) + ' ') if m['index'] is not None else ''}{m['op']}: "
            f"{100 * m['base_share']:.1f}% -> {100 * m['new_share']:.1f}% of the time "
            f"({m['moved_points']:+.1f} points)" for m in moves]


def compare_rows(base_rows: Sequence[Mapping[str, Any]], new_rows: Sequence[Mapping[str, Any]],
                 top: int = 3) -> list[str]:
    """For `harness compare`: per case with a profile in both runs, the operators whose share of
    the time moved most. Only profiles of one method and unit are compared."""
    base = {(r["device"], r["family"], r["variant"]): of_row(r) for r in base_rows}
    lines = []
    for r in new_rows:
        key = (r["device"], r["family"], r["variant"])
        a, b = base.get(key), of_row(r)
        if not a or not b or (a["method"], a["unit"]) != (b["method"], b["unit"]):
            continue
        lines.append(f"{key[0]} {key[1]}/{key[2]}: operators whose share of the time moved most ({b['method']})")
        lines += format_moves(share_moves(a, b, top))
    return lines
