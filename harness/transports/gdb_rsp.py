"""A client of the GDB remote serial protocol, spoken directly (no gdb binary): what a debug
probe's server (OpenOCD, pyOCD, J-Link GDB Server, QEMU's -gdb stub) needs to load a board.

    $payload#cs      a packet; cs = sum of the payload bytes mod 256, two hex digits
    + / -            acknowledgement of each packet (until QStartNoAckMode)
    }                escape in binary data: the next byte is XOR 0x20 ('#', '$', '}', '*')
    X addr,len:bin   binary memory write        M addr,len:hex   the same in hex (fallback)
    m addr,len       memory read (hex)          qRcmd,hex        a `monitor` command
    vFlashErase/vFlashWrite/vFlashDone           flash programming, where the memory map has flash
    D / k            detach (the target runs on) / kill

Errors are InfrastructureError: a probe that refuses, drops or garbles the link is the lab's fault.
"""

from __future__ import annotations

import re
import socket
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from harness.deadline import Deadline
from harness.errors import DeviceTimeout, InfrastructureError

MAX_NAKS = 5  # a packet refused this often in a row: the link is broken
_ESCAPE = {0x23, 0x24, 0x7D, 0x2A}


@dataclass(frozen=True)
class FlashRegion:
    start: int
    length: int
    blocksize: int

    def holds(self, address: int) -> bool:
        return self.start <= address < self.start + self.length


def checksum(payload: bytes) -> bytes:
    return b"%02x" % (sum(payload) & 0xFF)


_SPECIAL = re.compile(rb"[#$}*]")


def escape(data: bytes) -> bytes:
    return _SPECIAL.sub(lambda m: bytes((0x7D, m.group()[0] ^ 0x20)), data)


def unescape(data: bytes) -> bytes:
    """Binary-escaped and run-length-encoded reply data (`x*n` repeats x n-29 more times)."""
    if b"}" not in data and b"*" not in data:
        return data
    out, i = bytearray(), 0
    while i < len(data):
        b = data[i]
        if b == 0x7D and i + 1 < len(data):
            out.append(data[i + 1] ^ 0x20)
            i += 2
        elif b == 0x2A and out and i + 1 < len(data):
            out += bytes([out[-1]]) * (data[i + 1] - 29)
            i += 2
        else:
            out.append(b)
            i += 1
    return bytes(out)


def parse_url(url: str) -> tuple[str, int]:
    match = re.fullmatch(r"gdb://([^:/]+):(\d+)/?", url)
    if match is None:
        raise ValueError(f"{url!r} is not gdb://HOST:PORT")
    return match.group(1), int(match.group(2))


class GdbRemote:
    """One connection to a GDB server; the target is halted while it is open."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.where = f"gdb://{host}:{port}"
        self.host, self.port, self.timeout = host, port, timeout
        self.sock: socket.socket | None = None
        self.packet_size = 4096
        self.features: dict[str, str] = {}
        self.no_ack = False
        self._buf = bytearray()
        self.bytes_written = 0

    # ------------------------------------------------------------ connection

    def connect(self, deadline: Deadline) -> None:
        try:
            self.sock = socket.create_connection((self.host, self.port), timeout=deadline.timeout(self.timeout))
        except ConnectionRefusedError:
            raise InfrastructureError(f"{self.where}: the GDB server refused the connection "
                                      "(not started, or another client holds it)") from None
        except OSError as exc:
            raise InfrastructureError(f"{self.where}: cannot connect to the GDB server: {exc}") from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reply = self.request(b"qSupported:multiprocess-;swbreak+;hwbreak+", deadline)
        for item in reply.decode(errors="replace").split(";"):
            if "=" in item:
                key, value = item.split("=", 1)
                self.features[key] = value
            elif item:
                self.features[item[:-1]] = item[-1]
        if "PacketSize" in self.features:
            self.packet_size = int(self.features["PacketSize"], 16)
        if self.features.get("QStartNoAckMode") == "+" and self.request(b"QStartNoAckMode", deadline) == b"OK":
            self.no_ack = True
        self.request(b"?", deadline)  # the halt reason; a server answers once the target is stopped

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self) -> "GdbRemote":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ packets

    def request(self, payload: bytes, deadline: Deadline) -> bytes:
        self._send(payload, deadline)
        return self._receive(deadline)

    def _send(self, payload: bytes, deadline: Deadline) -> None:
        packet = b"$" + payload + b"#" + checksum(payload)
        for _ in range(MAX_NAKS):
            self._write(packet)
            if self.no_ack:
                return
            ack = self._read_byte(deadline)
            while ack not in (b"+", b"-"):  # stray bytes before the ack (a late notification)
                ack = self._read_byte(deadline)
            if ack == b"+":
                return
        raise InfrastructureError(f"{self.where}: the GDB server refused a packet {MAX_NAKS} times (line noise?)")

    def _receive(self, deadline: Deadline) -> bytes:
        while True:
            start = self._buf.find(b"$")
            while start < 0:
                self._buf.clear()  # acks, notifications' noise before a packet
                self._fill(deadline)
                start = self._buf.find(b"$")
            end = self._buf.find(b"#", start)
            while end < 0 or len(self._buf) < end + 3:
                self._fill(deadline)
                end = self._buf.find(b"#", start)
            body, cs = bytes(self._buf[start + 1:end]), bytes(self._buf[end + 1:end + 3])
            del self._buf[:end + 3]
            if checksum(body) == cs.lower():
                if not self.no_ack:
                    self._write(b"+")
                return unescape(body)
            if self.no_ack:
                raise InfrastructureError(f"{self.where}: a reply with a bad checksum")
            self._write(b"-")

    def _write(self, data: bytes) -> None:
        assert self.sock is not None, "not connected"
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise InfrastructureError(f"{self.where}: the GDB server closed the connection ({exc})") from None

    def _read_byte(self, deadline: Deadline) -> bytes:
        if not self._buf:
            self._fill(deadline)
        b = bytes(self._buf[:1])
        del self._buf[:1]
        return b

    def _fill(self, deadline: Deadline) -> None:
        assert self.sock is not None, "not connected"
        self.sock.settimeout(max(0.01, deadline.timeout(self.timeout) or self.timeout))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise DeviceTimeout(f"{self.where}: the GDB server did not answer in time") from None
        except OSError as exc:
            raise InfrastructureError(f"{self.where}: the GDB server connection failed ({exc})") from None
        if not data:
            raise InfrastructureError(f"{self.where}: the GDB server closed the connection")
        self._buf += data

    def _ok(self, payload: bytes, reply: bytes, what: str) -> None:
        if reply != b"OK":
            raise InfrastructureError(f"{self.where}: {what} failed: {reply.decode(errors='replace') or 'unsupported'}"
                                      f" ({payload[:24].decode(errors='replace')}…)")

    # ------------------------------------------------------------ memory

    def write(self, address: int, data: bytes, deadline: Deadline) -> None:
        """RAM write: X packets sized to the server's PacketSize (M hex where X is unsupported)."""
        room = self.packet_size - 32
        offset, use_x = 0, self.features.get("X") != "-"
        while offset < len(data):
            if use_x:
                chunk = _fit_escaped(data[offset:offset + room], room)
                payload = b"X%x,%x:" % (address + offset, len(chunk)) + escape(chunk)
                reply = self.request(payload, deadline)
                if reply == b"" and offset == 0:
                    use_x = False  # the server does not know X
                    continue
            else:
                chunk = data[offset:offset + room // 2]
                payload = b"M%x,%x:" % (address + offset, len(chunk)) + chunk.hex().encode()
                reply = self.request(payload, deadline)
            self._ok(payload, reply, f"writing {len(chunk)} bytes at {address + offset:#x}")
            offset += len(chunk)
            self.bytes_written += len(chunk)

    def read(self, address: int, length: int, deadline: Deadline) -> bytes:
        out = bytearray()
        step = (self.packet_size - 8) // 2
        while len(out) < length:
            n = min(step, length - len(out))
            reply = self.request(b"m%x,%x" % (address + len(out), n), deadline)
            if not reply or (reply[:1] == b"E" and len(reply) == 3):
                raise InfrastructureError(f"{self.where}: reading {n} bytes at {address + len(out):#x} "
                                          f"failed: {reply.decode(errors='replace') or 'unsupported'}")
            try:
                out += bytes.fromhex(reply.decode())
            except ValueError:
                raise InfrastructureError(f"{self.where}: a memory read reply is not hex") from None
        return bytes(out)

    def flash_regions(self, deadline: Deadline) -> list[FlashRegion]:
        """The target's flash, from its memory map (none when the server offers no map)."""
        if self.features.get("qXfer:memory-map:read") != "+":
            return []
        xml, offset = b"", 0
        while True:
            reply = self.request(b"qXfer:memory-map:read::%x,%x" % (offset, self.packet_size - 32), deadline)
            if not reply or reply[:1] not in (b"m", b"l"):
                raise InfrastructureError(f"{self.where}: reading the memory map failed")
            xml += reply[1:]
            offset += len(reply) - 1
            if reply[:1] == b"l":
                break
        regions = []
        for mem in ET.fromstring(xml.decode()).iter("memory"):
            if mem.get("type") == "flash":
                block = next((int(p.text or "0", 0) for p in mem.iter("property") if p.get("name") == "blocksize"), 0)
                regions.append(FlashRegion(int(mem.get("start", "0"), 0), int(mem.get("length", "0"), 0), block))
        return regions

    def flash(self, images: list[tuple[int, bytes]], regions: list[FlashRegion], deadline: Deadline) -> None:
        """Programs images in flash as gdb's `load` does: every block they touch erased once
        (two segments may share a block), vFlashWrite each, one vFlashDone."""
        blocks: set[tuple[int, int]] = set()
        for address, data in images:
            region = next(r for r in regions if r.holds(address))
            size = max(region.blocksize, 1)
            first = (address - region.start) // size
            last = (address + len(data) - 1 - region.start) // size
            blocks.update((region.start + i * size, size) for i in range(first, last + 1))
        for start, size in _merge(sorted(blocks)):
            self._ok(b"vFlashErase", self.request(b"vFlashErase:%x,%x" % (start, size), deadline), "flash erase")
        room = self.packet_size - 32
        for address, data in images:
            offset = 0
            while offset < len(data):
                chunk = _fit_escaped(data[offset:offset + room], room)
                payload = b"vFlashWrite:%x:" % (address + offset) + escape(chunk)
                self._ok(payload, self.request(payload, deadline), "flash write")
                offset += len(chunk)
                self.bytes_written += len(chunk)
        self._ok(b"vFlashDone", self.request(b"vFlashDone", deadline), "flash programming")

    # ------------------------------------------------------------ control

    def monitor(self, command: str, deadline: Deadline) -> str:
        """`monitor COMMAND`: the server's own command (reset, system_reset, ...); its output."""
        self._send(b"qRcmd," + command.encode().hex().encode(), deadline)
        output = []
        while True:
            reply = self._receive(deadline)
            if reply[:1] == b"O" and reply != b"OK":
                output.append(bytes.fromhex(reply[1:].decode()).decode(errors="replace"))
                continue
            if reply == b"OK" or (reply == b"" and output):
                return "".join(output)
            raise InfrastructureError(f"{self.where}: monitor {command!r} failed: "
                                      f"{reply.decode(errors='replace') or 'unsupported by this server'}")

    def detach(self, deadline: Deadline) -> None:
        """The target runs on; the server stays for the next client."""
        try:
            self.request(b"D", deadline)
        finally:
            self.close()


def _merge(blocks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Adjacent (start, size) blocks joined into ranges."""
    ranges: list[tuple[int, int]] = []
    for start, size in blocks:
        if ranges and ranges[-1][0] + ranges[-1][1] == start:
            ranges[-1] = (ranges[-1][0], ranges[-1][1] + size)
        else:
            ranges.append((start, size))
    return ranges


def _fit_escaped(chunk: bytes, room: int) -> bytes:
    """A prefix of chunk (at most room bytes) whose escaped form fits in room bytes."""
    chunk = chunk[:room]
    extra = sum(chunk.count(bytes((b,))) for b in _ESCAPE)
    return chunk if len(chunk) + extra <= room else chunk[:room - extra]


def wait_listening(host: str, port: int, deadline: Deadline, what: str) -> None:
    """A server the harness started: wait until it accepts connections (then close that probe)."""
    while True:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            if deadline.expired:
                raise InfrastructureError(f"{what} did not listen on {host}:{port} in time") from None
            time.sleep(0.1)
