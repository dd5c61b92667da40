"""The store on a real PostgreSQL server (started from Debian's package), and two lab controllers
(two processes) writing one store at once, on PostgreSQL and on SQLite: none lost, none duplicated."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.results import baselines
from harness.errors import StoreError
from harness.results.merge import merge
from harness.results.store import Store
from tests.conftest import REPO
from tests.pg_server import PostgresServer, postgres  # noqa: F401 (the module's server fixture)
from tests.store_writer import samples_for

COUNT = 60


@pytest.fixture
def pg_url(postgres: PostgresServer) -> str:
    return postgres.new_database()


def test_round_trip_on_postgres(pg_url: str) -> None:
    store = Store(pg_url)
    store.start_run({"run_id": "r1", "suite": "s", "devices": ["host"], "harness_version": "0.1.0"})
    env = store.record_environment("r1", "host", {"runtime": "litert", "runtime_version": "2.3.0"})
    assert store.record_environment("r1", "host", {"runtime": "litert", "runtime_version": "2.3.0"}) == env
    rid = store.record_result({"run_id": "r1", "device": "host", "family": "digits", "variant": "fp32",
                               "status": "ok", "latency_p50_us": 12.5, "rss_peak_bytes": 2**40,
                               "environment_id": env, "thresholds": [{"name": "latency_p50_ms", "passed": True}],
                               "emulated": True}, [1.5, 2.25, 3.0])
    with pytest.raises(StoreError, match="duplicate"):
        store.record_result({"run_id": "r1", "device": "host", "family": "digits", "variant": "fp32",
                             "status": "ok"})
    store.finish_run("r1", "complete")
    again = Store(pg_url)  # a second engine: the schema is there, nothing is created twice
    [row] = again.results("r1")
    assert row["id"] == rid and row["rss_peak_bytes"] == 2**40 and row["emulated"] is True
    assert row["thresholds"][0]["passed"] is True and row["recorded_at"].tzinfo is not None
    assert again.samples(rid) == [1.5, 2.25, 3.0]
    assert again.run("r1")["status"] == "complete" and again.latest_run_id() == "r1"
    assert again.completed_cases("r1") == {("host", "digits", "fp32")}
    assert baselines.is_good(again, again.run("r1"))


def test_unreachable_postgres_is_a_store_error(postgres: PostgresServer) -> None:
    with pytest.raises(StoreError, match="cannot open"):
        Store(postgres.url("no_such_database"))


def test_merge_sqlite_shards_into_postgres(pg_url: str, tmp_path: Path) -> None:
    shard = Store(str(tmp_path / "shard.sqlite"))
    shard.start_run({"run_id": "r1", "suite": "s", "devices": ["host"]})
    env = shard.record_environment("r1", "host", {"cpu": "x"})
    for i in range(5):
        shard.record_result({"run_id": "r1", "device": "host", "family": "f", "variant": f"v{i}",
                             "status": "ok", "environment_id": env}, [float(i)] * 10)
    shard.finish_run("r1", "complete")
    out = Store(pg_url)
    first = merge(out, [shard])
    again = merge(out, [shard])  # naive SQLite datetimes vs aware PostgreSQL ones: still identical
    assert (first.results_added, first.samples_added, first.environments_added) == (5, 5, 1)
    assert (again.results_added, again.results_already_there, again.runs_combined) == (0, 5, 0)
    assert len(out.results("r1")) == 5 and out.samples(out.results("r1")[3]["id"]) == [3.0] * 10


# ------------------------------------------------------------------ two controllers at once


@pytest.fixture(params=["postgresql", "sqlite"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'lab.sqlite'}"
    return request.getfixturevalue("pg_url")


@pytest.mark.slow
def test_two_controllers_write_one_store_at_once(shared_store: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    workers = [subprocess.Popen([sys.executable, "-m", "tests.store_writer", shared_store, name, str(COUNT), str(go)],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name in ("a", "b")]
    go.touch()  # both open the (fresh) store and write at the same moment
    reports = {}
    for worker in workers:
        out, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err
        report = json.loads(out.strip().splitlines()[-1])
        reports[report["name"]] = report
    store = Store(shared_store)

    for name, report in reports.items():  # each controller's own run: none lost, none duplicated
        rows = store.results(f"run-{name}")
        assert len(rows) == COUNT and len(report["written"]) == COUNT
        assert sorted(r["id"] for r in rows) == sorted(report["written"])
        assert {r["variant"] for r in rows} == {f"v{i:03d}" for i in range(COUNT)}
        assert all(store.samples(r["id"]) == samples_for(name, int(r["variant"][1:])) for r in rows)
        assert store.run(f"run-{name}")["status"] == "complete"

    # The shared run: every case written exactly once, by whichever controller got there first.
    shared = store.results("shared")
    won = {v: name for name, report in reports.items() for v in report["won"]}
    assert len(shared) == COUNT and len(won) == COUNT
    assert len(reports["a"]["won"]) + len(reports["b"]["won"]) == COUNT
    assert len(reports["a"]["refused"]) + len(reports["b"]["refused"]) == COUNT
    for r in shared:
        assert r["reason"] == f"written by {won[r['variant']]}"
        assert store.samples(r["id"]) == samples_for(won[r["variant"]], int(r["variant"][1:]))
    ids = [r["id"] for r in store.results()]
    assert len(ids) == len(set(ids)) == 3 * COUNT
