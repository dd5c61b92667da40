"""Ctrl-C and SIGTERM on a real `harness run` in a subprocess, sent as a terminal sends them (SIGINT
to the foreground process group) and to the harness's pid alone. The measurement agent is in a
process group of its own; the case in progress is dropped, never stored as a failure; the run is
marked interrupted, says how to resume, and the resume ends complete with every case ok."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from harness.results.store import Store
from harness.config.suites import load_suite
from tests.conftest import REPO
from tests.test_resume import QUICKSTART, stored

pytestmark = pytest.mark.slow


def start(db: Path, *extra: str) -> subprocess.Popen:
    # Its own session and group, as a shell's job: the group is what a terminal's Ctrl-C reaches.
    return subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(QUICKSTART), "--device", "host",
                             "--store", str(db), "--profiles", str(REPO / "device_profiles"), *extra],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def agent_of(proc: subprocess.Popen, timeout: float = 120) -> psutil.Process:
    """The measurement agent the harness is running right now."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in psutil.Process(proc.pid).children(recursive=True):
            try:
                if any(part.endswith("agent.py") for part in child.cmdline()):
                    return child
            except psutil.NoSuchProcess:
                continue
        assert proc.poll() is None, proc.stdout.read().decode(errors="replace")
        time.sleep(0.02)
    raise AssertionError("no agent started")


def wait_for_results(proc: subprocess.Popen, db: Path, count: int) -> None:
    deadline = time.monotonic() + 180
    while len(stored(db)) < count:
        assert proc.poll() is None, proc.stdout.read().decode(errors="replace")
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.05)


def interrupt(db: Path, send) -> tuple[int, str, list[tuple]]:
    proc = start(db)
    wait_for_results(proc, db, 2)
    agent = agent_of(proc)  # a case is in progress: its agent runs
    assert os.getpgid(agent.pid) != os.getpgid(proc.pid), "the agent shares the terminal's process group"
    before = stored(db)
    send(proc)
    out, _ = proc.communicate(timeout=120)
    return proc.returncode, out.decode(errors="replace"), before


def check_interrupted_then_resume(db: Path, code: int, out: str, before: list[tuple]) -> None:
    total = len(load_suite(QUICKSTART).cases)
    assert code == 130, out
    store = Store(str(db))
    [run] = store.runs()
    assert run["status"] == "interrupted", out
    rows = store.results(run["run_id"])
    # Nothing stored as a failure; at most the case that had ended just before the signal arrived.
    assert all(r["status"] == "ok" for r in rows), [(r["variant"], r["reason"]) for r in rows]
    assert len(before) <= len(rows) <= len(before) + 1 < total
    hint = f"--resume {run['run_id']}"
    assert hint in out and "harness run" in out, out
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(QUICKSTART), "--device", "host",
                           "--store", str(db), "--profiles", str(REPO / "device_profiles"), "--resume",
                           run["run_id"]], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = store.results(run["run_id"])
    assert len(rows) == total and all(r["status"] == "ok" for r in rows)
    assert store.run(run["run_id"])["status"] == "complete"


def test_ctrl_c_to_the_process_group(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    code, out, before = interrupt(db, lambda proc: os.killpg(proc.pid, signal.SIGINT))
    assert "SIGINT: abandoning the case in progress" in out
    check_interrupted_then_resume(db, code, out, before)


def test_sigint_to_the_pid_alone(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    code, out, before = interrupt(db, lambda proc: os.kill(proc.pid, signal.SIGINT))
    check_interrupted_then_resume(db, code, out, before)


def test_sigterm_stops_like_the_first_ctrl_c(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    code, out, before = interrupt(db, lambda proc: os.kill(proc.pid, signal.SIGTERM))
    assert "SIGTERM: abandoning the case in progress" in out
    check_interrupted_then_resume(db, code, out, before)


def test_second_ctrl_c_stops_now(tmp_path: Path) -> None:
    """The first Ctrl-C's orderly stop is held up (the store is locked by someone else, so the board
    cannot note its health): the second one ends the harness and its children at once."""
    db = tmp_path / "r.sqlite"
    proc = start(db)
    wait_for_results(proc, db, 2)
    agent = agent_of(proc)
    before = stored(db)
    blocker = sqlite3.connect(db, timeout=30)
    blocker.execute("BEGIN IMMEDIATE")  # every write of the harness now waits
    try:
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(1.0)
        assert proc.poll() is None, "the first Ctrl-C waits for the orderly stop"
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
        assert time.monotonic() - started < 5
    finally:
        blocker.rollback()
        blocker.close()
    text = out.decode(errors="replace")
    assert proc.returncode == 130 and "SIGINT again: stopping now" in text, text
    assert "--resume" in text
    assert not agent.is_running() or agent.status() == psutil.STATUS_ZOMBIE
    assert stored(db) == before  # nothing written after the first Ctrl-C
    run_id = Store(str(db)).runs()[0]["run_id"]
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(QUICKSTART), "--device", "host",
                           "--store", str(db), "--profiles", str(REPO / "device_profiles"), "--resume", run_id],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr  # its lease died with it: taken over
    assert {r["status"] for r in Store(str(db)).results(run_id)} == {"ok"}
