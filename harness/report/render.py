"""Render a run's HTML report (jinja2, autoescaped, StrictUndefined) from the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import markupsafe

from harness import profiles as profile_mod
from harness.errors import ConfigError, HarnessError
from harness.masking import mask
from harness.store import Store
from harness.units import human_bytes

TEMPLATES = Path(__file__).parent / "templates"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # device and model names come from files anyone may edit
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
        finalize=_masked,  # every value a page shows passes through the one masking function
    )
    env.filters.update(bytes=human_bytes, ms=_ms, num=_num, pct=_pct, ratio=_ratio)
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


def render_run_report(store: Store, run_id: str, out_dir: Path, profiles_dir: Path | None = None) -> Path:
    context = run_context(store, run_id, profiles_dir)
    html = environment().get_template("run.html.j2").render(**context)
    return write_atomically(out_dir / "report.html", html)


def run_context(store: Store, run_id: str, profiles_dir: Path | None) -> dict[str, Any]:
    run = store.run(run_id)
    rows = store.results(run_id)
    devices = sorted({r["device"] for r in rows} | set(run.get("devices") or []))
    return {
        "run": run,
        "environments": store.environments(run_id),
        "equipment": [_equipment(name, profiles_dir) for name in devices],
        "by_device": {d: [r for r in rows if r["device"] == d] for d in devices},
        "compression": compression_table(rows),
        "thresholds": [r for r in rows if r["thresholds"]],
    }


def _equipment(name: str, profiles_dir: Path | None) -> dict[str, Any]:
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
                "memory_ratio": _div(r["rss_peak_bytes"] or r["arena_bytes"],
                                     ref and (ref["rss_peak_bytes"] or ref["arena_bytes"])),
                "accuracy_delta": r["accuracy_delta_points"],
            })
    return table


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None
