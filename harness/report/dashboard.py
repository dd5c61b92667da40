"""`harness dashboard`: the nightly view of a store as a static site (asv / Conbench style).

    DIR/index.html                  every (device × model): tier, family, sparkline, last value,
                                    last change; filters by device, tier and family
    DIR/bench/<case>.html           one benchmark: nightly medians, the noise band, the change
                                    points, each point linked to its run report
    DIR/runs/<run>/report.html      the run reports (a finished run's report is rendered once)

A night is the UTC calendar date of a run's start; of several good runs in one night the last
counts. A night is judged by exactly the rule of `harness compare` (harness/results/history.py, `decide`,
with regression.Criteria's threshold, floor and alpha) against the run values of the previous
HISTORY_RUNS good nights of the case (those of the same environment when there are any, as
baselines.metric_history does). Static files only: inline SVG, a few lines of inline JS for the
filters, no CDN; it works from file://.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import sqlalchemy as sa
from markupsafe import Markup

from harness.results import history as run_history
from harness.results import store as st
from harness.results.baselines import is_good
from harness.progress import Step, quiet
from harness.results.regression import Criteria
from harness.report import charts, numbers
from harness.report.render import equipment_of, environment, render_run_report, write_atomically

Key = tuple[str, str, str]  # (device, family, variant)
Decide = Callable[[Sequence[float], Sequence[float]], run_history.Decision]


def compare_rule(criteria: Criteria | None = None) -> Decide:
    """The decision rule of `harness compare`, with its default criteria: one rule, two views."""
    c = criteria or Criteria()
    return lambda hist, new: run_history.decide(hist, new, threshold_pct=c.latency_pct, floor_pct=c.min_effect_pct,
                                                alpha=c.alpha, min_history=c.min_history)


@dataclass
class Night:
    night: str  # YYYY-MM-DD (UTC)
    run_id: str
    value: float  # run value, µs (median of the repetition medians, else p50)
    verdict: str = run_history.UNCHANGED
    reason: str = ""
    band: run_history.Band | None = None
    href: str = ""
    fingerprint: str | None = None  # the environment's: history prefers nights that share it
    good: bool = True  # False: a run marked `regressed` - shown, never part of a later night's history
    shift_pct: float | None = None  # against its history (None: first night)
    limit_pct: float = 0.0  # the change the rule required


@dataclass
class Series:
    key: Key
    tier: str
    nights: list[Night] = field(default_factory=list)
    slug: str = ""

    @property
    def changes(self) -> list[Night]:
        return [n for n in self.nights if n.verdict in (run_history.REGRESSION, run_history.IMPROVEMENT)]


def slug(*parts: str) -> str:
    """A file name from any names: safe characters kept, a checksum keeps it unique."""
    text = "--".join(parts)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80].strip("._") or "x"
    return f"{safe}-{zlib.crc32(text.encode()):08x}"


def nightly_values(store: st.Store, suite: str | None = None) -> tuple[dict[Key, list[Night]], dict[str, dict]]:
    """Per case, its nights oldest first (one read of the results); and the runs. A night is its
    last good run, else its last run marked `regressed` (shown, but never anyone's history)."""
    runs = {r["run_id"]: r for r in store.runs() if suite is None or r["suite"] == suite}
    good = {run_id for run_id, run in runs.items() if is_good(store, run)}
    shown = good | {run_id for run_id, run in runs.items() if run["status"] == "regressed"}
    query = (sa.select(st.results.c.run_id, st.results.c.device, st.results.c.family, st.results.c.variant,
                       st.results.c.status, st.results.c.latency_p50_us, st.results.c.latency_repeat_p50_us,
                       st.results.c.environment_id, st.environments.c.fingerprint)
             .outerjoin(st.environments, st.environments.c.id == st.results.c.environment_id)
             .where(st.results.c.status == "ok"))
    rows = store.rows(query)
    last: dict[Key, dict[str, tuple[tuple[bool, str], Night]]] = {}
    for r in rows:
        run = runs.get(r["run_id"])
        value = run_history.run_value(r["latency_p50_us"], r["latency_repeat_p50_us"])
        if run is None or r["run_id"] not in shown or not value:
            continue
        rank = (r["run_id"] in good, str(run["started_at"]))
        night = str(run["started_at"])[:10]
        key = (r["device"], r["family"], r["variant"])
        seen = last.setdefault(key, {}).get(night)
        if seen is None or seen[0] <= rank:  # the last good run of the night counts
            last[key][night] = (rank, Night(night, r["run_id"], float(value), fingerprint=r["fingerprint"],
                                            good=r["run_id"] in good))
    return {key: [n for _, n in sorted(by_night.values(), key=lambda t: t[1].night)]
            for key, by_night in last.items()}, runs


def judge(nights: list[Night], decide: Decide, window: int = run_history.HISTORY_RUNS) -> None:
    """Each night against the run values of the `window` good nights before it (those of the
    same environment when any share it): verdict, reason and band, in place."""
    for i, n in enumerate(nights):
        before = [b for b in nights[max(0, i - 4 * window):i] if b.good]
        same = [b.value for b in before if b.fingerprint and b.fingerprint == n.fingerprint][-window:]
        history = same or [b.value for b in before][-window:]
        if history:
            d = decide(history, [n.value])
            n.verdict, n.band, n.reason = d.verdict, d.band, d.reason
            n.shift_pct, n.limit_pct = d.shift_pct, d.limit_pct
        else:
            n.reason = "first night: no history"


def build(store: st.Store, profiles_dir: Path | None, decide: Decide, suite: str | None = None
          ) -> tuple[list[Series], dict[str, dict]]:
    values, runs = nightly_values(store, suite)
    tiers = {}
    series = []
    for key in sorted(values):
        device = key[0]
        if device not in tiers:
            e = equipment_of(device, profiles_dir)
            tiers[device] = "unknown" if e["missing"] else e["tier"]
        s = Series(key, tiers[device], values[key], slug(*key))
        judge(s.nights, decide)
        series.append(s)
    discount_machine(series)
    return series, runs


def discount_machine(series: list[Series]) -> None:
    """As `harness compare`: latency changes a device's cases share in one run are the machine's
    (history.machine_shift); such a change, within the limit beyond the shared shift, is suspect -
    unless the device's previous night shared it too (the device changed)."""
    by_run: dict[tuple[str, str], list[Night]] = {}
    for s in series:
        for n in s.nights:
            if n.shift_pct is not None:
                by_run.setdefault((s.key[0], n.run_id), []).append(n)
    previous: dict[str, float | None] = {}  # per device, the shared shift of its last night
    for (device, _), nights in sorted(by_run.items(), key=lambda item: (item[0][0], item[1][0].night)):
        limit = max(n.limit_pct for n in nights)
        common = run_history.machine_shift([n.shift_pct for n in nights if n.shift_pct is not None], limit)
        before = previous.get(device)
        lasting = common is not None and before is not None and (before > 0) == (common > 0)
        for n in nights:
            n.verdict, why = run_history.discount_machine(n.verdict, n.shift_pct or 0.0, common, limit, lasting)
            if why is not None:
                n.reason = f"{n.reason}; {why}"
        previous[device] = common


def render_dashboard(store: st.Store, out_dir: Path, profiles_dir: Path | None = None, suite: str | None = None,
                     decide: Decide | None = None, step: Step = quiet) -> list[Path]:
    """Write the site; returns the pages written. Run reports of finished runs already in
    DIR/runs are kept (a night adds one run, not 90)."""
    step("reading the store")
    series, runs = build(store, profiles_dir, decide or compare_rule(), suite)
    linked = sorted({n.run_id for s in series for n in s.nights})
    paths = {run_id: f"runs/{slug(run_id)}/report.html" for run_id in linked}
    for s in series:
        for n in s.nights:
            n.href = "../" + paths[n.run_id]
    env = environment()
    written = []
    step(f"{len(series)} benchmark pages")
    for s in series:
        html = env.get_template("dashboard_bench.html.j2").render(
            s=s, chart=trend_chart(s), generated=_now(), fmt=numbers)
        written.append(write_atomically(out_dir / "bench" / f"{s.slug}.html", html))
    step("index")
    written.append(write_atomically(out_dir / "index.html", env.get_template("dashboard_index.html.j2").render(
        series=series, rows=[_index_row(s) for s in series], data=page_json([_index_row(s, True) for s in series]),
        generated=_now(), nights=len({n.night for s in series for n in s.nights}))))
    todo = [r for r in linked if not (runs[r].get("ended_at") and (out_dir / paths[r]).exists())]
    step(f"{len(todo)} run reports ({len(linked) - len(todo)} kept)")
    profiles = functools.lru_cache(maxsize=None)(equipment_of)  # read each profile once, not once per run
    for run_id in todo:
        written.append(render_run_report(store, run_id, (out_dir / paths[run_id]).parent, profiles_dir, profiles))
    return written


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _index_row(s: Series, plain: bool = False) -> dict[str, Any]:
    device, family, variant = s.key
    last = s.nights[-1]
    change = s.changes[-1] if s.changes else None
    row: dict[str, Any] = {"device": device, "family": family, "variant": variant, "tier": s.tier,
                           "href": f"bench/{s.slug}.html", "nights": len(s.nights),
                           "last": numbers.duration_us(last.value), "last_night": last.night,
                           "change": None if change is None else {"night": change.night, "verdict": change.verdict,
                                                                  "reason": change.reason}}
    if not plain:
        row["spark"] = sparkline([n.value for n in s.nights[-30:]], f"{device} {family}/{variant}")
    return row


def page_json(data: Any) -> Markup:
    """JSON safe inside <script type="application/json">: no '<', '>' or '&' left to close the
    element or start a comment, whatever the device names contain."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return Markup(text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
                  .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def sparkline(values: Sequence[float], title: str) -> Markup:
    width, height = 120, 24
    svg = charts.Svg(width, height, f"{title}: last {len(values)} nights")
    if len(values) >= 2:
        lo, hi = min(values), max(values)
        y = charts.Scale(lo, hi if hi > lo else lo + 1, height - 3, 3)
        step = (width - 4) / (len(values) - 1)
        svg.polyline([(2 + i * step, y(v)) for i, v in enumerate(values)], "#1f5f99")
    return svg.render().replace('class="chart"', 'class="spark"')  # type: ignore[return-value]


def trend_chart(s: Series) -> Markup:
    """Nightly run values with the noise band each night was judged against (grey), change
    points (red: regression, green: improvement); every point links to its run report."""
    width, height, left, bottom = 900, 320, 70, 270
    device, family, variant = s.key
    svg = charts.Svg(width, height, f"{device} {family}/{variant}: nightly latency")
    nights = s.nights
    ordinal = [dt.date.fromisoformat(n.night).toordinal() for n in nights]
    values = [n.value / 1000 for n in nights]
    lows = [n.band.low / 1000 for n in nights if n.band]
    highs = [n.band.high / 1000 for n in nights if n.band]
    x = charts.Scale(ordinal[0], ordinal[-1] if ordinal[-1] > ordinal[0] else ordinal[0] + 1, left, width - 20)
    y = charts.Scale(min(values + lows) * 0.97, max(values + highs) * 1.03, bottom, 20)
    charts.y_axis(svg, y, left, width - 20, "run median (ms)")
    svg.line(left, bottom, width - 20, bottom, "#57606a")
    for i, anchor in sorted({0: "start", len(nights) // 2: "middle", len(nights) - 1: "end"}.items()):
        svg.text(x(ordinal[i]), bottom + 16, nights[i].night, 10, anchor, "#57606a")
    banded = [(x(o), n.band) for o, n in zip(ordinal, nights) if n.band]
    if banded:
        upper = " ".join(f"{px:.1f},{y(b.high / 1000):.1f}" for px, b in banded)
        lower = " ".join(f"{px:.1f},{y(b.low / 1000):.1f}" for px, b in reversed(banded))
        svg.add(f'<polygon class="band" points="{upper} {lower}" fill="#d0d7de" fill-opacity="0.6" stroke="none">'
                "<title>noise band: where the next night falls when nothing changed</title></polygon>")
    svg.polyline([(x(o), y(v)) for o, v in zip(ordinal, values)], "#1f5f99")
    colors = {run_history.REGRESSION: "#cf222e", run_history.IMPROVEMENT: "#1a7f37"}
    for o, v, n in zip(ordinal, values, nights):
        color = colors.get(n.verdict, "#1f5f99")
        radius = 6 if n.verdict in colors else 3
        tip = charts.escape(f"{n.night} {numbers.duration_us(n.value)} — {n.verdict}: {n.reason} (run {n.run_id})")
        svg.add(f'<a href="{charts.escape(n.href)}" class="point {n.verdict}"><circle cx="{x(o):.1f}" cy="{y(v):.1f}" '
                f'r="{radius}" fill="{color}"><title>{tip}</title></circle></a>')
    ly = height - 10
    svg.add(f'<rect x="{left}" y="{ly - 8}" width="14" height="9" fill="#d0d7de"/>')
    svg.text(left + 18, ly, "noise band", 10)
    svg.add(f'<circle cx="{left + 110}" cy="{ly - 4}" r="5" fill="#cf222e"/>')
    svg.text(left + 120, ly, "regression", 10)
    svg.add(f'<circle cx="{left + 210}" cy="{ly - 4}" r="5" fill="#1a7f37"/>')
    svg.text(left + 220, ly, "improvement", 10)
    svg.add(f'<circle cx="{left + 320}" cy="{ly - 4}" r="3" fill="#1f5f99"/>')
    svg.text(left + 328, ly, "night (click: its run report)", 10)
    return svg.render()
