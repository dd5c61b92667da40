"""Bring a board back between attempts: the profile's power cycle, then the runner's own
recovery (reconnect, DTR/RTS reset, an emulator restarted through QMP)."""

from __future__ import annotations

import logging
import subprocess
import time
import urllib.request

from harness.deadline import Deadline
from harness.errors import InfrastructureError
from harness.config.profiles import DeviceProfile
from harness.runners.base import Runner

log = logging.getLogger(__name__)


def recover_board(device: DeviceProfile, runner: Runner, deadline: Deadline) -> None:
    recovery = device.recovery
    if recovery.power_cycle:
        _run_power_cycle(recovery.power_cycle, deadline)
    if recovery.pdu_url:
        _post(recovery.pdu_url, deadline)
    if recovery.power_cycle or recovery.pdu_url:
        time.sleep(deadline.timeout(recovery.settle) or 0)
    log.info("%s: recovering the board", device.name)
    runner.recover(deadline)


def _run_power_cycle(argv: list[str], deadline: Deadline) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=deadline.timeout(60))
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InfrastructureError(f"power cycle {argv[0]}: {exc}") from None
    if done.returncode != 0:
        raise InfrastructureError(f"power cycle {' '.join(argv)} exited {done.returncode}: "
                                  f"{done.stderr.strip()[-200:]}")


def _post(url: str, deadline: Deadline) -> None:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="POST"),
                                    timeout=deadline.timeout(30)) as reply:
            reply.read()
    except OSError as exc:
        raise InfrastructureError(f"PDU {url}: {exc}") from None
