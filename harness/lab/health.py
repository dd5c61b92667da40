"""Board health, LAVA's model: good / unknown / bad / maintenance.

    good         the last health check passed and no infrastructure error since
    unknown      an infrastructure error happened (or nothing is known yet): check before use
    bad          a health check failed, or infrastructure errors repeated: not used until a
                 later run's health check passes
    maintenance  taken out of service by a person (`harness health NAME --set maintenance`)

The health check is: identify the board (open the runner) and run a tiny known model on known
inputs; its predictions must equal the ones real TFLite-Micro produced
(models/digits-cnn/health-check.json). A wrong answer is a broken board, not a slow one.

Its deadline follows the board's measured check durations (harness/rto.py, as TCP's RTO does):
SRTT + 4 RTTVAR of the checks that answered, doubled after one that timed out, up to
CHECK_TIMEOUT_MAX_S, and never below CHECK_TIMEOUT_S: a failed check marks the board bad for the
run without a retry, so the deadline may only grow when a busy machine slows the checks down.
"""

from __future__ import annotations

import enum
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.deadline import Deadline
from harness.errors import DeviceError, DeviceTimeout, InfrastructureError, ModelError
from harness.locations import shipped
from harness.rto import RetransmitTimer
from harness.runners.base import Job, Runner

CHECK_FILE = shipped("health-check") / "health-check.json"  # package data of an installed wheel
CHECK_TIMEOUT_S = 120.0       # the least a check gets (and all it gets before one was timed)
CHECK_TIMEOUT_MAX_S = 900.0
MAX_CONSECUTIVE_INFRA_FAILURES = 2  # cases in a row lost to the lab before the board is bad
log = logging.getLogger(__name__)


class Health(str, enum.Enum):
    GOOD = "good"
    UNKNOWN = "unknown"
    BAD = "bad"
    MAINTENANCE = "maintenance"


@dataclass
class BoardState:
    device: str
    health: Health = Health.UNKNOWN
    reason: str | None = None
    infra_failures_in_row: int = 0
    check_timer: RetransmitTimer = field(default_factory=lambda: RetransmitTimer(
        initial=CHECK_TIMEOUT_S, minimum=CHECK_TIMEOUT_S, maximum=CHECK_TIMEOUT_MAX_S, granularity=1.0))

    @property
    def usable(self) -> bool:
        return self.health in (Health.GOOD, Health.UNKNOWN)

    def infrastructure_failure(self, reason: str) -> None:
        self.infra_failures_in_row += 1
        if self.infra_failures_in_row >= MAX_CONSECUTIVE_INFRA_FAILURES:
            self.mark(Health.BAD, f"{self.infra_failures_in_row} infrastructure failures in a row; last: {reason}")
        else:
            self.mark(Health.UNKNOWN, reason)

    def success(self) -> None:
        self.infra_failures_in_row = 0
        self.mark(Health.GOOD, None)

    def mark(self, health: Health, reason: str | None) -> None:
        self.health, self.reason = health, reason


def check_job(check_file: Path = CHECK_FILE) -> tuple[Job, list[int]]:
    spec = json.loads(check_file.read_text())
    job = Job(model_path=check_file.parent / spec["model"], dataset_path=check_file.parent / spec["dataset"],
              warmup_count=1, warmup_min_seconds=0.0, measure_count=3, measure_min_seconds=0.0,
              accuracy_samples=spec["samples"])
    return job, spec["predictions"]


def health_check(runner: Runner, deadline: Deadline | None = None,
                 check_file: Path = CHECK_FILE, timer: RetransmitTimer | None = None) -> str | None:
    """None when the board answered correctly; otherwise why it failed. `timer`: the board's
    check durations so far, which set the deadline when none is given.

    A board whose runtime cannot run the check model (an Edge TPU needs *_edgetpu.tflite) has
    still answered: that is a result for its cases to report, not a sick board. A DeviceError
    ("no Edge TPU found", a runtime that is not installed) means the board cannot run anything:
    it is not healthy."""
    identity_only = getattr(runner, "identity_check", None)
    if identity_only is not None and getattr(runner, "protocol", None) == "mlperf-tiny":
        # A Tiny board runs its own compiled-in model: the check model's answers mean nothing there.
        return identity_only(deadline or Deadline(CHECK_TIMEOUT_S))
    job, expected = check_job(check_file)
    started = time.monotonic()
    try:
        measured = runner.measure(job, deadline or Deadline(timer.timeout if timer else CHECK_TIMEOUT_S))
    except ModelError as exc:
        log.info("health check model not runnable here (%s); the board answered", exc)
        return None
    except (DeviceError, InfrastructureError) as exc:
        if timer is not None and isinstance(exc, DeviceTimeout):
            timer.expired()
        return f"health check failed: {exc}"
    if timer is not None:
        timer.sample(time.monotonic() - started)
    if measured.predictions != expected:
        wrong = sum(a != b for a, b in zip(measured.predictions, expected))
        return (f"health check failed: {wrong} of {len(expected)} known outputs differ "
                f"(got {measured.predictions[:8]}…, expected {expected[:8]}…)")
    return None
