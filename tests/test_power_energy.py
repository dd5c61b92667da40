"""Energy arithmetic (harness/power/energy.py): exact values for known current profiles."""

from __future__ import annotations

import numpy as np
import pytest

from harness.power import energy
from harness.power.base import Samples
from harness.power.rapl import energy_delta


def step_profile(fs: float = 1000.0, n: int = 3000) -> Samples:
    """1 mA idle, 10 mA for samples 1000..1999, at 3.3 V."""
    t = np.arange(n) / fs
    current = np.where((np.arange(n) >= 1000) & (np.arange(n) < 2000), 0.010, 0.001)
    return Samples(t_s=t, current_a=current, voltage_v=np.full(n, 3.3), sample_period_s=1 / fs)


def test_energy_per_inference_exact() -> None:
    s = step_profile()
    w = energy.window_energy(s, energy.Window(1.0, 1.999, 50))
    assert w.energy_j == pytest.approx(0.033 * 0.999, rel=1e-12)
    assert w.uj_per_inference == pytest.approx(0.033 * 0.999 * 1e6 / 50, rel=1e-12)  # 659.34 uJ
    assert w.avg_power_w == pytest.approx(0.033) and w.peak_power_w == pytest.approx(0.033)


def test_window_edges_interpolated_between_samples() -> None:
    s = step_profile()
    # half a sample period into the ramp 0.999 s -> 1.000 s (3.3 mW -> 33 mW) and back
    e = energy.integrate(s.t_s, s.power_w, 0.9995, 1.5)
    assert e == pytest.approx(0.0005 * (0.01815 + 0.033) / 2 + 0.5 * 0.033, rel=1e-12)


def test_idle_power_and_window_outside_recording() -> None:
    s = step_profile()
    assert energy.average_power(s, 0.1, 0.9) == pytest.approx(0.0033)
    with pytest.raises(ValueError, match="outside the recording"):
        energy.integrate(s.t_s, s.power_w, 2.5, 3.5)


def test_battery_formula() -> None:
    # 300 mAh at 3.7 V holds 3996 J; 33 mW for 10% of the time over a 3.3 mW idle: 6.27 mW
    p = energy.duty_cycle_power(0.033, 0.0033, 0.1)
    assert p == pytest.approx(0.1 * 0.033 + 0.9 * 0.0033)
    assert energy.battery_pct_per_hour(p, 300, 3.7) == pytest.approx(100 * p * 3600 / 3996)
    assert energy.battery_life_h(p, 300, 3.7) == pytest.approx(3996 / (p * 3600))
    with pytest.raises(ValueError, match="idle power"):
        energy.duty_cycle_power(0.033, None, 0.5)


def test_markers_pair_into_windows_and_missing_trigger_is_clear() -> None:
    windows = energy.windows_from_markers([1.0, 1.999, 2.1, 2.5], [50, 20])
    assert [(w.start_s, w.end_s, w.inferences) for w in windows] == [(1.0, 1.999, 50), (2.1, 2.5, 20)]
    with pytest.raises(ValueError, match="trigger never came: expected 4 timestamps"):
        energy.windows_from_markers([1.0], [50, 20])


def test_alignment_error() -> None:
    s = step_profile()
    s.anchor_error_s = 0.002
    assert energy.alignment_error("trigger", s, 0.05) == pytest.approx(0.001)
    assert energy.alignment_error("host clock", s, 0.05) == pytest.approx(0.05 + 0.002 + 0.001)


def test_median_of_windows() -> None:
    assert energy.median([3.0, 1.0, 2.0, 10.0, 2.5]) == 2.5


def test_rapl_counter_wraparound() -> None:
    assert energy_delta(100, 250, 1000) == 150
    assert energy_delta(900, 50, 1000) == 150
