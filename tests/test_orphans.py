"""`kill -9` of a real `harness run` (in a subprocess) mid-case takes every process it started with
it: the measurement agent and the emulator run in process groups of their own (harness/interrupts.py),
so nothing else would end them; a board's agent runs under sshd. Then `--resume` completes the run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from harness.results.store import Store
from harness.config.suites import load_suite
from tests.conftest import REPO, require_tool
from tests.sshd_server import start_sshd
from tests.test_resume import QUICKSTART, stored
from tests.test_ssh_run import board_profile

pytestmark = pytest.mark.slow

QUICKSTART_INT8 = REPO / "suites" / "quickstart-int8.yaml"
GONE_WITHIN_S = 5.0


def harness(suite: Path, device: str, db: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli", "run", str(suite), "--device", device, "--store", str(db),
            "--profiles", str(REPO / "device_profiles"), *extra]


def of_run(sid: int, board: str | None) -> list[psutil.Process]:
    """The live processes of the run: its session (all the harness started, in groups of their own)
    and any whose argv names the board's own directory (a board's agent, under sshd). Not matched
    by program name: other runs on this machine have agents and QEMUs too."""
    found = []
    for p in psutil.process_iter():
        try:
            if p.status() == psutil.STATUS_ZOMBIE:
                continue
            argv = " ".join(p.cmdline())
            if os.getsid(p.pid) == sid or (board is not None and board in argv):
                found.append(p)
        except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
            continue
    return found


def describe(processes: list[psutil.Process]) -> list[str]:
    out = []
    for p in processes:
        try:
            out.append(f"{p.pid} {p.status()} {' '.join(p.cmdline())[:200]}")
        except psutil.NoSuchProcess:
            continue
    return out


def running(proc: subprocess.Popen, marker: str, board: str | None, db: Path) -> psutil.Process:
    """Once a result is stored, the run's process whose argv holds `marker` while a case is in progress."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, (db.parent / "harness.log").read_text(errors="replace")[-3000:]
        if stored(db):
            for p in of_run(proc.pid, board):
                try:
                    if p.pid != proc.pid and marker in " ".join(p.cmdline()):
                        return p
                except psutil.NoSuchProcess:
                    continue
        time.sleep(0.02)
    raise AssertionError(f"no {marker} running mid-suite")


def kill_9_mid_case(suite: Path, device: str, db: Path, marker: str,
                    board: str | None = None) -> tuple[str, float]:
    """Kills the harness's pid alone (not its group) mid-case; returns the run id and the seconds
    until no process of the run remained."""
    with open(db.parent / "harness.log", "ab") as log:
        proc = subprocess.Popen(harness(suite, device, db), cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        child = running(proc, marker, board, db)
        assert os.getpgid(child.pid) != os.getpgid(proc.pid), "the child shares the harness's group"
        assert len(stored(db)) < len(load_suite(suite).cases), "killed mid-suite"
        os.kill(proc.pid, signal.SIGKILL)
        killed = time.monotonic()
        proc.wait(timeout=10)
        seen: list[str] = []
        while (left := of_run(proc.pid, board)) and time.monotonic() - killed < 30:
            seen = describe(left)
            time.sleep(0.01)
        gone = time.monotonic() - killed
    finally:
        for p in of_run(proc.pid, board):  # a failed test leaves nothing behind either
            p.kill()
    assert not left, f"orphans after 30 s: {describe(left)}"
    assert gone < GONE_WITHIN_S, f"orphans lived {gone:.2f} s: {describe(seen)}"
    print(f"{device}: every child gone {gone * 1000:.0f} ms after kill -9")
    [run] = Store(str(db)).runs()
    assert run["status"] == "running"  # killed: nobody wrote an end
    return run["run_id"], gone


def resume_completes(suite: Path, device: str, db: Path, run_id: str) -> None:
    done = subprocess.run(harness(suite, device, db, "--resume", run_id), cwd=REPO, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    store = Store(str(db))
    rows = store.results(run_id)
    assert {(r["family"], r["variant"]) for r in rows} == {(c.family, c.variant) for c in load_suite(suite).cases}
    assert all(r["status"] == "ok" for r in rows), [(r["variant"], r["reason"]) for r in rows]
    assert store.run(run_id)["status"] == "complete"


def long_quickstart(directory: Path) -> Path:
    """The quickstart's digits variants with 15 s cases: an orphaned agent would outlive the
    assertion's window (quickstart's own ~1 s cases end, and their agents with them, anyway)."""
    spec = yaml.safe_load(QUICKSTART.read_text())
    spec["models"] = [{"path": str(REPO / "models" / "digits-cnn"), "variants": ["tiny-int8", "int8"]}]
    spec["run"]["measure"]["min_seconds"] = "15 s"
    path = directory / "long-quickstart.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_kill_9_takes_the_agent_with_it(tmp_path: Path) -> None:
    suite, db = long_quickstart(tmp_path), tmp_path / "r.sqlite"
    run_id, _ = kill_9_mid_case(suite, "host", db, "agent.py")
    resume_completes(suite, "host", db, run_id)


def test_kill_9_ends_the_agent_on_an_ssh_board(tmp_path: Path) -> None:
    """The board's agent is sshd's child, out of reach of the kernel's PDEATHSIG: it ends because
    sshd, losing the connection, closes the output nobody can read any more."""
    sshd = start_sshd()
    try:
        suite, db = long_quickstart(tmp_path), tmp_path / "r.sqlite"
        device = str(board_profile(tmp_path, sshd))
        run_id, _ = kill_9_mid_case(suite, device, db, "agent.py", str(sshd.options()["workdir"]))
        resume_completes(suite, device, db, run_id)
    finally:
        sshd.stop()


def test_kill_9_takes_the_emulator_with_it(tmp_path: Path) -> None:
    require_tool("qemu-system-arm")
    db = tmp_path / "r.sqlite"
    run_id, _ = kill_9_mid_case(QUICKSTART_INT8, "qemu-cortex-m", db, "qemu-system-arm")
    resume_completes(QUICKSTART_INT8, "qemu-cortex-m", db, run_id)
