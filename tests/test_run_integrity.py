"""Run integrity with the real CLI: a resume goes on with the same suite file on the same boards
(or is refused naming both, unless --force); a run being measured holds a lease, so a second
resume is refused while it lives and takes over once it died; a second controller measuring the
same board is refused; a regressed run keeps its mark; a configuration error writes nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa

from harness.results.leases import STALE_S, Leases
from harness.results.store import Store, leases, now
from harness.config.suites import load_suite
from tests.conftest import REPO
from tests.pg_server import PostgresServer, postgres  # noqa: F401 (a fixture)
from tests.sshd_server import Sshd, start_sshd
from tests.suite_files import write_suite
from tests.test_ssh_run import board_profile
from tests.test_resume import QUICKSTART, kill_session, start, stored

pytestmark = pytest.mark.slow
PROFILES = REPO / "device_profiles"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


def run(suite: Path, db: Path, *extra: str, device: str = "host") -> subprocess.CompletedProcess[str]:
    return cli("run", str(suite), "--device", device, "--store", str(db), "--profiles", str(PROFILES), *extra)


def interrupted_run(db: Path, suite: Path = QUICKSTART, devices: tuple[str, ...] = ("host",)) -> str:
    store = Store(str(db))
    spec = load_suite(suite)
    store.start_run({"run_id": "r-old", "suite": spec.name, "suite_path": str(suite),
                     "suite_sha256": spec.sha256, "suite_text": spec.text, "devices": list(devices)})
    store.finish_run("r-old", "interrupted")
    return "r-old"


# ------------------------------------------------------------------ resume checks


def test_resume_with_another_suite_or_other_devices_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    run_id = interrupted_run(db)
    other = REPO / "suites" / "quickstart-int8.yaml"
    done = run(other, db, "--resume", run_id)
    assert done.returncode == 2, done.stdout + done.stderr
    sha, other_sha = load_suite(QUICKSTART).sha256[:12], load_suite(other).sha256[:12]
    for part in ("not the same run", f"sha256 {sha}", f"sha256 {other_sha}", str(other), "--force"):
        assert part in done.stderr, done.stderr
    done = run(QUICKSTART, db, "--resume", run_id, device="host-tflm")
    assert done.returncode == 2 and f"the devices: run {run_id} measured host, this names host-tflm" in done.stderr
    store = Store(str(db))
    assert store.run(run_id)["status"] == "interrupted" and store.run(run_id)["devices"] == ["host"]
    assert store.results() == []


def test_force_resumes_with_another_board_and_records_it(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, families={"digits-cnn": ["int8"]})
    db = tmp_path / "r.sqlite"
    assert run(suite, db).returncode == 0
    run_id = Store(str(db)).latest_run_id()
    done = run(suite, db, "--resume", run_id, "--force", device="host,host-tflm")
    assert done.returncode == 0, done.stdout + done.stderr
    store = Store(str(db))
    assert store.run(run_id)["devices"] == ["host", "host-tflm"]
    assert sorted(r["device"] for r in store.results(run_id)) == ["host", "host-tflm"]


def test_a_regressed_run_keeps_its_mark_when_resumed(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, families={"digits-cnn": ["int8"]})
    db = tmp_path / "r.sqlite"
    assert run(suite, db).returncode == 0
    store = Store(str(db))
    run_id = store.latest_run_id()
    store.mark_run(run_id, "regressed")
    done = run(suite, db, "--resume", run_id)
    assert done.returncode == 0, done.stdout + done.stderr
    assert store.run(run_id)["status"] == "regressed" and store.run(run_id)["ended_at"] is not None


# ------------------------------------------------------------------ leases


def test_second_resume_and_second_controller_refused_while_the_run_lives(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    first = start(QUICKSTART, db)
    try:
        deadline = time.monotonic() + 180
        while len(stored(db)) < 1:
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        [row] = Store(str(db)).runs()
        run_id = row["run_id"]
        done = run(QUICKSTART, db, "--resume", run_id)
        assert done.returncode == 2, done.stdout + done.stderr
        assert f"run {run_id} is being measured by pid {first.pid} on {os.uname().nodename}" in done.stderr
        other = run(QUICKSTART, db)  # another controller, a new run, the same board
        assert other.returncode == 2 and "board host is being measured by pid" in other.stderr, other.stderr
        assert len(Store(str(db)).runs()) == 1  # neither wrote a run
    finally:
        kill_session(first)
        first.wait(timeout=30)
    done = run(QUICKSTART, db, "--resume", run_id)  # its controller died: taken over at once
    assert done.returncode == 0, done.stdout + done.stderr
    assert "taking over" in done.stderr
    store = Store(str(db))
    assert store.run(run_id)["status"] == "complete"
    assert len(store.results(run_id)) == len(load_suite(QUICKSTART).cases)
    assert store.rows(sa.select(leases)) == []  # released at the end


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_lease_of_another_controller(backend: str, tmp_path: Path, postgres: PostgresServer) -> None:
    """Another host's lease lives while its heartbeat does; a lease taken over is reported lost."""
    store = Store(str(tmp_path / "l.sqlite") if backend == "sqlite" else postgres.new_database())
    stamp = now()
    store.transaction(lambda c: c.execute(leases.insert().values(
        kind="board", name="rpi4", run_id="r-b", holder="b" * 32, pid=4242, host="controller-b",
        acquired_at=stamp, heartbeat_at=stamp)))
    mine = Leases(store)
    holder = mine.acquire("board", "rpi4", "r-a")
    assert holder is not None and (holder.host, holder.pid, holder.run_id) == ("controller-b", 4242, "r-b")
    old = now() - timedelta(seconds=STALE_S + 5)
    store.transaction(lambda c: c.execute(leases.update().values(heartbeat_at=old)))
    assert mine.acquire("board", "rpi4", "r-a") is None  # its heartbeat stopped: taken over
    lost: list[str] = []
    mine.on_lost = lost.append
    store.transaction(lambda c: c.execute(leases.update().values(holder="c" * 32)))  # someone took it from us
    mine.beat()
    assert lost == ["board lease rpi4 was taken over by another controller"]
    mine.release()


def test_board_held_elsewhere_refused_unless_forced(tmp_path: Path) -> None:
    from harness.config import profiles
    from harness.errors import ConfigError
    from harness.lab.integrity import claim

    store = Store(str(tmp_path / "l.sqlite"))
    stamp = now()
    store.transaction(lambda c: c.execute(leases.insert().values(
        kind="board", name="rpi4", run_id="r-b", holder="b" * 32, pid=4242, host="controller-b",
        acquired_at=stamp, heartbeat_at=stamp)))
    rpi4 = profiles.resolve("rpi4", PROFILES)  # ssh://: one board, whichever controller drives it
    with pytest.raises(ConfigError, match="board rpi4 is being measured by pid 4242 on controller-b"):
        claim(Leases(store), "r-a", [rpi4], force=False)
    assert {r["name"] for r in store.rows(sa.select(leases))} == {"rpi4"}  # the refused run holds nothing
    forced = Leases(store)
    claim(forced, "r-a", [rpi4], force=True)
    assert ("run", "r-a") in forced.held and ("board", "rpi4") not in forced.held
    forced.release()


# ------------------------------------------------------------------ configuration errors write nothing


@pytest.fixture(scope="module")
def sshd() -> Iterator[Sshd]:
    server = start_sshd()
    yield server
    server.stop()


def ssh_profile(directory: Path, sshd: Sshd, known_hosts: Path) -> Path:
    """test_ssh_run's board, trusting its host through `known_hosts` instead of a pinned key."""
    path = board_profile(directory, sshd)
    path.write_text(re.sub(r"  host_key: .*\n", f"  known_hosts: {known_hosts}\n", path.read_text()))
    return path


def nothing_written(db: Path) -> bool:
    return not db.exists() or Store(str(db)).runs() == []


def test_unknown_ssh_host_key_writes_nothing(tmp_path: Path, sshd: Sshd) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    db = tmp_path / "r.sqlite"
    done = run(QUICKSTART, db, device=str(ssh_profile(tmp_path, sshd, known)))
    assert done.returncode == 2 and "unknown host key ssh-ed25519 SHA256:" in done.stderr, done.stderr
    assert nothing_written(db)


def test_changed_ssh_host_key_found_on_connecting_leaves_no_run(tmp_path: Path, sshd: Sshd) -> None:
    other_key = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} ssh-ed25519 {other_key}\n")
    db = tmp_path / "r.sqlite"
    Store(str(db))
    done = run(QUICKSTART, db, device=str(ssh_profile(tmp_path, sshd, known)))
    assert done.returncode == 2 and "HOST KEY CHANGED" in done.stderr, done.stdout + done.stderr
    assert nothing_written(db)


def test_missing_emulator_writes_nothing(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"  # a PATH with this Python and nothing else
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    db = tmp_path / "r.sqlite"
    done = cli("run", str(QUICKSTART), "--device", "qemu-cortex-m", "--store", str(db),
               "--profiles", str(PROFILES), env={"PATH": str(bin_dir)})
    assert done.returncode == 2 and "qemu-system-arm is not installed" in done.stderr, done.stderr
    assert nothing_written(db)


def test_empty_device_is_a_config_error(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    done = run(QUICKSTART, db, device="")
    assert done.returncode == 2 and "--device '' names no board" in done.stderr, done.stderr
    assert not db.exists()


def test_health_of_an_unknown_board_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    done = cli("health", "nosuchboard", "--set", "maintenance", "--store", str(db), "--profiles", str(PROFILES))
    assert done.returncode == 2 and "unknown board 'nosuchboard'" in done.stderr
    assert "host" in done.stderr  # the known names
    assert Store(str(db)).boards_health() == []
    done = cli("health", "host", "--set", "maintenance", "--store", str(db), "--profiles", str(PROFILES))
    assert done.returncode == 0 and Store(str(db)).board_health("host")["health"] == "maintenance"
