"""qemu://aarch64-virt — an emulated aarch64 Linux board: QEMU boots it, SSH reaches it.

The image, kernel, initrd, login key and host key come from tools/build_aarch64_image.sh and lie
side by side (the profile's `qemu.image` names the disk). QEMU runs TCG (`-M virt -cpu
cortex-a72`), the disk with `snapshot=on` so every boot starts from the same clean board, and
user networking forwards a free 127.0.0.1 port to the guest's sshd. The board's host key is
pinned from the build, so nothing is trusted blindly. Timings from here are functional only.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import interrupts
from harness.deadline import Deadline
from harness.errors import ConfigError, InfrastructureError
from harness.transports.base import CommandResult, CommandTransport
from harness.transports.qmp import QmpClient
from harness.transports.ssh import SshTransport

log = logging.getLogger(__name__)
BUILD_HINT = "build it with `sudo tools/build_aarch64_image.sh` (see docs/boards.md)"
DEFAULT_MEMORY = 2 * 2**30


class QemuLinuxTransport(CommandTransport):
    emulated = True

    def __init__(self, url: str, qemu: dict[str, Any] | None = None,
                 ssh: dict[str, Any] | None = None, **_other: Any) -> None:
        self.url = url
        options = qemu or {}
        if not options.get("image"):
            raise ConfigError(f"{url}: qemu.image is required (the disk built by tools/build_aarch64_image.sh)")
        self.image = Path(options["image"]).expanduser()
        self.memory = int(options.get("memory") or DEFAULT_MEMORY)
        self.icount_shift = options.get("icount_shift")
        self.boot_timeout = float(options.get("boot_timeout") or 120.0)
        self.ssh_overrides = {k: v for k, v in (ssh or {}).items() if v is not None}
        self.files = self._files()  # checked now: a missing image is a ConfigError before the run
        self.qemu = shutil.which("qemu-system-aarch64")
        if self.qemu is None:
            raise ConfigError(f"{url}: qemu-system-aarch64 is not installed (Debian package qemu-system-arm)")
        self.boot_seconds: float | None = None  # measured, for benchmarks and logs
        self._process: subprocess.Popen[bytes] | None = None
        self._tmp: Path | None = None
        self._ssh: SshTransport | None = None

    @property
    def python(self) -> str:
        return self._board().python

    def run(self, argv: list[str], *, stdin: bytes = b"", deadline: Deadline) -> CommandResult:
        return self._board().run(argv, stdin=stdin, deadline=deadline)

    def stage(self, local: Path, deadline: Deadline) -> str:
        return self._board().stage(local, deadline)

    def _board(self) -> SshTransport:
        if self._ssh is None:
            raise InfrastructureError(f"{self.url}: the emulated board is not running (call open first)")
        return self._ssh

    # ------------------------------------------------------------ boot and power off

    def open(self, deadline: Deadline) -> None:
        files = self.files
        self._tmp = Path(tempfile.mkdtemp(prefix="edge-harness-qemu-"))
        port = _free_port()
        started = time.monotonic()
        with open(self._tmp / "qemu.log", "wb") as out:
            # Its own process group: a terminal's Ctrl-C is the harness's to handle.
            self._process = interrupts.popen(self._argv(self.qemu, files, port), stdout=out, stderr=out,
                                             stdin=subprocess.DEVNULL)
        boot = deadline.sub(self.boot_timeout)
        try:
            self._wait_for_sshd(port, boot)
            ssh = SshTransport(f"ssh://root@127.0.0.1:{port}", ssh=self._ssh_options(files, boot))
            ssh.open(boot)
        except BaseException:
            self.close()
            raise
        self._ssh = ssh
        self.boot_seconds = time.monotonic() - started
        log.info("%s: booted in %.1f s (ssh on 127.0.0.1:%d)", self.url, self.boot_seconds, port)

    def close(self) -> None:
        if self._ssh is not None:
            self._ssh.close()
            self._ssh = None
        if self._process is not None:
            self._power_off(self._process)
            interrupts.forget(self._process)
            self._process = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _power_off(self, process: subprocess.Popen[bytes]) -> None:
        # The disk is a throwaway snapshot, so QMP `quit` (instant) loses nothing a clean
        # system_powerdown would keep; killing is the last resort.
        if process.poll() is None and self._tmp is not None:
            qmp = QmpClient(str(self._tmp / "qmp.sock"), timeout=5.0)
            try:
                qmp.execute("quit")
            except InfrastructureError as exc:
                log.warning("%s: QMP quit failed (%s); killing QEMU", self.url, exc)
            finally:
                qmp.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _files(self) -> dict[str, Path]:
        directory = self.image.parent
        files = {"image": self.image, "kernel": directory / "vmlinuz", "initrd": directory / "initrd.img",
                 "key": directory / "id_ed25519", "host_key": directory / "ssh_host_ed25519_key.pub"}
        for what, path in files.items():
            if not path.is_file():
                raise ConfigError(f"{self.url}: no {what} at {path}; {BUILD_HINT}")
        return files

    def _argv(self, qemu: str, files: dict[str, Path], port: int) -> list[str]:
        assert self._tmp is not None
        argv = [
            qemu, "-M", "virt", "-cpu", "cortex-a72", "-smp", "2", "-m", f"{self.memory // 2**20}M",
            "-display", "none", "-no-reboot", "-serial", f"file:{self._tmp / 'console.log'}",
            "-kernel", str(files["kernel"]), "-initrd", str(files["initrd"]),
            "-append", "root=/dev/vda rw console=ttyAMA0 panic=-1 quiet",
            "-drive", f"file={files['image']},if=none,id=disk,format=qcow2,snapshot=on",
            "-device", "virtio-blk-pci,drive=disk",
            "-netdev", f"user,id=net,hostfwd=tcp:127.0.0.1:{port}-:22",
            # romfile=: no PXE option ROM (Debian ships it in ipxe-qemu, a mere recommend)
            "-device", "virtio-net-pci,netdev=net,romfile=", "-device", "virtio-rng-pci",
            "-qmp", f"unix:{self._tmp / 'qmp.sock'},server=on,wait=off",
        ]
        if self.icount_shift is not None:
            argv += ["-icount", f"shift={self.icount_shift}"]
        return argv

    def _ssh_options(self, files: dict[str, Path], boot: Deadline) -> dict[str, Any]:
        options: dict[str, Any] = {
            "key_file": str(files["key"]), "host_key": files["host_key"].read_text().strip(),
            "python": "python3", "workdir": "/tmp/edge-harness", "connect_timeout": 30.0,
            "boot_wait": boot.remaining or self.boot_timeout,
        }
        options.update(self.ssh_overrides)
        return options

    def _wait_for_sshd(self, port: int, deadline: Deadline) -> None:
        """Until the guest's sshd sends its banner; fails fast if QEMU exits."""
        assert self._process is not None
        while not deadline.expired:
            if self._process.poll() is not None:
                raise InfrastructureError(f"{self.url}: QEMU exited with {self._process.returncode}: "
                                          f"{self._tail('qemu.log') or self._tail('console.log')}")
            if _banner(port):
                return
            time.sleep(0.5)
        raise InfrastructureError(f"{self.url}: no SSH within {self.boot_timeout:g} s of boot; "
                                  f"console: {self._tail('console.log')}")

    def _tail(self, name: str) -> str:
        try:
            lines = (self._tmp / name).read_text(errors="replace").strip().splitlines() if self._tmp else []
        except OSError:
            return ""
        return " | ".join(lines[-3:])


def _banner(port: int) -> bool:
    # User networking accepts the TCP connection even before the guest listens; only a
    # banner says sshd is up.
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2.0) as sock:
            sock.settimeout(3.0)
            return sock.recv(4) == b"SSH-"
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
