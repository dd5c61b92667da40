"""Board health: the state machine, the health check on a real runner, and a board that the
lab loses in the middle of a run (its cases stored as not-run, the other board unaffected)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.deadline import Deadline
from harness.errors import InfrastructureError
from harness.lab.health import CHECK_FILE, CHECK_TIMEOUT_S, BoardState, Health, check_job, health_check
from harness.lab.planning import plan
from harness.config.profiles import resolve
from harness.rto import RetransmitTimer
from harness.runners.agent_runner import AgentRunner
from harness.runners.base import Job, Measurement, Runner
from harness.lab.session import finish_run, initial_state, open_run, run_device
from harness.results.store import Store
from harness.config.suites import load_suite
from harness.transports.local import LocalTransport
from tests.conftest import REPO
from tests.suite_files import write_suite


def test_state_machine() -> None:
    board = BoardState("b")
    assert board.health is Health.UNKNOWN and board.usable
    board.success()
    assert board.health is Health.GOOD
    board.infrastructure_failure("timeout")
    assert board.health is Health.UNKNOWN and board.usable
    board.infrastructure_failure("timeout again")
    assert board.health is Health.BAD and not board.usable and "2 infrastructure failures" in board.reason
    board.mark(Health.MAINTENANCE, "by hand")
    assert not board.usable


def test_health_check_on_the_host() -> None:
    assert health_check(AgentRunner(LocalTransport(), "litert")) is None
    assert health_check(AgentRunner(LocalTransport(), "tflm")) is None


def test_health_check_catches_wrong_outputs(tmp_path: Path) -> None:
    spec = json.loads(CHECK_FILE.read_text())
    spec["predictions"][3] = (spec["predictions"][3] + 1) % 10
    wrong = tmp_path / "health-check.json"
    wrong.write_text(json.dumps(spec))
    for name in (spec["model"], spec["dataset"]):
        (tmp_path / name).symlink_to(CHECK_FILE.parent / name)
    failed = health_check(AgentRunner(LocalTransport(), "litert"), check_file=wrong)
    assert failed and "1 of 32 known outputs differ" in failed


def test_a_board_that_cannot_run_anything_is_not_healthy(tmp_path: Path) -> None:
    """A DeviceError (no Edge TPU found, its runtime not installed) fails the check; a model the
    runtime cannot run (not compiled for the Edge TPU) is an answer, not a sick board."""
    spec = json.loads(CHECK_FILE.read_text())
    shutil.copy(CHECK_FILE.parent / spec["model"], tmp_path / "check_edgetpu.tflite")
    (tmp_path / spec["dataset"]).symlink_to(CHECK_FILE.parent / spec["dataset"])
    check = tmp_path / "health-check.json"
    check.write_text(json.dumps({**spec, "model": "check_edgetpu.tflite"}))
    failed = health_check(AgentRunner(LocalTransport(), "edgetpu"), check_file=check)
    assert failed and failed.startswith("health check failed:") and "Edge TPU" in failed
    assert health_check(AgentRunner(LocalTransport(), "edgetpu")) is None  # not compiled for it: answered


class SlowBoard(Runner):
    """Answers the health check correctly after `delay` seconds, or times out when its deadline
    is shorter (as a board's link does)."""

    runtime = "litert"

    def __init__(self) -> None:
        self.answer = AgentRunner(LocalTransport(), "litert").measure(check_job()[0], Deadline(120))
        self.delay, self.deadlines = 0.0, []

    def measure(self, job: Job, deadline: Deadline) -> Measurement:
        self.deadlines.append(deadline.seconds)
        time.sleep(min(self.delay, deadline.remaining or 0.0))
        deadline.check("board")
        return self.answer


def test_health_check_deadline_follows_the_boards_check_durations() -> None:
    """CHECK_TIMEOUT_S before anything is known; a check that answered is a sample (SRTT +
    4 RTTVAR, harness/rto.py; a 0.1 s floor here to see it move, a session's floor is
    CHECK_TIMEOUT_S as a failed check is not retried); one that timed out doubles the deadline."""
    board, timer = SlowBoard(), RetransmitTimer(initial=CHECK_TIMEOUT_S, minimum=0.1, maximum=600.0)
    board.delay = 0.3
    assert health_check(board, timer=timer) is None
    assert board.deadlines[-1] == CHECK_TIMEOUT_S and timer.srtt is not None and timer.srtt >= 0.3
    learned = timer.timeout
    assert learned < CHECK_TIMEOUT_S
    board.delay = 600.0  # hung
    assert "deadline" in (health_check(board, timer=timer) or "")
    assert board.deadlines[-1] == pytest.approx(learned)
    assert timer.timeout == pytest.approx(2 * learned)
    assert BoardState("b").check_timer.minimum == CHECK_TIMEOUT_S  # what a session uses


class FlakyBoard(Runner):
    """A board whose link dies after `good` measurements: every later call times out."""

    runtime = "litert"

    def __init__(self, good: int) -> None:
        self.inner = AgentRunner(LocalTransport(), "litert")
        self.left, self.calls = good, 0

    def measure(self, job: Job, deadline: Deadline) -> Measurement:
        self.calls += 1
        if self.left <= 0:
            raise InfrastructureError("board stopped answering")
        self.left -= 1
        return self.inner.measure(job, deadline)


def test_lost_board_goes_bad_and_its_cases_are_not_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harness.lab.case.BACKOFF_S", (0.0, 0.0))
    suite = load_suite(write_suite(tmp_path, families={"digits-cnn": None}))
    device = resolve("host", REPO / "device_profiles")
    store = Store(f"sqlite:///{tmp_path / 'r.sqlite'}")
    planned = plan(suite, device)
    run_id = open_run(store, suite, [device.name])
    board = FlakyBoard(good=1 + 2)  # the health check, two cases, then silence
    run_device(store, run_id, suite, device, lambda: board, planned, initial_state(store, device.name))
    finish_run(store, run_id, True)
    rows = store.results(run_id)
    statuses = [r["status"] for r in rows]
    assert len(rows) == len(planned) == 6 and len({(r["family"], r["variant"]) for r in rows}) == 6
    # The third case fails after 3 attempts; the board is unknown, so a health check comes
    # before the fourth: it fails too, the board is bad and its remaining cases are not run.
    assert statuses == ["ok", "ok", "failed", "not-run", "not-run", "not-run"]
    assert rows[2]["error_kind"] == "infrastructure" and "stopped answering" in rows[2]["reason"]
    assert all(r["reason"].startswith("board bad: health check failed") for r in rows[3:])
    assert board.calls == 1 + 2 + 3 + 1  # check, two good cases, three attempts, the failed check
    health = store.board_health("host")
    assert health["health"] == "bad" and "health check failed" in health["reason"]


class HangsOnModels(FlakyBoard):
    """Answers the health check (tiny-int8) but hangs on every other model."""

    def measure(self, job: Job, deadline: Deadline) -> Measurement:
        self.calls += 1
        if job.model_path.name != "tiny-int8.tflite" or job.accuracy_samples != 32:
            raise InfrastructureError("board hangs on this model")
        return self.inner.measure(job, deadline)


def test_repeated_failures_make_a_board_bad(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harness.lab.case.BACKOFF_S", (0.0, 0.0))
    suite = load_suite(write_suite(tmp_path, families={"digits-cnn": ["fp32", "int8", "pruned-int8", "tiny-int8"]}))
    device = resolve("host", REPO / "device_profiles")
    store = Store(f"sqlite:///{tmp_path / 'r.sqlite'}")
    run_id = open_run(store, suite, [device.name])
    board = HangsOnModels(good=0)
    run_device(store, run_id, suite, device, lambda: board, plan(suite, device), initial_state(store, device.name))
    statuses = [r["status"] for r in store.results(run_id)]
    assert statuses == ["failed", "failed", "not-run", "not-run"]  # checks pass, cases hang twice
    assert "2 infrastructure failures in a row" in store.board_health("host")["reason"]


def test_maintenance_board_is_not_touched(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path, families={"digits-cnn": ["int8", "tiny-int8"]}))
    device = resolve("host", REPO / "device_profiles")
    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    cli = CliRunner()
    assert cli.invoke(app, ["health", "host", "--set", "maintenance", "--store", db]).exit_code == 0

    def connect() -> Runner:
        raise AssertionError("a board in maintenance is never connected")

    store = Store(db)
    run_id = open_run(store, suite, ["host"])
    run_device(store, run_id, suite, device, connect, plan(suite, device), initial_state(store, "host"))
    rows = store.results(run_id)
    assert [r["status"] for r in rows] == ["not-run", "not-run"]
    assert all("board maintenance" in r["reason"] for r in rows)
    assert store.board_health("host")["health"] == "maintenance"
