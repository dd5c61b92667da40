"""Terminal output of the CLI (rich tables, JSON, CSV). Presentation only."""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.measures import memory
from harness.measures.tradeoff import headline_name
from harness.config.units import human_bytes

# Logs and CI output are not terminals: give tables room instead of folding every cell.
console = Console(width=None if sys.stdout.isatty() else 160)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def devices_table(profiles: Iterable[Any]) -> None:
    table = Table(title="Device profiles")
    for col in ("name", "tier", "TOPS", "RAM", "flash", "model cap", "runtime", "transport", "emulated"):
        table.add_column(col)
    for p in profiles:
        table.add_row(p.name, p.tier.value, '—' if p.compute_tops is None else f'{p.compute_tops:g}', human_bytes(p.ram),
                      human_bytes(p.flash), human_bytes(p.model_volume_cap), p.runtime.value,
                      p.transport, "yes" if p.emulated else "")
    console.print(table)


def inspection_view(found: Any) -> None:
    m = found.model
    console.print(f"[bold]{m.path}[/bold]  {human_bytes(m.bytes)} ({m.bytes} B, gzip {m.gzip_bytes} B)"
                  f"  sha256 {m.sha256[:16]}…")
    console.print(f"quantization: {m.quantization}   parameters: {m.parameters:,}   MACs: {m.macs:,}"
                  f"   sparsity: {m.sparsity:.1%}")
    for kind, tensors in (("input", m.inputs), ("output", m.outputs)):
        for t in tensors:
            q = f" scale={t.scale:.6g} zero_point={t.zero_point}" if t.scale is not None else ""
            console.print(f"{kind}: {t.name} {list(t.shape)} {t.dtype}{q}")
    ops = ", ".join(f"{name}×{count}" for name, count in m.operators.items())
    console.print(f"operators: {ops}")
    console.print(f"activations from the model: {human_bytes(m.planned_activation_bytes)} planned (greedy, "
                  f"by tensor lifetime), ≤ {human_bytes(m.activation_bytes_upper_bound)} without reuse")
    if found.tflm_runnable:
        console.print(f"TFLite-Micro: runs; arena {human_bytes(found.tflm_arena_bytes)} "
                      f"({found.tflm_arena_bytes} B)")
    else:
        console.print(f"TFLite-Micro: cannot run it: {found.tflm_error}")


def check_view(report: dict[str, Any]) -> None:
    console.print(f"measured figures from: {report['store'] or 'no store (every latency is estimated)'}")
    for device in report["devices"]:
        tops = "no TOPS figure" if device["tops"] is None else f"{device['tops']:g} TOPS"
        budget = device["latency_budget_ms"]
        table = Table(title=f"{device['device']} ({device['tier']}, {device['runtime']}, {tops}, RAM "
                            f"{human_bytes(device['ram'])}, cap {human_bytes(device['cap'])}, "
                            f"latency budget {'none' if budget is None else f'{budget:g} ms'})")
        for col in ("family", "variant", "choice", "model", "activations", "latency", "accuracy", "why"):
            table.add_column(col, overflow="fold")
        for fam in device["families"]:
            for v in fam["variants"]:
                mark = ("[green]chosen[/green]" if v["chosen"] else "lost" if v["fits"] else "[red]does not fit[/red]")
                why = "; ".join(v["reasons"]) if not v["fits"] else (v["lost"] or "")
                table.add_row(fam["family"], v["variant"], mark, human_bytes(v["model_bytes"]),
                              v["activation"], v["latency"], _fmt(v["accuracy"], 4), why)
        console.print(table)
        for fam in device["families"]:
            console.print(f"[bold]{fam['family']}[/bold] → {fam['best'] or 'no variant'}. Rule: {fam['rule']}.")
            console.print(f"  Pareto {fam['front_note']}.")
    for family, names in report["runnable_on"].items():
        console.print(f"{family} runs on: {', '.join(names) or 'no device'}")


def health_table(rows: list[dict[str, Any]]) -> None:
    table = Table(title="Board health")
    for col in ("board", "health", "since", "reason"):
        table.add_column(col)
    colours = {"good": "green", "unknown": "yellow", "bad": "red", "maintenance": "blue"}
    for r in rows:
        colour = colours.get(r["health"], "white")
        table.add_row(r["device"], f"[{colour}]{r['health']}[/{colour}]", str(r["updated_at"])[:19], r["reason"] or "")
    console.print(table)


RESULT_COLUMNS = ("device", "family", "variant", "status", "latency_p50_us", "latency_p99_us",
                  "working_memory_bytes", "working_memory_method", "accuracy_top1", "accuracy_delta_points",
                  "model_bytes", "model_gzip_bytes", "power_status", "thresholds_passed", "reason")


def leaderboard_table(rows: list[dict[str, str]], title: str) -> None:
    """The ranking, one table per pool (boards, workstation, emulated are never ranked together)."""
    for pool in dict.fromkeys(r["pool"] for r in rows):
        table = Table(title=Text(f"{title} — {pool}"))
        for col in ("rank", "device", "tier", "score", "interval", "movement", "nights"):
            table.add_column(col, justify="right" if col in ("rank", "score", "nights") else "left")
        for r in rows:
            if r["pool"] == pool:
                # Text, not markup: a device named "[red]x" is printed as named
                table.add_row(*(Text(r[c]) for c in ("rank", "device", "tier", "score", "interval", "movement",
                                                     "nights")))
        console.print(table)


def results_table(rows: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title)
    for col in ("device", "model", "status", "p50 ms", "p99 ms", "working memory", "top-1 / task metric",
                "Δ pts", "bytes", "gzip", "energy", "thresholds"):
        table.add_column(col, overflow="fold")
    for r in rows:
        passed = {True: "[green]pass[/green]", False: "[red]FAIL[/red]", None: "—"}[r["thresholds_passed"]]
        status = r["status"] if r["status"] == "ok" else f"[yellow]{r['status']}[/yellow]"
        energy = r["power_status"] if r["energy_uj"] is None else f"{r['energy_uj']:.1f} µJ" + (
            " (estimated)" if r["power_status"] == "estimated" else "")
        table.add_row(r["device"], f"{r['family']}/{r['variant']}", status,
                      _ms(r["latency_p50_us"]), _ms(r["latency_p99_us"]),
                      memory.label(r),
                      _task_metric(r), _fmt(r["accuracy_delta_points"], 2),
                      human_bytes(r["model_bytes"]), human_bytes(r["model_gzip_bytes"]), energy, passed)
    console.print(table)
    for r in rows:
        if r["reason"]:
            console.print(f"[yellow]{r['family']}/{r['variant']}[/yellow] {r['status']}: {r['reason']}")


def _task_metric(r: dict[str, Any]) -> str:
    """top-1, or the task's headline (and a detector's false-alarm rate): harness/measures/metrics.py."""
    if r.get("accuracy_top1") is not None or not r.get("metrics"):
        return _fmt(r["accuracy_top1"], 4)
    m = r["metrics"]
    name = headline_name(r)
    text = f"{name} {_fmt(m.get(name), 3)}"
    return text + (f", FAR {m['false_alarm_rate']:.1%}" if m.get("false_alarm_rate") is not None else "")


def _ms(us: float | None) -> str:
    return "—" if us is None else f"{us / 1000:.3f}"
