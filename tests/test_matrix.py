"""The compression matrix and the Pareto front (harness/report/matrix.py) on synthetic rows."""

from __future__ import annotations

import pytest

from harness.report import matrix


def _row(variant: str, latency_ms: float, auc: float, size: int, device: str = "host", **more) -> dict:
    return {"device": device, "family": "f", "variant": variant, "status": "ok", "reference_variant": "fp32",
            "task": "anomaly-detection", "metrics": {"auc": auc, "false_alarm_rate": 0.02},
            "latency_p50_us": latency_ms * 1000, "model_bytes": size, "model_macs": size * 10, **more}


def test_pareto_front_on_synthetic_points():
    P = matrix.Point
    points = [P("a", 1.0, 0.90, 1, {}), P("b", 2.0, 0.95, 1, {}), P("c", 2.5, 0.93, 1, {}),  # c: beaten by b
              P("d", 0.5, 0.80, 1, {}), P("e", 3.0, 0.95, 1, {}),  # e: as good as b, slower
              P("f", 2.0, 0.95, 1, {})]  # f ties b exactly: both on the front
    assert [p.label for p in matrix.pareto_front(points)] == ["d", "a", "b", "f"]


def test_matrix_rates_loss_and_tiers():
    rows = [_row("fp32", 10.0, 0.99, 400_000, technique="baseline"),
            _row("pruned", 4.0, 0.97, 100_000, technique="pruning", derived_from="fp32"),
            _row("int8", 1.0, 0.96, 2_000_000, technique="quantization", derived_from="pruned")]
    by = {m["variant"]: m for m in matrix.technique_matrix(rows)}
    assert set(by) == {"pruned", "int8"}  # the baseline is no technique's row
    pruned = by["pruned"]
    assert pruned["bytes_rate"] == pytest.approx(0.75) and pruned["macs_rate"] == pytest.approx(0.75)
    assert pruned["devices"][0]["loss_points"] == pytest.approx(2.0)
    assert pruned["devices"][0]["latency_change"] == pytest.approx(-0.6)
    assert pruned["claim"] == (30, 70, 3, 10) and pruned["tiers"] == ["flagship", "mid-range", "wearable", "iot"]
    assert by["int8"]["derived_from"] == "pruned" and by["int8"]["tiers"] == ["flagship", "mid-range", "wearable"]


def test_pareto_views_per_device_skip_rows_without_a_metric():
    rows = [_row("fp32", 10.0, 0.99, 4), _row("int8", 1.0, 0.96, 1), _row("x", 1.0, 0.9, 1, device="b"),
            {**_row("y", 1.0, 0.9, 1, device="b"), "metrics": {}}]
    views = {v["device"]: v for v in matrix.pareto_views(rows)}
    assert [p.label for p in views["host"]["front"]] == ["int8", "fp32"]
    assert [p.label for p in views["b"]["points"]] == ["x"] and views["b"]["metric_name"] == "auc"
