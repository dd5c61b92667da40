"""Deploy through a debug probe's GDB server: the firmware ELF and the model partition image
written into the board's memory (flash through vFlash*, RAM through X), read back and compared,
then `monitor <reset>` and detach; the firmware's hello on the serial port ends the deploy.

The server is one the harness starts (an argv: openocd, pyocd gdbserver, JLinkGDBServer), one
already listening (gdb://host:port), or an emulator's own stub (QEMU -gdb; its transport says
where). The same connection stages dataset inputs in board memory for EVAL_MEM.
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import interrupts
from harness.deadline import Deadline
from harness.errors import ConfigError, InfrastructureError
from harness.models.firmware_image import elf_build_id, elf_segments, partition_image
from harness.runners.frames import Cmd
from harness.runners.fwclient import FirmwareClient
from harness.transports.base import StreamTransport
from harness.transports.gdb_rsp import GdbRemote, parse_url, wait_listening

HELLO = b"m-init-done"  # the firmware's boot banner (firmware/core/fw.c)
CONNECT_WAIT_S = 3.0  # a server that is still starting: connection refusals retried this long


@dataclass
class DeployReport:
    bytes_written: int
    seconds: float
    firmware: bool  # the firmware was written (not only the model)


class GdbDeployer:
    def __init__(self, options: dict[str, Any], firmware: Path, transport: StreamTransport) -> None:
        self.options = options
        self.firmware = firmware
        self.transport = transport
        self.build_id = elf_build_id(firmware) if firmware.is_file() else None
        self._server: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------ the server

    def address(self, deadline: Deadline) -> tuple[str, int]:
        stub = getattr(self.transport, "gdb_url", None)  # an emulator's own stub
        server = self.options["server"]
        if stub:
            return parse_url(stub)
        if isinstance(server, str):
            return parse_url(server)
        host, port = "127.0.0.1", int(self.options.get("port") or 3333)
        if self._server is None or self._server.poll() is not None:
            self._start(server, host, port, deadline)
        return host, port

    def _start(self, argv: list[str], host: str, port: int, deadline: Deadline) -> None:
        try:
            # Its own session (the probe's children with it), killed if the harness dies.
            self._server = interrupts.popen(argv, session=True, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as exc:
            hint = " (pip install 'edge-harness[pyocd]')" if Path(argv[0]).name == "pyocd" else ""
            raise ConfigError(f"GDB server {argv[0]!r} cannot be started: {exc}{hint}") from None
        wait_listening(host, port, deadline.sub(float(self.options.get("start_timeout") or 30.0)),
                       f"GDB server {argv[0]}")

    def close(self) -> None:
        if self._server is not None and self._server.poll() is None:
            os.killpg(self._server.pid, signal.SIGTERM)  # its own session: the probe's children too
            try:
                self._server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self._server.pid, signal.SIGKILL)
                self._server.wait()
        if self._server is not None:
            interrupts.forget(self._server)
        self._server = None

    def _connect(self, deadline: Deadline) -> GdbRemote:
        host, port = self.address(deadline)
        until = time.monotonic() + CONNECT_WAIT_S
        while True:
            remote = GdbRemote(host, port, timeout=float(self.options.get("timeout") or 10.0))
            try:
                remote.connect(deadline)
                return remote
            except InfrastructureError:
                remote.close()
                if time.monotonic() >= until or deadline.expired:
                    raise
                time.sleep(0.1)

    # ------------------------------------------------------------ deploy

    def deploy(self, model: bytes | None, firmware: bool, deadline: Deadline) -> DeployReport:
        """Writes, verifies, resets, and waits for the hello. Any failure is InfrastructureError."""
        t0 = time.monotonic()
        images: list[tuple[int, bytes]] = []
        if firmware:
            if not self.firmware.is_file():
                raise ConfigError(f"firmware image {self.firmware} does not exist")
            images += elf_segments(self.firmware)
        if model is not None:
            images.append((int(self.options["model_address"]), partition_image(model)))
        remote = self._connect(deadline)
        try:
            flash = remote.flash_regions(deadline)
            in_flash = [(a, d) for a, d in images if any(r.holds(a) for r in flash)]
            if in_flash:
                remote.flash(in_flash, flash, deadline)
            for address, data in images:
                if (address, data) not in in_flash:
                    remote.write(address, data, deadline)
            for address, data in images:
                _verify(remote, address, data, deadline)
            for command in self.options.get("reset") or ["reset"]:
                remote.monitor(command, deadline)
            written = remote.bytes_written
            remote.detach(deadline)
        finally:
            remote.close()
        self._wait_hello(deadline)
        return DeployReport(written, time.monotonic() - t0, firmware)

    def _wait_hello(self, deadline: Deadline) -> None:
        wait = deadline.sub(float(self.options.get("hello_timeout") or 20.0))
        seen = b""
        while HELLO not in seen:
            if wait.expired:
                raise InfrastructureError(f"{self.transport.url}: the board never said hello on its serial port "
                                          f"after the reset (firmware {self.firmware.name} written through GDB)")
            seen = seen[-len(HELLO):] + self.transport.read(4096, wait.sub(0.5))

    def stage(self, address: int, data: bytes, deadline: Deadline) -> int:
        """Inputs written to board RAM for EVAL_MEM; the target runs on after. Bytes written."""
        remote = self._connect(deadline)
        try:
            remote.write(address, data, deadline)
            written = remote.bytes_written
            remote.detach(deadline)
        finally:
            remote.close()
        return written


def _verify(remote: GdbRemote, address: int, data: bytes, deadline: Deadline) -> None:
    got = remote.read(address, len(data), deadline)
    if got != data:
        at = next(i for i, (a, b) in enumerate(zip(got, data)) if a != b) if len(got) == len(data) else len(got)
        raise InfrastructureError(
            f"{remote.where}: verify failed at {address + at:#x}: wrote {data[at:at + 1].hex() or '-'}, "
            f"read back {got[at:at + 1].hex() or '-'} ({len(data)} bytes at {address:#x})")


def stage_and_eval(gdb: GdbDeployer, client: FirmwareClient, info: dict[str, str], out_bytes: int,
                   samples: list[tuple[int, bytes]], deadline: Deadline,
                   work: float) -> list[tuple[int, int, bytes]]:
    """(index, input) pairs staged through the probe in batches that fit the board's staging
    RAM, each batch run by EVAL_MEM commands; (index, argmax, raw output) of each, in order.
    `work`: seconds the board may compute on one inference (fwclient's compute allowance)."""
    if not samples:
        return []
    base, capacity = int(info["staging_addr"]), int(info["staging_bytes"])
    in_size = len(samples[0][1])
    per_batch = capacity // in_size
    per_cmd = max(1, (int(info.get("max_data", 1024)) - 4) // (2 + out_bytes))
    if per_batch == 0:
        raise InfrastructureError(f"{gdb.transport.url}: one input ({in_size} bytes) exceeds the board's "
                                  f"staging memory ({capacity} bytes)")
    results = []
    for first in range(0, len(samples), per_batch):
        batch = samples[first:first + per_batch]
        gdb.stage(base, b"".join(x for _, x in batch), deadline)
        starts = range(0, len(batch), per_cmd)
        commands = [(Cmd.EVAL_MEM, struct.pack("<II", k * in_size, min(per_cmd, len(batch) - k))) for k in starts]
        for k, reply in zip(starts, client.stream(commands, deadline, work * per_cmd)):
            (count,) = struct.unpack_from("<I", reply)
            for j in range(count):
                at = 4 + j * (2 + out_bytes)
                (argmax,) = struct.unpack_from("<H", reply, at)
                results.append((batch[k + j][0], argmax, reply[at + 2:at + 2 + out_bytes]))
    return results
