"""Static SVG charts, written by hand: they embed in the HTML, work offline, print in the PDF,
and need no plotting library (matplotlib would add ~40 MB and a font cache for four charts).
Every piece of text goes through `markupsafe.escape`, so a device named `<script>` stays text.
Each function returns Markup: an `<svg>` element ready to place in a template."""

from __future__ import annotations

import datetime as dt
import math
from typing import Sequence

from markupsafe import Markup, escape

PALETTE = ("#1f5f99", "#d9822b", "#2e8540", "#b8293d", "#6f42c1", "#8a6d3b",
           "#c2185b", "#5f6b7a", "#9e9d24", "#00838f")
FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'


class Svg:
    def __init__(self, width: int, height: int, title: str) -> None:
        self.width, self.height, self.parts = width, height, [f"<title>{escape(title)}</title>"]

    def add(self, markup: str) -> None:
        self.parts.append(markup)

    def text(self, x: float, y: float, s: object, size: int = 11, anchor: str = "start",
             fill: str = "#24292f", weight: str = "normal") -> None:
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
                 f'fill="{fill}" font-weight="{weight}">{escape(str(s))}</text>')

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str = "#8c959f",
             width: float = 1, dash: str = "") -> None:
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                 f'stroke="{stroke}" stroke-width="{width}"{extra}/>')

    def rect(self, x: float, y: float, w: float, h: float, fill: str, tip: str = "") -> None:
        title = f"<title>{escape(tip)}</title>" if tip else ""
        self.add(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" fill="{fill}">{title}</rect>')

    def circle(self, x: float, y: float, fill: str, tip: str, r: float = 4) -> None:
        self.add(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{fill}" fill-opacity="0.85">'
                 f'<title>{escape(tip)}</title></circle>')

    def polyline(self, points: Sequence[tuple[float, float]], stroke: str, dash: str = "") -> None:
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<polyline points="{pts}" fill="none" stroke="{stroke}" stroke-width="1.6"{extra}/>')

    def render(self) -> Markup:
        body = "".join(self.parts)
        return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
                      f'viewBox="0 0 {self.width} {self.height}" width="{self.width}" height="{self.height}" '
                      f'{FONT}>{body}</svg>')


class Scale:
    """Linear or log10 mapping from data to pixels."""

    def __init__(self, lo: float, hi: float, a: float, b: float, log: bool = False) -> None:
        if log:
            lo, hi = math.log10(max(lo, 1e-12)), math.log10(max(hi, 1e-12))
        if hi <= lo:
            lo, hi = lo - 1, hi + 1
        self.lo, self.hi, self.a, self.b, self.log = lo, hi, a, b, log

    def __call__(self, v: float) -> float:
        v = math.log10(max(v, 1e-12)) if self.log else v
        return self.a + (v - self.lo) / (self.hi - self.lo) * (self.b - self.a)

    def ticks(self, n: int = 5) -> list[float]:
        if self.log:
            return [10 ** e for e in range(math.floor(self.lo), math.ceil(self.hi) + 1)
                    if self.lo - 1e-9 <= e <= self.hi + 1e-9]
        step = _nice((self.hi - self.lo) / n)
        first = math.ceil(self.lo / step) * step
        return [first + i * step for i in range(int((self.hi - first) / step) + 1)]


def _nice(raw: float) -> float:
    exp = 10 ** math.floor(math.log10(raw))
    return next(m * exp for m in (1, 2, 2.5, 5, 10) if m * exp >= raw)


def _fmt(v: float) -> str:
    return f"{v:g}" if abs(v) >= 0.01 or v == 0 else f"{v:.1e}"


def _x_axis(svg: Svg, x: Scale, y0: float, label: str) -> None:
    svg.line(x.a, y0, x.b, y0, "#57606a")
    for t in x.ticks():
        svg.line(x(t), y0, x(t), y0 + 4, "#57606a")
        svg.text(x(t), y0 + 16, _fmt(t), 10, "middle", "#57606a")
    svg.text((x.a + x.b) / 2, y0 + 32, label, 11, "middle")


def y_axis(svg: Svg, y: Scale, x0: float, x1: float, label: str) -> None:
    for t in y.ticks():
        svg.line(x0, y(t), x1, y(t), "#eaeef2")
        svg.text(x0 - 6, y(t) + 3, _fmt(t), 10, "end", "#57606a")
    svg.add(f'<text x="14" y="{(y.a + y.b) / 2:.1f}" font-size="11" text-anchor="middle" '
            f'transform="rotate(-90 14 {(y.a + y.b) / 2:.1f})">{escape(label)}</text>')


def ranking_bars(entries: Sequence[tuple[str, float, float | None, float | None]],
                 title: str, reference: float = 1000.0) -> Markup:
    """Horizontal bars of composite scores with confidence-interval whiskers; dashed line at the
    reference's 1000. entries: (label, score, ci_low, ci_high)."""
    left, width, row = 190, 720, 24
    height = 50 + row * len(entries) + 40
    svg = Svg(width, height, title)
    svg.text(left, 18, title, 13, weight="bold")
    top = max([reference] + [hi or v for _, v, _, hi in entries]) * 1.1
    x = Scale(0, top, left, width - 20)
    for i, (label, value, lo, hi) in enumerate(entries):
        y = 34 + i * row
        svg.text(left - 8, y + 15, label, 11, "end")
        svg.rect(x(0), y + 4, x(value) - x(0), row - 8, PALETTE[0], f"{label}: {value:.0f}")
        if lo is not None and hi is not None:
            svg.line(x(lo), y + row / 2, x(hi), y + row / 2, "#24292f", 1.4)
            for end in (lo, hi):
                svg.line(x(end), y + 6, x(end), y + row - 6, "#24292f", 1.4)
        svg.text(x(hi if hi is not None else value) + 6, y + 15, f"{value:.0f}", 10, fill="#57606a")
    bottom = 34 + row * len(entries) + 4
    svg.line(x(reference), 28, x(reference), bottom, "#b8293d", 1, "4 3")
    _x_axis(svg, x, bottom, "composite score (reference device = 1000)")
    return svg.render()


def pareto(points: Sequence[tuple[str, str, float, float]], title: str, x_label: str,
           y_label: str, sizes: Sequence[float | None] | None = None) -> Markup:
    """Scatter of (series, label, x, y) with x lower-better (log scale) and y higher-better;
    every point labelled where its label fits without overlapping another (else its tooltip
    carries it); the dashed line joins the Pareto-optimal points; a legend of the series.
    `sizes` (e.g. model bytes) scale the markers' area, 3 to 10 px radius."""
    series = sorted({p[0] for p in points})
    legend_rows = math.ceil((len(series) + 1) / 4)
    width, height, left, bottom = 720, 360, 64, 300
    svg = Svg(width, height + 20 + 16 * legend_rows, title)
    svg.text(left, 18, title, 13, weight="bold")
    if not points:
        svg.text(left, 60, "no result has both figures", 11, fill="#57606a")
        return svg.render()
    xs, ys = [p[2] for p in points], [p[3] for p in points]
    x = Scale(min(xs) / 1.5, max(xs) * 1.5, left, width - 20, log=True)
    y = Scale(min(ys) - 0.05 * max(abs(min(ys)), 1e-9), max(ys) + 0.02 * max(abs(max(ys)), 1e-9), bottom, 30)
    y_axis(svg, y, left, width - 20, y_label)
    _x_axis(svg, x, bottom, x_label)
    front = pareto_front([(p[2], p[3]) for p in points])
    svg.polyline([(x(a), y(b)) for a, b in front], "#24292f", "5 3")
    placed = [(x(px), y(py)) for _, _, px, py in points]
    radii = _radii(sizes, len(points))
    for (name, label, px, py), (cx, cy), r in zip(points, placed, radii):
        svg.circle(cx, cy, PALETTE[series.index(name) % len(PALETTE)], f"{name} {label}: {px:.3g}, {py:.3g}", r)
    labels = place_labels([(cx, cy, label) for (cx, cy), (_, label, _, _) in zip(placed, points)],
                          (left, 26, width - 16, bottom))
    for spot in labels:
        if spot is not None:
            svg.text(spot[0], spot[1], spot[3], 9, spot[2], "#24292f")
    for i, name in enumerate(series):
        lx, ly = left + (i % 4) * 165, height + 10 + (i // 4) * 16
        svg.rect(lx, ly - 8, 9, 9, PALETTE[i % len(PALETTE)])
        svg.text(lx + 13, ly, name[:24], 10)
    i = len(series)
    lx, ly = left + (i % 4) * 165, height + 10 + (i // 4) * 16
    svg.line(lx, ly - 4, lx + 22, ly - 4, "#24292f", 1.6, "5 3")
    svg.text(lx + 27, ly, "Pareto front", 10)
    return svg.render()


def _radii(sizes: Sequence[float | None] | None, n: int) -> list[float]:
    known = [s for s in sizes or () if s]
    if not known:
        return [4.0] * n
    top = max(known)
    return [3 + 7 * math.sqrt(s / top) if s else 4.0 for s in (sizes or [None] * n)]


def place_labels(points: Sequence[tuple[float, float, str]], area: tuple[float, float, float, float],
                 size: int = 9) -> list[tuple[float, float, str, str] | None]:
    """Greedy collision-avoiding placement: each label (x, y, anchor, text) goes to the first of
    eight spots around its point that stays in `area` (x0, y0, x1, y1) and overlaps neither a
    point nor a label already placed; None when none fits (the point's tooltip still names it)."""
    char_w, h = size * 0.58, size + 2
    taken = [(px - 4, py - 4, px + 4, py + 4) for px, py, _ in points]
    spots = ((6, 3, "start"), (-6, 3, "end"), (0, -7, "middle"), (0, 13, "middle"),
             (6, -6, "start"), (6, 12, "start"), (-6, -6, "end"), (-6, 12, "end"))
    out: list[tuple[float, float, str, str] | None] = []
    for px, py, text in points:
        w, chosen = len(text) * char_w, None
        for dx, dy, anchor in spots:
            tx, ty = px + dx, py + dy
            x0 = tx if anchor == "start" else tx - w if anchor == "end" else tx - w / 2
            box = (x0, ty - h + 2, x0 + w, ty + 2)
            if (box[0] >= area[0] and box[2] <= area[2] and box[1] >= area[1] and box[3] <= area[3]
                    and not any(_overlap(box, t) for t in taken)):
                chosen = (tx, ty, anchor, text)
                taken.append(box)
                break
        out.append(chosen)
    return out


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def figure(chart: Markup, caption: str) -> Markup:
    """A chart with the caption that says what its marks and lines mean."""
    return Markup('<figure class="chart">{}<figcaption>{}</figcaption></figure>').format(chart, caption)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points not beaten on both lower x and higher y, sorted by x."""
    front: list[tuple[float, float]] = []
    for px, py in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or py > front[-1][1]:
            front.append((px, py))
    return front


def distributions(groups: Sequence[tuple[str, Sequence[float]]], title: str, unit: str = "ms") -> Markup:
    """Box plots (whiskers p5–p95, box p25–p75, line at the median), one row per group."""
    left, width, row = 190, 720, 26
    svg = Svg(width, 40 + row * max(len(groups), 1) + 44, title)
    svg.text(left, 18, title, 13, weight="bold")
    stats = [(label, _quantiles(v)) for label, v in groups if len(v)]
    if not stats:
        svg.text(left, 50, "no latency samples stored", 11, fill="#57606a")
        return svg.render()
    lo, hi = min(s[0] for _, s in stats), max(s[4] for _, s in stats)
    x = Scale(lo * 0.9, hi * 1.1, left, width - 20, log=hi > 30 * max(lo, 1e-9))
    for i, (label, (p5, p25, p50, p75, p95)) in enumerate(stats):
        y = 32 + i * row + row / 2
        svg.text(left - 8, y + 4, label, 11, "end")
        svg.line(x(p5), y, x(p95), y, "#57606a")
        svg.rect(x(p25), y - 7, x(p75) - x(p25), 14, "#9ecae1",
                 f"{label}: p5 {p5:.3g}, p25 {p25:.3g}, p50 {p50:.3g}, p75 {p75:.3g}, p95 {p95:.3g} {unit}")
        svg.line(x(p50), y - 8, x(p50), y + 8, "#1f5f99", 2)
    _x_axis(svg, x, 32 + row * len(stats) + 4, f"latency ({unit})")
    return svg.render()


def _quantiles(values: Sequence[float]) -> tuple[float, float, float, float, float]:
    import numpy as np

    q = np.quantile(np.asarray(values, dtype=float), [0.05, 0.25, 0.5, 0.75, 0.95])
    return tuple(float(v) for v in q)  # type: ignore[return-value]


def trend(series: dict[str, list[tuple[str, float]]], title: str, y_label: str) -> Markup:
    """One line per series over dates ('YYYY-MM-DD'); a dashed line at 1.0."""
    width, height, left, bottom = 720, 300, 64, 240
    svg = Svg(width, height + 16 * math.ceil(len(series) / 4), title)
    svg.text(left, 18, title, 13, weight="bold")
    days = sorted({d for pts in series.values() for d, _ in pts})
    values = [v for pts in series.values() for _, v in pts]
    if not days:
        svg.text(left, 60, "no nightly results in the period", 11, fill="#57606a")
        return svg.render()
    ordinal = {d: dt.date.fromisoformat(d).toordinal() for d in days}
    x = Scale(ordinal[days[0]], ordinal[days[-1]], left, width - 20)
    y = Scale(min(values + [1.0]) * 0.95, max(values + [1.0]) * 1.05, bottom, 30)
    y_axis(svg, y, left, width - 20, y_label)
    svg.line(left, y(1.0), width - 20, y(1.0), "#b8293d", 1, "4 3")
    svg.line(left, bottom, width - 20, bottom, "#57606a")
    for d in (days[0], days[len(days) // 2], days[-1]):
        svg.text(x(ordinal[d]), bottom + 16, d, 10, "middle", "#57606a")
    for i, (name, pts) in enumerate(sorted(series.items())):
        color = PALETTE[i % len(PALETTE)]
        coords = [(x(ordinal[d]), y(v)) for d, v in pts]
        svg.polyline(coords, color)
        for (cx, cy), (d, v) in zip(coords, pts):
            svg.circle(cx, cy, color, f"{name} {d}: {v:.3f}")
        lx, ly = left + (i % 4) * 165, height - 14 + (i // 4) * 16
        svg.rect(lx, ly - 8, 9, 9, color)
        svg.text(lx + 13, ly, name[:24], 10)
    return svg.render()


def histogram(samples_ms: Sequence[float], title: str, bins: int = 40) -> Markup:
    """Histogram of latency samples (ms) with p50, p90 and p99 marked by labelled lines. The
    x range ends at the 99.9th percentile (at most 3x p99) so one outlier cannot squash the bars; how many
    samples lie beyond is written on the chart. A range wider than 10x gets a log axis (and
    log-spaced bins): a tail of scheduler hiccups would otherwise hide the body."""
    import numpy as np

    from harness.report.numbers import duration_ms

    width, height, left, bottom = 560, 190, 48, 150
    svg = Svg(width, height, title)
    svg.text(left, 14, title, 11, weight="bold")
    values = np.asarray(samples_ms, dtype=float)
    if values.size < 2:
        svg.text(left, 60, "no latency samples stored", 11, fill="#57606a")
        return svg.render()
    p50, p90, p99, p999 = (float(v) for v in np.quantile(values, [0.5, 0.9, 0.99, 0.999]))
    lo = float(values.min())
    hi = min(p999, 3 * p99) if min(p999, 3 * p99) > lo else lo + 1e-6  # the body, not the hiccups
    log = lo > 0 and hi / lo > 10
    edges = np.geomspace(lo, hi, bins + 1) if log else np.linspace(lo, hi, bins + 1)
    counts, edges = np.histogram(values[values <= hi], bins=edges)
    x = Scale(lo, hi, left, width - 16, log=log)
    y = Scale(0, float(counts.max()) * 1.15, bottom, 24)
    bars = [f'<rect x="{x(a) + 0.5:.1f}" y="{y(count):.1f}" width="{max(x(b) - x(a) - 1, 0.8):.1f}" '
            f'height="{bottom - y(count):.1f}" fill="#9ecae1"/>'
            for count, a, b in zip(counts.tolist(), edges[:-1].tolist(), edges[1:].tolist()) if count]
    svg.add("".join(bars))  # numbers only: nothing to escape
    for name, value, color in (("p50", p50, "#1f5f99"), ("p90", p90, "#d9822b"), ("p99", p99, "#b8293d")):
        if value <= hi:
            svg.line(x(value), 22, x(value), bottom, color, 1.5, "" if name == "p50" else "4 2")
        svg.text(min(x(min(value, hi)) + 3, width - 60), 30 + 11 * ("p50", "p90", "p99").index(name),
                 f"{name} {duration_ms(value)}", 9, fill=color)
    _x_axis(svg, x, bottom, "latency (ms, log scale)" if log else "latency (ms)")
    beyond = int((values > hi).sum())
    svg.text(width - 16, 14, f"n = {values.size:,}" + (f"; {beyond} above {duration_ms(hi)} not drawn" if beyond else ""),
             9, "end", "#57606a")
    return svg.render()
