"""rapl://[ZONE]?interval=0.05 — Intel RAPL energy counters in /sys/class/powercap (this host).

Without ZONE: every top-level package zone (package-0, package-1, ...), summed; with one, that
zone by name (psys, package-0, dram). Each counter (energy_uj) wraps at max_energy_range_uj,
so a decrease adds the range. The counters hold energy, not current: each polling interval
becomes one sample of power ΔE/Δt at the interval's midpoint, reported as current at a
nominal 1 V. No powercap tree, or counters readable by root only: MeterUnavailable (power is
then "not measured").
"""

from __future__ import annotations

import time

import numpy as np

from harness.deadline import Deadline
from harness.power import register
from harness.power.base import MeterError, MeterUnavailable, PowerMeter, Recorder, Samples, number, url_options
from harness.power.sysfs import RunCommand, SysfsReader

ROOT = "/sys/class/powercap"


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

    def open(self, deadline: Deadline) -> None:
        zones = [d for d in self.reader.dirs_with(self.root, "energy_uj")
                 if d.rsplit("/", 1)[1].count(":") == 1]  # intel-rapl:N, not its subzones
        names = self.reader.read([f"{z}/name" for z in zones])
        wanted = (lambda n: n == self.zone) if self.zone else (lambda n: n.startswith("package"))
        self.zones = [z for z, n in zip(zones, names) if wanted(n)]
        if not self.zones:
            raise MeterUnavailable(f"{self.url}: no RAPL zone {self.zone or 'package-*'} under {self.root} "
                                   f"(found: {', '.join(names) or 'none'})")
        self.max_range = [int(v) for v in self.reader.read([f"{z}/max_energy_range_uj" for z in self.zones])]
        self._read()  # fails here, not mid-run, when the counters are root-only

    def _read(self) -> tuple[float, list[int]]:
        before = time.monotonic()
        values = [int(v) for v in self.reader.read([f"{z}/energy_uj" for z in self.zones])]
        return (before + time.monotonic()) / 2, values

    def start(self, deadline: Deadline) -> None:
        self._last = self._read()
        self._rows: list[tuple[float, float]] = []
        self.recorder.start()

    def _poll(self) -> int:
        time.sleep(self.interval)
        now, values = self._read()
        then, previous = self._last
        joules = sum(energy_delta(p, c, r) for p, c, r in zip(previous, values, self.max_range)) / 1e6
        self._rows.append(((then + now) / 2, joules / (now - then)))
        self._last = (now, values)
        return 1

    def stop(self, deadline: Deadline) -> Samples:
        self.recorder.stop(deadline)
        if len(self._rows) < 2:
            raise MeterError(f"meter failed: {self.url}: fewer than two counter readings")
        data = np.asarray(self._rows)
        return Samples(t_s=data[:, 0], current_a=data[:, 1], voltage_v=np.ones(len(data)),
                       sample_period_s=self.interval)

    def close(self) -> None:
        pass
