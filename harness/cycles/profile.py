"""The device profile's `cycles:` section: what the cycle model needs to know of the core."""

from __future__ import annotations

from typing import Literal

import pydantic

from harness.config.configfile import StrictModel


class CycleSection(StrictModel):
    """`cycles:` in a device profile. On an emulated board (qemu://mps2-*) it turns on the
    cycle-estimating plugin; on a real board of the same core it names what calibrates it."""

    core: Literal["cortex-m3", "cortex-m4", "cortex-m7"]
    clock_mhz: float = pydantic.Field(gt=0)  # estimated_latency_us = cycles / clock_mhz
    flash_wait_states: int = pydantic.Field(default=0, ge=0)  # per fetch / literal load from flash
    flash_region: tuple[int, int] = (0x00000000, 0x00400000)  # [start, end) of code flash
    branches: Literal["assumed", "exact"] = "assumed"  # exact: taken/not-taken counted (20-40 % slower)
    # a real board whose firmware times inference with the DWT cycle counter at clock_mhz: its
    # latency x clock are measured cycles, stored against the emulated estimate (calibration)
    dwt_timer: bool = False
