"""Test fixtures with real parts: an OpenSSH sshd on 127.0.0.1 and a TCP proxy the test can cut.

The sshd runs as the current user with its own config, host key and authorized_keys in a temp
directory, so it touches nothing of the machine's ssh setup.
"""

from __future__ import annotations

import getpass
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import require_tool


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path, comment: str) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True)
    return path


@dataclass
class Sshd:
    port: int
    user: str
    user_key: Path  # private key authorized to log in
    host_key_pub: str  # "ssh-ed25519 AAAA... comment"
    directory: Path
    process: subprocess.Popen[bytes]
    owned: bool = False  # the directory is ours to remove

    @property
    def url(self) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}"

    def options(self, **overrides: object) -> dict[str, object]:
        """ssh options trusting this server's key through a pinned host key."""
        options: dict[str, object] = {"key_file": str(self.user_key), "host_key": self.host_key_pub,
                                      "python": os.environ.get("EDGE_HARNESS_TEST_PYTHON") or _python(),
                                      "workdir": str(self.directory / "board"),
                                      "known_hosts": None, "boot_wait": 5.0}
        options.update(overrides)
        return options

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.owned:
            shutil.rmtree(self.directory, ignore_errors=True)


def _python() -> str:
    import sys

    return sys.executable


def start_sshd(directory: Path | None = None, login_dir: Path | None = None) -> Sshd:
    """An sshd in `directory`, or in a private temp dir removed by `stop()` (not under pytest's
    basetemp, which a concurrent pytest run may rotate away while this server is in use).

    login_dir: every session (commands and sftp) starts there, as a board's login shell starts in
    its home: relative paths then name files that exist on the "board" side only."""
    sshd = require_tool("/usr/sbin/sshd", "sshd")
    require_tool("ssh-keygen")
    owned = directory is None
    directory = Path(tempfile.mkdtemp(prefix="edge-harness-sshd-")) if owned else directory
    directory.mkdir(parents=True, exist_ok=True)
    host_key = keygen(directory / "host_key", "test-sshd-host")
    user_key = keygen(directory / "user_key", "test-user")
    (directory / "authorized_keys").write_text(Path(f"{user_key}.pub").read_text())
    port = free_port()
    config = directory / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}",
        f"AuthorizedKeysFile {directory / 'authorized_keys'}", f"PidFile {directory / 'sshd.pid'}",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
        "StrictModes no", "PermitRootLogin prohibit-password", "UseDNS no",
        "Subsystem sftp internal-sftp", "LogLevel ERROR", *_login_dir_config(directory, login_dir), "",
    ]))
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
    process = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE)
    _wait_banner(port, process)
    return Sshd(port, getpass.getuser(), user_key, Path(f"{host_key}.pub").read_text().strip(),
                directory, process, owned)


def _login_dir_config(directory: Path, login_dir: Path | None) -> list[str]:
    if login_dir is None:
        return []
    sftp_server = require_tool("/usr/lib/openssh/sftp-server", "/usr/libexec/sftp-server", "/usr/lib/sftp-server")
    login = directory / "login.sh"
    login.write_text(f"""#!/bin/sh
cd {shlex.quote(str(login_dir))} || exit 1
case "$SSH_ORIGINAL_COMMAND" in
  internal-sftp|*sftp-server) exec {sftp_server} ;;
esac
exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"
""")
    login.chmod(0o755)
    return [f"ForceCommand {login}"]


def _wait_banner(port: int, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process.poll() is not None:
            pytest.fail(f"sshd exited: {process.stderr.read().decode(errors='replace') if process.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(64).startswith(b"SSH-"):
                    return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"sshd did not answer on 127.0.0.1:{port} within {timeout} s")


class TcpProxy:
    """127.0.0.1:port -> target; `cut()` drops every open connection, like a pulled cable."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self.connections += 1
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        with self._lock:
            for s in self._open:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self._open.clear()

    def close(self) -> None:
        self.listener.close()
        self.cut()
