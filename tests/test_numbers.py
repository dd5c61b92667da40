"""Number formatting by quantity: what every report table prints."""

from __future__ import annotations

import pytest

from harness.report import numbers as n


@pytest.mark.parametrize("value, text", [
    (33.2929, "33.3"), (-0.277778, "−0.278"), (0.0102, "0.0102"), (1.0, "1.00"), (999.96, "1,000"),
    (23374.2, "23,374"), (1234567.0, "1,234,567"), (100, "100"), (12, "12"), (-5, "−5"), (0.0, "0"),
    (None, "—"), (float("nan"), "—"), (7.2e-5, "0.0000720"),
])
def test_three_significant_digits_and_separators(value: float | None, text: str) -> None:
    assert n.sig(value) == text


@pytest.mark.parametrize("us, text", [(10.2, "10.2 µs"), (248.3, "248 µs"), (25023.0, "25.0 ms"),
                                      (999.9, "1.00 ms"), (1_500_000.0, "1.50 s"), (0.5, "0.500 µs"),
                                      (None, "—")])
def test_durations_pick_the_unit(us: float | None, text: str) -> None:
    assert n.duration_us(us) == text


def test_duration_in_ms() -> None:
    assert n.duration_ms(3.0) == "3.00 ms" and n.duration_ms(0.02) == "20.0 µs"


@pytest.mark.parametrize("size, text", [(512, "512 B"), (15_360, "15.0 KiB"), (194_048, "190 KiB"),
                                        (47_710_208, "45.5 MiB"), (3 * 2 ** 30, "3.00 GiB"), (None, "—")])
def test_sizes(size: int | None, text: str) -> None:
    assert n.size_bytes(size) == text


def test_energy_power_percent_points_ratio_score() -> None:
    assert n.energy_uj(0.25) == "250 nJ" and n.energy_uj(2250.0) == "2.25 mJ"
    assert n.power_mw(1500.0) == "1.50 W" and n.power_mw(0.2) == "200 µW"
    assert n.percent(0.975) == "97.5 %" and n.percent(0.96944) == "96.9 %" and n.percent(None) == "—"
    assert n.points(-0.2778) == "−0.3 pts" and n.points(0.5) == "+0.5 pts" and n.points(0.01) == "0.0 pts"
    assert n.ratio(0.2896) == "0.290×" and n.ratio(None) == "—"
    assert n.score(2337.4) == "2,337" and n.score(1000.0) == "1,000" and n.score(None) == "—"
