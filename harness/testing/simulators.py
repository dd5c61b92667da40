"""Meters that speak the real wire protocol on a pseudo-terminal, for tests and for trying a
lab setup without the hardware: `LpmSimulator` (the LPM01A's ASCII protocol) and
`InaBridgeSimulator` (firmware/ina-bridge's text format). Each produces a known current
profile, given per sample index, in real time; faults can be injected (garbled samples,
skipped samples, a meter that goes silent, edges that never come).

    with LpmSimulator(current=lambda k: 0.010 if 200 <= k < 1200 else 0.001) as sim:
        meter = open_meter(f"lpm01a://{sim.port}")
"""

from __future__ import annotations

import math
import os
import select
import threading
import time
import tty
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from harness.power.trigger import TriggerLine


def format_current(amps: float) -> str:
    """LPM01A ascii_dec: four mantissa digits and a signed two-digit exponent (6409-07)."""
    if amps <= 0:
        return "0000+00"
    exponent = math.floor(math.log10(amps)) - 3
    mantissa = round(amps / 10.0 ** exponent)
    if mantissa >= 10000:
        mantissa, exponent = mantissa // 10, exponent + 1
    return f"{mantissa:04d}{exponent:+03d}"


class PtySimulator:
    """A thread serving one pty: subclasses answer commands and emit due samples."""

    def __init__(self, current: Callable[[int], float], events: tuple[int, ...] = (),
                 silent_after: int | None = None, garble_at: int | None = None,
                 skip: tuple[int, ...] = (), trigger: "TriggerLine | None" = None) -> None:
        self.current, self.events = current, set(events)
        self.trigger = trigger  # a live trigger input (the emulated board's pin), else `events`
        self._falling_sent = 0
        self.silent_after, self.garble_at, self.skip = silent_after, garble_at, set(skip)
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        self._slave = slave
        self.commands: list[str] = []
        self.freq = 1000.0
        self.running = False
        self.sent = 0
        self._t0 = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "PtySimulator":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2.0)
        os.close(self.master)
        os.close(self._slave)

    @property
    def silent(self) -> bool:
        return self.silent_after is not None and self.sent >= self.silent_after

    def send(self, text: str) -> None:
        if not self.silent:
            os.write(self.master, text.encode("ascii"))

    def _serve(self) -> None:
        buffer = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.002)
            if ready:
                buffer += os.read(self.master, 4096)
                *lines, buffer = buffer.split(b"\n")
                for raw in lines:
                    line = raw.decode("ascii", errors="replace").strip()
                    if line:
                        self.commands.append(line)
                        self.handle(line)
            if self.running:
                due = int((time.monotonic() - self._t0) * self.freq)
                chunk = []
                while self.sent < due and not self.silent:
                    chunk.append(self.sample_text(self.sent))
                    self.sent += 1
                if chunk:
                    self.send("".join(chunk))

    def begin(self) -> None:
        self.sent, self._t0, self.running = 0, time.monotonic(), True
        self._falling_sent = len(self.trigger.falling()) if self.trigger is not None else 0  # edges before start

    def sample_time(self, k: int) -> float:
        return self._t0 + k / self.freq

    def falling_due(self, k: int) -> int:
        """Trigger falling edges that have happened by sample k and are not reported yet."""
        if self.trigger is None:
            return 0
        falling = self.trigger.falling()
        due = sum(1 for t in falling[self._falling_sent:] if t <= self.sample_time(k))
        self._falling_sent += due
        return due

    def handle(self, line: str) -> None:
        raise NotImplementedError

    def sample_text(self, k: int) -> str:
        raise NotImplementedError


class LpmSimulator(PtySimulator):
    """The PowerShield: acks every known command, streams ascii_dec current after `start`."""

    KNOWN = ("htc", "hrc", "format", "freq", "acqtime", "output", "volt", "trigsrc", "eventsrc",
             "trigdelay", "pwr", "start", "lcd", "status", "version", "powershield")
    PROMPT = "PowerShield > "

    def handle(self, line: str) -> None:
        word = line.split()[0]
        if word == "stop":
            self.running = False
            self.send("Acquisition completed\r\n" + self.PROMPT + "ack stop\r\n")
            return
        if word not in self.KNOWN:
            self.send(f"{self.PROMPT}error {line}\r\nError detail: unknown command\r\n")
            return
        if word == "freq":
            from harness.power.lpm01a import FREQUENCIES

            self.freq = float(FREQUENCIES[line.split()[1]])
        self.send(f"{self.PROMPT}ack {line}\r\n")
        if word == "start":
            self.begin()

    def sample_text(self, k: int) -> str:
        text = "12" if k == self.garble_at else format_current(self.current(k))
        text = "" if k in self.skip else text + "\r\n"
        for _ in range(int(k in self.events) + self.falling_due(k)):
            text += "event 1 fal\r\n"
        if (k + 1) % 100 == 0:
            ms = round((k + 1) * 1000 / self.freq)
            text += f"TimeStamp: {ms // 1000:03d}s {ms % 1000:03d}ms, buff 00%\r\n"
        return text


class InaBridgeSimulator(PtySimulator):
    """firmware/ina-bridge: 'S seq t_us bus_mV current_uA' lines, 'E t_us level' edges."""

    def __init__(self, current: Callable[[int], float], bus_mv: int = 3300, t0_us: int = 0, **kw: object) -> None:
        super().__init__(current, **kw)
        self.bus_mv, self.t0_us = bus_mv, t0_us  # t0_us near 2**32 exercises the wrap
        self._level = 1

    def handle(self, line: str) -> None:
        words = line.split()
        if words[0] == "INFO":
            self.send("# ina-bridge 1 INA226 shunt_mohm=100\r\n")
        elif words[0] == "START":
            self.freq = 1e6 / int(words[1])
            self.send("OK START\r\n")
            self.begin()
        elif words[0] == "STOP":
            self.running = False
            self.send("OK STOP\r\n")
        else:
            self.send(f"ERR unknown command {words[0]}\r\n")

    def _t_us(self, k: int) -> int:
        return (self.t0_us + round(k * 1e6 / self.freq)) % 2**32  # micros() wraps like the MCU's

    def sample_text(self, k: int) -> str:
        text = ""
        if k in self.events:
            self._level ^= 1
            text += f"E {self._t_us(k)} {self._level}\n"
        if k not in self.skip:
            ua = "x" if k == self.garble_at else str(round(self.current(k) * 1e6))
            text += f"S {k} {self._t_us(k)} {self.bus_mv} {ua}\n"
        return text
