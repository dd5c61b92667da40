"""A microcontroller's serial line, by URL (pyserial's `serial_for_url`).

    serial:///dev/ttyUSB0?baud=921600           a local UART or USB CDC port
    serial:///dev/serial/by-id/usb-...?baud=N   the same, by a name that survives re-enumeration
    socket://host:port                          ser2net raw TCP (TCP_NODELAY set)
    rfc2217://host:port?baud=N                  ser2net with RFC 2217 line control

Options (the profile's `serial:` section): protocol, reset (none | dtr-rts | command),
reset_command, read_timeout. Every read and write takes a deadline. A port that vanishes (a USB
board re-enumerating after a reset, a cable pulled) is reopened by the same path with backoff
until the caller's deadline.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import serial

from harness.deadline import Deadline
from harness.errors import ConfigError, DeviceError, DeviceTimeout, InfrastructureError
from harness.transports import register
from harness.transports.base import StreamTransport

DEFAULT_BAUD = 115200
BACKOFF_S = (0.05, 0.1, 0.2, 0.5, 1.0)
POLL_S = 0.2  # longest single blocking read, so a vanished port is noticed quickly
APPEAR_S = 5.0  # how long open() waits for a port path that does not exist (yet): USB re-enumeration


def existing_ports() -> str:
    from serial.tools import list_ports

    ports = sorted(p.device for p in list_ports.comports())
    return f"ports here: {', '.join(ports)}" if ports else "no serial ports here"


def parse_url(url: str) -> tuple[str, int]:
    """(what serial_for_url opens, baud) from a harness serial URL."""
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)  # flags: rfc2217://h:p?ign_set_control
    try:
        baud = int(query.pop("baud", [DEFAULT_BAUD])[0])
    except ValueError:
        raise ConfigError(f"{url}: baud must be an integer") from None
    if parts.scheme == "serial":
        if not parts.path:
            raise ConfigError(f"{url}: no device path (serial:///dev/ttyUSB0?baud=115200)")
        return parts.path, baud
    rest = urlencode({k: v[0] for k, v in query.items()})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, rest, "")), baud


class SerialTransport(StreamTransport):
    def __init__(self, url: str, serial: dict[str, Any] | None = None, **_other: Any) -> None:
        self.url = url
        self.port, self.baud = parse_url(url)
        options = serial or {}
        self.protocol = options.get("protocol", "binary")
        self.reset_method = options.get("reset", "none")
        self.reset_command = options.get("reset_command")
        self.read_timeout = float(options.get("read_timeout", 5.0))
        self.reopens = 0  # times the port vanished and came back, for diagnostics and tests
        # pyserial's RFC 2217 client has no write timeout and renegotiates the remote line on every
        # timeout change: its timeouts stay as opened (POLL_S reads; its socket bounds writes)
        self._fixed_timeouts = urlsplit(url).scheme == "rfc2217"
        self._ser: serial.SerialBase | None = None

    # ------------------------------------------------------------ connection

    def preflight(self) -> None:
        """A local port that does not exist is a typo or an unplugged board: say so at once, with
        the ports that do exist (a run checks this before it writes anything)."""
        if urlsplit(self.url).scheme == "serial" and not os.path.exists(self.port):
            raise ConfigError(f"{self.url}: no such port {self.port}; {existing_ports()}")

    def open(self, deadline: Deadline) -> None:
        if urlsplit(self.url).scheme == "serial" and not os.path.exists(self.port):
            # a USB board may be re-enumerating: give it a moment, not the whole deadline
            self._ensure(deadline.sub(APPEAR_S), must=False)
            if self._ser is None:
                raise InfrastructureError(f"{self.url}: no such port {self.port} after {APPEAR_S:g} s; "
                                          f"{existing_ports()}")
            return
        self._ensure(deadline, must=True)

    def _ensure(self, deadline: Deadline, must: bool) -> serial.SerialBase | None:
        """The open port; reopened with backoff until the deadline (None then, unless `must`)."""
        attempt = 0
        while self._ser is None:
            try:
                ser = serial.serial_for_url(self.port, baudrate=self.baud, timeout=POLL_S,
                                            write_timeout=None, exclusive=None)
            except (serial.SerialException, OSError, ValueError) as exc:
                wait = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
                attempt += 1
                if deadline.remaining is not None and deadline.remaining <= wait:
                    if must:
                        raise InfrastructureError(f"{self.url}: cannot open {self.port}: {exc}") from None
                    return None
                time.sleep(wait)
                continue
            sock = getattr(ser, "_socket", None)
            if isinstance(sock, socket.socket):  # else every small frame waits ~40 ms for an ACK
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._ser = ser
            if attempt:
                self.reopens += 1
        return self._ser

    def _lost(self) -> None:
        if self._ser is not None:
            try:
                self._ser.close()
            except (serial.SerialException, OSError):
                pass
            self._ser = None

    def close(self) -> None:
        self._lost()

    # ------------------------------------------------------------ bytes

    def write(self, data: bytes, deadline: Deadline) -> None:
        while True:
            ser = self._ensure(deadline, must=True)
            assert ser is not None
            try:
                if not self._fixed_timeouts:
                    ser.write_timeout = deadline.timeout()
                ser.write(data)
                return
            except serial.SerialTimeoutException:
                raise DeviceTimeout(f"{self.url}: write of {len(data)} bytes timed out") from None
            except (serial.SerialException, OSError):
                self._lost()  # the port vanished mid-write: reopen and write it again

    def read(self, size: int, deadline: Deadline) -> bytes:
        while True:
            ser = self._ensure(deadline, must=False)
            if ser is None:
                return b""
            try:
                if not self._fixed_timeouts:
                    ser.timeout = deadline.timeout(POLL_S)
                data = ser.read(1)
                if data and size > 1:
                    waiting = ser.in_waiting
                    if waiting:
                        data += ser.read(min(waiting, size - 1))
            except (serial.SerialException, OSError):
                self._lost()
                continue
            if data or deadline.expired:
                return data

    # ------------------------------------------------------------ reset

    def reset(self, deadline: Deadline) -> None:
        if self.reset_method == "dtr-rts":
            ser = self._ensure(deadline, must=True)
            assert ser is not None
            try:  # ESP32 auto-reset circuit: RTS drives EN, DTR drives IO0 (kept high: run mode)
                ser.dtr = False
                ser.rts = True
                time.sleep(0.1)
                ser.rts = False
            except (serial.SerialException, OSError):
                pass  # a native-USB board drops off the bus while it resets
            self._lost()
        elif self.reset_method == "command" and self.reset_command:
            try:
                subprocess.run(self.reset_command, check=True, capture_output=True,
                               timeout=deadline.timeout(60.0))
            except subprocess.TimeoutExpired:
                raise DeviceTimeout(f"{self.url}: reset command {self.reset_command[0]} timed out") from None
            except (OSError, subprocess.CalledProcessError) as exc:
                raise InfrastructureError(f"{self.url}: reset command failed: {exc}") from None
            self._lost()
        else:
            raise DeviceError(f"{self.url}: no reset method configured (serial.reset: dtr-rts | command)")
        self._ensure(deadline, must=True)


@register("serial")
@register("socket")
@register("rfc2217")
def open_serial(url: str, **options: Any) -> SerialTransport:
    return SerialTransport(url, **options)
