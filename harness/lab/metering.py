"""Power during a run (orchestration): the profile's meter records each case's measurement.

    MeteredRunner(runner, device, meter)         wraps the runner; the meter opens on first use
                                                 (harness/lab/board.py builds the meter and wraps)
    MeteredRunner.measure(job, deadline)         meter start -> idle window -> the runner, with
                                                 an energy phase -> meter stop -> store columns

Per case the Measurement's `power` holds the store's power columns:
    measured      energy_uj (median over windows), avg/peak/idle power, battery %/h and life
    not measured  no meter, or the profile's meter is unavailable (NULLs, never 0; the reason is
                  kept, even when an estimate is configured)
    estimated     no meter in the profile, an opt-in `power.estimate` (rated power or TOPS/W)
                  x p50 latency
    meter failed  the meter failed (power_detail.error says how); latency and accuracy kept
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from harness.deadline import Deadline
from harness.power import MeterError, MeterUnavailable, PowerMeter, Samples, energy
from harness.lab.battery import battery_columns
from harness.config.profiles import DeviceProfile
from harness.runners.base import Job, Measurement, Runner

OPEN_TIMEOUT_S = 10.0
METER_TIMEOUT_S = 5.0
IDLE_MAX_S = 5.0


class MeteredRunner(Runner):
    @property
    def runtime(self) -> str:  # type: ignore[override]
        return self.inner.runtime  # the board's own answer once measured (firmware, Tiny)

    def __init__(self, inner: Runner, device: DeviceProfile, meter: PowerMeter | None) -> None:
        self.inner, self.device, self.meter = inner, device, meter
        self.power = device.power
        self._opened = False
        self._unavailable: str | None = None

    def measure(self, job: Job, deadline: Deadline) -> Measurement:
        if self.meter is None or not self._open():
            measured = self.inner.measure(job, deadline)
            measured.power = unmetered(self.device, measured, self._unavailable)
            return measured
        return self._metered(job, deadline)

    def _open(self) -> bool:
        if not self._opened and self._unavailable is None:
            try:
                self.meter.open(Deadline(OPEN_TIMEOUT_S))
                self._opened = True
            except MeterUnavailable as exc:
                self._unavailable = str(exc)
            except MeterError:
                pass  # this case reports it below; the next case tries again
        return self._opened or self._unavailable is None

    def _metered(self, job: Job, deadline: Deadline) -> Measurement:
        windows, seconds = self.power.windows, self.power.window_seconds
        idle_s = min(seconds, IDLE_MAX_S)
        energy_job = dataclasses.replace(job, energy_windows=windows, energy_window_seconds=seconds)
        try:
            if not self._opened:
                self.meter.open(Deadline(OPEN_TIMEOUT_S))
                self._opened = True
            self.meter.start(Deadline(METER_TIMEOUT_S))
        except MeterError as exc:
            measured = self.inner.measure(job, deadline)
            measured.power = failed(self.meter.url, exc)
            return measured
        idle = (time.monotonic(), time.monotonic() + idle_s)
        time.sleep(idle_s)
        extra = idle_s + windows * seconds  # the energy phase is time the profile asked for
        try:
            measured = self.inner.measure(energy_job, _extended(deadline, extra))
        except BaseException:
            _stop_quietly(self.meter)
            raise
        try:
            samples = self.meter.stop(Deadline(METER_TIMEOUT_S))
            if not measured.energy_windows:  # the meter worked; the runner cannot say when it inferred
                measured.power = {"power_status": "not measured", "power_detail": {
                    "meter": self.meter.url, "reason": f"runner {self.inner.runtime!r} reports no energy "
                                                       "windows (no energy phase in its agent or firmware)"}}
                return measured
            measured.power = measured_columns(self.device, self.meter, samples, measured, idle)
        except (MeterError, ValueError) as exc:
            measured.power = failed(self.meter.url, exc)
        return measured

    def close(self) -> None:
        self.close_meter()
        self.inner.close()

    def close_meter(self) -> None:
        if self.meter is not None and self._opened:
            self.meter.close()
            self._opened = False


def measured_columns(device: DeviceProfile, meter: PowerMeter, samples: Samples,
                     measured: Measurement, idle: tuple[float, float]) -> dict[str, Any]:
    """The store's power columns from one recording; ValueError when the windows cannot be placed."""
    if not measured.energy_windows:
        raise ValueError("the runner reported no energy window (its agent or firmware has no energy phase)")
    counts = [w["inferences"] for w in measured.energy_windows]
    if meter.trigger:
        method, windows = "trigger", energy.windows_from_markers(samples.markers_s, counts, meter.edge_convention)
    else:
        method = "host clock"
        windows = [energy.Window(w["start_ns"] / 1e9, w["end_ns"] / 1e9, w["inferences"])
                   for w in measured.energy_windows]
    per_window = [energy.window_energy(samples, w) for w in windows]
    idle_w = energy.average_power(samples, *idle)
    active_w = energy.median([w.avg_power_w for w in per_window])
    error_s = energy.alignment_error(method, samples, measured.energy_clock_error_ns / 1e9)
    window_s = energy.median([w.window.seconds for w in per_window])
    detail = {
        "meter": meter.url, "method": method, "samples": len(samples),
        "alignment_error_ms": error_s * 1e3, "alignment_error_fraction": error_s / window_s,
        "idle_window_s": idle[1] - idle[0],
        "windows": [{"seconds": w.window.seconds, "inferences": w.window.inferences,
                     "energy_uj": w.energy_j * 1e6, "uj_per_inference": w.uj_per_inference,
                     "avg_power_mw": w.avg_power_w * 1e3, "peak_power_mw": w.peak_power_w * 1e3}
                    for w in per_window],
        "net_uj_per_inference": energy.median(
            [(w.energy_j - idle_w * w.window.seconds) * 1e6 / w.window.inferences for w in per_window]),
    }
    columns = {"power_status": "measured", "energy_uj": energy.median([w.uj_per_inference for w in per_window]),
               "avg_power_mw": active_w * 1e3, "peak_power_mw": max(w.peak_power_w for w in per_window) * 1e3,
               "idle_power_mw": idle_w * 1e3}
    columns.update(battery_columns(device.power, active_w, idle_w, detail))
    columns["power_detail"] = detail
    return columns


def unmetered(device: DeviceProfile, measured: Measurement, why: str | None) -> dict[str, Any]:
    """No meter: 'not measured', or the profile's opt-in estimate, flagged. A meter the profile
    names but that is unavailable stays 'not measured' with its reason: an estimate would hide
    that the lab's meter is missing."""
    if device.power.meter is not None:
        detail = {"meter": device.power.meter, "reason": why or "meter unavailable"}
        if device.power.estimate is not None:
            detail["estimate"] = "not used: the profile names a meter, and it was unavailable"
        return {"power_status": "not measured", "power_detail": detail}
    estimate = device.power.estimate
    watts = None
    if estimate is not None and estimate.rated_power is not None:
        watts, how = estimate.rated_power, f"rated power {estimate.rated_power:g} W"
    elif estimate is not None and estimate.tops_per_watt and device.compute_tops:
        watts = device.compute_tops / estimate.tops_per_watt
        how = f"{device.compute_tops:g} TOPS / {estimate.tops_per_watt:g} TOPS/W (full-load power)"
    if watts is None:
        return {"power_status": "not measured", "power_detail": {"reason": "no power.meter in the profile"}}
    detail = {"method": f"estimate: {how} x p50 latency; never ranked with measured energy"}
    columns = {"power_status": "estimated", "energy_uj": watts * measured.latency_us["p50"],
               "avg_power_mw": watts * 1e3}
    columns.update(battery_columns(device.power, watts, 0.0, detail))
    columns["power_detail"] = detail
    return columns


def failed(url: str, exc: BaseException) -> dict[str, Any]:
    message = str(exc) if str(exc).startswith("meter failed") else f"meter failed: {url}: {exc}"
    return {"power_status": "meter failed", "power_detail": {"meter": url, "error": message}}


def _extended(deadline: Deadline, extra_s: float) -> Deadline:
    return Deadline(None if deadline.remaining is None else deadline.remaining + extra_s)


def _stop_quietly(meter: PowerMeter) -> None:
    try:
        meter.stop(Deadline(METER_TIMEOUT_S))
    except MeterError:
        pass  # the runner's own error is the one to report
