"""The white paper: a report definition + the store -> HTML (jinja2) and PDF (WeasyPrint)."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup

from harness import __version__, scoring
from harness.measures import memory
from harness.config import thresholds
from harness.errors import ConfigError
from harness.progress import Step, quiet
from harness.report import charts, dataset, export, matrix
from harness.report.definition import ReportDefinition
from harness.report.runtimes import runtime_table
from harness.report.render import equipment_of, compression_table, environment, power_note, write_atomically
from harness.results.store import Store

RAW_COLUMNS = (  # the appendix CSV: every stored figure of every result, units in the names
    "run_id", "night", "device", "family", "variant", "emulated", "status", "reason", "runtime",
    "latency_n", "latency_p50_us", "latency_p90_us", "latency_p99_us", "latency_mean_us", "latency_std_us",
    "latency_min_us", "latency_max_us", "latency_ci_low_us", "latency_ci_high_us", "init_ms",
    "first_inference_ms", "model_bytes", "model_gzip_bytes", "working_memory_bytes", "working_memory_method",
    "planned_activation_bytes", "rss_load_delta_bytes", "rss_peak_bytes", "arena_bytes",
    "accuracy_top1", "accuracy_delta_points", "energy_uj", "avg_power_mw", "battery_pct_per_hour",
    "power_status")
APPENDIX_CSV = "results.csv"
POOL_TITLES = {
    "boards": "Boards (measured on real hardware)",
    "workstation": "Workstations (the engineers' own machines; never ranked with boards)",
    "emulated": "Emulated boards (CI; functional timing only, never ranked with boards)",
}


def build(store: Store, definition: ReportDefinition, profiles_dir: Path | None,
          step: Step = quiet) -> dict[str, Any]:
    """Everything the templates and exports need, computed once."""
    step("reading the store")
    rows = dataset.period_rows(store, definition)
    chosen = dataset.latest_ok(rows)
    devices = sorted({r["device"] for r in rows} | set(definition.devices or []))
    equipment = {d: equipment_of(d, profiles_dir) for d in devices}
    tiers = {d: e.get("tier", "unknown") if not e["missing"] else "unknown" for d, e in equipment.items()}
    samples = dataset.latency_sets(store, chosen)
    b = definition.bootstrap
    step(f"scoring ({b.resamples} bootstrap resamples)")
    board = scoring.score_table(chosen, definition.reference, definition.weights.model_dump(), tiers,
                                samples, resamples=b.resamples, seed=b.seed, confidence=b.confidence)
    return {"definition": definition, "rows": rows, "chosen": chosen, "devices": devices,
            "equipment": equipment, "board": board, "runs": _runs(rows),
            "samples": samples, "trend": dataset.nightly_trend(rows),
            "environments": dataset.environments(store, chosen)}


def render_whitepaper(store: Store, definition: ReportDefinition, out_dir: Path,
                      profiles_dir: Path | None = None, pdf: bool = True,
                      step: Step = quiet) -> tuple[list[Path], list[str]]:
    """Write whitepaper.html (+ .pdf), summary.md, scores.csv (+ .parquet).
    Returns the paths written and notes about the parts that were skipped, and why."""
    data = build(store, definition, profiles_dir, step)
    if not data["chosen"]:
        raise ConfigError(f"report {definition.title!r}: no results in the store for suites "
                          f"{', '.join(definition.suites)} in {definition.period.label()}")
    if not any(r["device"] == definition.reference for r in data["chosen"]):
        raise ConfigError(f"report {definition.title!r}: reference device {definition.reference!r} "
                          "has no successful result in the period")
    step("HTML")
    env = environment()
    html = env.get_template("whitepaper.html.j2").render(**context(data))
    written = [write_atomically(out_dir / "whitepaper.html", html)]
    written.append(write_atomically(out_dir / "summary.md", export.markdown_summary(data["board"], definition.title)))
    table = export.scored_frame(data["board"])
    written.append(export.write_csv(table, out_dir / "scores.csv"))
    written.append(export.write_csv(raw_frame(data["rows"]), out_dir / APPENDIX_CSV))
    notes = []
    steps = [lambda: export.write_parquet(table, out_dir / "scores.parquet")]
    if pdf:
        steps.append(lambda: write_pdf(html, out_dir / "whitepaper.pdf", step))
    for write in steps:
        try:
            written.append(write())
        except export.MissingExtra as exc:  # an optional extra is not installed: say so, go on
            notes.append(str(exc))
    return written, notes


def raw_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The appendix: every result of the period as stored, unrounded (the CSV beside the paper
    and attached to its PDF; printed it took 5 pages of raw floats)."""
    return pd.DataFrame.from_records([{c: r.get(c) for c in RAW_COLUMNS} for r in rows], columns=RAW_COLUMNS)


def write_pdf(html: str, path: Path, step: Step = quiet) -> Path:
    step("PDF (WeasyPrint)")
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: the wheel is there but pango is not
        raise export.MissingExtra(f"PDF skipped: WeasyPrint is not usable ({str(exc).splitlines()[0]}); "
                                  "install it with pip install 'edge-harness[pdf]' and the Debian "
                                  "packages in tools/system-packages.txt") from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        weasyprint.HTML(string=html, base_url=str(path.parent)).write_pdf(str(path))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the PDF: {exc.strerror or exc}") from None
    return path


def context(data: dict[str, Any]) -> dict[str, Any]:
    board: scoring.Scoreboard = data["board"]
    definition: ReportDefinition = data["definition"]
    pools = {p: s for p, s in board.pools.items() if s}
    ranking_charts = {p: _ranking_chart(scores, f"Composite score — {p}", board)
                      for p, scores in pools.items()}
    headline = next((p for p in scoring.POOLS if p in pools), None)  # real boards first
    return {
        **data,
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
        "dimensions": scoring.DIMENSIONS,
        "pools": pools, "pool_titles": POOL_TITLES,
        "tiers": tier_rankings(board.pools.get("boards", [])),
        "ranking_charts": ranking_charts,
        "headline": headline, "headline_chart": ranking_charts.get(headline) if headline else None,
        "pareto_latency": charts.figure(charts.pareto(
            _points(data["chosen"], "latency_p50_us", 1e-3), "Accuracy vs latency",
            "p50 latency (ms, log scale)", "top-1 accuracy (%)"), PARETO_CAPTION.format(x="faster")),
        "pareto_size": charts.figure(charts.pareto(
            _points(data["chosen"], "model_bytes", 1 / 1024), "Accuracy vs model size",
            "model size (KiB, log scale)", "top-1 accuracy (%)"), PARETO_CAPTION.format(x="smaller")),
        "trend_chart": charts.figure(charts.trend(
            data["trend"], "Nightly latency relative to each device's first night", "p50 / first night's p50"),
            "One line per device: each night, the geometric mean over its models of p50 latency divided by "
            "the p50 of the device's first night with that model. The dashed red line at 1.0 means "
            "unchanged; below it is faster."),
        "device_pages": [_device_page(d, data) for d in data["devices"]],
        "compression": compression_table(data["chosen"]),
        "runtimes": runtime_table(data["chosen"]),
        "matrix": matrix.technique_matrix(data["chosen"]),
        # on each device's own page: the front beside the cases it is drawn from
        "pareto_by_device": {v["device"]: _pareto_view(v) for v in matrix.pareto_views(data["chosen"])},
        "memory": memory_side_by_side(data["chosen"]),
        "threshold_rows": _threshold_rows(data["chosen"], definition, data["equipment"]),
        "summary": _summary(data, pools),
        "appendix_csv": APPENDIX_CSV, "raw_columns": RAW_COLUMNS,
    }


PARETO_CAPTION = ("Each point is one result: colour = device, label = model variant (a label that "
                  "would overlap another is left out; hover over the point for it). The dashed line is "
                  "the Pareto front: the results no other result beats on both axes ({x} and more accurate).")


def _ranking_chart(scores: list[scoring.DeviceScore], title: str, board: scoring.Scoreboard) -> Markup:
    ranked = [(s.device, s.composite, s.ci_low, s.ci_high) for s in scores if s.composite is not None]
    return charts.figure(charts.ranking_bars(ranked, title),
                         "Bars: composite score (1000 × the weighted geometric mean of the dimensions the "
                         f"pool has in common). Whiskers: {round(board.confidence * 100)} % bootstrap "
                         f"interval. Dashed red line: the reference device, {board.reference} = 1000.")


def memory_side_by_side(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Working memory per model, one column per device, each figure with its method; the
    methods in use and which devices use each (never one ratio across two methods)."""
    devices = sorted({r["device"] for r in rows})
    table = {}
    for r in rows:
        table.setdefault(f"{r['family']}/{r['variant']}", {})[r["device"]] = r
    methods = memory.methods(rows)
    return {"devices": devices, "methods": methods, "descriptions": memory.METHODS,
            "method_of": {d: m for m, users in methods.items() for d in users},
            "models": sorted(table.items())}


def tier_rankings(boards: list[scoring.DeviceScore]) -> dict[str, list[scoring.DeviceScore]]:
    """The boards ranked again within each tier (copies: the overall ranks stay as they are)."""
    out = {}
    for tier in sorted({s.tier for s in boards}):
        members = [copy.copy(s) for s in boards if s.tier == tier]
        for s in members:
            s.rank, s.tied = None, False
        out[tier] = scoring.rank(members)
    return out


def _points(rows: list[dict[str, Any]], column: str, factor: float) -> list[tuple[str, str, float, float]]:
    """(device, label, x, top-1 %): the label is the variant, with its family when several
    families have accuracy."""
    usable = [r for r in rows if r[column] and r["accuracy_top1"] is not None]
    several = len({r["family"] for r in usable}) > 1
    return [(r["device"], f"{r['family']}/{r['variant']}" if several else r["variant"],
             r[column] * factor, r["accuracy_top1"] * 100) for r in usable]


def _pareto_view(view: dict[str, Any]) -> dict[str, Any]:
    points = view["points"]
    chart = charts.pareto([(p.row["family"], p.label, p.latency_ms, p.metric * 100) for p in points],
                          f"{view['metric_name']} vs latency — {view['device']}", "p50 latency (ms, log scale)",
                          f"{view['metric_name']} (%)", sizes=[p.model_bytes for p in points])
    return {**view, "chart": charts.figure(chart, PARETO_DEVICE_CAPTION)}


PARETO_DEVICE_CAPTION = ("One point per variant measured on this device: colour = model family, marker area = "
                         "model bytes. The dashed line is the Pareto front: the variants no other beats on both "
                         "latency (lower) and the task's headline metric (higher); they are listed below.")


def _device_page(device: str, data: dict[str, Any]) -> dict[str, Any]:
    board: scoring.Scoreboard = data["board"]
    scores = [s for s in board.all() if s.device == device]
    rows = [r for r in data["chosen"] if r["device"] == device]
    groups = [(f"{r['family']}/{r['variant']}", [v / 1000 for v in data["samples"].get(
        (device, r["family"], r["variant"]), [])]) for r in rows]
    ratios = {m: r for s in scores for m, r in s.per_model.items()}
    cases = planned_cases(device, data["rows"], rows)
    for c in cases:
        c["ratios"] = ratios.get((c["family"], c["variant"]))
    return {"device": device, "equipment": data["equipment"][device], "scores": scores, "rows": rows,
            "cases": cases, "power_note": power_note(rows),
            "superseded": "; ".join(f"{c['family']}/{c['variant']}: {c['status']}, {c['reason'] or 'no reason'}"
                                    for c in cases if c["superseded"]),
            "distribution": charts.figure(
                charts.distributions(groups, f"Latency distribution — {device}"),
                "Per model, the stored latency samples of the scored result: box from p25 to p75, "
                "dark line at the median (p50), whiskers from p5 to p95.")}


def planned_cases(device: str, period: list[dict[str, Any]], chosen: list[dict[str, Any]]
                  ) -> list[dict[str, Any]]:
    """Every case planned for `device` in the period, once: the scored row where there is one,
    and the latest attempt's status and reason when it did not succeed (skipped by the fit
    check, failed, not run) — a case never disappears from its device's page."""
    scored = {(r["family"], r["variant"]): r for r in chosen}
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for r in period:  # oldest first
        if r["device"] == device:
            latest[(r["family"], r["variant"])] = r
    return [{"family": key[0], "variant": key[1], "row": scored.get(key), "status": last["status"],
             "reason": last["reason"], "superseded": key in scored and last is not scored[key]}
            for key, last in sorted(latest.items())]


def _threshold_rows(rows: list[dict[str, Any]], definition: ReportDefinition,
                    equipment: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        e = equipment.get(r["device"], {})
        limits = definition.thresholds
        ram = e.get("ram")
        if not ram:  # no profile: memory cannot be judged as a share of RAM
            limits = limits.model_copy(update={"memory_fraction": None})
        checks = thresholds.evaluate(r, limits, ram or 1)
        out.append({"row": r, "checks": checks, "passed": thresholds.overall(checks)})
    return out


def _runs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for r in rows:
        seen.setdefault(r["run_id"], {"run_id": r["run_id"], "suite": r["suite"], "night": r["night"],
                                      "devices": set()})["devices"].add(r["device"])
    return sorted(seen.values(), key=lambda r: str(r["night"]))


def _summary(data: dict[str, Any], pools: dict[str, list[scoring.DeviceScore]]) -> dict[str, Any]:
    board: scoring.Scoreboard = data["board"]
    leaders = {p: [s for s in scores if s.rank == 1] for p, scores in pools.items()}
    failures = [t for t in _threshold_rows(data["chosen"], data["definition"], data["equipment"])
                if t["passed"] is False]
    not_measured = sorted({d for s in board.all() for d in scoring.DIMENSIONS if s.dims[d].score is None})
    return {"leaders": leaders, "failures": len(failures), "cases": len(data["chosen"]),
            "models": sorted({(r["family"], r["variant"]) for r in data["chosen"]}),
            "not_measured": not_measured}

