"""hwmon://CHIP[/CHANNEL]?interval=0.02 — Linux hwmon sensors on the measured machine.

CHIP is the sensor's `name` (ina3221 on a Jetson, ina2xx, a PMIC's ADC); CHANNEL a number
N or a label (hwmon://ina3221/VDD_IN); without one, the first channel that has readings.
Per channel, in the kernel's units: currN_input (mA) with inN_input (mV) — the INA3221's
pair — or powerN_input (uW) with inN_input. A power-only sensor is reported as current at a
nominal 1 V, which keeps P = I·V. Each poll is timestamped on the controller between the
request and the reply (error: half that round trip; over SSH, a few ms).
On a board, pass `run` (argv -> stdout) and the files are read with `cat` through it.
"""

from __future__ import annotations

import time

import numpy as np

from harness.deadline import Deadline
from harness.power import register
from harness.power.base import (MeterError, MeterUnavailable, PowerMeter, Recorder, Samples, number,
                                url_options)
from harness.power.sysfs import RunCommand, SysfsReader

ROOT = "/sys/class/hwmon"


@register("hwmon")
class HwmonMeter(PowerMeter):
    def __init__(self, url: str, run: RunCommand | None = None, **_options: object) -> None:
        self.url = url
        self.chip, path, options = url_options(url)
        self.channel = path.strip("/")
        self.interval = number(options, "interval", 0.02, url)
        self.root = options.get("root", ROOT)
        self.reader = SysfsReader(url, run)
        self.files: list[str] = []
        self.kind = ""
        self.recorder = Recorder(url, self._poll, max(2.0, 20 * self.interval))

    def open(self, deadline: Deadline) -> None:
        chips = self.reader.dirs_with(self.root, "name")
        names = self.reader.read([f"{d}/name" for d in chips])
        matching = [d for d, n in zip(chips, names) if not self.chip or n == self.chip]
        if not matching:
            raise MeterUnavailable(f"{self.url}: no hwmon sensor named {self.chip!r} "
                                   f"(found: {', '.join(sorted(set(names))) or 'none'})")
        for directory in matching:
            found = self._channel_files(directory)
            if found:
                self.kind, self.files = found
                return
        raise MeterUnavailable(f"{self.url}: sensor {self.chip!r} has no channel {self.channel or ''} "
                               "with currN_input+inN_input or powerN_input")

    def _channel_files(self, directory: str) -> tuple[str, list[str]] | None:
        present = set(self.reader.names(directory))
        channels = sorted({int(f[len(k):].split("_")[0]) for f in present for k in ("curr", "power", "in")
                           if f.startswith(k) and f.endswith("_input") and f[len(k):].split("_")[0].isdigit()})
        for n in channels:
            if self.channel and self.channel != str(n) and self._label(directory, n, present) != self.channel:
                continue
            if f"curr{n}_input" in present and f"in{n}_input" in present:
                return "curr", [f"{directory}/curr{n}_input", f"{directory}/in{n}_input"]
            if f"power{n}_input" in present:
                volts = [f"{directory}/in{n}_input"] if f"in{n}_input" in present else []
                return "power", [f"{directory}/power{n}_input", *volts]
        return None

    def _label(self, directory: str, n: int, present: set[str]) -> str | None:
        for key in (f"in{n}_label", f"curr{n}_label", f"power{n}_label"):
            if key in present:
                return self.reader.read([f"{directory}/{key}"])[0]
        return None

    def start(self, deadline: Deadline) -> None:
        self._rows: list[tuple[float, float, float]] = []
        self._half_trip = 0.0
        self._sample()  # a reading before start() returns: the recording covers what follows it
        self.recorder.start()

    def _poll(self) -> int:
        took = self._sample()
        time.sleep(max(0.0, self.interval - took))
        return 1

    def _sample(self) -> float:
        """One reading appended; returns how long it took."""
        before = time.monotonic()
        values = [float(v) for v in self.reader.read(self.files)]
        after = time.monotonic()
        if self.kind == "curr":
            current, volts = values[0] / 1e3, values[1] / 1e3
        else:
            volts = values[1] / 1e3 if len(values) > 1 else 1.0
            current = values[0] / 1e6 / volts if volts else 0.0
        self._rows.append(((before + after) / 2, current, volts))
        self._half_trip = max(self._half_trip, (after - before) / 2)
        return after - before

    def stop(self, deadline: Deadline) -> Samples:
        self.recorder.stop(deadline)
        self._sample()  # a reading after stop() began: the recording covers up to it, however late the poller ran
        if len(self._rows) < 2:
            raise MeterError(f"meter failed: {self.url}: fewer than two readings")
        data = np.asarray(self._rows)
        return Samples(t_s=data[:, 0], current_a=data[:, 1], voltage_v=data[:, 2],
                       anchor_error_s=self._half_trip)

    def close(self) -> None:
        self.reader.close()
