"""Power meters, addressed by URL from a device profile's `power.meter`.

    joulescope://[serial]?trigger=gpi0          Joulescope JS110/JS220 (`joulescope` package)
    ppk2:///dev/ttyACM0?voltage=3300&trigger=d0 Nordic PPK2 in source-meter mode (`ppk2-api`)
    lpm01a:///dev/ttyACM0?voltage=3300&trigger=d7  STM32 LPM01A (PowerShield), ASCII protocol
    ina:///dev/ttyACM0?trigger=1                an INA219/INA226 bridge (firmware/ina-bridge)
    hwmon://CHIP[/CHANNEL]                      Linux hwmon sensors on the board (INA3221, PMIC)
    rapl://[ZONE]                               Intel RAPL energy counters of the measured machine
    sim://?current_ma=10&voltage=3.3            a simulated meter (harness.testing.fakes)

Implementations register with `@register(scheme)`; a module (and the vendor package it needs)
is imported only when a URL asks for it. Meters know nothing of profiles, the store or reports.
"""

from __future__ import annotations

import importlib
from typing import Any
from urllib.parse import urlsplit

from harness.errors import ConfigError
from harness.power.base import MeterError, MeterUnavailable, PowerMeter, Samples
from harness.registry import Registry

__all__ = ["MeterError", "MeterUnavailable", "PowerMeter", "Samples", "open_meter", "register", "SCHEMES",
           "ON_THE_BOARD"]

_REGISTRY: Registry[PowerMeter] = Registry("power meter", {
    "joulescope": "harness.power.joulescope_meter",
    "ppk2": "harness.power.ppk2_meter",
    "lpm01a": "harness.power.lpm01a",
    "ina": "harness.power.ina_bridge",
    "hwmon": "harness.power.hwmon",
    "rapl": "harness.power.rapl",
    "sim": "harness.testing.fakes",
})
SCHEMES = _REGISTRY.schemes
# Meters that read counters in the measured machine's own /sys: on a board, through its command
# transport (the orchestration passes `run`), so the board must be one that runs commands.
ON_THE_BOARD = ("hwmon", "rapl")
register = _REGISTRY.register


def check_url(url: str) -> None:
    """The settings a meter URL asks for, checked without touching the meter (at profile load):
    a meter module may define `check_url(url)`, raising ConfigError for what its device refuses."""
    import importlib

    module = _REGISTRY.modules.get(urlsplit(url).scheme)
    if module is None:
        return
    check = getattr(importlib.import_module(module.partition(":")[0]), "check_url", None)
    if check is not None:
        check(url)


def open_meter(url: str, **options: Any) -> PowerMeter:
    """The meter for `url`, not yet opened (call `.open(deadline)`)."""
    return _REGISTRY.create(url, **options)


def vendor_module(name: str, extra: str = "power") -> Any:
    """Import a meter's vendor package, or say clearly how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ConfigError(f"the {name!r} package is needed for this power meter and is not "
                          f"installed ({exc}); pip install 'edge-harness[{extra}]'") from None
