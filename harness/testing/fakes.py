"""Fakes of the USB meters' Python APIs, and the `sim://` meter (labgrid ships its fakes too).

`FakeJoulescope` stands where the `joulescope` module would (scan() -> devices with
parameter_set/start/stop/stream_buffer.samples_get, as MLPerf Tiny's runner uses them), and
`FakePPK2` where `ppk2_api.ppk2_api.PPK2_API` would (use_source_meter, set_source_voltage,
start_measuring, get_data, get_samples, digital_channels). Both stream a known current
profile in real time, given per sample index, with faults on request:

    meter = open_meter("joulescope://", api=FakeJoulescope(current=lambda k: 0.01))

`sim://?current_ma=10&voltage=3.3&rate=1000` is a whole meter drawing a constant current:
for trying the pipeline (`harness run`) without hardware.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from harness.deadline import Deadline
from harness.power import register
from harness.power.base import PowerMeter, Samples, number, url_options

Profile = Callable[[int], float]


class _Clock:
    """Sample ids due since start, at `fs` Hz, optionally freezing at `stall_after`."""

    def __init__(self, fs: float, stall_after: int | None) -> None:
        self.fs, self.stall_after, self.t0 = fs, stall_after, None

    def start(self) -> None:
        self.t0 = time.monotonic()

    def due(self) -> int:
        if self.t0 is None:
            return 0
        n = int((time.monotonic() - self.t0) * self.fs)
        return n if self.stall_after is None else min(n, self.stall_after)


# ---------------------------------------------------------------- Joulescope (v1 API)

class FakeStreamBuffer:
    def __init__(self, device: "FakeJoulescopeDevice") -> None:
        self._device = device

    @property
    def sample_id_range(self) -> tuple[int, int] | None:
        due = self._device.clock.due()
        return (0, due) if self._device.streaming and due else None

    def samples_get(self, start: int, stop: int, fields: list[str]) -> dict[str, Any]:
        d = self._device
        ids = np.arange(start, stop)
        current = np.array([d.current(int(k)) for k in ids])
        current[np.isin(ids, list(d.nan_at))] = np.nan  # the driver's marker for missing samples
        signals = {"current": {"value": current, "units": "A"},
                   "voltage": {"value": np.full(len(ids), d.voltage), "units": "V"},
                   "current_lsb": {"value": np.array([d.gpi0(int(k)) for k in ids], dtype=np.uint8)}}
        return {"signals": {name: signals[name] for name in fields}}


class FakeJoulescopeDevice:
    PARAMETERS = ("source", "sensor_power", "sampling_frequency", "trigger_source", "i_range",
                  "v_range", "current_lsb", "voltage_lsb", "io_voltage", "buffer_duration")

    def __init__(self, serial: str, current: Profile, voltage: float, edges: tuple[int, ...],
                 stall_after: int | None, nan_at: tuple[int, ...], trigger: Any = None) -> None:
        self.device_serial_number, self.current, self.voltage = serial, current, voltage
        self.trigger = trigger  # a live trigger input (harness/power/trigger.TriggerLine), else `edges`
        self.edges, self.nan_at = sorted(edges), set(nan_at)
        self.parameters: dict[str, Any] = {}
        self.clock = _Clock(2e6, stall_after)
        self.streaming = self.opened = False
        self.stream_buffer = FakeStreamBuffer(self)

    def __str__(self) -> str:
        return f"Joulescope:{self.device_serial_number}"

    def open(self) -> None:
        self.opened = True

    def close(self) -> None:
        self.opened = self.streaming = False

    def parameter_set(self, name: str, value: Any) -> None:
        if name not in self.PARAMETERS:
            raise KeyError(f"unknown parameter {name}")
        self.parameters[name] = value
        if name == "sampling_frequency":
            self.clock.fs = float(value)

    def start(self, stop_fn: Any = None, duration: float | None = None) -> None:
        if not self.opened:
            raise IOError("device not open")
        self.streaming = True
        self.clock.start()

    def stop(self) -> None:
        self.streaming = False

    def gpi0(self, k: int) -> int:
        if self.trigger is not None:  # the pin's level over this sample's period
            t = self.sample_time(k)
            return 0 if self.trigger.low_between(t - 1 / self.clock.fs, t) else 1
        return sum(1 for e in self.edges if e <= k) % 2  # each listed sample toggles GPI0

    def sample_time(self, k: int) -> float:
        return (self.clock.t0 or 0.0) + k / self.clock.fs


class FakeJoulescope:
    """Stands in for the `joulescope` module."""

    def __init__(self, current: Profile, voltage: float = 3.3, serial: str = "JS220-000001",
                 edges: tuple[int, ...] = (), stall_after: int | None = None, nan_at: tuple[int, ...] = (),
                 trigger: Any = None) -> None:
        self.devices = [FakeJoulescopeDevice(serial, current, voltage, edges, stall_after, nan_at, trigger)]

    def scan(self, config: str | None = None) -> list[FakeJoulescopeDevice]:
        return list(self.devices)


# ---------------------------------------------------------------- Nordic PPK2 (ppk2-api)

class FakePPK2:
    """Stands in for `ppk2_api.ppk2_api.PPK2_API` (the class): PPK2 samples at 100 kHz, in uA."""

    FS = 100_000

    def __init__(self, current: Profile, edges: tuple[int, ...] = (), stall_after: int | None = None,
                 drop_fraction: float = 0.0, ports: tuple[str, ...] = ("/dev/ttyACM0",)) -> None:
        self.current, self.edges = current, sorted(edges)
        self.stall_after, self.drop_fraction, self.ports = stall_after, drop_fraction, ports
        self.calls: list[tuple[Any, ...]] = []
        self.source_mv: int | None = None

    # the class-level API: PPK2_API.list_devices() and PPK2_API(port, ...)
    def list_devices(self) -> list[str]:
        return list(self.ports)

    def __call__(self, port: str, **kwargs: Any) -> "FakePPK2":
        if port not in self.ports:
            raise OSError(2, f"could not open port {port}")
        self.calls.append(("open", port))
        self.clock, self.sent, self.measuring = _Clock(self.FS, self.stall_after), 0, False
        return self

    def get_modifiers(self) -> dict[str, Any]:
        return {"Calibrated": 1}

    def use_source_meter(self) -> None:
        self.calls.append(("use_source_meter",))

    def set_source_voltage(self, mv: int) -> None:
        self.source_mv = mv
        self.calls.append(("set_source_voltage", mv))

    def toggle_DUT_power(self, state: str) -> None:  # noqa: N802 (the real API's name)
        self.calls.append(("toggle_DUT_power", state))

    def start_measuring(self) -> None:
        if self.source_mv is None:
            raise ValueError("set_source_voltage first")
        self.measuring = True
        self.clock.start()

    def stop_measuring(self) -> None:
        self.measuring = False

    def get_data(self) -> bytes:
        due = self.clock.due() if self.measuring else self.sent
        ids = np.arange(self.sent, due, dtype="<u4")
        self.sent = due
        return ids.tobytes()

    def get_samples(self, buf: bytes) -> tuple[list[float], list[int]]:
        ids = np.frombuffer(buf, dtype="<u4")
        if self.drop_fraction:
            ids = ids[np.arange(len(ids)) % 100 >= self.drop_fraction * 100]
        uamps = [self.current(int(k)) * 1e6 for k in ids]
        bits = [sum(1 for e in self.edges if e <= k) % 2 for k in ids]
        return uamps, bits

    def digital_channels(self, bits: list[int]) -> list[list[int]]:
        return [[(b >> ch) & 1 for b in bits] for ch in range(8)]


# ---------------------------------------------------------------- sim://

@register("sim")
class SimMeter(PowerMeter):
    """A constant current at a constant voltage, sampled at `rate` Hz between start and stop."""

    def __init__(self, url: str, **_options: object) -> None:
        self.url = url
        _, _, options = url_options(url)
        self.current_a = number(options, "current_ma", 10.0, url) / 1000.0
        self.voltage_v = number(options, "voltage", 3.3, url)
        self.rate = number(options, "rate", 1000.0, url)
        self._t0: float | None = None

    def open(self, deadline: Deadline) -> None:
        pass

    def close(self) -> None:
        pass

    def start(self, deadline: Deadline) -> None:
        self._t0 = time.monotonic()

    def stop(self, deadline: Deadline) -> Samples:
        t = np.arange(self._t0, time.monotonic(), 1.0 / self.rate)
        return Samples(t_s=t, current_a=np.full(len(t), self.current_a), voltage_v=np.full(len(t), self.voltage_v),
                       sample_period_s=1.0 / self.rate)
