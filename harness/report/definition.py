"""A publication's definition (reports/*.yaml): what is scored, against what, with which weights.

    title: Edge inference benchmark 2026
    period: {from: 2026-01-01, to: 2026-12-31}
    suites: [quickstart]
    devices: [rpi5, coral-dev-board, esp32-s3]     # omit: every device with results
    reference: rpi5
    weights: {delay: 2, power: 1, precision: 1, volume: 1}
    thresholds: {latency_ms: 200, memory_fraction: 0.6, battery_pct_per_hour: 5}
    timezone: Europe/Berlin                         # the lab's; a leaderboard night is a date there
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pydantic

from harness.config import configfile
from harness.config.configfile import StrictModel
from harness.config.profiles import Thresholds

SEED_THRESHOLDS = Thresholds(latency_ms=200, memory_fraction=0.6, battery_pct_per_hour=5)


class Period(StrictModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start: dt.date = pydantic.Field(alias="from")
    end: dt.date | None = pydantic.Field(default=None, alias="to")  # None: up to today

    @pydantic.model_validator(mode="after")
    def _ordered(self) -> "Period":
        if self.end is not None and self.end < self.start:
            raise ValueError(f"'to' ({self.end}) is before 'from' ({self.start})")
        return self

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) in UTC, the end day included."""
        end = (self.end or dt.date.today()) + dt.timedelta(days=1)
        utc = dt.timezone.utc
        return (dt.datetime.combine(self.start, dt.time(), utc), dt.datetime.combine(end, dt.time(), utc))

    def label(self) -> str:
        return f"{self.start} – {self.end or 'today'}"


class Weights(StrictModel):
    delay: float = pydantic.Field(default=1.0, ge=0)
    power: float = pydantic.Field(default=1.0, ge=0)
    precision: float = pydantic.Field(default=1.0, ge=0)
    volume: float = pydantic.Field(default=1.0, ge=0)

    @pydantic.model_validator(mode="after")
    def _some_weight(self) -> "Weights":
        if not any(self.model_dump().values()):
            raise ValueError("every weight is 0; at least one dimension must count")
        return self


class Bootstrap(StrictModel):
    resamples: int = pydantic.Field(default=1000, ge=0, le=100_000)
    seed: int = 2026
    confidence: float = pydantic.Field(default=0.95, gt=0, lt=1)


class ReportDefinition(StrictModel):
    title: str = pydantic.Field(min_length=1)
    subtitle: str = ""
    publisher: str = "edge-harness lab"
    period: Period
    suites: list[str] = pydantic.Field(min_length=1)  # suite names as stored with each run
    devices: list[str] | None = None  # None: every device with results in the period
    reference: str  # the device whose results define 1.0 on every dimension
    weights: Weights = Weights()
    thresholds: Thresholds = SEED_THRESHOLDS
    bootstrap: Bootstrap = Bootstrap()
    timezone: str = "UTC"  # the lab's IANA time zone: the leaderboard's nights are calendar dates there

    @pydantic.field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin or UTC") from None
        return name

    @pydantic.model_validator(mode="after")
    def _reference_listed(self) -> "ReportDefinition":
        if self.devices is not None and self.reference not in self.devices:
            raise ValueError(f"reference {self.reference!r} is not among 'devices'")
        return self


def load_definition(path: Path) -> ReportDefinition:
    return configfile.load(path, ReportDefinition)
