"""SSH host key verification: the harness's own known_hosts, or a key pinned in the profile.

An unknown key is refused (ConfigError) with its SHA256 fingerprint and the line that trusts it;
a changed key is refused louder. `accept_unknown_host_key` is the only way past an unknown key,
and it is logged every time. A changed key is never accepted.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from pathlib import Path

import paramiko

from harness.errors import ConfigError

log = logging.getLogger(__name__)


def default_known_hosts() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "edge-harness" / "known_hosts"


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's SHA256 fingerprint, as `ssh-keygen -lf` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def host_entry(host: str, port: int) -> str:
    """The name known_hosts files it under: `host`, or `[host]:port` off port 22."""
    return host if port == 22 else f"[{host}]:{port}"


def parse_pinned(text: str) -> paramiko.PKey:
    """A pinned key 'ssh-ed25519 AAAA... [comment]' (a .pub file's line)."""
    parts = text.split()
    if len(parts) < 2:
        raise ConfigError(f"ssh.host_key {text!r}: expected 'TYPE BASE64', e.g. 'ssh-ed25519 AAAA...'")
    try:
        return paramiko.PKey.from_type_string(parts[0], base64.b64decode(parts[1]))
    except (ValueError, paramiko.SSHException, TypeError) as exc:
        raise ConfigError(f"ssh.host_key {parts[0]} {parts[1][:16]}...: not a public key: {exc}") from None


def offered_key(host: str, port: int, timeout: float) -> paramiko.PKey | None:
    """The key the host offers (a key exchange, no login); None when it does not answer."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            transport = paramiko.Transport(sock)
            try:
                transport.banner_timeout = transport.handshake_timeout = timeout
                transport.start_client(timeout=timeout)
                return transport.get_remote_server_key()
            finally:
                transport.close()
    except (OSError, EOFError, paramiko.SSHException):
        return None


class _RefuseUnknown(paramiko.MissingHostKeyPolicy):
    def __init__(self, url: str, known_hosts: Path, port: int) -> None:
        self.url, self.known_hosts, self.port = url, known_hosts, port

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise unknown_key_error(self.url, self.known_hosts, hostname, key)


def unknown_key_error(url: str, known_hosts: Path, hostname: str, key: paramiko.PKey) -> ConfigError:
    line = f"{hostname} {key.get_name()} {key.get_base64()}"
    return ConfigError(
        f"{url}: unknown host key {key.get_name()} {fingerprint(key)}; compare it with "
        f"`ssh-keygen -lf /etc/ssh/ssh_host_{_short_type(key)}_key.pub` on the board, then trust it: "
        f"mkdir -p {known_hosts.parent} && echo '{line}' >> {known_hosts}  "
        "(or pin it as ssh.host_key in the profile)")


class _AcceptUnknown(paramiko.MissingHostKeyPolicy):
    def __init__(self, url: str) -> None:
        self.url = url

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        log.warning("%s: accepting unknown host key %s %s because the profile sets "
                    "ssh.accept_unknown_host_key: true (not verified)", self.url, key.get_name(),
                    fingerprint(key))


def _short_type(key: paramiko.PKey) -> str:
    name = key.get_name()
    return {"ssh-ed25519": "ed25519", "ssh-rsa": "rsa"}.get(name, "ecdsa" if "ecdsa" in name else "*")


def configure(client: paramiko.SSHClient, url: str, host: str, port: int, *,
              known_hosts: str | None, host_key: str | None, accept_unknown: bool) -> Path:
    """Load the keys this client trusts and set its policy; returns the known_hosts path used."""
    path = Path(known_hosts).expanduser() if known_hosts else default_known_hosts()
    if path.is_file():
        try:
            client.load_host_keys(str(path))
        except (OSError, paramiko.SSHException) as exc:
            raise ConfigError(f"{path}: cannot read known_hosts: {exc}") from None
    elif known_hosts:
        raise ConfigError(f"ssh.known_hosts {path}: no such file")
    if host_key:
        key = parse_pinned(host_key)
        client.get_host_keys().add(host_entry(host, port), key.get_name(), key)
    if accept_unknown:
        log.warning("%s: host key verification is relaxed for unknown keys "
                    "(ssh.accept_unknown_host_key: true)", url)
        client.set_missing_host_key_policy(_AcceptUnknown(url))
    else:
        client.set_missing_host_key_policy(_RefuseUnknown(url, path, port))
    return path


def changed_key_error(url: str, exc: paramiko.BadHostKeyException, known_hosts: Path,
                      entry: str) -> ConfigError:
    return ConfigError(
        f"{url}: HOST KEY CHANGED: the board offered {exc.key.get_name()} {fingerprint(exc.key)} but "
        f"{exc.expected_key.get_name()} {fingerprint(exc.expected_key)} is trusted (in {known_hosts} or "
        f"ssh.host_key). Someone may be intercepting the connection, or the board was reinstalled; "
        f"if so, remove the old key with `ssh-keygen -R '{entry}' -f {known_hosts}` (or update "
        f"ssh.host_key) and trust the new one")
