"""Render a run's HTML report (jinja2, autoescaped, StrictUndefined) from the store."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable

import jinja2
import numpy as np
import markupsafe

from harness.measures import memory
from harness.config import profiles as profile_mod
from harness.cycles.calibration import report_rows
from harness.errors import ConfigError, HarnessError
from harness.report import dataset, numbers
from harness.masking import mask
from harness.results.store import Store
from harness.config.units import human_bytes

TEMPLATES = Path(__file__).parent / "templates"


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """One environment per process: templates compile once (the dashboard renders ~100 pages)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # device and model names come from files anyone may edit
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
        finalize=_masked,  # every value a page shows passes through the one masking function
    )
    env.filters.update(bytes=human_bytes, ms=_ms, num=_num, pct=_pct, ratio=_ratio, memory=memory.label)
    env.filters.update(numbers.FILTERS)  # by quantity (harness/report/numbers.py)
    return env


def _masked(value: Any) -> Any:
    if isinstance(value, markupsafe.Markup):  # already-safe HTML (a chart's SVG) stays safe
        return markupsafe.Markup(mask(str(value)))
    return mask(value) if isinstance(value, str) else value


def _ms(us: float | None) -> str:
    return "not measured" if us is None else f"{us / 1000:.3f} ms"


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def write_atomically(path: Path, text: str) -> Path:
    """A reader never sees half a report: write beside it, then rename."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write report: {exc.strerror}") from None
    return path


Equipment = Callable[[str, "Path | None"], dict[str, Any]]


def render_run_report(store: Store, run_id: str, out_dir: Path, profiles_dir: Path | None = None,
                      equipment: Equipment | None = None) -> Path:
    """equipment: how a device's profile is read (the dashboard passes a memoized one)."""
    context = run_context(store, run_id, profiles_dir, equipment or equipment_of)
    html = environment().get_template("run.html.j2").render(**context)
    return write_atomically(out_dir / "report.html", html)


def run_context(store: Store, run_id: str, profiles_dir: Path | None,
                equipment: Equipment | None = None) -> dict[str, Any]:
    from harness.report import charts

    run = store.run(run_id)
    rows = store.results(run_id)
    devices = sorted({r["device"] for r in rows} | set(run.get("devices") or []))
    by_device = {d: [r for r in rows if r["device"] == d] for d in devices}
    samples = dataset.samples_by_id(store, [r["id"] for r in rows if r["status"] == "ok" and r["latency_n"]])
    return {
        "run": run,
        "environments": store.environments(run_id),
        "equipment": [(equipment or equipment_of)(name, profiles_dir) for name in devices],
        "by_device": by_device,
        "power_notes": {d: power_note([r for r in rs if r["status"] == "ok"]) for d, rs in by_device.items()},
        "charts": {r["id"]: charts.histogram(samples.get(r["id"], np.empty(0)) / 1000,
                                             f"{r['device']} {r['family']}/{r['variant']}: latency distribution")
                   for r in rows if r["status"] == "ok" and r["latency_n"]},
        "compression": compression_table(rows),
        "sections": sections(rows),
        "thresholds": [r for r in rows if r["thresholds"]],
        "cycles": report_rows(rows),
    }


def sections(rows: list[dict[str, Any]]) -> list[markupsafe.Markup]:
    """The run report's registered sections (built-in and plugins: the edge_harness.report_sections
    entry points, harness/registry.py), each a callable rows -> HTML, or None to leave it out."""
    from harness.registry import REPORT_SECTIONS

    return [html for section in REPORT_SECTIONS.all().values() if (html := section(rows)) is not None]


def power_note(rows: list[dict[str, Any]]) -> str | None:
    """When no result of a device has energy: 'not measured' once, with its reason(s), instead
    of a column saying it on every row. None when any row has a figure."""
    if not rows or any(r.get("energy_uj") is not None for r in rows):
        return None
    reasons = sorted({str((r.get("power_detail") or {}).get("error") or (r.get("power_detail") or {}).get("reason")
                          or "no power meter in the device profile") for r in rows})
    return f"{rows[0]['power_status']} — {'; '.join(reasons)}"


def equipment_of(name: str, profiles_dir: Path | None) -> dict[str, Any]:
    try:
        p = profile_mod.resolve(name, profiles_dir)
    except HarnessError as exc:
        return {"name": name, "missing": str(exc)}
    return {"name": p.name, "missing": None, "description": p.description, "tier": p.tier.value,
            "tops": p.compute_tops, "ram": p.ram, "flash": p.flash, "cap": p.model_volume_cap,
            "runtime": p.runtime.value, "transport": p.transport, "emulated": p.emulated}


def compression_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The seed's compression table: each variant's size, latency, memory and accuracy vs fp32.

    Without a measured reference variant the ratios are left empty rather than guessed."""
    table = []
    for key in sorted({(r["device"], r["family"]) for r in rows}):
        group = [r for r in rows if (r["device"], r["family"]) == key and r["status"] == "ok"]
        ref = next((r for r in group if r["variant"] == r["reference_variant"]), None)
        for r in group:
            table.append({
                "device": key[0], "family": key[1], "variant": r["variant"], "row": r,
                "size_ratio": _div(r["model_bytes"], ref and ref["model_bytes"]),
                "gzip_ratio": _div(r["model_gzip_bytes"], ref and ref["model_gzip_bytes"]),
                "latency_ratio": _div(r["latency_p50_us"], ref and ref["latency_p50_us"]),
                "memory_ratio": memory.ratio(r, ref),  # None across two methods
                "accuracy_delta": r["accuracy_delta_points"],
            })
    return table


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None
