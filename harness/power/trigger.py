"""The energy trigger, from the firmware's timestamp pin to the meter's markers, in one place.

The firmware (MLPerf Tiny's energy mode, firmware/core/fw_port.h `port_trigger`) idles the pin
high and pulls it low for a moment at each timestamp: at the start and at the end of each
window of inferences. So one timestamp = one falling edge, and a window = two falling edges.

Meters report edges differently; each driver says which with `edge_convention`:

    falling   only falling edges are reported           LPM01A (`eventsrc d7 fal`)
    change    every level change, falling and rising    Joulescope GPI0, PPK2 D0-D7, INA bridge

`timestamps()` turns either into the firmware's timestamps; energy.windows_from_markers pairs
those as (start, end) per window.

On the emulated board the pin is UART1 (qemu-mps2 port.c writes '0' or '1' per change):
`TriggerLine` reads it from QEMU's second serial socket and stamps each change on the
controller's monotonic clock, and the meter simulators take it as their trigger input.
"""

from __future__ import annotations

import bisect
import socket
import threading
import time

FALLING, CHANGE = "falling", "change"


def timestamps(markers_s: list[float], convention: str) -> list[float]:
    """The firmware's timestamps (falling edges) among a meter's markers. With `change`, the
    idle level is high, so the changes alternate falling, rising, starting with a falling one."""
    edges = sorted(markers_s)
    if convention == FALLING:
        return edges
    if convention == CHANGE:
        return edges[0::2]
    raise ValueError(f"unknown edge convention {convention!r}; use {FALLING!r} or {CHANGE!r}")


class TriggerLine:
    """The emulated board's trigger pin: level changes read from a TCP socket (QEMU's UART1),
    each stamped with time.monotonic() on arrival."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.address = (host, port)
        self.changes: list[tuple[float, int]] = []  # (t, level after the change)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)

    def __enter__(self) -> "TriggerLine":
        self._sock = socket.create_connection(self.address, timeout=10)
        self._sock.settimeout(0.05)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2.0)
        if self._sock is not None:
            self._sock.close()

    def _read(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                data = self._sock.recv(256)
            except socket.timeout:
                continue
            except OSError:
                return
            if not data:
                return
            now = time.monotonic()
            with self._lock:
                self.changes.extend((now, 1 if b == ord("1") else 0) for b in data if b in b"01")

    def falling(self) -> list[float]:
        with self._lock:
            return [t for t, level in self.changes if level == 0]

    def low_between(self, t0: float, t1: float) -> bool:
        """Whether the pin was low at any moment in (t0, t1]: a meter's digital input samples it
        at its own (faster) rate, so a short pulse is seen by the sample that spans it."""
        with self._lock:
            times = [t for t, _ in self.changes]
            i = bisect.bisect_right(times, t0)
            level_before = self.changes[i - 1][1] if i else 1
            if level_before == 0:
                return True
            return any(level == 0 for t, level in self.changes[i:] if t <= t1)
