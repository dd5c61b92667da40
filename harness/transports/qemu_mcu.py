"""qemu://mps2-an385 — the reference firmware on an emulated Cortex-M3, its UART on a local socket.

    qemu-system-arm -M mps2-an385 -kernel edge-harness-fw.elf -nographic
        -serial tcp:127.0.0.1:PORT,server=on,wait=on,nodelay=on   the UART (TCP_NODELAY both ends)
        -icount shift=N,sleep=off     time counts instructions: exactly repeatable, not latency
                                      (qemu.pace: align=on,sleep=on, paced at real time like a board)
        -qmp unix:DIR/qmp.sock        stop, cont, system_reset, quit
        [-device loader ...]          a model placed in PSRAM (0x21000000) before boot
        [-plugin libcycles.so,out=DIR/cycles.log]   with a `cycles` option: per-class instruction
                                      counts per operator for the cycle estimate (harness/cycles)
        [-gdb tcp:HOST:PORT -S]       with a `gdb` section: no -kernel, the board halted and blank,
                                      QEMU's stub standing in for a probe's GDB server (gdb_url)

The firmware is built on first use (`make -C firmware/ports/qemu-mps2`) when the ELF is missing.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness import interrupts
from harness.building import make
from harness.deadline import Deadline
from harness.errors import ConfigError, InfrastructureError
from harness.models.firmware_image import write_partition_image
from harness.locations import SOURCE_ROOT, firmware_build_dir, shipped
from harness.transports import gdb_rsp
from harness.transports.base import StreamTransport
from harness.transports.qmp import QmpClient
from harness.transports.serial import SerialTransport

FIRMWARE = shipped("firmware")  # sources: the checkout's firmware/, or the wheel's package data
PORT_DIR = FIRMWARE / "ports" / "qemu-mps2"
# Built beside the sources in a checkout; in the user's cache for an installed package.
BUILD_DIR = firmware_build_dir()
DEFAULT_ELF = BUILD_DIR / "qemu-mps2" / "edge-harness-fw.elf"
PSRAM = 0x21000000
TOOLCHAIN_HINT = "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi (tools/system-packages.txt)"


def build_firmware(elf: Path = DEFAULT_ELF, timeout: float = 300.0) -> Path:
    """The firmware ELF, (re)built with make when the toolchain is here (a no-op when fresh)."""
    if elf != DEFAULT_ELF:
        if not elf.is_file():
            raise ConfigError(f"firmware image {elf} does not exist")
        return elf
    return make(PORT_DIR, elf, "the firmware", "arm-none-eabi-gcc", TOOLCHAIN_HINT, timeout,
                [f"OUT={elf.parent}"])


def firmware_image(image: str | None) -> Path:
    """A profile's qemu.image: absolute, or relative to the source tree; the conventional
    firmware/build/... path (and no image) is the firmware built on first use."""
    if not image:
        return DEFAULT_ELF
    path = Path(image).expanduser()
    if path.is_absolute():
        return path
    if path.parts[:2] == ("firmware", "build"):
        return BUILD_DIR.joinpath(*path.parts[2:])
    return SOURCE_ROOT / path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QemuMcuTransport(StreamTransport):
    emulated = True  # instruction-count time, never board latency

    def __init__(self, url: str, qemu: dict[str, Any] | None = None,
                 serial: dict[str, Any] | None = None, preload: str | Path | None = None,
                 cycles: dict[str, Any] | None = None, gdb: dict[str, Any] | None = None,
                 tiny: dict[str, Any] | None = None, **_other: Any) -> None:
        self.url = url
        self.machine = urlsplit(url).netloc
        options = qemu or {}
        image = options.get("image")
        self.elf = firmware_image(image)
        self.icount_shift = int(options.get("icount_shift") or 3)
        self.pace = bool(options.get("pace"))
        self.boot_timeout = float(options.get("boot_timeout") or 60.0)
        self.serial_options = serial or {}
        preload = preload or options.get("preload")
        self.preload = firmware_image(str(preload)) if preload else None  # relative to the source tree
        self.tiny = tiny or {"benchmark": options.get("tiny_benchmark")}  # {benchmark: kws01, mode: performance|energy}: the partition's tag
        self.trigger_port: int | None = None  # UART1, the firmware's trigger line (open() picks it)
        self.cycles = cycles  # the profile's cycles section: load the counting plugin
        self.cycle_log: Path | None = None  # the plugin's log while QEMU runs
        # A gdb://host:port server (port 0: any free one): the firmware arrives through the stub.
        self._stub = gdb_rsp.parse_url(gdb["server"]) if gdb and isinstance(gdb.get("server"), str) else None
        self.gdb_url: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._uart: SerialTransport | None = None
        self.qmp: QmpClient | None = None

    def argv(self, port: int, qmp_path: str) -> list[str]:
        boot = ["-gdb", f"tcp:{self.gdb_url[6:]}", "-S"] if self.gdb_url else ["-kernel", str(self.elf)]
        argv = ["qemu-system-arm", "-M", self.machine, *boot, "-nographic", "-monitor", "none",
                "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on",
                "-icount", f"shift={self.icount_shift},{'align=on,sleep=on' if self.pace else 'sleep=off'}",
                "-qmp", f"unix:{qmp_path},server=on,wait=off"]
        if self.trigger_port is not None:  # UART1: a byte per trigger level change (port.c)
            argv += ["-serial", f"tcp:127.0.0.1:{self.trigger_port},server=on,wait=off,nodelay=on"]
        if self.preload is not None:  # the image an ESP32's flash partition holds, in PSRAM
            assert self._dir is not None
            image = write_partition_image(self.preload, Path(self._dir.name) / "model-partition.bin",
                                          self.tiny.get("benchmark"), self.tiny.get("mode", "performance"))
            argv += ["-device", f"loader,file={image},addr={PSRAM:#x},force-raw=on"]
        if self.cycles is not None:
            from harness.cycles.plugin import plugin_argv

            assert self._dir is not None
            self.cycle_log = Path(self._dir.name) / "cycles.log"
            flash = tuple(self.cycles["flash_region"]) if self.cycles.get("flash_wait_states") else None
            argv += plugin_argv(self.cycle_log, self.cycles.get("branches") == "exact", flash)
        return argv

    def preflight(self) -> None:
        if shutil.which("qemu-system-arm") is None:
            raise ConfigError("qemu-system-arm is not installed (apt-get install qemu-system-arm)")
        if self._stub is None and self.elf != DEFAULT_ELF and not self.elf.is_file():
            raise ConfigError(f"firmware image {self.elf} does not exist")
        if (self._stub is None and self.elf == DEFAULT_ELF and not self.elf.is_file()
                and shutil.which("arm-none-eabi-gcc") is None):
            raise ConfigError(f"{self.elf} is missing and cannot be built: no arm-none-eabi-gcc; {TOOLCHAIN_HINT}")

    def open(self, deadline: Deadline) -> None:
        self.preflight()
        if self._stub is None:
            build_firmware(self.elf)
        else:
            self.gdb_url = f"gdb://{self._stub[0]}:{self._stub[1] or _free_port()}"
        self._dir = tempfile.TemporaryDirectory(prefix="edge-harness-qemu-")
        port, qmp_path = _free_port(), f"{self._dir.name}/qmp.sock"
        self.trigger_port = _free_port()
        log = open(f"{self._dir.name}/qemu.log", "wb")
        # Its own process group: a terminal's Ctrl-C is the harness's to handle.
        self._proc = interrupts.popen(self.argv(port, qmp_path), stdin=subprocess.DEVNULL,
                                      stdout=log, stderr=subprocess.STDOUT)
        log.close()
        boot = deadline.sub(self.boot_timeout)
        self._uart = SerialTransport(f"socket://127.0.0.1:{port}", serial=self.serial_options)
        while True:  # QEMU listens once it has parsed its arguments
            self._check_alive()
            try:
                self._uart.open(Deadline(0.2))
                break
            except InfrastructureError:
                if boot.expired:
                    self.close()
                    raise InfrastructureError(f"{self.url}: QEMU did not open its UART socket") from None
        self.qmp = QmpClient(qmp_path)
        while True:  # the monitor socket appears once the machine is created
            try:
                self.qmp.connect()
                return
            except InfrastructureError:
                self._check_alive()
                if boot.expired:
                    self.close()
                    raise
                time.sleep(0.05)

    def _check_alive(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            log = Path(self._dir.name, "qemu.log").read_text(errors="replace") if self._dir else ""
            tail = " | ".join(log.strip().splitlines()[-3:])
            raise InfrastructureError(f"{self.url}: QEMU exited with {self._proc.returncode}: {tail}")

    def _link(self) -> SerialTransport:
        if self._uart is None:
            raise InfrastructureError(f"{self.url}: not open")
        return self._uart

    def write(self, data: bytes, deadline: Deadline) -> None:
        self._check_alive()
        self._link().write(data, deadline)

    def read(self, size: int, deadline: Deadline) -> bytes:
        self._check_alive()
        return self._link().read(size, deadline)

    def reset(self, deadline: Deadline) -> None:
        assert self.qmp is not None
        self.qmp.execute("system_reset")

    def stop(self) -> None:
        assert self.qmp is not None
        self.qmp.execute("stop")

    def cont(self) -> None:
        assert self.qmp is not None
        self.qmp.execute("cont")

    def close(self) -> None:
        if self._uart is not None:
            self._uart.close()
            self._uart = None
        if self.qmp is not None:
            try:
                self.qmp.execute("quit")
            except InfrastructureError:
                pass
            self.qmp.close()
            self.qmp = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            interrupts.forget(self._proc)
            self._proc = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
            self.cycle_log = None
