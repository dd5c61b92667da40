"""A simulated serial line between the harness and a board: a pty whose path is published as a
by-id style symlink, relayed to a board's StreamTransport at a set line rate, with faults.

Ships in the package (labgrid's fakes do) for tests and benchmarks/serial_throughput.py:

    relay = LineRelay(board, Path(tmp, "by-id", "usb-sim-if00"), baud=115200)
    relay.start()          # the harness opens serial:///.../usb-sim-if00?baud=115200
    relay.faults.flip_every = 3000   # flip one bit in every 3000th byte, both directions
    relay.stall(2.0)       # the board answers nothing for 2 s (bytes are held, not lost)
    relay.unplug(1.0)      # the port vanishes (symlink removed, pty closed) and comes back
"""

from __future__ import annotations

import os
import select
import threading
import time
import tty
from dataclasses import dataclass
from pathlib import Path

from harness.deadline import Deadline
from harness.errors import HarnessError
from harness.transports.base import StreamTransport


@dataclass
class Faults:
    flip_every: int = 0   # flip bit 0x10 of every Nth byte (0: never)
    drop_every: int = 0   # drop every Nth byte (0: never)
    flipped: int = 0
    dropped: int = 0


class _Throttle:
    """Holds a direction to `baud / 10` bytes per second (8N1 framing)."""

    def __init__(self, baud: int | None) -> None:
        self.rate = baud / 10.0 if baud else None
        self.free_at = 0.0  # when the line has sent everything given so far

    def wait(self, nbytes: int) -> None:
        """Returns when `nbytes` more have gone down the line (an idle line saves no credit)."""
        if self.rate is None:
            return
        now = time.monotonic()
        if now - self.free_at > 0.02:  # idle for real, not just a late wake-up from sleep()
            self.free_at = now
        self.free_at += nbytes / self.rate
        if self.free_at > now:
            time.sleep(self.free_at - now)


class LineRelay:
    def __init__(self, board: StreamTransport, link: Path, baud: int | None = None) -> None:
        self.board = board
        self.link = link
        self.baud = baud
        self.faults = Faults()
        self._count = [0, 0]
        self._master = self._slave = -1
        self._plugged = threading.Event()
        self._stalled_until = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self.link.parent.mkdir(parents=True, exist_ok=True)
        self._plug()
        for target in (self._to_board, self._to_host):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)
        self._unplug()

    def stall(self, seconds: float) -> None:
        self._stalled_until = time.monotonic() + seconds

    def unplug(self, seconds: float) -> None:
        """The USB device disappears for `seconds`, then enumerates again on a new pty."""
        self._unplug()
        time.sleep(seconds)
        self._plug()

    # ------------------------------------------------------------ internals

    def _plug(self) -> None:
        with self._lock:
            self._master, self._slave = os.openpty()
            tty.setraw(self._slave)  # no echo before the harness opens and configures it
            os.set_blocking(self._master, False)  # a full pty drops bytes, as a UART overruns
            tmp = self.link.with_name(self.link.name + ".new")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(os.ttyname(self._slave))
            tmp.replace(self.link)
            self._plugged.set()

    def _unplug(self) -> None:
        with self._lock:
            self._plugged.clear()
            self.link.unlink(missing_ok=True)
            for fd in (self._master, self._slave):
                if fd >= 0:
                    os.close(fd)
            self._master = self._slave = -1

    def _mangle(self, data: bytes, direction: int) -> bytes:
        out = bytearray()
        for byte in data:
            self._count[direction] += 1
            n = self._count[direction]
            if self.faults.drop_every and n % self.faults.drop_every == 0:
                self.faults.dropped += 1
                continue
            if self.faults.flip_every and n % self.faults.flip_every == 0:
                byte ^= 0x10
                self.faults.flipped += 1
            out.append(byte)
        return bytes(out)

    def _hold(self) -> None:
        while time.monotonic() < self._stalled_until and not self._stop.is_set():
            time.sleep(0.01)

    def _to_board(self) -> None:
        throttle = _Throttle(self.baud)
        while not self._stop.is_set():
            if not self._plugged.wait(0.05):
                continue
            master = self._master
            try:
                ready, _, _ = select.select([master], [], [], 0.05)
                data = os.read(master, 4096) if ready else b""
            except BlockingIOError:
                continue
            except (OSError, ValueError):
                continue  # unplugged under us
            if not data:
                continue
            self._hold()
            data = self._mangle(data, 0)
            for i in range(0, len(data), 64):  # paced in small pieces, as a UART delivers them
                throttle.wait(len(data[i:i + 64]))
                try:
                    self.board.write(data[i:i + 64], Deadline(10.0))
                except HarnessError:
                    break

    def _to_host(self) -> None:
        throttle = _Throttle(self.baud)
        while not self._stop.is_set():
            try:
                data = self.board.read(4096, Deadline(0.05))
            except HarnessError:
                time.sleep(0.05)
                continue
            if not data:
                continue
            self._hold()
            data = self._mangle(data, 1)
            for i in range(0, len(data), 64):  # paced in small pieces, as a UART delivers them
                piece = data[i:i + 64]
                throttle.wait(len(piece))
                if self._plugged.is_set():
                    try:
                        os.write(self._master, piece)
                    except OSError:
                        pass  # unplugged: these bytes are lost, as on a real cable
