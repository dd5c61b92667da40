"""`harness merge OUT IN...`: fold the stores of CI matrix jobs (or of several labs) into one.

Runs, environments, results and latency samples are copied; environment and result ids are
renumbered in OUT. Every input is read first (an unreadable or corrupt one stops the merge before
anything is written), then all are merged in one transaction: all of them or nothing.

Idempotent: a row already in OUT with the same content is left alone, so merging twice adds
nothing. A run present on both sides (the shards of one run share its id) is combined: the
earliest start, the latest end, the union of devices and the worst status; a different suite
file is a conflict. A result present on both sides with different content (same run, device,
family and variant, different measurements) is a conflict: the merge stops, writes nothing of
that input, and names every conflicting case.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from harness.errors import StoreError
from harness.results.store import Store, environments, latency_samples, normalize_url, results, runs

# Worst last: a merged run is only as finished as its least finished part.
_STATUS_ORDER = ("complete", "regressed", "failed", "interrupted", "running")
_RUN_IDENTITY = ("suite", "suite_sha256")
_RESULT_IGNORED = ("id", "environment_id")


@dataclass
class MergeCounts:
    runs_added: int = 0
    runs_combined: int = 0
    environments_added: int = 0
    results_added: int = 0
    results_already_there: int = 0
    samples_added: int = 0

    def add(self, other: "MergeCounts") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def open_source(url: str) -> Store:
    """An input store, which must exist; opened read-only (merging never changes an input)."""
    url = normalize_url(url)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise StoreError(f"merge: no store at {path}")
    try:
        return Store(url, readonly=True)
    except StoreError as exc:
        raise StoreError(f"merge: input {exc}; nothing was merged") from None


def merge(out: Store, sources: list[Store]) -> MergeCounts:
    for source in sources:
        if source.url == out.url:
            raise StoreError(f"merge: {source.url} is also the output store")
    inputs = [(source.url, _read_all(source)) for source in sources]  # all readable, or nothing written
    total = MergeCounts()
    try:
        with out.engine.begin() as conn:
            for url, data in inputs:
                total.add(_merge_into(conn, data, url))
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"merge -> {out.url}: {str(getattr(exc, 'orig', exc)).splitlines()[0]}; "
                         "nothing was merged") from None
    return total


def _read_all(source: Store) -> dict[str, list[dict[str, Any]]]:
    try:
        with source.engine.connect() as conn:
            return {name: [dict(r._mapping) for r in conn.execute(sa.select(table))]
                    for name, table in (("runs", runs), ("environments", environments),
                                        ("results", results), ("samples", latency_samples))}
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"merge: cannot read {source.url}: {str(getattr(exc, 'orig', exc)).splitlines()[0]}; "
                         "nothing was merged") from None


def _merge_into(conn: sa.Connection, data: dict[str, list[dict[str, Any]]], source: str) -> MergeCounts:
    counts = MergeCounts()
    for run in data["runs"]:
        _merge_run(conn, run, source, counts)
    env_ids = {env["id"]: _merge_environment(conn, env, counts) for env in data["environments"]}
    fingerprints = {env["id"]: env["fingerprint"] for env in data["environments"]}
    samples = {s["result_id"]: s for s in data["samples"]}
    conflicts = []
    for row in data["results"]:
        conflict = _merge_result(conn, row, env_ids, fingerprints, samples.get(row["id"]), counts)
        if conflict:
            conflicts.append(conflict)
    if conflicts:
        raise StoreError(f"merge {source}: {len(conflicts)} conflicting result(s), nothing merged: "
                         + "; ".join(conflicts))
    return counts


def _merge_run(conn: sa.Connection, run: dict[str, Any], source: str, counts: MergeCounts) -> None:
    existing = conn.execute(sa.select(runs).where(runs.c.run_id == run["run_id"])).first()
    if existing is None:
        conn.execute(runs.insert().values(**_aware(run)))
        counts.runs_added += 1
        return
    existing = dict(existing._mapping)
    for field in _RUN_IDENTITY:
        if existing[field] != run[field]:
            raise StoreError(f"merge {source}: run {run['run_id']} has a different {field} "
                             f"({run[field]!r}) than in the output store ({existing[field]!r})")
    combined = {
        "started_at": min(_utc(existing["started_at"]), _utc(run["started_at"])),
        "ended_at": _latest_end(existing["ended_at"], run["ended_at"]),
        "devices": [*(existing["devices"] or []),
                    *(d for d in run["devices"] or [] if d not in (existing["devices"] or []))],
        "status": max(existing["status"], run["status"], key=_status_rank),
    }
    if any(combined[k] != (_utc(existing[k]) if k.endswith("_at") else existing[k]) for k in combined):
        conn.execute(runs.update().where(runs.c.run_id == run["run_id"]).values(**combined))
        counts.runs_combined += 1


def _merge_environment(conn: sa.Connection, env: dict[str, Any], counts: MergeCounts) -> int:
    key = (environments.c.run_id == env["run_id"], environments.c.device == env["device"],
           environments.c.fingerprint == env["fingerprint"])
    found = conn.execute(sa.select(environments.c.id).where(*key)).scalar()
    if found is not None:
        return found
    counts.environments_added += 1
    values = {k: v for k, v in env.items() if k != "id"}
    return conn.execute(environments.insert().values(**values)).inserted_primary_key[0]


def _merge_result(conn: sa.Connection, row: dict[str, Any], env_ids: dict[int, int],
                  fingerprints: dict[int, str], sample: dict[str, Any] | None,
                  counts: MergeCounts) -> str | None:
    """None when merged or already there; a description of the case when it conflicts."""
    key = (results.c.run_id == row["run_id"], results.c.device == row["device"],
           results.c.family == row["family"], results.c.variant == row["variant"])
    found = conn.execute(sa.select(results).where(*key)).first()
    if found is not None:
        differs = _result_differences(conn, dict(found._mapping), row, fingerprints, sample)
        if differs:
            return f"run {row['run_id']} {row['device']} {row['family']}/{row['variant']} differs in {', '.join(differs)}"
        counts.results_already_there += 1
        return None
    values = {k: v for k, v in _aware(row).items() if k not in _RESULT_IGNORED}
    values["environment_id"] = env_ids.get(row["environment_id"]) if row["environment_id"] is not None else None
    new_id = conn.execute(results.insert().values(**values)).inserted_primary_key[0]
    counts.results_added += 1
    if sample is not None:
        conn.execute(latency_samples.insert().values(result_id=new_id, count=sample["count"],
                                                     samples_us=sample["samples_us"]))
        counts.samples_added += 1
    return None


def _result_differences(conn: sa.Connection, mine: dict[str, Any], theirs: dict[str, Any],
                        fingerprints: dict[int, str], sample: dict[str, Any] | None) -> list[str]:
    differs = [k for k in theirs if k not in _RESULT_IGNORED and _norm(mine[k]) != _norm(theirs[k])]
    my_env = conn.execute(sa.select(environments.c.fingerprint)
                          .where(environments.c.id == mine["environment_id"])).scalar()
    if my_env != fingerprints.get(theirs["environment_id"]):
        differs.append("environment")
    my_sample = conn.execute(sa.select(latency_samples.c.samples_us)
                             .where(latency_samples.c.result_id == mine["id"])).scalar()
    if (bytes(my_sample) if my_sample is not None else None) != (bytes(sample["samples_us"]) if sample else None):
        differs.append("latency samples")
    return differs


def _status_rank(status: str) -> int:
    return _STATUS_ORDER.index(status) if status in _STATUS_ORDER else len(_STATUS_ORDER)


def _latest_end(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return None  # a part still running or killed has no end yet
    return max(_utc(a), _utc(b))


def _utc(value: Any) -> Any:
    # SQLite gives back naive UTC datetimes, PostgreSQL aware ones: make both aware UTC.
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return value


def _aware(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _utc(v) for k, v in row.items()}


def _norm(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return "nan"  # NaN != NaN, but two stored NaNs are the same measurement
    return _utc(value)
