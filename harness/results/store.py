"""The results store: runs, environments, results and latency samples (SQLAlchemy Core).

SQLite by default; a PostgreSQL URL works with the same schema. Every result is written in
its own transaction together with its samples, so a run killed at any moment keeps all it
had measured, and the (run, device, family, variant) key makes a repeated write an error
instead of a duplicate.
"""

from __future__ import annotations

import json
import os
import time
from array import array
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import sqlalchemy as sa

from harness.errors import StoreError
from harness.masking import mask, mask_optional

SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")  # what `--store` takes (a plain path is SQLite)
QUICK_CHECK_S = 2.0  # PRAGMA quick_check on open, cut short past this (a huge store is checked in part)

metadata = sa.MetaData()

runs = sa.Table(
    "runs", metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("suite", sa.String(200), nullable=False),
    sa.Column("suite_path", sa.Text),
    sa.Column("suite_sha256", sa.String(64)),
    sa.Column("suite_text", sa.Text),
    sa.Column("devices", sa.JSON),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True)),
    sa.Column("status", sa.String(20), nullable=False),  # running | complete | failed | interrupted
    sa.Column("harness_version", sa.String(40)),
    sa.Column("git_describe", sa.String(100)),
    sa.Column("controller", sa.String(200)),  # the host that drove the run
    sa.Column("command", sa.Text),
)

environments = sa.Table(
    "environments", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id"), nullable=False),
    sa.Column("device", sa.String(100), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.UniqueConstraint("run_id", "device", "fingerprint"),
)

_METRICS = [
    ("init_ms", sa.Float), ("first_inference_ms", sa.Float), ("warmup_count", sa.Integer),
    ("latency_n", sa.Integer), ("latency_p50_us", sa.Float), ("latency_p90_us", sa.Float),
    ("latency_p99_us", sa.Float), ("latency_mean_us", sa.Float), ("latency_std_us", sa.Float),
    ("latency_min_us", sa.Float), ("latency_max_us", sa.Float),
    ("latency_ci_low_us", sa.Float), ("latency_ci_high_us", sa.Float),
    ("set_input_us", sa.Float), ("get_output_us", sa.Float),
    ("rss_load_delta_bytes", sa.BigInteger), ("rss_peak_bytes", sa.BigInteger),
    ("arena_bytes", sa.BigInteger),
    # the one memory model (harness/measures/memory.py): working memory by its runtime class's method,
    # and the model's own activation plan for comparison (from the flatbuffer, not measured)
    ("working_memory_bytes", sa.BigInteger), ("working_memory_method", sa.String(20)),
    ("planned_activation_bytes", sa.BigInteger),
    ("accuracy_top1", sa.Float), ("accuracy_top5", sa.Float), ("accuracy_samples", sa.Integer),
    ("accuracy_delta_points", sa.Float),  # vs the family's reference variant, same run and device
    # compute utilization in the measured window (the seed's 4th indicator, < 85 %)
    ("cpu_utilization", sa.Float), ("board_busy_fraction", sa.Float), ("utilization_method", sa.String(80)),
    # the NPU's/GPU's busy share over that window, where the profile says where to read it
    ("accelerator_busy_fraction", sa.Float), ("accelerator_method", sa.String(200)),
    ("energy_uj", sa.Float), ("avg_power_mw", sa.Float), ("peak_power_mw", sa.Float),
    ("idle_power_mw", sa.Float), ("battery_pct_per_hour", sa.Float), ("battery_life_h", sa.Float),
]
METRIC_COLUMNS = [name for name, _ in _METRICS]

results = sa.Table(
    "results", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id"), nullable=False),
    sa.Column("device", sa.String(100), nullable=False),
    sa.Column("family", sa.String(100), nullable=False),
    sa.Column("variant", sa.String(100), nullable=False),
    sa.Column("reference_variant", sa.String(100)),  # the family's baseline, usually fp32
    sa.Column("status", sa.String(20), nullable=False),  # ok | skipped | failed | not-run
    sa.Column("reason", sa.Text),
    sa.Column("error_kind", sa.String(20)),  # model | device | infrastructure | config
    sa.Column("runtime", sa.String(40)),
    sa.Column("emulated", sa.Boolean, nullable=False, default=False),
    sa.Column("model_sha256", sa.String(64)),
    sa.Column("model_bytes", sa.BigInteger),
    sa.Column("model_gzip_bytes", sa.BigInteger),
    sa.Column("environment_id", sa.Integer, sa.ForeignKey("environments.id")),
    sa.Column("conditions", sa.JSON),  # board clock/temperature, controller load etc. (harness/lab/conditions.py)
    sa.Column("latency_repeat_p50_us", sa.JSON),  # median of each repetition (run --repeat, --rerun-suspects)
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("duration_s", sa.Float),
    *[sa.Column(name, kind) for name, kind in _METRICS],
    sa.Column("power_status", sa.String(20), nullable=False, default="not measured"),
    sa.Column("power_detail", sa.JSON),
    sa.Column("thresholds", sa.JSON),  # [{name, limit, value, passed}]
    sa.Column("thresholds_passed", sa.Boolean),  # NULL: no threshold applied
    # issue 18: an emulated Cortex-M's cycle estimate, its own figure named by its method
    # (cycle_model, e.g. cortex-m3-trm/v1); per-operator breakdown in extra["cycles"]
    sa.Column("estimated_cycles", sa.BigInteger),
    sa.Column("estimated_latency_us", sa.Float),
    sa.Column("cycle_model", sa.String(40)),
    sa.Column("extra", sa.JSON),
    sa.Column("task", sa.String(40)),  # the family's task (harness/measures/metrics.py)
    sa.Column("model_macs", sa.BigInteger),  # from the flatbuffer (harness/models/tflite_model.py)
    sa.Column("technique", sa.String(40)),  # the manifest's compression technique of the variant
    sa.Column("derived_from", sa.String(100)),  # ... and the variant it was compressed from
    sa.Column("metrics", sa.JSON),  # the task's metrics: top1/confusion, false_alarm_rate/recall/auc, mae...
    sa.UniqueConstraint("run_id", "device", "family", "variant", name="one_result_per_case"),
)

latency_samples = sa.Table(
    "latency_samples", metadata,
    sa.Column("result_id", sa.Integer, sa.ForeignKey("results.id"), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("samples_us", sa.LargeBinary, nullable=False),  # little-endian float64 array
)

boards = sa.Table(
    "boards", metadata,  # LAVA-style health per board, carried from run to run
    sa.Column("device", sa.String(100), primary_key=True),
    sa.Column("health", sa.String(20), nullable=False),  # good | unknown | bad | maintenance
    sa.Column("reason", sa.Text),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

meta = sa.Table(
    "harness_meta", metadata,
    sa.Column("key", sa.String(40), primary_key=True),
    sa.Column("value", sa.String(200)),
)

leases = sa.Table(
    "leases", metadata,  # who measures a run, or a board, right now (harness/results/leases.py)
    sa.Column("kind", sa.String(10), primary_key=True),  # run | board
    sa.Column("name", sa.String(200), primary_key=True),  # the run id, or the board's lease name
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("holder", sa.String(32), nullable=False),  # a random token per holding process
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("host", sa.String(200), nullable=False),
    sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
)

sa.Index("results_by_device_case", results.c.device, results.c.family, results.c.variant)


def now() -> datetime:
    return datetime.now(timezone.utc)


def normalize_url(url_or_path: str) -> str:
    """A plain path means SQLite; a URL must use one of SCHEMES."""
    if not url_or_path.strip():
        raise StoreError("the store is an empty string: give a SQLite path or a URL "
                         f"({', '.join(f'{s}://' for s in SCHEMES)}), or leave --store out for the default store")
    if "://" not in url_or_path:
        if ":" in url_or_path.split("/")[0] and not Path(url_or_path).exists():
            raise StoreError(f"store {url_or_path!r}: neither a URL (SCHEME://...) nor a sensible path; "
                             f"supported schemes: {', '.join(SCHEMES)}, or a plain SQLite file path")
        return f"sqlite:///{url_or_path}"
    scheme = url_or_path.split("://", 1)[0]
    if scheme.split("+")[0] not in ("sqlite", "postgresql"):
        raise StoreError(f"store {url_or_path}: unknown scheme {scheme!r}; supported: a path or sqlite:///PATH, "
                         "postgresql+psycopg://USER@HOST/DB (the `postgres` extra)")
    return url_or_path


def configured_url(url: str | None) -> str:
    """--store, else $EDGE_HARNESS_STORE, else the default; an empty value is an error, not the default."""
    if url is not None:
        return normalize_url(url)
    env = os.environ.get("EDGE_HARNESS_STORE")
    if env is not None:
        try:
            return normalize_url(env)
        except StoreError as exc:
            raise StoreError(f"$EDGE_HARNESS_STORE: {exc}") from None
    return default_url()


def default_url() -> str:
    """Where a store goes when none is named (harness/locations.py: the project's, else the user's)."""
    from harness.locations import default_store

    return normalize_url(default_store())


def utc_naive(value: Any) -> Any:
    """A datetime as naive UTC: SQLite gives back naive UTC datetimes, PostgreSQL aware ones."""
    return value.astimezone(timezone.utc).replace(tzinfo=None) if getattr(value, "tzinfo", None) else value


class Store:
    """`readonly`: for commands that only read (results, report, merge's inputs): a store that does
    not exist is an error (never created), and one the user cannot write is opened read-only (an
    older schema is upgraded only where it can be written). Otherwise the store is created
    (SQLite: only in an existing directory, except the default location), upgraded to this
    harness's schema, and a SQLite file is checked for corruption before anything is written."""

    def __init__(self, url: str | None = None, *, readonly: bool = False) -> None:
        self.url = configured_url(url)
        self.readonly = readonly
        self.writable = not readonly
        self.engine = self._connect()

    def _connect(self) -> sa.Engine:
        from harness.results import migrations

        engine = self._engine()
        # Two controllers opening a fresh store at once race to create the schema ("table runs
        # already exists", a duplicate pg_type row): the loser tries again and finds it made.
        for attempt in range(3):
            try:
                migrations.prepare(engine, self.url, metadata, writable=self.writable)
                if engine.dialect.name == "sqlite" and not self.readonly:
                    _quick_check(engine, self.url)
                return engine
            except sa.exc.SQLAlchemyError as exc:
                if attempt == 2 or isinstance(exc, sa.exc.DatabaseError) and _corrupt(exc):
                    raise StoreError(f"store {self.url}: cannot open: {_short(exc)}") from None
                time.sleep(0.1 * (attempt + 1))
        raise AssertionError("unreachable")

    def _engine(self) -> sa.Engine:
        url = self.url
        if self.readonly and url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            if not path.is_file():
                raise StoreError(f"store {path}: no such file (nothing was stored there yet; a run creates it)")
            writable_dir = os.access(path.resolve().parent, os.W_OK)
            self.writable = writable_dir and os.access(path, os.W_OK)
            if not self.writable:  # mode=ro: a file we may not write; immutable: nor its directory (no -shm)
                url = f"sqlite:///file:{path}?mode=ro{'' if writable_dir else '&immutable=1'}&uri=true"
        try:
            engine = sa.create_engine(url, future=True)
        except sa.exc.NoSuchModuleError:  # 'Can't load plugin: sqlalchemy.dialects:sqlite.foo'
            raise StoreError(f"store {self.url}: unknown driver {self.url.split('://')[0]!r}; use a path, "
                             "sqlite:///PATH or postgresql+psycopg://HOST/DB") from None
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise StoreError(f"store {self.url}: {_short(exc)}") from None
        if engine.dialect.name == "sqlite":
            if not self.readonly:
                self._prepare_sqlite_dir(engine)
            sa.event.listen(engine, "connect", _sqlite_pragmas if self.writable else _sqlite_read_pragmas)
        return engine

    def _prepare_sqlite_dir(self, engine: sa.Engine) -> None:
        database = engine.url.database
        if not database or database == ":memory:":
            return
        parent = Path(database).resolve().parent
        if not parent.is_dir() and self.url == default_url():  # the harness's own location, documented
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"store {database}: cannot create {parent}: {exc.strerror}") from None
        if not parent.is_dir():  # a typo must not scatter stores over the disk
            blocker = next((p for p in [parent, *parent.parents] if p.exists() and not p.is_dir()), None)
            if blocker is not None:
                raise StoreError(f"store {database}: cannot create it: {blocker} is a file, not a directory")
            raise StoreError(f"store {database}: cannot create it: {_first_missing(parent)} does not exist "
                             f"(only the default location is created for you); mkdir -p {parent} first, "
                             "or choose another path")
        if not os.access(parent, os.W_OK) or (Path(database).exists() and not os.access(database, os.W_OK)):
            raise StoreError(f"store {database}: not writable (commands that only read, `results` and "
                             "`report`, work on a read-only store)")

    def transaction(self, fn, *args: Any) -> Any:
        try:
            with self.engine.begin() as conn:
                return fn(conn, *args)
        except sa.exc.IntegrityError as exc:
            raise StoreError(f"store {self.url}: refused a duplicate or inconsistent write: {_short(exc)}") from None
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"store {self.url}: write failed: {_short(exc)}") from None

    # ------------------------------------------------------------ writes

    def start_run(self, row: dict[str, Any]) -> str:
        values = {"status": "running", "started_at": now(), **row}
        if isinstance(values.get("command"), str):  # argv may hold a store URL with a password
            values["command"] = mask(values["command"])
        self.transaction(lambda conn: conn.execute(runs.insert().values(**values)))
        return values["run_id"]

    def finish_run(self, run_id: str, status: str) -> None:
        """End a run; a run marked `regressed` keeps that mark (it is never anyone's last-good)."""
        def write(conn: sa.Connection) -> None:
            conn.execute(runs.update().where(runs.c.run_id == run_id).values(ended_at=now()))
            conn.execute(runs.update().where(runs.c.run_id == run_id, runs.c.status != "regressed")
                         .values(status=status))

        self.transaction(write)

    def discard_run(self, run_id: str) -> bool:
        """Remove a run that stored no result (a configuration error stopped it); False if it has one."""
        def write(conn: sa.Connection) -> bool:
            if conn.execute(sa.select(results.c.id).where(results.c.run_id == run_id).limit(1)).first():
                return False
            for table in (environments, leases, runs):
                conn.execute(table.delete().where(table.c.run_id == run_id))
            return True

        return self.transaction(write)

    def update_run(self, run_id: str, **values: Any) -> None:
        self.transaction(lambda conn: conn.execute(runs.update().where(runs.c.run_id == run_id).values(**values)))

    def mark_run(self, run_id: str, status: str) -> None:
        """Change a finished run's status only (e.g. `regressed` after a baseline comparison)."""
        self.transaction(lambda conn: conn.execute(runs.update().where(runs.c.run_id == run_id).values(status=status)))

    def reopen_run(self, run_id: str) -> None:
        """A resumed run is running again; one marked `regressed` keeps its mark."""
        def write(conn: sa.Connection) -> None:
            conn.execute(runs.update().where(runs.c.run_id == run_id).values(ended_at=None))
            conn.execute(runs.update().where(runs.c.run_id == run_id, runs.c.status != "regressed")
                         .values(status="running"))

        self.transaction(write)

    def record_environment(self, run_id: str, device: str, data: dict[str, Any]) -> int:
        fingerprint = _fingerprint(data)

        def write(conn: sa.Connection) -> int:
            found = conn.execute(sa.select(environments.c.id).where(
                environments.c.run_id == run_id, environments.c.device == device,
                environments.c.fingerprint == fingerprint)).scalar()
            if found is not None:
                return found
            return conn.execute(environments.insert().values(
                run_id=run_id, device=device, fingerprint=fingerprint, data=data)).inserted_primary_key[0]

        return self.transaction(write)

    def record_result(self, row: dict[str, Any], samples_us: Iterable[float] = ()) -> int:
        """One result and its latency samples, atomically."""
        samples = array("d", samples_us)

        def write(conn: sa.Connection) -> int:
            values = {**row, "reason": mask_optional(row.get("reason"))}  # a library's message may quote a URL
            result_id = conn.execute(results.insert().values(recorded_at=now(), **values)).inserted_primary_key[0]
            if samples:
                conn.execute(latency_samples.insert().values(
                    result_id=result_id, count=len(samples), samples_us=_pack(samples)))
            return result_id

        return self.transaction(write)

    def replace_latency(self, result_id: int, values: dict[str, Any], samples_us: Iterable[float]) -> None:
        """A re-measured case (`run --rerun-suspects`): its latency columns and samples, atomically."""
        samples = array("d", samples_us)

        def write(conn: sa.Connection) -> None:
            conn.execute(results.update().where(results.c.id == result_id).values(**values))
            conn.execute(latency_samples.delete().where(latency_samples.c.result_id == result_id))
            conn.execute(latency_samples.insert().values(result_id=result_id, count=len(samples),
                                                         samples_us=_pack(samples)))

        self.transaction(write)

    def set_board_health(self, device: str, health: str, reason: str | None) -> None:
        values = {"health": health, "reason": mask_optional(reason), "updated_at": now()}

        def write(conn: sa.Connection) -> None:
            updated = conn.execute(boards.update().where(boards.c.device == device).values(**values))
            if updated.rowcount == 0:
                conn.execute(boards.insert().values(device=device, **values))

        self.transaction(write)

    # ------------------------------------------------------------ reads

    def board_health(self, device: str) -> dict[str, Any] | None:
        found = self.rows(sa.select(boards).where(boards.c.device == device))
        return found[0] if found else None

    def boards_health(self) -> list[dict[str, Any]]:
        return self.rows(sa.select(boards).order_by(boards.c.device))

    def rows(self, query: sa.Select) -> list[dict[str, Any]]:
        try:
            with self.engine.connect() as conn:
                return [dict(row._mapping) for row in conn.execute(query)]
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"store {self.url}: read failed: {_short(exc)}") from None

    def run(self, run_id: str) -> dict[str, Any]:
        found = self.rows(sa.select(runs).where(runs.c.run_id == run_id))
        if not found:
            raise StoreError(f"store {self.url}: no run {run_id!r}")
        return found[0]

    def runs(self, limit: int | None = None) -> list[dict[str, Any]]:
        return self.rows(sa.select(runs).order_by(runs.c.started_at.desc()).limit(limit))

    def run_ids_starting(self, prefix: str) -> list[str]:
        """Ids of the runs whose id starts with `prefix` (a unique prefix names a run)."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self.rows(sa.select(runs.c.run_id).where(runs.c.run_id.like(f"{escaped}%", escape="\\"))
                          .order_by(runs.c.run_id).limit(10))
        return [r["run_id"] for r in rows]

    def result_counts(self) -> dict[str, dict[str, int]]:
        """run id -> {status: number of results}."""
        query = (sa.select(results.c.run_id, results.c.status, sa.func.count().label("n"))
                 .group_by(results.c.run_id, results.c.status))
        counts: dict[str, dict[str, int]] = {}
        for row in self.rows(query):
            counts.setdefault(row["run_id"], {})[row["status"]] = int(row["n"])
        return counts

    def latest_run_id(self) -> str:
        latest = self.runs(limit=1)
        if not latest:
            raise StoreError(f"store {self.url}: no runs yet")
        return latest[0]["run_id"]

    def results(self, run_id: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(results).order_by(results.c.id)
        if run_id is not None:
            query = query.where(results.c.run_id == run_id)
        return self.rows(query)

    def latest_estimate(self, model_sha256: str, core: str) -> dict[str, Any] | None:
        """The newest cycle estimate of a model by a `core` cycle model (calibration, issue 18)."""
        query = (sa.select(results).where(results.c.model_sha256 == model_sha256,
                                          results.c.estimated_cycles.is_not(None),
                                          results.c.cycle_model.like(f"{core}-%"))
                 .order_by(results.c.recorded_at.desc(), results.c.id.desc()).limit(1))
        found = self.rows(query)
        return found[0] if found else None

    def environments(self, run_id: str) -> list[dict[str, Any]]:
        return self.rows(sa.select(environments).where(environments.c.run_id == run_id)
                          .order_by(environments.c.id))

    def samples(self, result_id: int) -> list[float]:
        found = self.rows(sa.select(latency_samples.c.samples_us)
                           .where(latency_samples.c.result_id == result_id))
        return _unpack(found[0]["samples_us"]) if found else []

    def completed_cases(self, run_id: str) -> set[tuple[str, str, str]]:
        """(device, family, variant) of every result already stored for a run."""
        rows = self.rows(sa.select(results.c.device, results.c.family, results.c.variant)
                          .where(results.c.run_id == run_id))
        return {(r["device"], r["family"], r["variant"]) for r in rows}


def _sqlite_read_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _quick_check(engine: sa.Engine, url: str) -> None:
    """A store damaged inside is refused before a run writes into it. Bounded in time: past
    QUICK_CHECK_S the check is cut short (SQLite's progress handler) and the store trusted."""
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        deadline = time.monotonic() + QUICK_CHECK_S
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 10000)
        try:
            found = [row[0] for row in conn.exec_driver_sql("PRAGMA quick_check(5)")]
        except sa.exc.OperationalError as exc:
            if "interrupt" in str(exc):
                return
            raise
        finally:
            raw.set_progress_handler(None, 0)
    if found != ["ok"]:
        raise StoreError(f"store {url} is corrupt (PRAGMA quick_check: {'; '.join(found)}); nothing was "
                         "written to it. Keep a copy, then recover what is readable: "
                         "sqlite3 STORE .recover | sqlite3 NEW.sqlite")


def _corrupt(exc: sa.exc.DatabaseError) -> bool:
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text or "corrupt" in text


def _first_missing(path: Path) -> Path:
    while not path.parent.exists() and path.parent != path:
        path = path.parent
    return path


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets a report read while a run writes; a busy timeout lets two writers take turns.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _fingerprint(data: dict[str, Any]) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _pack(samples: array) -> bytes:
    if array("d", [1.0]).tobytes()[0] != 0:  # big-endian host: store little-endian regardless
        samples = array("d", samples)
        samples.byteswap()
    return samples.tobytes()


def _unpack(blob: bytes) -> list[float]:
    samples = array("d")
    samples.frombytes(blob)
    if array("d", [1.0]).tobytes()[0] != 0:
        samples.byteswap()
    return samples.tolist()


def _short(exc: Exception) -> str:
    return str(getattr(exc, "orig", None) or exc).splitlines()[0]
