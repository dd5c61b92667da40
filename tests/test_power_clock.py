"""The board-clock offset the SSH path needs, probed for real on this machine: the agent's
CLOCK_MONOTONIC is the controller's time.monotonic_ns, so the estimate must bracket 0."""

from __future__ import annotations

import subprocess
import sys
import time

from harness.deadline import Deadline
from harness.runtimes import agent
from harness.runners.agent_runner import AGENT_FILE, AgentRunner
from harness.transports.local import LocalTransport


def test_agent_clock_is_the_controllers_monotonic_clock() -> None:
    before = time.monotonic_ns()
    out = subprocess.run([sys.executable, str(AGENT_FILE), "--clock"], capture_output=True, check=True)
    assert before <= int(out.stdout) <= time.monotonic_ns()


def test_offset_probe_brackets_zero_when_the_board_is_this_machine() -> None:
    runner = AgentRunner(LocalTransport("probe://this-host"), "litert")  # not local://: probes
    offset, error = runner._clock_offset_ns(str(AGENT_FILE), Deadline(30))
    assert error > 0 and abs(offset) <= error
    assert AgentRunner(LocalTransport(), "litert")._clock_offset_ns(str(AGENT_FILE), Deadline(5)) == (0, 0)


def test_energy_windows_count_inferences_on_the_monotonic_clock() -> None:
    calls = []
    start = time.monotonic_ns()
    windows = agent.energy_windows(lambda: calls.append(time.sleep(0.001)), 3, 0.05)
    assert len(windows) == 3 and sum(w["inferences"] for w in windows) == len(calls)
    assert start <= windows[0]["start_ns"] and all(w["end_ns"] - w["start_ns"] >= 50_000_000 for w in windows)
    assert all(a["end_ns"] <= b["start_ns"] for a, b in zip(windows, windows[1:]))
