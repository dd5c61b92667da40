"""Battery columns from the profile's battery: capacity (mAh), voltage, duty cycle.

The battery's voltage is `power.battery_voltage`, else `power.supply_voltage` (a board fed at
the battery's voltage); without a capacity or a voltage the columns stay NULL and
power_detail.battery says why. The formula is in harness/power/energy.py and docs/power.md.
"""

from __future__ import annotations

from typing import Any

from harness.power import energy
from harness.config.profiles import PowerSection


def battery_columns(power: PowerSection, active_w: float, idle_w: float | None,
                    detail: dict[str, Any]) -> dict[str, Any]:
    volts = power.battery_voltage or power.supply_voltage
    if power.battery_capacity is None or volts is None:
        detail["battery"] = "not computed: the profile sets no power.battery_capacity and battery_voltage"
        return {"battery_pct_per_hour": None, "battery_life_h": None}
    duty = power.duty_cycle
    average_w = energy.duty_cycle_power(active_w, idle_w, duty)
    detail["battery"] = {"capacity_mah": power.battery_capacity, "voltage_v": volts,
                         "duty_cycle": 1.0 if duty is None else duty, "average_power_mw": average_w * 1e3}
    if average_w <= 0:
        return {"battery_pct_per_hour": 0.0, "battery_life_h": None}
    return {"battery_pct_per_hour": energy.battery_pct_per_hour(average_w, power.battery_capacity, volts),
            "battery_life_h": energy.battery_life_h(average_w, power.battery_capacity, volts)}
