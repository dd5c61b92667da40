"""rapl://[ZONE]?interval=0.05&root=PATH — Intel RAPL energy counters in /sys/class/powercap of
the measured machine: this host for a local:// device; on an SSH board they are read on the
board, through its command transport (`run`), like hwmon.

Without ZONE: every top-level package zone (package-0, package-1, ...), summed; with one, every
zone of that name (psys, package-0, dram — subzones included, e.g. one dram per socket).
Each zone is counted once: a CPU that exposes its package through both the MSR interface
(intel-rapl:N) and the MMIO one (intel-rapl-mmio:N) reports the same energy twice, so an MMIO
zone whose name the MSR interface also has is left out. Each counter (energy_uj) wraps at
max_energy_range_uj, so a decrease adds the range. The counters hold energy, not current: each
polling interval's ΔE/Δt is held over the interval (two samples, at its two readings), reported
as current at a nominal 1 V. No powercap tree, or counters readable by root only: MeterUnavailable
(power is then "not measured").
"""

from __future__ import annotations

import time

import numpy as np

from harness.deadline import Deadline
from harness.power import register
from harness.power.base import MeterError, MeterUnavailable, PowerMeter, Recorder, Samples, number, url_options
from harness.power.sysfs import RunCommand, SysfsReader

ROOT = "/sys/class/powercap"
MSR, MMIO = "intel-rapl:", "intel-rapl-mmio:"


def energy_delta(previous: int, current: int, max_range: int) -> int:
    """Microjoules between two readings of a counter that wraps at `max_range`."""
    return current - previous if current >= previous else current + max_range - previous


@register("rapl")
class RaplMeter(PowerMeter):
    def __init__(self, url: str, run: RunCommand | None = None, **_options: object) -> None:
        self.url = url
        self.zone, _, options = url_options(url)
        self.interval = number(options, "interval", 0.05, url)
        self.root = options.get("root", ROOT)
        self.reader = SysfsReader(url, run)
        self.recorder = Recorder(url, self._poll, max(2.0, 20 * self.interval))
        self.zones: list[str] = []
        self._half_trip = 0.0

    def open(self, deadline: Deadline) -> None:
        zones = self.reader.dirs_with(self.root, "energy_uj")
        names = self.reader.read([f"{z}/name" for z in zones])
        self.zones = counted_zones(zones, names, self.zone)
        if not self.zones:
            raise MeterUnavailable(f"{self.url}: no RAPL zone {self.zone or 'package-*'} under {self.root} "
                                   f"(found: {', '.join(sorted(set(names))) or 'none'})")
        self.max_range = [int(v) for v in self.reader.read([f"{z}/max_energy_range_uj" for z in self.zones])]
        self._read()  # fails here, not mid-run, when the counters are root-only

    def _read(self) -> tuple[float, list[int]]:
        before = time.monotonic()
        values = [int(v) for v in self.reader.read([f"{z}/energy_uj" for z in self.zones])]
        after = time.monotonic()
        self._half_trip = max(self._half_trip, (after - before) / 2)  # over SSH: a round trip
        return (before + after) / 2, values

    def start(self, deadline: Deadline) -> None:
        self._half_trip = 0.0
        self._last = self._read()
        self._rows: list[tuple[float, float, float]] = []  # (from, to, watts) per interval
        self.recorder.start()

    def _poll(self) -> int:
        time.sleep(self.interval)
        now, values = self._read()
        then, previous = self._last
        joules = sum(energy_delta(p, c, r) for p, c, r in zip(previous, values, self.max_range)) / 1e6
        self._rows.append((then, now, joules / (now - then)))
        self._last = (now, values)
        return 1

    def stop(self, deadline: Deadline) -> Samples:
        self.recorder.stop(deadline)
        if len(self._rows) < 2:
            raise MeterError(f"meter failed: {self.url}: fewer than two counter readings")
        data = np.asarray(self._rows)
        return Samples(t_s=step_times(data[:, 0], data[:, 1]), current_a=np.repeat(data[:, 2], 2),
                       voltage_v=np.ones(2 * len(data)), sample_period_s=self.interval,
                       anchor_error_s=self._half_trip)

    def close(self) -> None:
        self.reader.close()


def step_times(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Each interval's power held from its first reading to its last: two samples per interval,
    the second interval's first a nanosecond after the first's last. Integrated (trapezoid), the
    energy of any span is then the counters' own — not midpoint samples weighted by neighbouring
    intervals of other lengths (a reading that stalls) — and the recording covers everything from
    the first reading, taken before start() returns (the idle window begins there), to the last."""
    t = np.column_stack((starts, ends)).ravel()
    t[2::2] += 1e-9
    return t


def counted_zones(zones: list[str], names: list[str], wanted: str) -> list[str]:
    """The zone directories to sum: those named `wanted` (default: top-level package-*), each
    counted once — an MMIO zone duplicating an MSR zone's name is the same counter twice."""
    def base(z: str) -> str:
        return z.rsplit("/", 1)[-1]

    if wanted:
        chosen = [(z, n) for z, n in zip(zones, names) if n == wanted]
    else:  # intel-rapl:N, not its subzones (intel-rapl:N:M)
        chosen = [(z, n) for z, n in zip(zones, names) if base(z).count(":") == 1 and n.startswith("package")]
    msr_names = {n for z, n in chosen if base(z).startswith(MSR)}
    return [z for z, n in chosen if not (base(z).startswith(MMIO) and n in msr_names)]
