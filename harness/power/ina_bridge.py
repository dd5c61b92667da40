"""ina:///dev/ttyACM0?period_us=2200&trigger=1 — an INA219/INA226 read by firmware/ina-bridge.

The bridge's text protocol (docs/power.md), one line each way, 115200 baud:
    host:   INFO | START <period_us> | STOP
    bridge: "# ina-bridge 1 <chip> shunt_mohm=<n>" | "OK START" | "OK STOP" | "ERR <why>"
            "S <seq> <t_us> <bus_mV> <current_uA>"  a sample; seq counts from 0 at START
            "E <t_us> <level>"                       an edge on the trigger pin
t_us is the bridge's micros(), which wraps at 2^32; a gap in seq is a dropped sample.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from harness.deadline import Deadline
from harness.errors import ConfigError
from harness.power import register
from harness.power.base import MeterError, PowerMeter, Samples, number, trigger_flag, url_options
from harness.power.serial_lines import SerialLines

WRAP_US = 2**32
STALL_S = 2.0
# One fresh reading per shunt + bus conversion pair as firmware/ina-bridge configures the chip:
# INA226 0x4127 (2 x 1.1 ms), INA219 0x399F (2 x 532 us, 12 bit). Sampling faster repeats readings.
CONVERSION_US = {"INA226": 2200, "INA219": 1064}
DEFAULT_PERIOD_US = 2200


def check_url(url: str) -> tuple[str, int, str | None]:
    """(port, period_us, chip or None) of a URL the bridge's chip can follow."""
    _, path, options = url_options(url)
    if not path:
        raise ConfigError(f"{url}: give the bridge's serial port, e.g. ina:///dev/ttyACM0")
    period_us = int(number(options, "period_us", DEFAULT_PERIOD_US, url))
    chip = options.get("chip", "").upper() or None
    if chip is not None and chip not in CONVERSION_US:
        raise ConfigError(f"{url}: chip={options['chip']!r}: use {' or '.join(c.lower() for c in CONVERSION_US)}")
    _check_period(url, period_us, chip)
    return path, period_us, chip


def _check_period(url: str, period_us: int, chip: str | None) -> None:
    chips = [chip] if chip else list(CONVERSION_US)
    needed = min(CONVERSION_US[c] for c in chips)  # chip not known yet: the faster chip's bound
    if period_us < needed:
        need = ", ".join(f"{c} {CONVERSION_US[c]} us" for c in chips)
        raise ConfigError(f"{url}: period_us={period_us} is shorter than one conversion of the bridge's "
                          f"shunt and bus readings ({need}, firmware/ina-bridge): readings would repeat; "
                          f"use period_us={CONVERSION_US[chip] if chip else DEFAULT_PERIOD_US} or more")


@register("ina")
class InaBridgeMeter(PowerMeter):
    supports_trigger = True

    def __init__(self, url: str, **_options: object) -> None:
        self.url = url
        path, self.period_us, self.chip = check_url(url)
        _, _, options = url_options(url)
        self.trigger = trigger_flag(options, True, url)
        self.lines = SerialLines(url, path, int(number(options, "baud", 115200, url)), self._on_line)
        self._lock = threading.Lock()
        self._recording = False
        self.info = ""
        self._reset()

    def _reset(self) -> None:
        self._rows: list[tuple[int, int, int, int]] = []  # seq, t_us, mV, uA
        self._edges: list[int] = []
        self._bad: list[str] = []
        self._last_sample = time.monotonic()

    def _on_line(self, line: str, now: float) -> bool:
        if not self._recording or line[:2] not in ("S ", "E "):
            return False
        words = line.split()
        with self._lock:
            try:
                if words[0] == "S" and len(words) == 5:
                    self._rows.append((int(words[1]), int(words[2]), int(words[3]), int(words[4])))
                    self._last_sample = now
                elif words[0] == "E" and len(words) == 3:
                    self._edges.append(int(words[1]))
                else:
                    self._bad.append(line)
            except ValueError:
                self._bad.append(line)
        return True

    def _command(self, cmd: str, expect: str, deadline: Deadline) -> str:
        self.lines.drain()
        self.lines.write_line(cmd)
        reply = self.lines.wait_reply(lambda l: l.startswith((expect, "ERR")), cmd, deadline)
        if reply.startswith("ERR"):
            raise MeterError(f"meter failed: {self.url}: {cmd!r} refused: {reply[4:]}")
        return reply

    def open(self, deadline: Deadline) -> None:
        self.lines.open()
        try:
            self.info = self._command("INFO", "# ina-bridge", deadline.sub(2.0))
            words = self.info.split()
            if len(words) > 3 and words[3] in CONVERSION_US:  # the chip the bridge found
                _check_period(self.url, self.period_us, words[3])
        except (MeterError, ConfigError):
            self.lines.close()
            raise

    def start(self, deadline: Deadline) -> None:
        with self._lock:
            self._reset()
        self._recording = True
        sent = time.monotonic()
        self._command(f"START {self.period_us}", "OK START", deadline.sub(2.0))
        acked = time.monotonic()
        self._anchor, self._anchor_error = (sent + acked) / 2, (acked - sent) / 2

    def stop(self, deadline: Deadline) -> Samples:
        stalled = time.monotonic() - self._last_sample
        self._command("STOP", "OK STOP", deadline.sub(STALL_S))
        self._recording = False
        with self._lock:
            rows, edges, bad = list(self._rows), list(self._edges), list(self._bad)
        if stalled > STALL_S or len(rows) < 2:
            raise MeterError(f"meter failed: {self.url} stopped sending samples "
                             f"({len(rows)} arrived, none in the last {stalled:.1f} s)")
        data = np.asarray(rows, dtype=np.int64)
        gaps = np.flatnonzero(np.diff(data[:, 0]) != 1)
        if bad or len(gaps) or data[0, 0] != 0:
            first = bad[0] if bad else f"seq {data[gaps[0], 0]} -> {data[gaps[0] + 1, 0]}" if len(gaps) else "seq 0"
            raise MeterError(f"meter failed: {self.url}: dropped samples ({len(bad)} garbled, "
                             f"{len(gaps)} gaps in seq; first: {first})")
        t0 = int(data[0, 1])
        t = self._anchor + unwrap_us(data[:, 1], t0) / 1e6
        markers = [self._anchor + float(unwrap_us(np.asarray([e]), t0)[0]) / 1e6 for e in edges]
        return Samples(t_s=t, current_a=data[:, 3] / 1e6, voltage_v=data[:, 2] / 1e3, markers_s=markers,
                       sample_period_s=self.period_us / 1e6, anchor_error_s=self._anchor_error)

    def close(self) -> None:
        self.lines.close()


def unwrap_us(t_us: np.ndarray, t0: int) -> np.ndarray:
    """Microseconds since t0 from a 32-bit micros() that may have wrapped (once per 71 min)."""
    return (np.asarray(t_us, dtype=np.int64) - t0) % WRAP_US
