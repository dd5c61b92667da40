"""Orchestration of a run: open (or resume) it, drive each board through its cases, close it.

    open_run()     a new run row, or a killed run reopened (its stored cases are kept)
    run_device()   one board's cases, one at a time, with LAVA-style health: an infrastructure
                   error makes the board unknown and forces a health check before its next
                   case; a failed check, or failures that repeat, make it bad, and its remaining
                   cases are recorded as not run while the other boards go on
    run_suite()    the single-board convenience: open, run_device, close
    remeasure()    `run --rerun-suspects`: measure some stored cases again, pool them into their rows

With `run.repeat` K > 1 (`harness run --repeat K`) run_device measures the board's cases K times
in turn (case 1..n, then 1..n again), so a slow drift of the machine touches every case alike;
a case's row is stored after its last repetition, pooling all of them (case.py).

Planning (bad input, fit) is in planning.py; one case's measurement in case.py; several boards
in parallel in fleet.py.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Protocol

from harness.lab import board as board_mod
from harness import interrupts
from harness.results import provenance
from harness.lab import case as case_mod
from harness.lab.case import Repetition, record_not_run, run_case
from harness.deadline import Deadline
from harness.errors import DeviceError, InfrastructureError, ModelError
from harness.lab.health import CHECK_TIMEOUT_S, BoardState, Health, health_check
from harness.lab.planning import PlannedCase, plan
from harness.config.profiles import DeviceProfile
from harness.lab.recovery import recover_board
from harness.runners.base import Runner
from harness.results.store import Store
from harness.config.suites import Suite

__all__ = ["PlannedCase", "Progress", "plan", "open_run", "run_device", "run_suite", "finish_run", "remeasure"]
CONNECT_TIMEOUT_S = 300.0
log = logging.getLogger(__name__)


class Progress(Protocol):
    def case_started(self, planned: PlannedCase) -> None: ...
    def case_done(self, planned: PlannedCase, row: dict[str, Any]) -> None: ...


def open_run(store: Store, suite: Suite, devices: list[str], *, run_id: str | None = None,
             resume: bool = False) -> str:
    """Start a run (under `run_id` when given: CI shards of one run share it) or reopen one."""
    if resume and run_id is not None:
        store.reopen_run(run_id)
        return run_id
    run_id = run_id or provenance.new_run_id()
    ctl = provenance.controller()
    store.start_run({"run_id": run_id, "suite": suite.name, "suite_path": str(suite.path),
                     "suite_sha256": suite.sha256, "suite_text": suite.text, "devices": sorted(devices),
                     "harness_version": ctl["harness"], "git_describe": provenance.git_describe(),
                     "controller": ctl["host"], "command": ctl["argv"]})
    return run_id


def finish_run(store: Store, run_id: str, completed: bool) -> None:
    store.finish_run(run_id, "complete" if completed else "interrupted")


def initial_state(store: Store, device: str) -> BoardState:
    """The board's health as the last run left it; a good board is trusted without a check."""
    found = store.board_health(device)
    if found is None:
        return BoardState(device)
    health = Health(found["health"])
    # A bad board gets one chance per run: a passing health check brings it back.
    return BoardState(device, Health.UNKNOWN if health is Health.BAD else health, found["reason"])


def run_device(store: Store, run_id: str, suite: Suite, device: DeviceProfile,
               connect: Callable[[], Runner], planned: list[PlannedCase], board: BoardState,
               progress: Progress | None = None, stop: threading.Event | None = None) -> None:
    """Every planned case of one board not yet stored under `run_id`, in order."""
    done = store.completed_cases(run_id)
    todo = [p for p in planned if (device.name, p.case.family, p.case.variant) not in done]
    session = _BoardSession(store, run_id, suite, device, connect, board)
    earlier: dict[str, list[Repetition]] = {}
    try:
        for repetition in range(suite.run.repeat, 0, -1):  # counts down to the last repetition, 1
            for item in todo:
                if (stop is not None and stop.is_set()) or interrupts.requested():
                    return
                if progress:
                    progress.case_started(item)
                if repetition > 1:
                    earlier.setdefault(item.case.key, []).extend(session.repetition(item))
                    continue
                row = session.case(item, earlier.get(item.case.key, []))
                if progress:
                    progress.case_done(item, row)
    finally:
        session.close()
        store.set_board_health(device.name, board.health.value, board.reason)


class _BoardSession:
    """A board's runner, opened on first need, with its health kept up to date."""

    def __init__(self, store: Store, run_id: str, suite: Suite, device: DeviceProfile,
                 connect: Callable[[], Runner], board: BoardState) -> None:
        self.store, self.run_id, self.suite, self.device = store, run_id, suite, device
        self.connect, self.board = connect, board
        self.raw: Runner | None = None  # the board's own runner: health checks, recovery
        self.runner: Runner | None = None  # the same, with the profile's power meter around it

    def case(self, item: PlannedCase, earlier: list[Repetition] | None = None) -> dict[str, Any]:
        if not item.fit.fits:  # a skip needs no board
            return run_case(item, self.suite, self.device, self.store, _NoBoard(self.device), self.run_id)
        if not self._ready():
            interrupts.raise_if_requested("connecting to the board")
            return record_not_run(item, self.device, self.store, self.run_id,
                                  f"board {self.board.health.value}: {self.board.reason}")
        row = run_case(item, self.suite, self.device, self.store, self.runner, self.run_id, self._recover,
                       earlier or ())
        if row.get("error_kind") == "infrastructure":
            self.board.infrastructure_failure(row["reason"])
            log.warning("%s: %s", self.device.name, self.board.reason)
        else:
            self.board.success()
        return row

    def repetition(self, item: PlannedCase) -> list[Repetition]:
        """An earlier repetition of a case: measured, kept in memory, stored with the last one.
        A failure here is left to the last repetition to record ([] is returned)."""
        if not item.fit.fits or not self._ready():
            return []
        try:
            return [case_mod.measure(item, self.suite, self.runner, self._recover)]
        except InfrastructureError as exc:
            self.board.infrastructure_failure(str(exc))
        except (ModelError, DeviceError):
            pass
        return []

    def _ready(self) -> bool:
        """Usable, connected and, when its health is unknown, checked."""
        if not self.board.usable:
            return False
        fresh = self.raw is None
        try:
            if fresh:
                self.raw = self.connect()
                self.runner = board_mod.metered(self.device, self.raw)
        except InfrastructureError as exc:
            self.board.infrastructure_failure(f"cannot connect: {exc}")
            return False
        if self.board.health is Health.UNKNOWN:
            failed = (None if fresh else self._reset_before_check()) or health_check(
                self.raw, timer=self.board.check_timer)
            interrupts.raise_if_requested("the health check")  # a check we cut short judges nothing
            if failed:
                self.board.mark(Health.BAD, failed)
                return False
            # Good again, but the failures in a row still count: a board that passes its check
            # and then loses every case is bad all the same.
            self.board.mark(Health.GOOD, None)
        return True

    def _reset_before_check(self) -> str | None:
        """A case lost this board and its last attempt may have left it hung: reset it first
        (as LAVA boots a board for its health check), so the check judges the board itself."""
        try:
            self._recover(Deadline(CHECK_TIMEOUT_S))
        except InfrastructureError as exc:
            return f"recovery before the health check failed: {exc}"
        return None

    def _recover(self, deadline: Deadline) -> None:
        assert self.raw is not None
        recover_board(self.device, self.raw, deadline)

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close()  # the meter, then the board's runner


class _NoBoard(Runner):
    """Stands in for a board when a case is skipped before any board is touched."""

    def __init__(self, device: DeviceProfile) -> None:
        self.runtime = device.runtime.value

    def measure(self, job: Any, deadline: Deadline) -> Any:
        raise AssertionError("a skipped case is never measured")


def remeasure(store: Store, run_id: str, suite: Suite, device: DeviceProfile, connect: Callable[[], Runner],
              planned: list[PlannedCase], times: int) -> list[str]:
    """Measure these stored cases `times` more times, interleaved, and pool the repetitions into
    their rows (latency columns, samples, repetition medians). Returns the cases re-measured."""
    rows = {(r["family"], r["variant"]): r for r in store.results(run_id)
            if r["device"] == device.name and r["status"] == "ok"}
    todo = [p for p in planned if (p.case.family, p.case.variant) in rows]
    session = _BoardSession(store, run_id, suite, device, connect, initial_state(store, device.name))
    more: dict[str, list[Repetition]] = {}
    try:
        for _ in range(times):
            for item in todo:
                more.setdefault(item.case.key, []).extend(session.repetition(item))
    finally:
        session.close()
    done = []
    for item in todo:
        row = rows[(item.case.family, item.case.variant)]
        if more.get(item.case.key):
            values, samples = case_mod.repooled(row, store.samples(row["id"]), more[item.case.key])
            store.replace_latency(row["id"], values, samples)
            done.append(item.case.key)
    return done


def run_suite(suite: Suite, device: DeviceProfile, store: Store, runner: Runner,
              planned: list[PlannedCase], *, run_id: str | None = None,
              progress: Progress | None = None, new_run: bool = False) -> str:
    """One board with an already open runner; `run_id` without `new_run` resumes that run."""
    resume = run_id is not None and not new_run
    run_id = open_run(store, suite, [device.name], run_id=run_id, resume=resume)
    completed = False
    try:
        run_device(store, run_id, suite, device, lambda: runner, planned,
                   initial_state(store, device.name), progress)
        completed = True
    finally:
        finish_run(store, run_id, completed)
    return run_id
