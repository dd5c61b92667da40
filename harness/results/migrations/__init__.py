"""Store schema versions and their migrations (Alembic).

Schema version N is the Alembic revision "000N" in `versions/`; the chain is linear. On open
(harness.results.store.Store) a store is

    empty            created from harness/results/store.py's tables and stamped with the newest version
    older            upgraded in one locked transaction (SQLite BEGIN IMMEDIATE, a PostgreSQL
                     advisory lock), so two controllers opening it at once upgrade it once
    newer            refused, naming both versions, before anything is measured
    made by 0.1      (no alembic_version table: schema 1) stamped 0001, then upgraded

Adding a column (e.g. results.working_memory_bytes) is two edits: the column in
harness/results/store.py, and one file `versions/000N_<what>.py`:

    revision, down_revision = "0003", "0002"
    def upgrade() -> None:
        op.add_column("results", sa.Column("working_memory_bytes", sa.BigInteger))

tests/test_store_schema.py fails, naming the column, when the two disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from harness import __version__
from harness.errors import StoreError

LOCK_KEY = 0x4544474548  # "EDGEH": the PostgreSQL advisory lock held while upgrading
_script: ScriptDirectory | None = None


def script() -> ScriptDirectory:
    global _script
    if _script is None:
        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent))
        _script = ScriptDirectory.from_config(config)
    return _script


def newest() -> int:
    """The schema version this harness writes."""
    return int(script().get_current_head() or 0)


def stored_version(conn: sa.Connection) -> int | None:
    """The store's schema version; None for an empty database."""
    tables = set(sa.inspect(conn).get_table_names())
    if "alembic_version" in tables:
        revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        if revision is None or not str(revision).isdigit():
            raise StoreError(f"unknown schema revision {revision!r} (not one edge-harness wrote)")
        return int(revision)
    if "runs" in tables:
        return 1  # made before migrations existed
    return None if not tables else _foreign(tables)


def _foreign(tables: set[str]) -> int:
    raise StoreError(f"not an edge-harness store (it holds other tables: {', '.join(sorted(tables)[:5])})")


def prepare(engine: sa.Engine, url: str, metadata: sa.MetaData, writable: bool) -> None:
    """Check the store's schema version; create or upgrade it when `writable`."""
    with engine.connect() as conn:
        version = _checked(stored_version(conn), url)
    if version == newest():
        return
    if not writable:
        what = "is empty" if version is None else f"has schema version {version}, this harness reads {newest()}"
        raise StoreError(f"store {url} {what} and is opened read-only: nothing to read "
                         "(a run or `harness health --store ...` creates or upgrades it)")
    with engine.connect() as conn:
        _lock(conn)
        version = _checked(stored_version(conn), url)  # another controller may have done it
        if version is None:
            metadata.create_all(conn)
            MigrationContext.configure(conn).stamp(script(), script().get_current_head())
        elif version < newest():
            _upgrade(conn, version)
        conn.execute(sa.text("DELETE FROM harness_meta WHERE key = 'schema'"))
        conn.execute(sa.text("INSERT INTO harness_meta (key, value) VALUES ('schema', :v)"), {"v": str(newest())})
        conn.commit()


def _checked(version: int | None, url: str) -> int | None:
    if version is not None and version > newest():
        raise StoreError(f"store {url} has schema version {version}, newer than this edge-harness "
                         f"({__version__}) knows (up to {newest()}): upgrade edge-harness to use it")
    return version


def _lock(conn: sa.Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # DDL too inside one transaction; one writer at a time
    elif conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})


def _upgrade(conn: sa.Connection, version: int) -> None:
    scripts = script()
    if version == 1 and "alembic_version" not in sa.inspect(conn).get_table_names():
        MigrationContext.configure(conn).stamp(scripts, "0001")
    head = scripts.get_current_head()

    def steps(revision, _context):  # type: ignore[no-untyped-def]
        return scripts._upgrade_revs(head, revision)

    with EnvironmentContext(Config(), scripts, fn=steps, destination_rev=head) as env:
        env.configure(connection=conn, transaction_per_migration=False)
        env.run_migrations()


def add_result_columns(columns: tuple[tuple[str, Any], ...]) -> None:
    """A migration's upgrade(): nullable columns added to `results` (SQLite alters by copying, so batch mode)."""
    from alembic import op

    with op.batch_alter_table("results") as batch:
        for name, kind in columns:
            batch.add_column(sa.Column(name, kind))


def drop_result_columns(columns: tuple[tuple[str, Any], ...]) -> None:
    """The matching downgrade()."""
    from alembic import op

    with op.batch_alter_table("results") as batch:
        for name, _ in reversed(columns):
            batch.drop_column(name)
