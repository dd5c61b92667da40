"""Quantities with units in config files: '4 GiB', '50 MB', '4 TOPS', '200 ms', '2.5 W'.

A bare number is taken in the base unit (bytes, TOPS, seconds, watts). A unit from the wrong
dimension ('8 GHz' for a memory size) is an error, never silently reinterpreted. Unit symbols
are case-sensitive, as SI's are: '2 MW' is not '2 mW' (a wrong case is an error that names the
right symbol). Every quantity is finite; sizes and rates are positive (`Positive...` types).
"""

from __future__ import annotations

import math
import re
from typing import Annotated

import pydantic

_BYTES = {
    "B": 1, "byte": 1, "bytes": 1,
    "kB": 10**3, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
}
_OPS = {"TOPS": 1.0, "GOPS": 1e-3, "MOPS": 1e-6}
_SECONDS = {"s": 1.0, "sec": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "min": 60.0, "h": 3600.0}
_WATTS = {"W": 1.0, "mW": 1e-3, "uW": 1e-6, "µW": 1e-6}
_CHARGE_MAH = {"mAh": 1.0, "Ah": 1000.0}
_VOLTS = {"V": 1.0, "mV": 1e-3}
_FRACTION = {"%": 0.01}  # a bare number is the fraction itself: 0.05 == '5 %'

_QUANTITY = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*([A-Za-zµ]+|%)?\s*$")


def _unit_factor(units: dict[str, float], unit: str, dimension: str) -> float:
    if unit in units:
        return units[unit]
    same = [u for u in units if u.lower() == unit.lower()]
    hint = f"; did you mean {same[0]!r}? (unit symbols are case-sensitive)" if same else ""
    raise ValueError(f"wrong unit {unit!r} for a {dimension}{hint}; use one of {', '.join(units)}")


def _parser(units: dict[str, float], dimension: str, integer: bool = False, positive: bool = False):
    def parse(value: object) -> float | int:
        if isinstance(value, bool):
            raise ValueError(f"expected a {dimension}, got a boolean")
        if isinstance(value, (int, float)):
            number = value
        elif isinstance(value, str):
            match = _QUANTITY.match(value)
            if not match:
                raise ValueError(f"expected a {dimension} like '{_example(units)}', got {value!r}")
            unit = match.group(2)
            number = float(match.group(1)) * (_unit_factor(units, unit, dimension) if unit else 1)
        else:
            raise ValueError(f"expected a {dimension}, got {type(value).__name__}")
        if not math.isfinite(number):
            raise ValueError(f"a {dimension} must be a finite number, got {value!r}")
        if number < 0:
            raise ValueError(f"a {dimension} cannot be negative")
        if positive and number == 0:
            raise ValueError(f"a {dimension} must be greater than 0")
        return int(round(number)) if integer else float(number)

    return parse


def _example(units: dict[str, float]) -> str:
    return {id(_BYTES): "4 GiB", id(_OPS): "4 TOPS", id(_SECONDS): "200 ms",
            id(_WATTS): "2.5 W", id(_CHARGE_MAH): "300 mAh", id(_VOLTS): "3.7 V",
            id(_FRACTION): "5 %"}[id(units)]


def _accepts(units: dict[str, float], number: str) -> pydantic.WithJsonSchema:
    """What editors are told (harness schema): a bare number in the base unit, or one with a unit."""
    return pydantic.WithJsonSchema({"anyOf": [
        {"type": number}, {"type": "string", "pattern": _QUANTITY.pattern,
                           "description": f"with a unit, e.g. '{_example(units)}'"}]})


# Sizes, rates, powers, charges and voltages are positive; a duration may be 0 (no warm-up),
# a timeout may not (PositiveSeconds).
Bytes = Annotated[int, pydantic.BeforeValidator(_parser(_BYTES, "size in bytes", integer=True, positive=True)),
                  _accepts(_BYTES, "integer")]
Tops = Annotated[float, pydantic.BeforeValidator(_parser(_OPS, "compute rate in TOPS", positive=True)),
                 _accepts(_OPS, "number")]
Seconds = Annotated[float, pydantic.BeforeValidator(_parser(_SECONDS, "duration")), _accepts(_SECONDS, "number")]
PositiveSeconds = Annotated[float, pydantic.BeforeValidator(_parser(_SECONDS, "duration", positive=True)),
                            _accepts(_SECONDS, "number")]
Watts = Annotated[float, pydantic.BeforeValidator(_parser(_WATTS, "power", positive=True)), _accepts(_WATTS, "number")]
MilliampHours = Annotated[float, pydantic.BeforeValidator(_parser(_CHARGE_MAH, "battery capacity", positive=True)),
                          _accepts(_CHARGE_MAH, "number")]
Volts = Annotated[float, pydantic.BeforeValidator(_parser(_VOLTS, "voltage", positive=True)), _accepts(_VOLTS, "number")]


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
Fraction = Annotated[float, pydantic.BeforeValidator(_parser(_FRACTION, "fraction")), pydantic.Field(le=1),
                     _accepts(_FRACTION, "number")]
