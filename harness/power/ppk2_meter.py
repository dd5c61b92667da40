"""ppk2:///dev/ttyACM0?voltage=3300&trigger=d0 — Nordic Power Profiler Kit II (`ppk2-api`).

Source-meter mode: the PPK2 supplies the board at `voltage` mV (800-5000) and samples its
current at 100 kHz (in uA). With trigger=dN the firmware's timestamp pin goes to the PPK2's
logic input N; every change of that bit is an edge. Samples carry no timestamps: they are
placed on the controller's clock from when they arrive (error: the interval between two
polls), and a recording that delivers far fewer than 100 000 samples a second dropped some.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from harness.deadline import Deadline
from harness.errors import ConfigError
from harness.power import register, vendor_module
from harness.power.base import MeterError, PowerMeter, Recorder, Samples, number, trigger_flag, url_options

FS = 100_000
POLL_S = 0.01
STALL_S = 2.0
SLACK_S = 0.1  # samples still in flight over USB when the last poll ran


@register("ppk2")
class Ppk2Meter(PowerMeter):
    supports_trigger = True

    def __init__(self, url: str, api: Any = None, **_options: object) -> None:
        self.url = url
        _, self.port, options = url_options(url)
        self.voltage_mv = int(number(options, "voltage", 3300, url))
        if not 800 <= self.voltage_mv <= 5000:
            raise ConfigError(f"{url}: voltage must be 800-5000 mV, got {self.voltage_mv}")
        self.trigger = trigger_flag(options, True, url)
        self.channel = int(options.get("trigger", "d0").lstrip("dD") or 0) if self.trigger else 0
        self._api = api or vendor_module("ppk2_api.ppk2_api").PPK2_API  # missing: fails before the run
        self.ppk: Any = None
        self.recorder = Recorder(url, self._poll, STALL_S)

    def open(self, deadline: Deadline) -> None:
        cls = self._api
        try:
            port = self.port or next(iter(cls.list_devices()), None)
            if port is None:
                raise MeterError("meter failed: no PPK2 is connected")
            self.ppk = cls(port, timeout=1, write_timeout=1, exclusive=True)
            self.ppk.get_modifiers()
            self.ppk.use_source_meter()
            self.ppk.set_source_voltage(self.voltage_mv)
            self.ppk.toggle_DUT_power("ON")
        except MeterError:
            raise
        except Exception as exc:  # pyserial and ppk2-api errors, translated here
            raise MeterError(f"meter failed: {self.url}: {exc}") from None

    def start(self, deadline: Deadline) -> None:
        self._currents: list[np.ndarray] = []
        self._bits: list[np.ndarray] = []
        self._count = 0
        self._anchor: tuple[int, float, float] | None = None
        self._started = self._last_poll = time.monotonic()
        try:
            self.ppk.start_measuring()
        except Exception as exc:
            raise MeterError(f"meter failed: {self.url}: start: {exc}") from None
        self.recorder.start()

    def _poll(self) -> int:
        time.sleep(POLL_S)
        data = self.ppk.get_data()
        now, previous = time.monotonic(), self._last_poll
        self._last_poll = now
        if not data:
            return 0
        uamps, bits = self.ppk.get_samples(data)
        self._count += len(uamps)
        if self._anchor is None and uamps:
            self._anchor = (self._count, now, now - previous)
        self._currents.append(np.asarray(uamps, dtype=np.float64) / 1e6)
        if self.trigger:
            self._bits.append(np.asarray(self.ppk.digital_channels(bits)[self.channel], dtype=np.int8))
        return len(uamps)

    def stop(self, deadline: Deadline) -> Samples:
        try:
            self.recorder.stop(deadline)
        finally:
            try:
                self.ppk.stop_measuring()
            except Exception as exc:
                raise MeterError(f"meter failed: {self.url}: stop: {exc}") from None
        expected = (self._last_poll - self._started - SLACK_S) * FS
        if self._anchor is None or self._count < 0.9 * expected:
            raise MeterError(f"meter failed: {self.url}: dropped samples ({self._count} arrived, "
                             f"{expected:.0f} expected at 100 kHz)")
        current = np.concatenate(self._currents)
        anchor_count, anchor_t, anchor_err = self._anchor
        t = anchor_t + (np.arange(len(current)) + 1 - anchor_count) / FS
        markers: list[float] = []
        if self.trigger:
            bits = np.concatenate(self._bits)
            markers = [float(t[i + 1]) for i in np.flatnonzero(np.diff(bits))]
        return Samples(t_s=t, current_a=current, voltage_v=np.full(len(current), self.voltage_mv / 1000),
                       markers_s=markers, sample_period_s=1 / FS, anchor_error_s=anchor_err)

    def close(self) -> None:
        if self.ppk is not None:
            try:
                self.ppk.toggle_DUT_power("OFF")
            except Exception:
                pass  # closing a meter that already failed must not hide the first error
            self.ppk = None
