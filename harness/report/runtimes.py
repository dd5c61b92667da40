"""Report sections for runtimes: the same model on several runtimes side by side, and where the
time goes inside a model (per-operator bar charts from harness/measures/op_profile.py)."""

from __future__ import annotations

from typing import Any, Mapping

from markupsafe import Markup

from harness.measures import op_profile
from harness.report.charts import Svg

BAR = "#0969da"


def runtime_table(rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per family that some device ran on more than one runtime (one network in several formats):
    each (device, variant, runtime) row of it, per device fastest first, with its p50 over the
    device's fastest (one method: the agent's wall-clock p50) and how many of its predictions
    equal the family's first row's. Working memory keeps its method (harness/measures/memory.py): figures
    of two methods are shown side by side, never divided."""
    ok = [r for r in rows if r.get("status") == "ok" and r.get("runtime")]
    table = []
    for family in sorted({r["family"] for r in ok}):
        group = [r for r in ok if r["family"] == family]
        runtimes_per_device = {d: {r["runtime"] for r in group if r["device"] == d} for d in {r["device"] for r in group}}
        if max(len(v) for v in runtimes_per_device.values()) < 2:
            continue
        group.sort(key=lambda r: (r["device"], r.get("latency_p50_us") or float("inf")))
        reference = group[0]
        for r in group:
            fastest = min((g.get("latency_p50_us") or float("inf")) for g in group if g["device"] == r["device"])
            profile = op_profile.of_row(r)
            table.append({"family": family, "row": r, "per_op": profile["method"] if profile else None,
                          "vs_fastest": (r["latency_p50_us"] / fastest) if r.get("latency_p50_us") and fastest else None,
                          "is_reference": r is reference, "agreement": _agreement(r, reference)})
    return table


def _agreement(row: Mapping[str, Any], reference: Mapping[str, Any]) -> float | None:
    """Share of samples on which `row` predicts the class `reference` predicts (None: not both
    recorded predictions, or of different samples)."""
    mine, theirs = (_predictions(r) for r in (row, reference))
    if not mine or len(mine) != len(theirs):
        return None
    return sum(a == b for a, b in zip(mine, theirs)) / len(mine)


def _predictions(row: Mapping[str, Any]) -> list[int]:
    extra = row.get("extra") or {}
    return list(extra.get("predictions") or []) if isinstance(extra, Mapping) else []


def op_chart(profile: Mapping[str, Any], title: str, top: int = 12) -> Markup:
    """Horizontal bars: each operator's share of the profiled total, in execution order (the
    largest `top` operators; the rest summed in one bar)."""
    ops = list(profile["ops"])
    keep = sorted(sorted(ops, key=lambda o: -o["share"])[:top], key=lambda o: o["index"])
    rest = sum(o["share"] for o in ops) - sum(o["share"] for o in keep)
    bars = [(f"#{o['index']} {o['op']}", o["share"], o["value"]) for o in keep]
    if rest > 1e-9:
        bars.append((f"{len(ops) - len(keep)} others", rest, None))
    width, left, row, top_y = 560, 170, 18, 42
    svg = Svg(width, top_y + 12 + row * len(bars), title)
    svg.text(8, 16, title, 12, weight="bold")
    svg.text(8, 32, coverage(profile), 10)
    peak = max((b[1] for b in bars), default=1.0) or 1.0
    for i, (label, share, value) in enumerate(bars):
        y = top_y + i * row
        svg.text(left - 6, y + 12, label, 10, "end")
        w = (width - left - 70) * share / peak
        tip = f"{label}: {100 * share:.1f}%" + (f", {value:.4g} {profile['unit']}" if value is not None else "")
        svg.rect(left, y + 2, w, row - 5, BAR, tip)
        svg.text(left + w + 4, y + 12, f"{100 * share:.1f}%", 10)
    return svg.render()


def coverage(profile: Mapping[str, Any]) -> str:
    """How much of the runtime's own whole-inference figure (same clock) the operators account
    for: all of it on the firmware engine, part of it under a profiler that works between nodes."""
    whole = profile.get("runtime_total")
    if not whole:
        return f"operators sum to {profile['total']:,.4g} {profile['unit']}; no whole-inference figure from this runtime"
    return (f"operators sum to {100 * profile['total'] / whole:.1f} % of the whole inference "
            f"({profile['total']:,.0f} of {whole:,.0f} {profile['unit']}, one clock)")


def op_charts(rows: list[Mapping[str, Any]]) -> dict[int, Markup]:
    """result id -> its per-operator chart, for the results that have a profile."""
    out = {}
    for r in rows:
        profile = op_profile.of_row(r)
        if profile and profile.get("ops"):
            out[r["id"]] = op_chart(profile, f"{r['device']} {r['family']}/{r['variant']} ({r['runtime']}): "
                                             f"share of time per operator ({profile['method']})")
    return out


def section(rows: list[Mapping[str, Any]]) -> Markup | None:
    """The run report's section (registered as a report section, harness/registry.py)."""
    from harness.report.render import environment

    table, charts = runtime_table(list(rows)), op_charts(list(rows))
    if not table and not charts:
        return None
    return Markup(environment().get_template("section_runtimes.html.j2").render(runtimes=table, op_charts=charts))
