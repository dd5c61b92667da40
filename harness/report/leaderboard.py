"""The annual leaderboard: a calendar year of nightly results, aggregated, scored and ranked,
with each device's movement against the year before.

Aggregation: the MEDIAN, per device × model, of every successful nightly result of the year
(each night's p50 latency, accuracy, footprint and measured energy). The interval comes from
bootstrapping those nightly p50s, so a device that is fast one night and slow the next gets a
wide interval and is tied rather than ranked apart by its luck."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from harness import scoring
from harness import store as st
from harness.errors import ConfigError, StoreError
from harness.report import charts
from harness.report.definition import ReportDefinition
from harness.report.export import md
from harness.report.render import _equipment, environment, write_atomically

METHOD = ("Aggregation: the median, per device × model, of every successful nightly result of {year}; "
          "the interval bootstraps the nightly p50s.")
NUMERIC = ["latency_p50_us", "accuracy_top1", "model_bytes", "rss_peak_bytes", "arena_bytes", "energy_uj"]


def year_groups(store: st.Store, definition: ReportDefinition, year: int) -> list[dict[str, Any]]:
    """One row per device × model of the year: its figures as comma-joined strings, grouped in SQL.
    Only ~2,000 rows cross into Python for a million results: fetching the million rows
    themselves costs seconds of tuple and string building alone."""
    utc = dt.timezone.utc
    r = st.results.c
    concat = _concat(store.engine.dialect.name)
    energy = sa.case((r.power_status == "measured", r.energy_uj))
    query = (sa.select(r.device, r.family, r.variant, r.emulated, sa.func.min(r.runtime).label("runtime"),
                       sa.func.count().label("nights"),
                       sa.func.max(sa.case((r.power_status == "estimated", 1), else_=0)).label("estimated"),
                       *[concat(r[c]).label(c) for c in NUMERIC if c != "energy_uj"],
                       concat(energy).label("energy_uj"))
             .where(r.status == "ok", r.run_id.in_(sa.bindparam("runs", expanding=True)))
             .group_by(r.device, r.family, r.variant, r.emulated))
    if definition.devices is not None:
        query = query.where(r.device.in_(definition.devices))
    # The year's run ids first: the (run_id, ...) unique index then reads only their results,
    # where a join would walk the whole table (4x slower on a million rows).
    runs = (sa.select(st.runs.c.run_id)
            .where(st.runs.c.suite.in_(definition.suites),
                   st.runs.c.started_at >= dt.datetime(year, 1, 1, tzinfo=utc),
                   st.runs.c.started_at < dt.datetime(year + 1, 1, 1, tzinfo=utc)))
    try:
        with store.engine.connect() as conn:
            run_ids = list(conn.execute(runs).scalars())
            if not run_ids:
                return []
            return [dict(row._mapping) for row in conn.execute(query, {"runs": run_ids})]
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"store {store.url}: read failed: {str(exc).splitlines()[0]}") from None


def _concat(dialect: str):
    if dialect == "sqlite":
        return lambda col: sa.func.group_concat(col, ",")
    return lambda col: sa.func.string_agg(sa.cast(col, sa.Text), ",")


def _values(joined: str | None) -> np.ndarray:
    return np.array(joined.split(","), dtype=float) if joined else np.empty(0)


def aggregate(groups: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[tuple[str, str, str], np.ndarray]]:
    """One row per device × model with the year's medians (NULLs left out), and the nightly p50s."""
    rows, sets = [], {}
    for g in groups:
        values = {c: _values(g[c]) for c in NUMERIC}
        row = {k: g[k] for k in ("device", "family", "variant", "runtime", "nights")}
        row.update({c: float(np.median(v)) if v.size else None for c, v in values.items()},
                   emulated=bool(g["emulated"]), status="ok")
        row["power_status"] = ("measured" if row["energy_uj"] is not None
                               else "estimated" if g["estimated"] else "not measured")
        rows.append(row)
        sets[(g["device"], g["family"], g["variant"])] = values["latency_p50_us"]
    return rows, sets


def score_year(store: st.Store, definition: ReportDefinition, year: int,
               tiers: dict[str, str]) -> tuple[scoring.Scoreboard | None, list[dict[str, Any]]]:
    rows, sets = aggregate(year_groups(store, definition, year))
    if not any(r["device"] == definition.reference for r in rows):
        return None, rows
    b = definition.bootstrap
    board = scoring.score_table(rows, definition.reference, definition.weights.model_dump(), tiers, sets,
                                resamples=b.resamples, seed=b.seed, confidence=b.confidence)
    return board, rows


def movement(board: scoring.Scoreboard, previous: scoring.Scoreboard | None) -> dict[tuple[str, str], str]:
    """'new', '=' or '▲n' / '▼n' per (pool, device), against the previous year's rank."""
    before = {(s.pool, s.device): s.rank for s in previous.all()} if previous else {}
    out = {}
    for s in board.all():
        old = before.get((s.pool, s.device))
        if s.rank is None:
            out[(s.pool, s.device)] = "—"
        elif old is None:
            out[(s.pool, s.device)] = "new"
        else:
            out[(s.pool, s.device)] = "=" if old == s.rank else (f"▲{old - s.rank}" if old > s.rank else f"▼{s.rank - old}")
    return out


def render_leaderboard(store: st.Store, definition: ReportDefinition, year: int, out_dir: Path,
                       profiles_dir: Path | None = None) -> tuple[list[Path], str]:
    devices = sorted(set(definition.devices or []) | _devices(store))
    equipment = {d: _equipment(d, profiles_dir) for d in devices}
    tiers = {d: e.get("tier", "unknown") if not e["missing"] else "unknown" for d, e in equipment.items()}
    board, rows = score_year(store, definition, year, tiers)
    if board is None:
        raise ConfigError(f"leaderboard {year}: reference device {definition.reference!r} has no successful "
                          f"result of suites {', '.join(definition.suites)} in {year}")
    previous, _ = score_year(store, definition, year - 1, tiers)
    moves = movement(board, previous)
    nights = {}
    for r in rows:
        nights[r["device"]] = max(nights.get(r["device"], 0), r["nights"])
    method = METHOD.format(year=year)
    context = {"definition": definition, "year": year, "board": board, "moves": moves, "method": method,
               "nights": nights, "previous": previous is not None, "dimensions": scoring.DIMENSIONS,
               "charts": {p: charts.ranking_bars([(s.device, s.composite, s.ci_low, s.ci_high)
                                                  for s in scores if s.composite is not None],
                                                 f"{year} composite — {p}")
                          for p, scores in board.pools.items() if scores}}
    html = environment().get_template("leaderboard.html.j2").render(**context)
    paths = [write_atomically(out_dir / "leaderboard.html", html),
             write_atomically(out_dir / "leaderboard.md", markdown(board, moves, definition, year, method))]
    return paths, method


def _devices(store: st.Store) -> set[str]:
    with store.engine.connect() as conn:
        return {d for (d,) in conn.execute(sa.select(st.results.c.device).distinct())}


def markdown(board: scoring.Scoreboard, moves: dict[tuple[str, str], str], definition: ReportDefinition,
             year: int, method: str) -> str:
    lines = [f"# {md(definition.title)} — leaderboard {year}", "", md(method),
             f"Reference: **{md(board.reference)}** = 1000. This is this lab's own scoring method.", ""]
    for pool, scores in board.pools.items():
        if not scores:
            continue
        lines += [f"## {pool}", "", "| rank | move | device | tier | composite | interval | covers |",
                  "|---|---|---|---|---|---|---|"]
        for s in scores:
            rank = "—" if s.rank is None else f"{'=' if s.tied else ''}{s.rank}"
            interval = "—" if s.ci_low is None else f"{s.ci_low:.0f}–{s.ci_high:.0f}"
            value = "—" if s.composite is None else f"{s.composite:.0f}"
            lines.append(f"| {rank} | {moves[(pool, s.device)]} | {md(s.device)} | {md(s.tier)} | {value} | "
                         f"{interval} | {md(', '.join(s.covers) or 'nothing in common')} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
