"""A debug probe's GDB server with a flash target, simulated at the wire (a probe cannot exist
here): what OpenOCD and pyOCD answer — qSupported with PacketSize and qXfer:memory-map:read+,
a memory map with a flash region (blocksize), vFlashErase/vFlashWrite/vFlashDone with NOR
semantics (erase to 0xFF; a write only clears bits; writing outside an erased block is an error),
X/m on RAM and flash reads, qRcmd monitor commands, D. `monitor reset run` makes the simulated
board print the firmware's hello on its UART, a second TCP port.

    python tests/gdb_flash_sim.py GDB_PORT UART_PORT
"""

from __future__ import annotations

import re
import socket
import sys
import threading

FLASH, FLASH_SIZE, BLOCK = 0x0, 1 << 20, 4096
RAM, RAM_SIZE = 0x20000000, 256 << 10
MEMORY_MAP = (f'<?xml version="1.0"?><memory-map><memory type="flash" start="{FLASH:#x}" length="{FLASH_SIZE:#x}">'
              f'<property name="blocksize">{BLOCK:#x}</property></memory>'
              f'<memory type="ram" start="{RAM:#x}" length="{RAM_SIZE:#x}"/></memory-map>').encode()

flash = bytearray(b"\xff" * FLASH_SIZE)
ram = bytearray(RAM_SIZE)
erased: set[int] = set()  # blocks erased since the last vFlashDone
uart_clients: list[socket.socket] = []


def unescape(data: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(data):
        if data[i] == 0x7D:
            out.append(data[i + 1] ^ 0x20)
            i += 2
        else:
            out.append(data[i])
            i += 1
    return bytes(out)


def region(address: int, length: int) -> tuple[bytearray, int] | None:
    for mem, base, size in ((flash, FLASH, FLASH_SIZE), (ram, RAM, RAM_SIZE)):
        if base <= address and address + length <= base + size:
            return mem, address - base
    return None


def handle(packet: bytes) -> bytes:
    if packet.startswith(b"qSupported"):
        return b"PacketSize=800;qXfer:memory-map:read+"
    if packet == b"?":
        return b"S05"
    if packet.startswith(b"qXfer:memory-map:read::"):
        offset, length = (int(v, 16) for v in packet.split(b"::")[1].split(b","))
        part = MEMORY_MAP[offset:offset + length]
        return (b"l" if offset + length >= len(MEMORY_MAP) else b"m") + part
    if packet.startswith(b"m"):
        address, length = (int(v, 16) for v in packet[1:].split(b","))
        found = region(address, length)
        return found[0][found[1]:found[1] + length].hex().encode() if found else b"E01"
    if packet.startswith(b"X"):
        header, data = packet[1:].split(b":", 1)
        address, length = (int(v, 16) for v in header.split(b","))
        found = region(address, length)
        if found is None or found[0] is flash:
            return b"E01"  # flash is written through vFlash only
        found[0][found[1]:found[1] + length] = unescape(data)
        return b"OK"
    if packet.startswith(b"vFlashErase:"):
        address, length = (int(v, 16) for v in packet[12:].split(b","))
        if address % BLOCK or length % BLOCK:
            return b"E02"
        flash[address:address + length] = b"\xff" * length
        erased.update(range(address // BLOCK, (address + length) // BLOCK))
        return b"OK"
    if packet.startswith(b"vFlashWrite:"):
        address_hex, data = packet[12:].split(b":", 1)
        address, data = int(address_hex, 16), unescape(data)
        if any(b not in erased for b in range(address // BLOCK, (address + len(data) - 1) // BLOCK + 1)):
            return b"E03"
        for i, value in enumerate(data):
            flash[address + i] &= value
        return b"OK"
    if packet == b"vFlashDone":
        erased.clear()
        return b"OK"
    if packet.startswith(b"qRcmd,"):
        command = bytes.fromhex(packet[6:].decode()).decode()
        if command in ("reset run", "reset"):
            for client in uart_clients:
                client.sendall(b"\x00m-init-done\r\nm-ready\r\n\x00")
            return b"OK"
        return b"E04"
    if packet == b"D":
        return b"OK"
    return b""


def serve_gdb(conn: socket.socket) -> None:
    buffer = b""
    while data := conn.recv(65536):
        buffer += data
        while (match := re.search(rb"\$([^#]*)#([0-9a-fA-F]{2})", buffer, re.S)):
            buffer = buffer[match.end():]
            body = match.group(1)
            if sum(body) & 0xFF != int(match.group(2), 16):
                conn.sendall(b"-")
                continue
            reply = handle(body)
            conn.sendall(b"+$" + reply + b"#%02x" % (sum(reply) & 0xFF))
            if body == b"D":
                conn.close()
                return
        buffer = buffer.lstrip(b"+-")


def serve_uart(listener: socket.socket) -> None:
    while True:
        client, _ = listener.accept()
        uart_clients.append(client)


def main() -> None:
    gdb_port, uart_port = int(sys.argv[1]), int(sys.argv[2])
    uart = socket.create_server(("127.0.0.1", uart_port))
    threading.Thread(target=serve_uart, args=(uart,), daemon=True).start()
    server = socket.create_server(("127.0.0.1", gdb_port))
    while True:
        conn, _ = server.accept()
        serve_gdb(conn)


if __name__ == "__main__":
    main()
