"""Monotonic deadlines, passed down instead of scattered timeouts (labgrid's util/timeout)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from harness.errors import DeviceTimeout


@dataclass
class Deadline:
    """Expires `seconds` after creation; `None` seconds never expires."""

    seconds: float | None
    _start: float = field(default_factory=time.monotonic, init=False)

    @property
    def remaining(self) -> float | None:
        if self.seconds is None:
            return None
        return max(0.0, self.seconds - (time.monotonic() - self._start))

    @property
    def expired(self) -> bool:
        return self.remaining == 0.0

    def timeout(self, cap: float | None = None) -> float | None:
        """Seconds a blocking call may take: the remaining time, at most `cap`."""
        remaining = self.remaining
        if remaining is None:
            return cap
        return remaining if cap is None else min(cap, remaining)

    def check(self, what: str) -> None:
        if self.expired:
            raise DeviceTimeout(f"{what}: deadline of {self.seconds:g} s expired")

    def sub(self, seconds: float | None) -> "Deadline":
        """A child deadline that never outlives this one."""
        options = [s for s in (seconds, self.remaining) if s is not None]
        return Deadline(min(options) if options else None)
