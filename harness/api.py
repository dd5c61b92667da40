"""The Python API for notebooks: stored runs and results as typed pandas DataFrames.

    from harness import api
    df = api.results("results/edge-harness.sqlite", run="latest", status="ok")
    df.groupby("variant")["latency_p50_us"].median()

`store` is a store URL or SQLite path (None: the default store, see docs/operations.md); `run` is
anything a command accepts: a run id, a unique prefix, `latest` or `last-good`. Columns carry
the store's types as pandas nullable dtypes (Int64, Float64, boolean, string, UTC datetimes), so a
missing measurement is <NA>, never 0. Example: examples/notebook_results.py.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa

from harness.results import baselines
from harness.results import store as store_mod
from harness.results.store import Store

JSON_COLUMNS = ("conditions", "power_detail", "thresholds", "extra", "devices")
RUN_COLUMNS = ("run_id", "suite", "devices", "status", "ok", "failed", "skipped", "not-run",
               "started_at", "ended_at", "duration_s", "harness_version", "git_describe", "controller")


def open_store(store: Store | str | None) -> Store:
    return store if isinstance(store, Store) else Store(store)


def results(store: Store | str | None = None, run: str = "latest", *, device: str | None = None,
            family: str | None = None, status: str | None = None) -> pd.DataFrame:
    """One row per stored result of `run`, optionally only one device, family or status."""
    db = open_store(store)
    rows = [r for r in db.results(baselines.resolve(db, run)) if _keep(r, device, family, status)]
    return typed_frame(rows, store_mod.results)


def runs(store: Store | str | None = None, *, suite: str | None = None, device: str | None = None,
         status: str | None = None, limit: int | None = None) -> pd.DataFrame:
    """Stored runs, newest first, with their result counts per status and their duration."""
    db = open_store(store)
    counts = db.result_counts()
    records = []
    for run in db.runs():
        if (suite and run["suite"] != suite) or (device and device not in (run["devices"] or [])) \
                or (status and run["status"] != status):
            continue
        found = counts.get(run["run_id"], {})
        ended, started = run["ended_at"], run["started_at"]
        records.append({**{k: run.get(k) for k in RUN_COLUMNS if k in run},
                        **{s: found.get(s, 0) for s in ("ok", "failed", "skipped", "not-run")},
                        "duration_s": (ended - started).total_seconds() if ended and started else None})
        if limit is not None and len(records) >= limit:
            break
    frame = typed_frame(records, store_mod.runs)
    for column in ("ok", "failed", "skipped", "not-run"):
        frame[column] = frame[column].astype("Int64") if column in frame else pd.array([], "Int64")
    frame["duration_s"] = frame.get("duration_s", pd.Series(dtype="Float64")).astype("Float64")
    return frame.reindex(columns=list(RUN_COLUMNS))


def _keep(row: dict[str, Any], device: str | None, family: str | None, status: str | None) -> bool:
    return ((device is None or row["device"] == device) and (family is None or row["family"] == family)
            and (status is None or row["status"] == status))


def typed_frame(rows: list[dict[str, Any]], table: sa.Table) -> pd.DataFrame:
    """Rows of a store table as a DataFrame whose dtypes follow the table's column types."""
    frame = pd.DataFrame.from_records(rows, columns=list(rows[0]) if rows else [c.name for c in table.columns])
    for column in table.columns:
        if column.name in frame:
            frame[column.name] = _typed(frame[column.name], column.type)
    return frame


def _typed(series: pd.Series, kind: sa.types.TypeEngine) -> pd.Series:
    if isinstance(kind, sa.Boolean):
        return series.astype("boolean")
    if isinstance(kind, sa.Integer):
        return series.astype("Int64")
    if isinstance(kind, sa.Float):
        return series.astype("Float64")
    if isinstance(kind, sa.DateTime):
        return pd.to_datetime(series, utc=True)
    if isinstance(kind, (sa.String, sa.Text)) and not isinstance(kind, sa.JSON):
        return series.astype("string")
    return series  # JSON: dicts and lists as they were stored
