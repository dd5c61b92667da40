"""What a run must agree with before it measures: the run it resumes, and who else is measuring.

    check_resume()   `--resume RUN` goes on with the same suite file (sha256) on the same boards;
                     anything else is refused, naming both, unless `--force`
    claim()          the run's lease (a second `--resume RUN` is refused while the first lives)
                     and one lease per board (a second controller measuring the same board is
                     refused, unless `--force`), all before the run row is written
"""

from __future__ import annotations

import logging
from typing import Any

from harness.errors import ConfigError
from harness.results.leases import Leases, board_lease_name
from harness.config.profiles import DeviceProfile
from harness.config.suites import Suite

log = logging.getLogger(__name__)


def check_resume(run: dict[str, Any], suite: Suite, devices: list[str], force: bool) -> dict[str, Any]:
    """The run's new identity fields when `force` accepts a difference; {} when it all agrees."""
    problems = []
    if run["suite_sha256"] and run["suite_sha256"] != suite.sha256:
        problems.append(f"the suite: run {run['run_id']} measured {run['suite']} ({run['suite_path']}, "
                        f"sha256 {run['suite_sha256'][:12]}), this is {suite.name} ({suite.path}, "
                        f"sha256 {suite.sha256[:12]})")
    stored = sorted(run["devices"] or [])
    if stored != sorted(devices):
        problems.append(f"the devices: run {run['run_id']} measured {', '.join(stored) or 'none'}, "
                        f"this names {', '.join(sorted(devices))}")
    if not problems:
        return {}
    if not force:
        raise ConfigError(f"--resume {run['run_id']}: not the same run; it differs in "
                          + "; and in ".join(problems) + ". Resume with the same suite file and --device, "
                          "or start a new run; --force resumes anyway and mixes them into one run")
    log.warning("--resume %s --force: going on although it differs in %s", run["run_id"], "; and in ".join(problems))
    return {"suite": suite.name, "suite_path": str(suite.path), "suite_sha256": suite.sha256,
            "suite_text": suite.text, "devices": sorted({*stored, *devices})}


def claim(leases: Leases, run_id: str, devices: list[DeviceProfile], force: bool) -> None:
    """The run's lease, then every board's; on a refusal nothing stays held."""
    try:
        holder = leases.acquire("run", run_id, run_id)
        if holder is not None:
            raise ConfigError(f"run {run_id} is being measured by {holder}; wait for it to end or stop it "
                              "(Ctrl-C), then resume. A run whose controller died is taken over: "
                              "at once on the same host, after its heartbeat is a minute old elsewhere")
        for device in devices:
            name = board_lease_name(device.name, device.transport)
            holder = leases.acquire("board", name, run_id)
            if holder is None:
                continue
            message = (f"board {device.name} is being measured by {holder}: two controllers on one "
                       "board disturb each other's figures")
            if not force:
                raise ConfigError(f"{message}; wait for that run, or measure anyway with --force")
            log.warning("%s; measuring anyway (--force)", message)
    except BaseException:
        leases.release()
        raise
