"""ssh://user@host:port — a Linux board (Raspberry Pi, Coral, Jetson) over SSH, with paramiko.

Host keys are verified (ssh_keys). Login with a key file or the SSH agent; a password only from
the environment variable the profile names. While a board boots, connecting is retried with
backoff. Every remote command is quoted with shlex. A dropped connection is an
InfrastructureError and the next call reconnects, so the session's retry finishes the case.

Files are staged into a content-addressed cache on the board (`WORKDIR/cache/SHA256/NAME`,
uploaded only when that sha256 is not there yet; see `_has`) and linked into a per-run
directory (`WORKDIR/run-ID/`) that `close()` removes; the cache stays for the next night's run.
"""

from __future__ import annotations

import dataclasses
import getpass
import hashlib
import logging
import os
import posixpath
import secrets
import select
import shlex
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paramiko

from harness.deadline import Deadline
from harness.errors import ConfigError, DeviceTimeout, HarnessError, InfrastructureError
from harness.masking import register as register_secret
from harness.transports import register, ssh_keys
from harness.transports.base import CommandResult, CommandTransport

log = logging.getLogger(__name__)
_CHUNK = 65536


@dataclasses.dataclass(frozen=True)
class SshSettings:
    """The `ssh:` options of a profile, as plain values (transports never see a profile)."""

    key_file: str | None = None
    known_hosts: str | None = None
    host_key: str | None = None
    accept_unknown_host_key: bool = False
    password_env: str | None = None
    python: str = "python3"
    workdir: str = "/tmp/edge-harness"
    connect_timeout: float = 10.0  # one attempt: TCP connect, banner, key exchange, login
    command_timeout: float = 600.0
    boot_wait: float = 60.0  # how long to keep retrying while the board boots

    @classmethod
    def from_options(cls, options: dict[str, Any] | None) -> "SshSettings":
        options = dict(options or {})
        unknown = set(options) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown ssh option(s): {', '.join(sorted(unknown))}")
        return cls(**options)


@register("ssh")
class SshTransport(CommandTransport):
    def __init__(self, url: str, ssh: dict[str, Any] | None = None, **_other: Any) -> None:
        parts = urlsplit(url)
        if not parts.hostname:
            raise ConfigError(f"{url!r}: an ssh:// URL needs a host, e.g. ssh://pi@rpi4.lab:22")
        self.url = url
        self.host = parts.hostname
        self.port = parts.port or 22
        self.user = parts.username or getpass.getuser()
        self.settings = SshSettings.from_options(ssh)
        key_file = self.settings.key_file
        if key_file and not Path(key_file).expanduser().is_file():
            raise ConfigError(f"{url}: ssh.key_file {key_file}: no such file")
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._run_dir = posixpath.join(self.settings.workdir, f"run-{secrets.token_hex(6)}")
        self._prepared = False
        self._staged: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> remote path
        self.uploaded_bytes = 0  # for benchmarks/ssh_overhead.py: what the sha256 skip saved

    # ------------------------------------------------------------ connection

    @property
    def python(self) -> str:
        return self.settings.python

    def open(self, deadline: Deadline) -> None:
        self._connect(deadline)
        self._prepare(deadline)

    def close(self) -> None:
        if self._prepared:  # best effort, reconnecting once if the link dropped; the cache stays
            self._prepared = False
            self._staged.clear()  # its links go with the run dir: a reopen (recovery) links again
            try:
                self.run(["rm", "-rf", "--", self._run_dir], deadline=Deadline(10.0))
            except HarnessError as exc:
                log.warning("%s: could not remove %s: %s", self.url, self._run_dir, exc)
        self._disconnect()

    def _connected(self) -> bool:
        transport = self._client.get_transport() if self._client else None
        return bool(transport and transport.is_active())

    def _disconnect(self) -> None:
        for thing in (self._sftp, self._client):
            if thing is not None:
                try:
                    thing.close()
                except (OSError, EOFError, paramiko.SSHException):
                    pass
        self._sftp = self._client = None

    def _connect(self, deadline: Deadline) -> None:
        """Connect, retrying with backoff while the board is still booting."""
        window = deadline.sub(self.settings.boot_wait)
        delay, attempts, started = 0.5, 0, time.monotonic()
        while True:
            attempts += 1
            try:
                self._client = self._connect_once(window)
                return
            except InfrastructureError as exc:
                last = exc
            remaining = window.remaining
            if remaining is not None and remaining < 0.05:
                raise InfrastructureError(
                    f"{last} (gave up after {attempts} attempt(s) in {time.monotonic() - started:.1f} s)")
            log.info("%s: not answering yet (%s); retrying in %.1f s", self.url, last, delay)
            time.sleep(min(delay, remaining) if remaining is not None else delay)
            delay = min(delay * 2, 5.0)

    def _connect_once(self, deadline: Deadline) -> paramiko.SSHClient:
        s = self.settings
        client = paramiko.SSHClient()
        known = ssh_keys.configure(client, self.url, self.host, self.port, known_hosts=s.known_hosts,
                                   host_key=s.host_key, accept_unknown=s.accept_unknown_host_key)
        timeout = deadline.timeout(s.connect_timeout) or s.connect_timeout
        try:
            client.connect(self.host, self.port, self.user, password=self._password(),
                           key_filename=str(Path(s.key_file).expanduser()) if s.key_file else None,
                           allow_agent=True, look_for_keys=s.key_file is None, timeout=timeout,
                           banner_timeout=timeout, auth_timeout=timeout, channel_timeout=timeout)
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise ssh_keys.changed_key_error(self.url, exc, known,
                                             ssh_keys.host_entry(self.host, self.port)) from None
        except paramiko.AuthenticationException as exc:
            client.close()
            how = f"key {s.key_file}" if s.key_file else "the SSH agent and ~/.ssh default keys"
            raise ConfigError(f"{self.url}: login as {self.user!r} refused ({exc}); tried {how}. "
                              f"Add the public key to ~{self.user}/.ssh/authorized_keys on the board "
                              "or set ssh.key_file") from None
        except ConfigError:
            client.close()
            raise
        except socket.gaierror as exc:
            client.close()
            raise InfrastructureError(f"{self.url}: cannot resolve host {self.host!r}: {exc.strerror}") from None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            client.close()
            raise InfrastructureError(f"{self.url}: cannot connect: {_describe(exc)}") from None
        transport = client.get_transport()
        if transport is not None:
            transport.set_keepalive(15)
        return client

    def _password(self) -> str | None:
        name = self.settings.password_env
        if name is None:
            return None
        if name not in os.environ:
            raise ConfigError(f"{self.url}: ssh.password_env names ${name}, which is not set")
        register_secret(os.environ[name])  # never shown in a log line, reason or report
        return os.environ[name]

    def _ensure(self, deadline: Deadline) -> paramiko.SSHClient:
        """The live client; reconnects after a dropped connection."""
        if not self._connected():
            if self._client is not None:
                log.warning("%s: connection lost; reconnecting", self.url)
            self._disconnect()
            self._connect(deadline)
        assert self._client is not None
        return self._client

    def _prepare(self, deadline: Deadline) -> None:
        done = self.run(["mkdir", "-p", "--", self._run_dir, self._cache_dir()], deadline=deadline)
        if done.returncode != 0:
            raise InfrastructureError(f"{self.url}: cannot create {self.settings.workdir}: "
                                      f"{done.stderr.decode(errors='replace').strip()}")
        self._prepared = True

    def _cache_dir(self) -> str:
        return posixpath.join(self.settings.workdir, "cache")

    # ------------------------------------------------------------ commands

    def run(self, argv: list[str], *, stdin: bytes = b"", deadline: Deadline) -> CommandResult:
        deadline.check(f"{self.url}: before running {argv[0]}")
        client = self._ensure(deadline)
        # Through sh, so a command killed by a signal reports 128+N (paramiko drops exit-signal).
        command = shlex.join(["sh", "-c", '"$@"; exit $?', "sh", *argv])
        limit = deadline.sub(self.settings.command_timeout)
        try:
            channel = client.get_transport().open_session(timeout=limit.timeout(self.settings.connect_timeout))
            channel.exec_command(command)
            if stdin:
                channel.sendall(stdin)
            channel.shutdown_write()
            return self._collect(channel, argv, limit)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self._disconnect()
            raise InfrastructureError(f"{self.url}: connection lost running {argv[0]}: {_describe(exc)}") from None

    def _collect(self, channel: paramiko.Channel, argv: list[str], limit: Deadline) -> CommandResult:
        out, err = bytearray(), bytearray()
        try:
            while True:
                wait = limit.timeout(1.0)
                if wait is not None and wait <= 0:
                    raise DeviceTimeout(f"{self.url}: {argv[0]} did not finish within {limit.seconds:.3g} s")
                select.select([channel], [], [], wait)
                # EOF first: everything sent before it is buffered by now, so draining after
                # sees all of it. sshd may send exit-status before the output is drained.
                ended = channel.eof_received or channel.closed
                while channel.recv_ready():
                    out += channel.recv(_CHUNK)
                while channel.recv_stderr_ready():
                    err += channel.recv_stderr(_CHUNK)
                if ended and channel.exit_status_ready() and channel.exit_status != -1:
                    return CommandResult(channel.exit_status, bytes(out), bytes(err))
                # Closed without an exit status: the connection died. (Exit status, EOF and close
                # may all arrive after `ended` was read: then the next turn returns the result.)
                if channel.closed and not (channel.exit_status_ready() and channel.exit_status != -1):
                    self._disconnect()
                    raise InfrastructureError(f"{self.url}: connection dropped while {argv[0]} ran")
        finally:
            channel.close()  # on a timeout this also hangs up on the remote command

    # ------------------------------------------------------------ files

    def stage(self, local: Path, deadline: Deadline) -> str:
        """Upload unless the board's cache already holds this sha256; link it into the run dir."""
        info = local.stat()
        memo = (str(local.resolve()), info.st_size, info.st_mtime_ns)
        if memo in self._staged:
            return self._staged[memo]
        digest = _sha256(local)
        cached = posixpath.join(self._cache_dir(), digest, local.name)
        if not self._has(cached, digest, info.st_size, deadline):
            self._upload(local, cached, deadline)
        link = posixpath.join(self._run_dir, f"{digest[:16]}-{local.name}")
        self._sftp_call(deadline, "link", lambda sftp: _replace_link(sftp, cached, link))
        self._staged[memo] = link
        return link

    def _has(self, remote: str, digest: str, size: int, deadline: Deadline) -> bool:
        """Whether the board's cached file has this sha256. rsync's quick check first: a file
        whose size and mtime are the stamp the harness set when it last verified it is trusted
        without a command; any other file is hashed on the board (and re-stamped if it matches)."""
        try:
            stat = self._sftp_call(deadline, "stat", lambda sftp: sftp.stat(remote))
        except FileNotFoundError:
            return False
        if stat.st_size != size:
            return False
        if stat.st_mtime == _stamp(digest):
            return True
        done = self.run(["sha256sum", "--", remote], deadline=deadline)
        if done.returncode != 0 or done.stdout.split()[:1] != [digest.encode()]:
            return False
        self._sftp_call(deadline, "stamp", lambda sftp: sftp.utime(remote, (_stamp(digest),) * 2))
        return True

    def _upload(self, local: Path, remote: str, deadline: Deadline) -> None:
        def put(sftp: paramiko.SFTPClient) -> None:
            _mkdir(sftp, posixpath.dirname(remote))
            partial = f"{remote}.part"
            sftp.put(str(local), partial)  # SSH's MAC guards the bytes in transit
            sftp.utime(partial, (_stamp(posixpath.basename(posixpath.dirname(remote))),) * 2)
            sftp.posix_rename(partial, remote)  # complete or absent, never half there

        self._sftp_call(deadline, f"upload {local.name}", put)
        self.uploaded_bytes += local.stat().st_size

    def _sftp_call(self, deadline: Deadline, what: str, fn: Any) -> Any:
        deadline.check(f"{self.url}: before sftp {what}")
        client = self._ensure(deadline)
        try:
            if self._sftp is None:
                self._sftp = client.open_sftp()
            self._sftp.get_channel().settimeout(deadline.timeout(self.settings.command_timeout))
            return fn(self._sftp)
        except FileNotFoundError:
            raise  # an answer, not a fault: the caller asked whether a file exists
        except socket.timeout:
            self._disconnect()
            raise DeviceTimeout(f"{self.url}: sftp {what} did not finish within the deadline") from None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self._disconnect()
            raise InfrastructureError(f"{self.url}: sftp {what} failed: {_describe(exc)}") from None


def _stamp(digest: str) -> int:
    """The mtime the harness gives a verified cache file: from its sha256, in 1970-1978, so a
    later write on the board (which sets the current time) never passes the quick check."""
    return int(digest[:7], 16)


def _replace_link(sftp: paramiko.SFTPClient, target: str, link: str) -> None:
    try:
        sftp.remove(link)
    except FileNotFoundError:
        pass
    sftp.symlink(target, link)


def _mkdir(sftp: paramiko.SFTPClient, path: str) -> None:
    try:
        sftp.mkdir(path)
    except OSError:
        sftp.stat(path)  # already there is fine; anything else raises


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
        return "; ".join(f"{addr[0]}:{addr[1]}: {err.strerror or err}" for addr, err in exc.errors.items())
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
