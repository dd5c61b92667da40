"""Line-oriented serial I/O for the text-protocol meters (LPM01A, the INA bridge).

A reader thread splits the port's bytes into lines for the whole time the meter is open:
sample lines go to the driver's `on_line` callback, everything else (replies) to a queue the
command path waits on. pyserial errors become MeterError here, at the boundary."""

from __future__ import annotations

import queue
import threading
import time
from typing import Callable

from harness.deadline import Deadline
from harness.power.base import MeterError, MeterUnavailable


class SerialLines:
    def __init__(self, url: str, port: str, baud: int, on_line: Callable[[str, float], bool]) -> None:
        self.url, self.port, self.baud = url, port, baud
        self._on_line = on_line  # returns True when it consumed the line (a sample or an event)
        self.replies: queue.Queue[str] = queue.Queue()
        self._serial = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self.error: BaseException | None = None

    def open(self) -> None:
        import serial  # pyserial: a core dependency, imported when a serial meter is used

        try:
            self._serial = serial.serial_for_url(self.port, baudrate=self.baud, timeout=0.05)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise MeterUnavailable(f"{self.url}: cannot open {self.port}: {exc}") from None
        self._closing.clear()
        self._thread = threading.Thread(target=self._read_loop, name=f"meter-{self.port}", daemon=True)
        self._thread.start()

    def write_line(self, text: str) -> None:
        try:
            self._serial.write((text + "\r\n").encode("ascii"))
        except (OSError, AttributeError) as exc:
            raise MeterError(f"meter failed: {self.url}: cannot write {text!r}: {exc}") from None

    def wait_reply(self, match: Callable[[str], bool], what: str, deadline: Deadline) -> str:
        """The first reply line `match` accepts; MeterError if none comes in time."""
        while True:
            timeout = deadline.timeout(0.1)
            try:
                line = self.replies.get(timeout=timeout)
            except queue.Empty:
                if self.error is not None:
                    raise MeterError(f"meter failed: {self.url}: {self.error}") from None
                if deadline.expired:
                    raise MeterError(f"meter failed: {self.url} stopped answering "
                                     f"(no reply to {what} within {deadline.seconds:g} s)") from None
                continue
            if match(line):
                return line

    def drain(self) -> list[str]:
        lines = []
        while not self.replies.empty():
            lines.append(self.replies.get_nowait())
        return lines

    def close(self) -> None:
        self._closing.set()
        if self._thread is not None:
            self._thread.join(1.0)
            self._thread = None
        if self._serial is not None:
            self._serial.close()
            self._serial = None

    def _read_loop(self) -> None:
        buffer = b""
        while not self._closing.is_set():
            try:
                chunk = self._serial.read(self._serial.in_waiting or 1)  # returns as soon as bytes are there
            except (OSError, TypeError, AttributeError) as exc:
                if not self._closing.is_set():
                    self.error = exc
                return
            now = time.monotonic()
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                line = raw.decode("ascii", errors="replace").strip("\r\x00 ")
                if line and not self._on_line(line, now):
                    self.replies.put(line)
