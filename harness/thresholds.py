"""Threshold checks on one stored result row. Pure: a row and limits in, checks out."""

from __future__ import annotations

from typing import Any

from harness.memory import working_memory
from harness.profiles import Thresholds


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
    return checks


def _check(name: str, limit: float, value: float | None) -> dict[str, Any]:
    return {"name": name, "limit": limit, "value": value,
            "passed": None if value is None else value <= limit}


def overall(checks: list[dict[str, Any]]) -> bool | None:
    decided = [c["passed"] for c in checks if c["passed"] is not None]
    return all(decided) if decided else None
