"""The accuracy/latency trade-off: a result's task headline metric and the Pareto front.

Shared by `harness check` (which variant to deploy) and the white paper's Pareto view
(harness/report/matrix.py). Pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from harness.measures import metrics


def headline(row: Mapping[str, Any]) -> float | None:
    """The row's task headline metric as a fraction (top-1 for classification)."""
    if row.get("accuracy_top1") is not None:
        return row["accuracy_top1"]
    return metrics.headline_value(row.get("task"), row.get("metrics"))


def headline_name(row: Mapping[str, Any]) -> str:
    head = metrics.headline(row.get("task"))
    return head.name if head else "top1"


@dataclass(frozen=True)
class Point:
    label: str
    latency_ms: float
    metric: float
    model_bytes: int | None
    row: Mapping[str, Any]


def pareto_front(points: Sequence[Point]) -> list[Point]:
    """Points no other point beats on both axes (lower latency and higher metric, one of them
    strictly); equal points are all on the front. Sorted by latency."""
    front = [p for p in points if not any(
        q.latency_ms <= p.latency_ms and q.metric >= p.metric and (q.latency_ms < p.latency_ms or q.metric > p.metric)
        for q in points)]
    return sorted(front, key=lambda p: (p.latency_ms, -p.metric))
