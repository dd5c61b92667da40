"""lpm01a:///dev/ttyACM0?voltage=3300&freq=1k&trigger=d7 — STM32 LPM01A (X-NUCLEO-LPM01A).

The PowerShield's ASCII protocol, as MLPerf Tiny's energy runner drives it (UM2269):
    host: htc | volt 3300m | freq 1k | acqtime 0 | output current | format ascii_dec |
          trigsrc sw | eventsrc d7 fal | pwr on | start | stop | hrc
    meter: "PowerShield > ack <cmd>" or "PowerShield > error <cmd>" + "Error detail: ..."
           samples, one per line, current in amperes as mantissa and exponent: 6409-07 = 640.9 uA
           "TimeStamp: 001s 500ms, buff 00%" (meter time since start), "event 1 fal" (D7 edge),
           "Acquisition completed" after stop.
The LPM01A supplies the board itself (1.8-3.3 V), so the voltage is the one it was told.
"""

from __future__ import annotations

import re
import threading
import time

import numpy as np

from harness.deadline import Deadline
from harness.errors import ConfigError
from harness.power import register
from harness.power.base import MeterError, PowerMeter, Samples, number, trigger_flag, url_options
from harness.power.serial_lines import SerialLines

PROMPT = "PowerShield > "
FREQUENCIES = {"100k": 1e5, "50k": 5e4, "20k": 2e4, "10k": 1e4, "5k": 5e3, "2k": 2e3, "1k": 1e3,
               "500": 500, "200": 200, "100": 100, "50": 50, "20": 20, "10": 10, "5": 5, "2": 2, "1": 1}
_SAMPLE = re.compile(r"^(\d{4})([+-]\d{2})$")
_STAMP = re.compile(r"^TimeStamp:\s*(\d+)s\s*(\d+)ms")
_EVENT = re.compile(r"^event \d+ (ris|fal)")
STALL_S = 2.0
MAX_CONTINUOUS_HZ = 5e3  # ASCII output with acqtime 0 (UM2269)


def parse_current(text: str) -> float | None:
    """'6409-07' -> 6.409e-4 A; None for anything else (a truncated or garbled sample)."""
    match = _SAMPLE.match(text)
    return float(f"{match.group(1)}e{match.group(2)}") if match else None


def check_url(url: str) -> tuple[str, float, float]:
    """(port, voltage V, freq text) of a URL the LPM01A accepts. It records continuously
    (acqtime 0), which UM2269 allows in ASCII mode up to 5 kHz: at 10 kHz ASCII captures
    last at most 1 s, shorter than a measurement window."""
    _, path, options = url_options(url)
    if not path:
        raise ConfigError(f"{url}: give the serial port, e.g. lpm01a:///dev/ttyACM0")
    voltage_v = number(options, "voltage", 3300, url) / 1000.0
    if not 1.8 <= voltage_v <= 3.3:
        raise ConfigError(f"{url}: voltage must be 1800-3300 mV, got {voltage_v * 1000:g}")
    freq_text = options.get("freq", "1k")
    if freq_text not in FREQUENCIES or FREQUENCIES[freq_text] > MAX_CONTINUOUS_HZ:
        raise ConfigError(f"{url}: freq {freq_text!r}: the LPM01A records continuously in ASCII mode "
                          f"(acqtime 0) at 1..5k Hz only; at 10k its ASCII captures last at most 1 s "
                          f"(UM2269); use one of {', '.join(f for f, hz in FREQUENCIES.items() if hz <= MAX_CONTINUOUS_HZ)}")
    return path, voltage_v, freq_text


@register("lpm01a")
class Lpm01aMeter(PowerMeter):
    supports_trigger = True
    edge_convention = "falling"  # `eventsrc d7 fal`: only falling edges are reported

    def __init__(self, url: str, **_options: object) -> None:
        self.url = url
        path, self.voltage_v, self.freq_text = check_url(url)
        _, _, options = url_options(url)
        self.freq = FREQUENCIES[self.freq_text]
        self.trigger = trigger_flag(options, True, url)
        self.lines = SerialLines(url, path, int(number(options, "baud", 3686400, url)), self._on_line)
        self._lock = threading.Lock()
        self._recording = False
        self._reset()

    def _reset(self) -> None:
        self._currents: list[float] = []
        self._marker_index: list[int] = []
        self._bad: list[str] = []
        self._stamp: tuple[float, int] = (0.0, 0)  # worst (meter seconds, samples arrived by then)
        self._last_sample = time.monotonic()

    # ------------------------------------------------------------------ protocol

    def command(self, cmd: str, deadline: Deadline) -> None:
        self.lines.drain()
        self.lines.write_line(cmd)
        reply = self.lines.wait_reply(lambda l: _strip(l).startswith(("ack", "error")), cmd, deadline)
        if _strip(reply).startswith("error"):
            detail = self.lines.wait_reply(lambda l: _strip(l).startswith("Error detail"), cmd, deadline)
            raise MeterError(f"meter failed: {self.url}: {cmd!r} refused: {_strip(detail)[13:].strip()}")

    def _on_line(self, line: str, now: float) -> bool:
        if not self._recording:
            return False
        current = parse_current(line)
        with self._lock:
            if current is not None:
                self._currents.append(current)
                self._last_sample = now
            elif _EVENT.match(line):
                self._marker_index.append(len(self._currents) - 1)
            elif (stamp := _STAMP.match(line)) is not None:
                seconds = int(stamp.group(1)) + int(stamp.group(2)) / 1000.0
                if seconds * self.freq - len(self._currents) > self._stamp[0] * self.freq - self._stamp[1]:
                    self._stamp = (seconds, len(self._currents))
            elif line[:1].isdigit():
                self._bad.append(line)
            else:
                return False
        return True

    # ------------------------------------------------------------------ PowerMeter

    def open(self, deadline: Deadline) -> None:
        self.lines.open()
        try:
            for cmd in ("htc", "format ascii_dec", f"freq {self.freq_text}", "acqtime 0",
                        "output current", f"volt {round(self.voltage_v * 1000)}m", "trigsrc sw"):
                self.command(cmd, deadline.sub(2.0))
            if self.trigger:
                self.command("eventsrc d7 fal", deadline.sub(2.0))
            self.command("pwr on", deadline.sub(2.0))
        except MeterError:
            self.lines.close()
            raise

    def start(self, deadline: Deadline) -> None:
        with self._lock:
            self._reset()
        self._recording = True
        sent = time.monotonic()
        self.command("start", deadline.sub(2.0))
        acked = time.monotonic()
        self._anchor, self._anchor_error = (sent + acked) / 2, (acked - sent) / 2

    def stop(self, deadline: Deadline) -> Samples:
        stalled = time.monotonic() - self._last_sample
        self.lines.write_line("stop")
        self.lines.wait_reply(lambda l: "Acquisition completed" in l, "stop", deadline.sub(STALL_S))
        self._recording = False
        with self._lock:
            currents, markers, bad = list(self._currents), list(self._marker_index), self._bad
            (stamp, arrived) = self._stamp
        if stalled > STALL_S or not currents:
            raise MeterError(f"meter failed: {self.url} stopped sending samples "
                             f"({len(currents)} arrived, none in the last {stalled:.1f} s)")
        if bad:
            raise MeterError(f"meter failed: {self.url}: dropped samples ({len(bad)} garbled lines, "
                             f"first {bad[0]!r})")
        if arrived < round(stamp * self.freq):
            raise MeterError(f"meter failed: {self.url}: dropped samples: the meter timed "
                             f"{stamp:.3f} s ({stamp * self.freq:.0f} samples) but {arrived} had arrived")
        t = self._anchor + np.arange(len(currents)) / self.freq
        return Samples(t_s=t, current_a=np.asarray(currents), voltage_v=np.full(len(currents), self.voltage_v),
                       markers_s=[float(t[max(i, 0)]) for i in markers], sample_period_s=1 / self.freq,
                       anchor_error_s=self._anchor_error)

    def close(self) -> None:
        if self.lines._serial is not None:
            try:
                self.lines.write_line("pwr off")
                self.lines.write_line("hrc")
            except MeterError:
                pass
        self.lines.close()


def _strip(line: str) -> str:
    return line.replace(PROMPT, "").strip()
