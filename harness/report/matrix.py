"""The seed's compression matrix and the Pareto front, measured. Pure: result rows in, tables out.

Per technique (the manifest's `technique` of a variant): compression rate in bytes and in MACs
against the variant it was derived from (else the family's reference), the loss in the task's
headline metric (harness/measures/metrics.py) and the latency change on each device, and the device
classes whose model-volume cap the variant fits. The seed's published ranges stand beside each
row as the claim being checked. The Pareto front per device: the variants no other variant beats
on both latency (lower) and the headline metric (higher).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from harness.measures.tradeoff import Point, headline, headline_name, pareto_front

__all__ = ["Point", "pareto_front", "technique_matrix", "pareto_views", "device_points"]

# The seed's table: technique -> (compression % low, high, accuracy loss % low, high).
SEED_CLAIMS: dict[str, tuple[float, float, float, float]] = {
    "pruning": (30, 70, 3, 10), "quantization": (40, 60, 1, 5),
    "distillation": (50, 80, 2, 8), "architecture-search": (20, 40, 0, 3),
}
# The seed's device classes and their model-volume caps (device_profiles/{flagship,...}.yaml).
TIER_CAPS: tuple[tuple[str, int], ...] = (
    ("flagship", 50_000_000), ("mid-range", 20_000_000), ("wearable", 5_000_000), ("iot", 1_000_000))


def technique_matrix(rows: Sequence[Mapping[str, Any]],
                     tier_caps: Sequence[tuple[str, int]] = TIER_CAPS) -> list[dict[str, Any]]:
    """One entry per (family, variant) whose manifest names a technique other than baseline."""
    ok = [r for r in rows if r.get("status") == "ok"]
    out = []
    for family, variant in sorted({(r["family"], r["variant"]) for r in ok if r.get("technique")
                                   and r["technique"] != "baseline"}):
        mine = [r for r in ok if (r["family"], r["variant"]) == (family, variant)]
        base_name = mine[0].get("derived_from") or mine[0].get("reference_variant")
        if base_name == variant:
            continue
        base = {r["device"]: r for r in ok if (r["family"], r["variant"]) == (family, base_name)}
        first = mine[0]
        any_base = next(iter(base.values()), None)
        per_device = []
        for r in sorted(mine, key=lambda r: r["device"]):
            b = base.get(r["device"])
            loss = None
            if b is not None and headline(r) is not None and headline(b) is not None:
                loss = (headline(b) - headline(r)) * 100  # points; positive = worse
            per_device.append({"device": r["device"], "latency_ms": _ms(r), "base_latency_ms": _ms(b),
                               "latency_change": _change(r.get("latency_p50_us"), b and b.get("latency_p50_us")),
                               "metric": headline(r), "loss_points": loss,
                               "false_alarm_rate": (r.get("metrics") or {}).get("false_alarm_rate")})
        claim = SEED_CLAIMS.get(str(first["technique"]))
        out.append({
            "technique": first["technique"], "family": family, "variant": variant, "derived_from": base_name,
            "bytes": first.get("model_bytes"), "base_bytes": any_base and any_base.get("model_bytes"),
            "bytes_rate": _rate(first.get("model_bytes"), any_base and any_base.get("model_bytes")),
            "macs_rate": _rate(first.get("model_macs"), any_base and any_base.get("model_macs")),
            "metric_name": headline_name(first), "devices": per_device,
            "tiers": [t for t, cap in tier_caps if first.get("model_bytes") and first["model_bytes"] <= cap],
            "claim": claim,
        })
    return out


def device_points(rows: Sequence[Mapping[str, Any]], device: str) -> list[Point]:
    """The device's measured variants with both a latency and a headline metric."""
    out = []
    families = {r["family"] for r in rows if r["device"] == device}
    for r in rows:
        value = headline(r)
        if r["device"] != device or r.get("status") != "ok" or value is None or not r.get("latency_p50_us"):
            continue
        label = f"{r['family']}/{r['variant']}" if len(families) > 1 else r["variant"]
        out.append(Point(label, r["latency_p50_us"] / 1000, value, r.get("model_bytes"), r))
    return out


def pareto_views(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per device: its points and the front's members, for the white paper."""
    views = []
    for device in sorted({r["device"] for r in rows}):
        points = device_points(rows, device)
        if points:
            views.append({"device": device, "points": points, "front": pareto_front(points),
                          "metric_name": headline_name(points[0].row)})
    return views


def _ms(row: Mapping[str, Any] | None) -> float | None:
    return None if row is None or row.get("latency_p50_us") is None else row["latency_p50_us"] / 1000


def _rate(value: float | None, base: float | None) -> float | None:
    """Compression rate: the share removed (0.4 = 40 % smaller); None without both figures."""
    return None if not value or not base else 1 - value / base


def _change(value: float | None, base: float | None) -> float | None:
    return None if value is None or not base else value / base - 1
