"""Threshold checks on one stored result row. Pure: a row and limits in, checks out."""

from __future__ import annotations

from typing import Any

from harness.measures import metrics
from harness.measures.memory import working_memory
from harness.config.profiles import Thresholds


def evaluate(row: dict[str, Any], limits: Thresholds, ram_bytes: int) -> list[dict[str, Any]]:
    """[{name, limit, value, passed}] for every limit set; a metric not measured is not passed
    or failed but reported with value None and passed None (an estimated battery drain, too:
    its figure is under `estimate`, shown labelled, never judged)."""
    checks = []
    if limits.latency_ms is not None:
        value = row.get("latency_p50_us")
        checks.append(_check("latency_p50_ms", limits.latency_ms, None if value is None else value / 1000))
    if limits.memory_fraction is not None:
        used = working_memory(row)  # the arena on a microcontroller, the RSS increase elsewhere
        checks.append(_check("memory_fraction_of_ram", limits.memory_fraction,
                             None if used is None else used.bytes / ram_bytes))
    if limits.battery_pct_per_hour is not None:
        # An estimate is shown, never judged: only a measured battery drain passes or fails.
        measured = row.get("power_status") == "measured"
        check = _check("battery_pct_per_hour", limits.battery_pct_per_hour,
                       row.get("battery_pct_per_hour") if measured else None)
        if row.get("power_status") == "estimated" and row.get("battery_pct_per_hour") is not None:
            check["estimate"] = row["battery_pct_per_hour"]
        checks.append(check)
    if limits.accuracy_drop_points is not None:
        delta = row.get("accuracy_delta_points")
        checks.append(_check("accuracy_drop_points", limits.accuracy_drop_points,
                             None if delta is None else max(0.0, -delta)))
    if limits.utilization is not None:
        checks.append(_check("utilization", limits.utilization, row.get("cpu_utilization")))
    checks.extend(_metric_checks(row, limits))
    return checks


def _metric_checks(row: dict[str, Any], limits: Thresholds) -> list[dict[str, Any]]:
    """Limits on task metrics: a metric the task lacks (or could not compute) is not judged."""
    measured = row.get("metrics") or {}
    checks = []
    for name in sorted(metrics.THRESHOLD_METRICS):
        limit = getattr(limits, name, None)
        if limit is not None:
            value = measured.get(name)
            checks.append(_check(name, limit, value, minimum=name in metrics.HIGHER_IS_BETTER))
    return checks


def _check(name: str, limit: float, value: float | None, minimum: bool = False) -> dict[str, Any]:
    check = {"name": name, "limit": limit, "value": value,
             "passed": None if value is None else (value >= limit if minimum else value <= limit)}
    if minimum:
        check["kind"] = "minimum"
    return check


def overall(checks: list[dict[str, Any]]) -> bool | None:
    decided = [c["passed"] for c in checks if c["passed"] is not None]
    return all(decided) if decided else None
