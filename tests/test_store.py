"""The SQLite store: round trip, atomic per-result writes, no duplicates, clear errors."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from harness.errors import StoreError
from harness.results.store import Store


def run_row(run_id: str = "r1") -> dict:
    return {"run_id": run_id, "suite": "s", "devices": ["host"], "harness_version": "0.1.0"}


def result_row(variant: str = "fp32", **extra: object) -> dict:
    return {"run_id": "r1", "device": "host", "family": "digits", "variant": variant,
            "status": "ok", "latency_p50_us": 12.5, "accuracy_top1": 0.97, **extra}


def test_round_trip(store_url: str) -> None:
    store = Store(store_url)
    store.start_run(run_row())
    env = store.record_environment("r1", "host", {"runtime": "litert", "runtime_version": "2.3.0"})
    assert store.record_environment("r1", "host", {"runtime": "litert", "runtime_version": "2.3.0"}) == env
    rid = store.record_result(result_row(environment_id=env), [1.5, 2.25, 3.0])
    store.finish_run("r1", "complete")
    again = Store(store_url)  # a new connection sees everything
    [row] = again.results("r1")
    assert row["id"] == rid and row["latency_p50_us"] == 12.5 and row["power_status"] == "not measured"
    assert row["energy_uj"] is None  # not measured is NULL, never 0
    assert again.samples(rid) == [1.5, 2.25, 3.0]
    assert again.run("r1")["status"] == "complete"
    assert again.environments("r1")[0]["data"]["runtime_version"] == "2.3.0"
    assert again.completed_cases("r1") == {("host", "digits", "fp32")}
    assert again.latest_run_id() == "r1"


def test_duplicate_case_is_refused(store_url: str) -> None:
    store = Store(store_url)
    store.start_run(run_row())
    store.record_result(result_row(), [1.0])
    with pytest.raises(StoreError, match="duplicate"):
        store.record_result(result_row(), [1.0])
    assert len(store.results("r1")) == 1


def test_failed_write_leaves_nothing(store_url: str) -> None:
    store = Store(store_url)
    store.start_run(run_row())
    with pytest.raises(StoreError):
        store.record_result(result_row(run_id="no-such-run"), [1.0])  # foreign key
    assert store.results() == []


def test_plain_path_means_sqlite(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "db.sqlite"))
    assert store.url.startswith("sqlite:///") and (tmp_path / "db.sqlite").exists()


def test_missing_directory_is_not_created(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"cannot create it: .*/sub does not exist \(only the default location"):
        Store(str(tmp_path / "sub" / "deeper" / "db.sqlite"))
    assert list(tmp_path.iterdir()) == []


def test_unwritable_path(tmp_path: Path) -> None:
    """Runs as root too (CI is root): the store is then opened by a forked child that has given
    up root's privileges (nobody), since root itself may write anywhere."""
    Store(str(tmp_path / "warm.sqlite"))  # the child cannot import what /root hides: import it all now
    top = Path(tempfile.mkdtemp(prefix="edge-harness-"))  # under /tmp, reachable by nobody
    try:
        top.chmod(0o755)
        locked = top / "locked"
        locked.mkdir(mode=0o555)
        assert "not writable" in open_store_unprivileged(str(locked / "db.sqlite"))
    finally:
        locked.chmod(0o755)
        shutil.rmtree(top)


def open_store_unprivileged(url: str) -> str:
    """The StoreError text of Store(url), as this user or, for root, as nobody."""
    if os.geteuid() != 0:
        with pytest.raises(StoreError) as caught:
            Store(url)
        return str(caught.value)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop root, try, report, exit without running pytest's teardown
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                Store(url)
                text = "opened"
            except StoreError as exc:
                text = str(exc)
            os.write(write, text.encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as reader:
        text = reader.read()
    os.waitpid(pid, 0)
    return text


def test_uncreatable_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match=r"cannot create it: .*/file is a file, not a directory"):
        Store(str(blocker / "db.sqlite"))


def test_unknown_run(store_url: str) -> None:
    with pytest.raises(StoreError, match="no run 'nope'"):
        Store(store_url).run("nope")
