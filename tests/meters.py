"""Record a power meter for a while: the common step of the meter tests."""

from __future__ import annotations

import time

from harness.deadline import Deadline
from harness.power import Samples, open_meter


def record(url: str, seconds: float, **options: object) -> Samples:
    meter = open_meter(url, **options)
    meter.open(Deadline(5))
    try:
        meter.start(Deadline(5))
        time.sleep(seconds)
        return meter.stop(Deadline(5))
    finally:
        meter.close()
