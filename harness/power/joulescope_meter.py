"""joulescope://[SERIAL]?freq=1000&trigger=gpi0&io_voltage=3.3V — Joulescope JS110/JS220.

`io_voltage` is the logic level of the GPI inputs (the DUT's, for the trigger); `freq` one of
the sampling rates the instrument offers. Both are checked when the profile loads.

Streams current and voltage through the v1 API (scan, parameter_set, start, stream_buffer,
stop), as MLPerf Tiny's runner does. With trigger=gpi0 the firmware's timestamp pin goes to
GPI0, read back in the current's least significant bit (`current_lsb = gpi0`); every change
of that bit is an edge. Sample ids are mapped onto the controller's clock when they arrive
(error: the interval between two polls). Missing samples come back as NaN: dropped samples.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from harness.deadline import Deadline
from harness.errors import ConfigError
from harness.power import register, vendor_module
from harness.power.base import MeterError, PowerMeter, Recorder, Samples, number, trigger_flag, url_options

POLL_S = 0.01
STALL_S = 2.0
# The joulescope package's v1 parameters (joulescope.parameters_v1): what the instrument accepts.
IO_VOLTAGES = ("1.8V", "2.1V", "2.5V", "2.7V", "3.0V", "3.3V", "3.6V", "5.0V")
FREQUENCIES = (2_000_000, 1_000_000, 500_000, 200_000, 100_000, 50_000, 20_000, 10_000, 5_000, 2_000,
               1_000, 500, 200, 100, 50, 20, 10)


def check_url(url: str) -> tuple[str, float, str | None]:
    """(serial, freq, io_voltage or None) of a URL the instrument accepts."""
    serial, _, options = url_options(url)
    freq = number(options, "freq", 1000, url)
    if freq not in FREQUENCIES:
        raise ConfigError(f"{url}: freq={options['freq']}: a Joulescope samples at one of "
                          f"{', '.join(str(f) for f in FREQUENCIES)} Hz")
    io_voltage = options.get("io_voltage")
    if io_voltage is not None:
        io_voltage = io_voltage.upper().replace(" ", "")
        io_voltage = io_voltage if io_voltage.endswith("V") else f"{io_voltage}V"
        if io_voltage not in IO_VOLTAGES:
            raise ConfigError(f"{url}: io_voltage={options['io_voltage']!r}: use one of {', '.join(IO_VOLTAGES)}")
    return serial, freq, io_voltage


@register("joulescope")
class JoulescopeMeter(PowerMeter):
    supports_trigger = True

    def __init__(self, url: str, api: Any = None, **_options: object) -> None:
        self.url = url
        self.serial, self.freq, self.io_voltage = check_url(url)
        _, _, options = url_options(url)
        self.trigger = trigger_flag(options, True, url)
        self._api = api or vendor_module("joulescope")  # a missing package fails before the run
        self.device: Any = None
        self.recorder = Recorder(url, self._poll, STALL_S)

    def open(self, deadline: Deadline) -> None:
        try:
            found = [d for d in self._api.scan(config="off") if self.serial in str(d)]
            if not found:
                raise MeterError(f"meter failed: no Joulescope{' ' + self.serial if self.serial else ''} "
                                 "is connected")
            self.device = found[0]
            self.device.open()
            for name, value in (("sensor_power", "on"), ("source", "raw"), ("i_range", "auto"),
                                ("sampling_frequency", int(self.freq)),
                                ("current_lsb", "gpi0" if self.trigger else "normal"),
                *([("io_voltage", self.io_voltage)] if self.io_voltage else [])):
                self.device.parameter_set(name, value)
        except MeterError:
            raise
        except Exception as exc:  # the vendor's own exception types, translated here
            raise MeterError(f"meter failed: {self.url}: {exc}") from None

    def start(self, deadline: Deadline) -> None:
        self._chunks: list[dict[str, np.ndarray]] = []
        self._next_id: int | None = None
        self._anchor: tuple[int, float, float] | None = None  # sample id, its time, error
        self._last_poll = time.monotonic()
        try:
            self.device.start()
        except Exception as exc:
            raise MeterError(f"meter failed: {self.url}: start: {exc}") from None
        self.recorder.start()

    def _poll(self) -> int:
        time.sleep(POLL_S)
        now, previous = time.monotonic(), self._last_poll
        self._last_poll = now
        span = self.device.stream_buffer.sample_id_range
        if span is None or (self._next_id is not None and span[1] <= self._next_id):
            return 0
        first = span[0] if self._next_id is None else self._next_id
        if self._anchor is None:
            self._anchor = (span[1] - first, now, now - previous)  # ids counted from the first read
        fields = ["current", "voltage"] + (["current_lsb"] if self.trigger else [])
        data = self.device.stream_buffer.samples_get(first, span[1], fields=fields)
        self._chunks.append({name: np.asarray(data["signals"][name]["value"]) for name in fields})
        self._next_id = span[1]
        return span[1] - first

    def stop(self, deadline: Deadline) -> Samples:
        try:
            self.recorder.stop(deadline)
        finally:
            try:
                self.device.stop()
            except Exception as exc:
                raise MeterError(f"meter failed: {self.url}: stop: {exc}") from None
        if not self._chunks:
            raise MeterError(f"meter failed: {self.url} sent no samples")
        current = np.concatenate([c["current"] for c in self._chunks])
        voltage = np.concatenate([c["voltage"] for c in self._chunks])
        missing = int(np.isnan(current).sum() + np.isnan(voltage).sum())
        if missing:
            raise MeterError(f"meter failed: {self.url}: dropped samples ({missing} missing of {len(current)})")
        anchor_id, anchor_t, anchor_err = self._anchor
        t = anchor_t + (np.arange(len(current)) - anchor_id) / self.freq
        markers: list[float] = []
        if self.trigger:
            gpi = np.concatenate([c["current_lsb"] for c in self._chunks]).astype(np.int8)
            markers = [float(t[i + 1]) for i in np.flatnonzero(np.diff(gpi))]
        return Samples(t_s=t, current_a=current, voltage_v=voltage, markers_s=markers,
                       sample_period_s=1 / self.freq, anchor_error_s=anchor_err)

    def close(self) -> None:
        if self.device is not None:
            try:
                self.device.close()
            except Exception:
                pass  # closing a meter that already failed must not hide the first error
            self.device = None
