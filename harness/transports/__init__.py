"""Transports: how bytes and commands reach a board, addressed by URL (pyserial's idea).

    local://                       this machine                          CommandTransport
    ssh://user@host:port           a Linux board over SSH                CommandTransport
    qemu://aarch64-virt            an emulated Linux board, over SSH     CommandTransport
    serial:///dev/ttyUSB0?baud=N   a microcontroller on a UART           StreamTransport
    socket://host:port, rfc2217:// the same behind ser2net               StreamTransport
    qemu://mps2-an385              an emulated Cortex-M board's UART     StreamTransport

Implementations register with `@register(scheme)`; modules are imported only when a URL
needs them, so `harness --help` never loads paramiko or pyserial. Transports know nothing of
profiles, suites, the store or reports: they take a URL and plain options.
"""

from __future__ import annotations

from typing import Any

from harness.registry import Registry
from harness.transports.base import CommandResult, CommandTransport, StreamTransport, Transport

__all__ = ["CommandResult", "CommandTransport", "StreamTransport", "Transport", "open_transport", "register",
           "SCHEMES", "runs_commands"]

_REGISTRY: Registry[Transport] = Registry("transport", {
    "local": "harness.transports.local",
    "ssh": "harness.transports.ssh",
    "serial": "harness.transports.serial",
    "socket": "harness.transports.serial",
    "rfc2217": "harness.transports.serial",
    "qemu": "harness.transports.qemu",
})
register = _REGISTRY.register
SCHEMES = _REGISTRY.schemes


def open_transport(url: str, **options: Any) -> Transport:
    """The transport for `url`, not yet connected (call `.open(deadline)`)."""
    return _REGISTRY.create(url, **options)


def runs_commands(url: str) -> bool:
    """Whether `url` reaches a machine that runs commands (a CommandTransport), without opening it."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "qemu":
        from harness.transports.qemu import MACHINES

        return MACHINES.get(parts.netloc, ("",))[0].endswith("qemu_linux")
    return parts.scheme in ("local", "ssh")
