"""Resume after `kill -9`: a real `harness run suites/quickstart.yaml` on the host is killed (with its measurement agent)
mid-suite, twice, and resumed with `harness run --resume RUN_ID`. Completed results are kept,
nothing is measured twice, nothing is lost, and the run ends complete."""

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

pytestmark = pytest.mark.slow

QUICKSTART = REPO / "suites" / "quickstart.yaml"


def start(suite: Path, db: Path, *extra: str) -> subprocess.Popen:
    # Its own session, so kill -9 can take the measurement agent down with it, as a power cut would.
    with open(db.parent / "harness.log", "ab") as log:  # a file, not a pipe nobody reads while it runs
        return subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(suite), "--device", "host",
                                 "--store", str(db), "--profiles", str(REPO / "device_profiles"), *extra],
                                cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def log_of(db: Path) -> str:
    return (db.parent / "harness.log").read_text(errors="replace")[-3000:]


def stored(db: Path) -> list[tuple]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db, timeout=10) as conn:
            return conn.execute("SELECT id, family, variant, recorded_at FROM results ORDER BY id").fetchall()
    except sqlite3.OperationalError:  # the schema is not created yet
        return []


def kill_after(proc: subprocess.Popen, db: Path, results: int) -> list[tuple]:
    deadline = time.monotonic() + 180
    while len(stored(db)) < results:
        assert proc.poll() is None, f"the run ended before {results} results: {log_of(db)}"
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.05)
    kill_session(proc)
    proc.wait(timeout=30)
    return stored(db)


def kill_session(proc: subprocess.Popen) -> None:
    """kill -9 of the harness and everything it started, as a power cut would: the measurement
    agent is in a process group of its own (harness/interrupts.py), but in the harness's session."""
    for pid in [p.pid for p in psutil.process_iter() if _session(p.pid) == proc.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _session(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except (ProcessLookupError, PermissionError):
        return None


def test_kill_9_mid_suite_then_resume(tmp_path: Path) -> None:
    expected = {(c.family, c.variant) for c in load_suite(QUICKSTART).cases}
    total = len(expected)
    suite, db = QUICKSTART, tmp_path / "r.sqlite"

    first = kill_after(start(suite, db), db, 2)
    assert 2 <= len(first) < total, "killed mid-suite"
    store = Store(str(db))
    [run] = store.runs()
    run_id = run["run_id"]
    assert run["status"] == "running"  # killed: nobody wrote an end

    second = kill_after(start(suite, db, "--resume", run_id), db, len(first) + 2)
    assert second[:len(first)] == first and len(second) < total  # kept as they were

    proc = start(suite, db, "--resume", run_id)
    assert proc.wait(timeout=300) == 0, log_of(db)
    final = stored(db)

    assert final[:len(second)] == second  # ids and timestamps of earlier parts unchanged: not re-measured
    cases = [(family, variant) for _, family, variant, _ in final]
    assert len(cases) == len(set(cases)) == total  # none duplicated, none lost
    assert set(cases) == expected
    rows = store.results(run_id)
    assert all(r["status"] == "ok" for r in rows)
    assert all(len(store.samples(r["id"])) == r["latency_n"] >= 100 for r in rows)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM latency_samples").fetchone()[0] == total
    assert store.run(run_id)["status"] == "complete" and len(store.runs()) == 1
