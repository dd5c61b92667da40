"""How every number of a report is written, by quantity (one place, so tables agree):

- plain figures: 3 significant digits; from 1000 up, whole numbers with thousands separators
  (33.2929 -> 33.3, -0.277778 -> -0.278, 23374.2 -> 23,374): no invented trailing zeros;
- durations: µs, ms or s, whichever keeps the figure between 1 and 1000 (0.0102 ms -> 10.2 µs);
- bytes: B, KiB, MiB, GiB, 3 significant digits (189.5 KiB -> 190 KiB);
- energy: nJ, µJ, mJ, J; power: µW, mW, W;
- fractions as percentages with one decimal (0.9750 -> 97.5 %); differences of percentages in
  points with a sign (-0.28 -> −0.3 pts); ratios with a ×;
- missing values: an em dash (the templates say why a figure is missing where it matters).
"""

from __future__ import annotations

import math

MISSING = "—"
MINUS = "−"  # U+2212: a minus sign, the width of a plus in tabular figures


def sig(value: float | None, digits: int = 3) -> str:
    """3 significant digits below 1000, whole numbers with separators from 1000 up."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool):
        return str(value)
    if value == 0:
        return "0"
    if isinstance(value, int):  # counts are exact
        return f"{value:,}".replace("-", MINUS)
    if abs(value) >= 10 ** digits - 0.5:
        text = f"{round(value):,}"
    else:
        value = float(f"{value:.{digits}g}")  # round first: 0.9999 is 1.00, not 1.000
        text = f"{value:,.{max(digits - 1 - math.floor(math.log10(abs(value))), 0)}f}"
    return text.replace("-", MINUS)


def scaled(value: float | None, units: tuple[tuple[str, float], ...]) -> str:
    """value in the base unit of `units` ((name, size) smallest first) -> the largest unit <= it."""
    if value is None:
        return MISSING
    chosen = units[0]
    for unit in units:
        if abs(value) >= unit[1] * 0.9995:  # 999.96 µs is 1.00 ms, not 1,000 µs
            chosen = unit
    return f"{sig(value / chosen[1])} {chosen[0]}"


def duration_us(us: float | None) -> str:
    return scaled(us, (("µs", 1.0), ("ms", 1e3), ("s", 1e6)))


def duration_ms(ms: float | None) -> str:
    return MISSING if ms is None else duration_us(ms * 1e3)


def size_bytes(n: float | None) -> str:
    if n is None:
        return MISSING
    if abs(n) < 1024:
        return f"{int(n):,} B"
    return scaled(n, (("B", 1), ("KiB", 2 ** 10), ("MiB", 2 ** 20), ("GiB", 2 ** 30)))


def energy_uj(uj: float | None) -> str:
    return scaled(uj, (("nJ", 1e-3), ("µJ", 1.0), ("mJ", 1e3), ("J", 1e6)))


def power_mw(mw: float | None) -> str:
    return scaled(mw, (("µW", 1e-3), ("mW", 1.0), ("W", 1e3)))


def percent(fraction: float | None) -> str:
    return MISSING if fraction is None else f"{fraction * 100:.1f} %".replace("-", MINUS)


def points(delta: float | None) -> str:
    """A difference of percentages, signed: +0.5 pts, −1.9 pts, 0.0 pts."""
    if delta is None:
        return MISSING
    rounded = round(delta, 1)
    sign = "+" if rounded > 0 else MINUS if rounded < 0 else ""
    return f"{sign}{abs(rounded):.1f} pts"


def ratio(value: float | None) -> str:
    return MISSING if value is None else f"{sig(value)}×"


def score(value: float | None) -> str:
    """Composite scores: whole numbers (1000 = the reference), separators."""
    return MISSING if value is None else f"{round(value):,}"


def when(value: object) -> str:
    """A time to the minute (stored times carry microseconds nobody reads)."""
    if value is None:
        return MISSING
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M")  # type: ignore[union-attr]
    return str(value)[:16].replace("T", " ")


CHECKS = {  # threshold check name (harness/config/thresholds.py) -> (heading, formatter of its value/limit)
    "latency_p50_ms": ("p50 latency", duration_ms),
    "memory_fraction_of_ram": ("memory / RAM", percent),
    "battery_pct_per_hour": ("battery per hour", lambda v: MISSING if v is None else f"{sig(v)} %/h"),
    "accuracy_drop_points": ("accuracy drop", lambda v: MISSING if v is None else f"{sig(v)} pts"),
    "utilization": ("compute utilization", percent),
    "false_alarm_rate": ("false-alarm rate", percent), "miss_rate": ("miss rate", percent),
    "recall": ("recall", percent), "precision": ("precision", percent), "f1": ("F1", percent),
    "auc": ("ROC AUC", lambda v: MISSING if v is None else f"{v:.3f}"),
    "top1": ("top-1", percent), "top5": ("top-5", percent),
}


def check_heading(name: str) -> str:
    return CHECKS.get(name, (name.replace("_", " "), sig))[0]


def check_value(value: float | None, name: str) -> str:
    return CHECKS.get(name, ("", sig))[1](value)


FILTERS = {"check": check_value, "when": when, "check_heading": check_heading,
           "n3": sig, "dur": duration_us, "dur_ms": duration_ms, "size": size_bytes,
           "energy": energy_uj, "mw": power_mw, "pct1": percent, "pts": points, "times": ratio,
           "score": score}
