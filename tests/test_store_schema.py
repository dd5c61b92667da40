"""Store schema versions and bad store inputs, on real SQLite and a real PostgreSQL server.

Migrations end where harness/results/store.py's tables are; a store made by edge-harness 0.1 (schema 1)
is upgraded with its data; a newer one is refused with both versions before anything is
measured; a bad --store / $EDGE_HARNESS_STORE is an error (not the default, no stray files or
directories); results/report read a store they may not write; merge is all or nothing; a store
damaged inside is refused before a run writes into it."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from harness.results import migrations
from harness.errors import StoreError
from harness.results.store import Store, metadata
from tests.conftest import REPO, require
from tests.pg_server import PostgresServer, postgres  # noqa: F401 (a fixture)

pytestmark = pytest.mark.slow

SCHEMA_1 = REPO / "tests" / "data" / "store-schema-1.sql"
OLD_RUN = "20260101T000000Z-aaaaaa"
QUICKSTART = REPO / "suites" / "quickstart.yaml"


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO,
        user: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*(user or []), sys.executable, "-m", "harness.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


def schema_1_sqlite(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA_1.read_text())
    return path


def schema_1_postgres(url: str) -> None:
    """Schema 1 as 0.1 made it on PostgreSQL: the 0001 tables, no alembic_version, one run."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        _run_0001(conn)
        conn.execute(sa.text("DROP TABLE alembic_version"))
        conn.execute(sa.text("INSERT INTO harness_meta VALUES ('schema', '1')"))
        conn.execute(sa.text("INSERT INTO runs (run_id, suite, started_at, status) "
                             f"VALUES ('{OLD_RUN}', 'quickstart', now(), 'complete')"))
    engine.dispose()


def _run_0001(conn: sa.Connection) -> None:
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext

    scripts = migrations.script()
    with EnvironmentContext(Config(), scripts, fn=lambda rev, _c: scripts._upgrade_revs("0001", rev),
                            destination_rev="0001") as env:
        env.configure(connection=conn)
        env.run_migrations()


def assert_matches_metadata(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == [], f"harness/results/store.py and harness/results/migrations/versions disagree: {diff}"


# ------------------------------------------------------------------ migrations


def test_migrations_end_where_store_py_is(tmp_path: Path, postgres: PostgresServer) -> None:
    """A column added to store.py without its migration file (or the reverse) fails here, named."""
    for url in (f"sqlite:///{tmp_path / 'm.sqlite'}", postgres.new_database()):
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            _run_0001(conn)
            migrations._upgrade(conn, 1)
        engine.dispose()
        assert_matches_metadata(url)
    assert migrations.script().get_heads() == [migrations.script().get_current_head()]  # one line


def test_fresh_store_is_stamped_newest(store_url: str) -> None:
    Store(store_url)
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        assert migrations.stored_version(conn) == migrations.newest() >= 2
    assert_matches_metadata(store_url)


def test_store_of_version_0_1_is_upgraded_with_its_data(tmp_path: Path) -> None:
    db = schema_1_sqlite(tmp_path / "old.sqlite")
    done = cli("results", "--run", OLD_RUN, "--format", "json", "--store", str(db))  # reads, upgrades
    assert done.returncode == 0, done.stderr
    assert '"latency_p50_us": 12.5' in done.stdout
    store = Store(str(db))
    [row] = store.results(OLD_RUN)
    assert store.samples(row["id"]) == [1.5, 2.25, 3.0] and store.run(OLD_RUN)["suite"] == "quickstart"
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == f"{migrations.newest():04d}"
        assert conn.execute("SELECT value FROM harness_meta WHERE key='schema'").fetchone()[0] == str(migrations.newest())
    assert_matches_metadata(f"sqlite:///{db}")


def test_store_of_version_0_1_on_postgres_is_upgraded(postgres: PostgresServer) -> None:
    url = postgres.new_database()
    schema_1_postgres(url)
    store = Store(url)
    assert store.run(OLD_RUN)["status"] == "complete"
    assert_matches_metadata(url)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_newer_store_is_refused_before_measuring(backend: str, tmp_path: Path, postgres: PostgresServer) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite'}" if backend == "sqlite" else postgres.new_database()
    Store(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    expected = f"has schema version 99, newer than this edge-harness (0.1.0) knows (up to {migrations.newest()})"
    with pytest.raises(StoreError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        Store(url)
    done = cli("run", str(QUICKSTART), "--device", "host", "--store", url)
    assert done.returncode == 2 and expected in done.stderr, done.stderr
    assert "━" not in done.stdout  # refused before any progress bar: nothing measured
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM runs")).scalar() == 0
    engine.dispose()


# ------------------------------------------------------------------ bad store inputs


def test_empty_store_is_an_error_not_the_default(tmp_path: Path) -> None:
    for args in (["results", "--store", ""], ["run", str(QUICKSTART), "--device", "host", "--store", ""]):
        done = cli(*args, cwd=tmp_path)
        assert done.returncode == 2 and "the store is an empty string" in done.stderr, done.stderr
    done = cli("results", cwd=tmp_path, env={"EDGE_HARNESS_STORE": ""})
    assert done.returncode == 2 and "$EDGE_HARNESS_STORE: the store is an empty string" in done.stderr
    assert list(tmp_path.iterdir()) == []  # no results/ directory made


def test_missing_directory_is_not_created(tmp_path: Path) -> None:
    target = tmp_path / "nonexistent" / "dir" / "x.sqlite"
    done = cli("run", str(QUICKSTART), "--device", "host", "--store", str(target))
    assert done.returncode == 2, done.stderr
    assert f"cannot create it: {tmp_path / 'nonexistent'} does not exist" in done.stderr
    assert not (tmp_path / "nonexistent").exists()


def test_garbage_store_from_the_environment(tmp_path: Path) -> None:
    done = cli("results", cwd=tmp_path, env={"EDGE_HARNESS_STORE": "::garbage::"})
    assert done.returncode == 2 and "$EDGE_HARNESS_STORE: store '::garbage::': neither a URL" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_unknown_scheme_lists_the_supported_ones(tmp_path: Path) -> None:
    done = cli("results", "--store", "foo://bar", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "unknown scheme 'foo'; supported: a path or sqlite:///PATH, postgresql+psycopg://" in done.stderr
    assert "Traceback" not in done.stderr and "plugin" not in done.stderr


def _without_write_override() -> list[str]:
    """As root, file modes do not bind: drop the capability that overrides them (CI runs as root)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    require(setpriv is not None, "setpriv (util-linux) is not installed")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]


def test_results_and_report_read_a_read_only_store(tmp_path: Path) -> None:
    db = schema_1_sqlite(tmp_path / "ro.sqlite")
    Store(str(db))  # upgraded by its owner
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    out = tmp_path / "out"
    out.mkdir(mode=0o777)
    out.chmod(0o777)
    db.chmod(0o444)
    tmp_path.chmod(0o555)
    try:
        user = _without_write_override()
        done = cli("results", "--store", str(db), "--format", "csv", user=user)
        assert done.returncode == 0 and "digits" in done.stdout, done.stderr
        done = cli("report", "--store", str(db), "--out", str(out / "report"), user=user)
        assert done.returncode == 0, done.stderr
        assert (out / "report" / "index.html").exists() or list((out / "report").glob("*.html"))
        refused = cli("health", "host", "--set", "maintenance", "--store", str(db), user=user)
        assert refused.returncode == 2 and "not writable" in refused.stderr, refused.stderr
    finally:
        tmp_path.chmod(0o755)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def _row_counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("runs", "environments", "results", "latency_samples")}


@pytest.mark.parametrize("bad_first", [False, True])
def test_merge_of_a_good_and_a_corrupt_store_commits_nothing(tmp_path: Path, bad_first: bool) -> None:
    good = schema_1_sqlite(tmp_path / "good.sqlite")
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    out = tmp_path / "out.sqlite"
    Store(str(out))
    before = _row_counts(out)
    inputs = [str(corrupt), str(good)] if bad_first else [str(good), str(corrupt)]
    done = cli("merge", str(out), *inputs)
    assert done.returncode == 2 and "nothing was merged" in done.stderr and str(corrupt) in done.stderr, done.stderr
    assert _row_counts(out) == before
    assert cli("merge", str(out), str(good)).returncode == 0 and _row_counts(out)["results"] == 1


def _damage_inside(db: Path) -> None:
    """Overwrite the header of a b-tree page in the middle of the file (not page 1)."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'results'").fetchone()[0]
    assert pages > 8
    with open(db, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\x07" * 64)  # no valid page type


def test_a_store_damaged_inside_is_refused_before_writing(tmp_path: Path) -> None:
    db = tmp_path / "d.sqlite"
    store = Store(str(db))
    store.start_run({"run_id": "r1", "suite": "s", "devices": ["host"]})
    for i in range(300):
        store.record_result({"run_id": "r1", "device": "host", "family": "f", "variant": f"v{i}",
                             "status": "ok", "reason": "x" * 200}, [float(i)] * 20)
    store.engine.dispose()
    _damage_inside(db)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    with pytest.raises(StoreError, match="is corrupt"):
        Store(str(db))
    done = cli("run", str(QUICKSTART), "--device", "host", "--store", str(db))
    assert done.returncode == 2 and "is corrupt (PRAGMA quick_check" in done.stderr, done.stderr
    assert "nothing was written" in done.stderr
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
