"""Energy from samples: pure functions, no meter and no I/O.

Power p(t) = i(t)·v(t) is integrated with the trapezoid rule over each inference window, the
window's ends interpolated between the samples around them. Per window: energy per inference
= E / inferences; average power = E / duration; peak = the largest sample inside. Several
windows, the median reported (MLPerf Tiny: 5 windows of >= 10 s).

Battery (docs/power.md): the average draw over a duty cycle d (fraction of time inferring) is
    P = d·P_active + (1 − d)·P_idle
and a battery of C mAh at V volts holds E_b = C · 3.6 · V joules, so
    percent per hour = 100 · P · 3600 / E_b,    life in hours = E_b / (P · 3600).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np

from harness.power.base import Samples


@dataclass(frozen=True)
class Window:
    start_s: float
    end_s: float
    inferences: int

    @property
    def seconds(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class WindowEnergy:
    window: Window
    energy_j: float
    avg_power_w: float
    peak_power_w: float

    @property
    def uj_per_inference(self) -> float:
        return self.energy_j * 1e6 / self.window.inferences


def integrate(t: np.ndarray, p: np.ndarray, start: float, end: float) -> float:
    """∫ p dt over [start, end] (trapezoid, ends linearly interpolated), in joules."""
    if end <= start:
        raise ValueError(f"empty window [{start}, {end}]")
    if len(t) < 2 or start < t[0] or end > t[-1]:
        raise ValueError(f"window [{start:.6f}, {end:.6f}] s is outside the recording "
                         f"[{t[0] if len(t) else float('nan'):.6f}, {t[-1] if len(t) else float('nan'):.6f}] s")
    inside = (t > start) & (t < end)
    ts = np.concatenate(([start], t[inside], [end]))
    ps = np.concatenate(([np.interp(start, t, p)], p[inside], [np.interp(end, t, p)]))
    return float(np.trapezoid(ps, ts))


def window_energy(samples: Samples, window: Window) -> WindowEnergy:
    if window.inferences <= 0:
        raise ValueError(f"window at {window.start_s:.3f} s ran no inference")
    p = samples.power_w
    energy = integrate(samples.t_s, p, window.start_s, window.end_s)
    inside = (samples.t_s >= window.start_s) & (samples.t_s <= window.end_s)
    peak = float(p[inside].max()) if inside.any() else float(np.interp(window.start_s, samples.t_s, p))
    return WindowEnergy(window, energy, energy / window.seconds, peak)


def average_power(samples: Samples, start: float, end: float) -> float:
    """Mean power in watts over [start, end] (the idle window, for instance)."""
    return integrate(samples.t_s, samples.power_w, start, end) / (end - start)


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def duty_cycle_power(active_w: float, idle_w: float | None, duty_cycle: float | None) -> float:
    """Average draw when the model runs a fraction `duty_cycle` of the time (default: always)."""
    d = 1.0 if duty_cycle is None else duty_cycle
    if d < 1.0 and idle_w is None:
        raise ValueError("a duty cycle below 1 needs the idle power")
    return d * active_w + (1.0 - d) * (idle_w or 0.0)


def battery_joules(capacity_mah: float, voltage_v: float) -> float:
    return capacity_mah * 3.6 * voltage_v  # 1 mAh = 3.6 coulombs


def battery_pct_per_hour(power_w: float, capacity_mah: float, voltage_v: float) -> float:
    return 100.0 * power_w * 3600.0 / battery_joules(capacity_mah, voltage_v)


def battery_life_h(power_w: float, capacity_mah: float, voltage_v: float) -> float:
    return battery_joules(capacity_mah, voltage_v) / (power_w * 3600.0)


def alignment_error(method: str, samples: Samples, clock_error_s: float) -> float:
    """Seconds by which a window edge may be misplaced on the meter's time axis.

    trigger: the edge is seen at the next sample, so one sample period.
    host clock: the board-to-controller clock error plus the meter's clock anchor error plus
    one sample period (or the polling interval of a polled meter)."""
    period = samples.sample_period_s if samples.sample_period_s is not None else _median_step(samples)
    if method == "trigger":
        return period
    return clock_error_s + samples.anchor_error_s + period


def _median_step(samples: Samples) -> float:
    steps = np.diff(samples.t_s)
    return float(np.median(steps)) if len(steps) else 0.0


def windows_from_markers(markers_s: list[float], inferences: list[int], convention: str = "falling") -> list[Window]:
    """Pair the firmware's timestamps (start, end, start, end, ...) with the board's inference
    counts; `convention`: which edges the meter's markers are (harness/power/trigger.py)."""
    from harness.power.trigger import timestamps

    stamps = timestamps(markers_s, convention)
    if len(stamps) < 2 * len(inferences):
        raise ValueError(f"trigger never came: expected {2 * len(inferences)} timestamps (falling edges) for "
                         f"{len(inferences)} windows, the meter saw {len(stamps)} in {len(markers_s)} markers")
    edges = stamps[: 2 * len(inferences)]
    return [Window(edges[2 * k], edges[2 * k + 1], n) for k, n in enumerate(inferences)]
