"""qemu://MACHINE — an emulated board; the machine name picks the kind of board.

    qemu://aarch64-virt            Linux under qemu-system-aarch64, reached over SSH  (qemu_linux)
    qemu://mps2-an385, mps3-an547  Cortex-M firmware under qemu-system-arm, UART socket (qemu_mcu)
    qemu://mps2-an386, mps2-an500  the same MPS2 board with a Cortex-M4 / Cortex-M7 (cycle tables)
"""

from __future__ import annotations

import importlib
from typing import Any
from urllib.parse import urlsplit

from harness.errors import ConfigError
from harness.transports import register
from harness.transports.base import Transport

MACHINES = {
    "aarch64-virt": ("harness.transports.qemu_linux", "QemuLinuxTransport"),
    "mps2-an385": ("harness.transports.qemu_mcu", "QemuMcuTransport"),
    "mps2-an386": ("harness.transports.qemu_mcu", "QemuMcuTransport"),
    "mps2-an500": ("harness.transports.qemu_mcu", "QemuMcuTransport"),
    "mps3-an547": ("harness.transports.qemu_mcu", "QemuMcuTransport"),
}


@register("qemu")
def open_qemu(url: str, **options: Any) -> Transport:
    machine = urlsplit(url).netloc
    if machine not in MACHINES:
        raise ConfigError(f"unknown QEMU machine {machine!r} in {url!r}; known: {', '.join(MACHINES)}")
    module, name = MACHINES[machine]
    return getattr(importlib.import_module(module), name)(url, **options)
