"""The annual leaderboard: a calendar year of nightly results, aggregated, scored and ranked,
with each device's movement against the year before.

Nights: a night is a calendar date in the lab's time zone (`timezone` in the definition,
default UTC); the year runs from 1 January to 31 December there too. When several runs of a
night have a successful result of one device × model, the last one counts (a re-run replaces
the night's figure, it does not add a night).

Aggregation: the MEDIAN, per device × model, of those nightly results (each night's p50 latency,
accuracy, footprint and measured energy). The interval comes from bootstrapping those nightly
p50s, so a device that is fast one night and slow the next gets a wide interval and is tied
rather than ranked apart by its luck. An interval from fewer than MIN_NIGHTS nights says little
and is marked as such."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa

from harness import scoring
from harness.results import store as st
from harness.errors import ConfigError, StoreError
from harness.report import charts
from harness.report.definition import ReportDefinition
from harness.report.export import md
from harness.report.render import equipment_of, environment, write_atomically

METHOD = ("Aggregation: the median, per device × model, of every night's successful result of {year} "
          "(a night: a calendar date in {tz}; of several runs in one night the last counts); "
          "the interval bootstraps the nightly p50s.")
NUMERIC = ["latency_p50_us", "accuracy_top1", "model_bytes", "rss_peak_bytes", "arena_bytes", "energy_uj"]
MIN_NIGHTS = 3  # fewer nightly p50s than this make a bootstrap interval that says little
_RUN_SEP = "\x1f"  # run ids are joined with the ASCII unit separator: no run id holds one

Nights = dict[str, tuple[int, int]]  # run id -> (night ordinal, rank of its start time in the year)


def year_runs(store: st.Store, definition: ReportDefinition, year: int, tz: dt.tzinfo) -> Nights:
    """The year's runs of the definition's suites, each with its night (a date in `tz`)."""
    utc = dt.timezone.utc
    start, end = (dt.datetime(y, 1, 1, tzinfo=tz).astimezone(utc) for y in (year, year + 1))
    query = (sa.select(st.runs.c.run_id, st.runs.c.started_at)
             .where(st.runs.c.suite.in_(definition.suites), st.runs.c.started_at >= start,
                    st.runs.c.started_at < end))
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(query).all()
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"store {store.url}: read failed: {str(exc).splitlines()[0]}") from None
    started = {run_id: (t if t.tzinfo else t.replace(tzinfo=utc)) for run_id, t in rows}  # SQLite: in UTC
    ordered = sorted(started, key=lambda run_id: (started[run_id], run_id))
    return {run_id: (started[run_id].astimezone(tz).date().toordinal(), rank) for rank, run_id in enumerate(ordered)}


def year_groups(store: st.Store, definition: ReportDefinition, runs: Nights) -> list[dict[str, Any]]:
    """One row per device × model of the year: its results' run ids and figures as joined strings,
    aligned (a NULL is 'nan'), grouped in SQL. Only ~2,000 rows cross into Python for a million
    results: fetching the million rows themselves costs seconds of tuple and string building."""
    if not runs:
        return []
    r = st.results.c
    concat = _concat(store.engine.dialect.name)
    energy = sa.case((r.power_status == "measured", r.energy_uj))
    figures = {c: energy if c == "energy_uj" else r[c] for c in NUMERIC}
    query = (sa.select(r.device, r.family, r.variant, r.emulated, sa.func.min(r.runtime).label("runtime"),
                       sa.func.max(sa.case((r.power_status == "estimated", 1), else_=0)).label("estimated"),
                       concat(r.run_id, _RUN_SEP).label("run_ids"),
                       *[concat(sa.func.coalesce(sa.cast(col, sa.Text), "nan"), ",").label(c)
                         for c, col in figures.items()])
             .where(r.status == "ok", r.run_id.in_(sa.bindparam("runs", expanding=True)))
             .group_by(r.device, r.family, r.variant, r.emulated))
    if definition.devices is not None:
        query = query.where(r.device.in_(definition.devices))
    # The year's run ids first: the (run_id, ...) unique index then reads only their results,
    # where a join would walk the whole table (4x slower on a million rows).
    try:
        with store.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query, {"runs": list(runs)})]
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"store {store.url}: read failed: {str(exc).splitlines()[0]}") from None


def _concat(dialect: str):
    # Every aggregate of a group sees its rows in one order, so the joined columns stay aligned.
    if dialect == "sqlite":
        return lambda col, sep: sa.func.group_concat(col, sep)
    return lambda col, sep: sa.func.string_agg(sa.cast(col, sa.Text), sep)


def last_of_each_night(run_ids: list[str], runs: Nights) -> np.ndarray:
    """Indices into `run_ids` of the last run of each night, in night order."""
    night, started = np.array([runs[r] for r in run_ids], dtype=np.int64).reshape(-1, 2).T
    order = np.argsort(started)  # start order is night order too: a night is a date of the start
    nights = night[order]
    return order[np.append(nights[1:] != nights[:-1], True)]


def _floats(joined: str, count: int) -> np.ndarray:
    values = np.fromstring(joined, dtype=float, sep=",") if joined else np.empty(0)  # text mode: fast
    if values.size != count:
        raise StoreError(f"leaderboard: {values.size} figures for {count} results (a figure that is not a number?)")
    return values


def aggregate(groups: list[dict[str, Any]], runs: Nights
              ) -> tuple[list[dict[str, Any]], dict[tuple[str, str, str], np.ndarray]]:
    """One row per device × model with the medians over its nights (NULLs left out) and its
    number of nights, and the nightly p50s."""
    rows, sets = [], {}
    for g in groups:
        run_ids = g["run_ids"].split(_RUN_SEP)
        keep = last_of_each_night(run_ids, runs)
        values = {c: (v := _floats(g[c], len(run_ids))[keep])[~np.isnan(v)] for c in NUMERIC}
        row = {k: g[k] for k in ("device", "family", "variant", "runtime")}
        row.update({c: float(np.median(v)) if v.size else None for c, v in values.items()},
                   nights=len(keep), emulated=bool(g["emulated"]), status="ok")
        row["power_status"] = ("measured" if row["energy_uj"] is not None
                               else "estimated" if g["estimated"] else "not measured")
        rows.append(row)
        sets[(g["device"], g["family"], g["variant"])] = values["latency_p50_us"]
    return rows, sets


def year_rows(store: st.Store, definition: ReportDefinition, year: int
              ) -> tuple[list[dict[str, Any]], dict[tuple[str, str, str], np.ndarray]]:
    """The year's rows (one per device × model, medians over its nights) and nightly p50s."""
    runs = year_runs(store, definition, year, ZoneInfo(definition.timezone))
    return aggregate(year_groups(store, definition, runs), runs)


def score_rows(rows: list[dict[str, Any]], sets: dict[tuple[str, str, str], np.ndarray],
               definition: ReportDefinition, reference: str, tiers: dict[str, str]) -> scoring.Scoreboard | None:
    """The scoreboard against `reference`; None when the reference has no row."""
    if not any(r["device"] == reference for r in rows):
        return None
    b = definition.bootstrap
    return scoring.score_table(rows, reference, definition.weights.model_dump(), tiers, sets,
                               resamples=b.resamples, seed=b.seed, confidence=b.confidence)


def choose_reference(definition: ReportDefinition, year: int, rows: list[dict[str, Any]],
                     asked: str | None) -> tuple[str, str]:
    """(reference, note): `--reference` or the definition's when it has results; else, for the
    definition's, the device with results on the most models (a board before an emulator),
    said so in the note. An asked-for reference without results is a ConfigError that names
    the devices that have some."""
    wanted = asked or definition.reference
    devices = sorted({r["device"] for r in rows})
    if wanted in devices:
        return wanted, ""
    where = f"no successful result of suites {', '.join(definition.suites)} in {year}"
    if not devices:
        raise ConfigError(f"leaderboard {year}: reference device {wanted!r} has {where}, and no other device "
                          "has one either")
    if asked is not None:
        raise ConfigError(f"leaderboard {year}: reference device {asked!r} (--reference) has {where}; devices "
                          f"with results: {', '.join(devices)}")
    models = {d: sum(1 for r in rows if r["device"] == d and not r["emulated"]) for d in devices}
    listed = definition.devices or []
    chosen = min(devices, key=lambda d: (-models[d], listed.index(d) if d in listed else len(listed), d))
    note = (f"The definition's reference device {wanted!r} has {where}: scores are against {chosen!r}, the "
            f"device with results on the most models. Devices with results: {', '.join(devices)}; "
            "choose one with --reference DEVICE.")
    return chosen, note


def device_nights(board: scoring.Scoreboard, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Per device, the nights behind its interval: the fewest among the models it is scored on."""
    per_model = {(r["device"], r["family"], r["variant"]): r["nights"] for r in rows}
    out = {}
    for s in board.all():
        counts = [per_model[(s.device, *m)] for m in s.per_model if (s.device, *m) in per_model]
        out[s.device] = min(counts) if counts else max(
            (n for (d, _, _), n in per_model.items() if d == s.device), default=0)
    return out


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


@dataclass
class Leaderboard:
    """One year ranked: what the files and the terminal table show."""

    year: int
    definition: ReportDefinition
    board: scoring.Scoreboard
    moves: dict[tuple[str, str], str]
    nights: dict[str, int]
    method: str
    note: str  # why the reference is not the definition's, or ""
    previous: bool

    def table(self) -> list[dict[str, str]]:
        """The ranking as text rows: pool, rank, device, tier, score, interval, movement, nights, covers."""
        out = []
        for pool, scores in self.board.pools.items():
            for s in scores:
                out.append({"pool": pool, "rank": "—" if s.rank is None else f"{'=' if s.tied else ''}{s.rank}",
                            "device": s.device, "tier": s.tier,
                            "score": "—" if s.composite is None else f"{s.composite:.0f}",
                            "interval": interval_text(s, self.nights.get(s.device, 0)),
                            "movement": self.moves[(pool, s.device)], "nights": str(self.nights.get(s.device, 0)),
                            "covers": ", ".join(s.covers) or "nothing in common"})
        return out


def interval_text(s: scoring.DeviceScore, nights: int) -> str:
    if s.ci_low is None:
        return "—"
    text = f"{s.ci_low:.0f}–{s.ci_high:.0f}"
    if nights < MIN_NIGHTS:
        text += f" ({nights} night{'s' if nights != 1 else ''}: too few for an interval)"
    return text


def build_leaderboard(store: st.Store, definition: ReportDefinition, year: int, tiers: dict[str, str],
                      reference: str | None = None) -> Leaderboard:
    rows, sets = year_rows(store, definition, year)
    chosen, note = choose_reference(definition, year, rows, reference)
    board = score_rows(rows, sets, definition, chosen, tiers)
    assert board is not None  # the chosen reference has results
    previous = score_rows(*year_rows(store, definition, year - 1), definition, chosen, tiers)
    method = METHOD.format(year=year, tz=definition.timezone)
    return Leaderboard(year, definition, board, movement(board, previous), device_nights(board, rows), method,
                       note, previous is not None)


def render_leaderboard(store: st.Store, definition: ReportDefinition, year: int, out_dir: Path,
                       profiles_dir: Path | None = None, reference: str | None = None
                       ) -> tuple[list[Path], Leaderboard]:
    devices = sorted(set(definition.devices or []) | _devices(store))
    equipment = {d: equipment_of(d, profiles_dir) for d in devices}
    tiers = {d: e.get("tier", "unknown") if not e["missing"] else "unknown" for d, e in equipment.items()}
    lb = build_leaderboard(store, definition, year, tiers, reference)
    board = lb.board
    context = {"definition": definition, "year": year, "board": board, "moves": lb.moves, "method": lb.method,
               "nights": lb.nights, "min_nights": MIN_NIGHTS, "note": lb.note, "previous": lb.previous,
               "dimensions": scoring.DIMENSIONS,
               "charts": {p: charts.ranking_bars([(s.device, s.composite, s.ci_low, s.ci_high)
                                                  for s in scores if s.composite is not None],
                                                 f"{year} composite — {p}")
                          for p, scores in board.pools.items() if scores}}
    html = environment().get_template("leaderboard.html.j2").render(**context)
    paths = [write_atomically(out_dir / "leaderboard.html", html),
             write_atomically(out_dir / "leaderboard.md", markdown(lb))]
    return paths, lb


def _devices(store: st.Store) -> set[str]:
    with store.engine.connect() as conn:
        return {d for (d,) in conn.execute(sa.select(st.results.c.device).distinct())}


def markdown(lb: Leaderboard) -> str:
    lines = [f"# {md(lb.definition.title)} — leaderboard {lb.year}", "", md(lb.method),
             f"Reference: **{md(lb.board.reference)}** = 1000. This is this lab's own scoring method.", ""]
    if lb.note:
        lines += [md(lb.note), ""]
    rows = lb.table()
    for pool, scores in lb.board.pools.items():
        if not scores:
            continue
        lines += [f"## {pool}", "", "| rank | move | device | tier | composite | interval | nights | covers |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in (r for r in rows if r["pool"] == pool):
            lines.append(f"| {r['rank']} | {r['movement']} | {md(r['device'])} | {md(r['tier'])} | {r['score']} | "
                         f"{r['interval']} | {r['nights']} | {md(r['covers'])} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
