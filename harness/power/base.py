"""The power-meter interface: open, record between start and stop, hand back samples.

Every meter returns `Samples` on the controller's monotonic clock (time.monotonic()), so the
inference windows a runner reports (on the same clock, or mapped onto it) select the samples
they cover. A meter with a trigger input also returns the edges it saw (`markers_s`): the
firmware's GPIO edges (MLPerf Tiny's D7 method), which align windows to one sample period.

Errors: MeterError (the meter failed while recording: dropped samples, stopped answering,
no trigger) is an InfrastructureError; MeterUnavailable (no such meter on this machine,
e.g. no RAPL) means power is simply not measured.
"""

from __future__ import annotations

import abc
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from harness.deadline import Deadline
from harness.errors import ConfigError, DeviceError, InfrastructureError


class MeterError(InfrastructureError):
    """The meter failed during a recording; the run's other results are kept."""


class MeterUnavailable(DeviceError):
    """This machine has no such meter (no /sys/class/powercap, no hwmon sensor)."""


@dataclass
class Samples:
    t_s: np.ndarray  # controller monotonic seconds
    current_a: np.ndarray
    voltage_v: np.ndarray
    markers_s: list[float] = field(default_factory=list)  # trigger edges, same clock
    sample_period_s: float | None = None  # nominal period; None for a polled meter
    anchor_error_s: float = 0.0  # uncertainty of mapping the meter's clock onto the controller's

    @property
    def power_w(self) -> np.ndarray:
        return self.current_a * self.voltage_v

    def __len__(self) -> int:
        return len(self.t_s)


class PowerMeter(abc.ABC):
    url: str
    supports_trigger: bool = False  # the meter has a GPIO/trigger input
    edge_convention: str = "change"  # which edges its markers are (harness/power/trigger.py)
    trigger: bool = False  # this URL asks for trigger edges (window alignment by GPIO)

    @abc.abstractmethod
    def open(self, deadline: Deadline) -> None:
        """Connect and configure; MeterUnavailable or MeterError."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the meter; safe to call twice."""

    @abc.abstractmethod
    def start(self, deadline: Deadline) -> None:
        """Begin a recording (returns once samples are flowing)."""

    @abc.abstractmethod
    def stop(self, deadline: Deadline) -> Samples:
        """End the recording; MeterError if it failed while recording."""


def url_options(url: str) -> tuple[str, str, dict[str, str]]:
    """(netloc, path, query options) of a meter URL."""
    parts = urlsplit(url)
    return parts.netloc, parts.path, dict(parse_qsl(parts.query))


def number(options: dict[str, str], key: str, default: float, url: str) -> float:
    try:
        return float(options.get(key, default))
    except ValueError:
        raise ConfigError(f"{url}: option {key}={options[key]!r} is not a number") from None


def trigger_flag(options: dict[str, str], supported: bool, url: str) -> bool:
    value = options.get("trigger")
    if value is None:
        return False
    if not supported:
        raise ConfigError(f"{url}: this meter has no trigger input")
    return value.lower() not in ("0", "no", "off", "false")


class Recorder:
    """A background thread that calls `poll()` until stopped, for meters that must be read
    continuously. Raises what poll raised, and a MeterError when no data arrived for
    `stall_s` (a meter that stopped answering)."""

    def __init__(self, name: str, poll: Callable[[], int], stall_s: float) -> None:
        self.name, self._poll, self.stall_s = name, poll, stall_s
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self.last_data = time.monotonic()

    def start(self) -> None:
        self._stop.clear()
        self._error = None
        self.last_data = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"meter-{self.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if self._poll():
                    self.last_data = time.monotonic()
                elif time.monotonic() - self.last_data > self.stall_s:
                    raise MeterError(f"meter failed: {self.name} stopped answering "
                                     f"(no sample for {self.stall_s:g} s)")
        except BaseException as exc:  # handed to the caller of stop()
            self._error = exc

    def stop(self, deadline: Deadline) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(deadline.timeout(5.0))
        if self._error is not None:
            error, self._error = self._error, None
            if isinstance(error, MeterError):
                raise error
            raise MeterError(f"meter failed: {self.name}: {error}") from error

    @property
    def failed(self) -> bool:
        return self._error is not None


def as_samples(rows: list[tuple[float, float, float]], **extra: Any) -> Samples:
    """Samples from (t_s, current_a, voltage_v) rows."""
    data = np.asarray(rows, dtype=np.float64).reshape(-1, 3)
    return Samples(t_s=data[:, 0].copy(), current_a=data[:, 1].copy(), voltage_v=data[:, 2].copy(), **extra)
