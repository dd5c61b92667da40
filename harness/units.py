"""Quantities with units in config files: '4 GiB', '50 MB', '4 TOPS', '200 ms', '2.5 W'.

A bare number is taken in the base unit (bytes, TOPS, seconds, watts). A unit from the wrong
dimension ('8 GHz' for a memory size) is an error, never silently reinterpreted.
"""

from __future__ import annotations

import re
from typing import Annotated

import pydantic

_BYTES = {
    "b": 1, "byte": 1, "bytes": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}
_OPS = {"tops": 1.0, "gops": 1e-3, "mops": 1e-6}
_SECONDS = {"s": 1.0, "sec": 1.0, "ms": 1e-3, "us": 1e-6, "min": 60.0, "h": 3600.0}
_WATTS = {"w": 1.0, "mw": 1e-3, "uw": 1e-6}
_CHARGE_MAH = {"mah": 1.0, "ah": 1000.0}
_VOLTS = {"v": 1.0, "mv": 1e-3}

_QUANTITY = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*([A-Za-z]+)?\s*$")


def _parser(units: dict[str, float], dimension: str, integer: bool = False):
    def parse(value: object) -> float | int:
        if isinstance(value, bool):
            raise ValueError(f"expected a {dimension}, got a boolean")
        if isinstance(value, (int, float)):
            number = value
        elif isinstance(value, str):
            match = _QUANTITY.match(value)
            if not match:
                raise ValueError(f"expected a {dimension} like '{_example(units)}', got {value!r}")
            unit = (match.group(2) or "").lower()
            if unit and unit not in units:
                raise ValueError(
                    f"wrong unit {match.group(2)!r} for a {dimension}; use one of "
                    f"{', '.join(sorted(units))}"
                )
            number = float(match.group(1)) * (units[unit] if unit else 1)
        else:
            raise ValueError(f"expected a {dimension}, got {type(value).__name__}")
        if number < 0:
            raise ValueError(f"a {dimension} cannot be negative")
        return int(round(number)) if integer else float(number)

    return parse


def _example(units: dict[str, float]) -> str:
    return {id(_BYTES): "4 GiB", id(_OPS): "4 TOPS", id(_SECONDS): "200 ms",
            id(_WATTS): "2.5 W", id(_CHARGE_MAH): "300 mAh", id(_VOLTS): "3.7 V"}[id(units)]


def _accepts(units: dict[str, float], number: str) -> pydantic.WithJsonSchema:
    """What editors are told (harness schema): a bare number in the base unit, or one with a unit."""
    return pydantic.WithJsonSchema({"anyOf": [
        {"type": number}, {"type": "string", "pattern": _QUANTITY.pattern,
                           "description": f"with a unit, e.g. '{_example(units)}'"}]})


Bytes = Annotated[int, pydantic.BeforeValidator(_parser(_BYTES, "size in bytes", integer=True)),
                  _accepts(_BYTES, "integer")]
Tops = Annotated[float, pydantic.BeforeValidator(_parser(_OPS, "compute rate in TOPS")), _accepts(_OPS, "number")]
Seconds = Annotated[float, pydantic.BeforeValidator(_parser(_SECONDS, "duration")), _accepts(_SECONDS, "number")]
Watts = Annotated[float, pydantic.BeforeValidator(_parser(_WATTS, "power")), _accepts(_WATTS, "number")]
MilliampHours = Annotated[float, pydantic.BeforeValidator(_parser(_CHARGE_MAH, "battery capacity")),
                          _accepts(_CHARGE_MAH, "number")]
Volts = Annotated[float, pydantic.BeforeValidator(_parser(_VOLTS, "voltage")), _accepts(_VOLTS, "number")]


def human_bytes(n: int | float | None) -> str:
    """Sizes declared in decimal units ('50 MB') print as such; others in binary units."""
    if n is None:
        return "—"
    for unit, size in (("GB", 10**9), ("MB", 10**6)):
        if n >= size and n % (size // 100) == 0:
            return f"{n / size:g} {unit}"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}".replace(".0 ", " ")
    return f"{int(n)} B"
