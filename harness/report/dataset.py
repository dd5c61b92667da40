"""What a publication reads from the store: the period's results, the rows that are scored,
their latency samples, and the nightly series. Reads only; no scoring here."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np
import sqlalchemy as sa

from harness.results import store as st
from harness.report.definition import ReportDefinition

Key = tuple[str, str, str]  # (device, family, variant)


def period_rows(store: st.Store, definition: ReportDefinition) -> list[dict[str, Any]]:
    """Every result of the definition's suites and devices from runs started in its period,
    oldest first, with its run's start time as `night`."""
    start, end = definition.period.bounds()
    query = (sa.select(st.results, st.runs.c.suite, st.runs.c.started_at.label("night"))
             .join(st.runs, st.runs.c.run_id == st.results.c.run_id)
             .where(st.runs.c.suite.in_(definition.suites),
                    st.runs.c.started_at >= start, st.runs.c.started_at < end)
             .order_by(st.runs.c.started_at, st.results.c.id))
    if definition.devices is not None:
        query = query.where(st.results.c.device.in_(definition.devices))
    return store.rows(query)


def latest_ok(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The latest successful result per device × model (× emulated): what the paper scores."""
    chosen: dict[tuple[str, str, str, bool], dict[str, Any]] = {}
    for r in rows:  # oldest first, so the last write wins
        if r["status"] == "ok":
            chosen[(r["device"], r["family"], r["variant"], bool(r["emulated"]))] = r
    return sorted(chosen.values(), key=lambda r: (r["device"], r["family"], r["variant"]))


def latency_sets(store: st.Store, rows: list[dict[str, Any]]) -> dict[Key, np.ndarray]:
    """The stored latency samples (µs) of each chosen row."""
    by_id = {r["id"]: (r["device"], r["family"], r["variant"]) for r in rows}
    return {by_id[i]: v for i, v in samples_by_id(store, sorted(by_id)).items()}


def samples_by_id(store: st.Store, ids: list[int]) -> dict[int, np.ndarray]:
    """The stored latency samples (µs) of these results, read in one query per 500."""
    found: dict[int, np.ndarray] = {}
    for i in range(0, len(ids), 500):
        query = sa.select(st.latency_samples).where(st.latency_samples.c.result_id.in_(ids[i:i + 500]))
        for r in store.rows(query):
            found[r["result_id"]] = np.frombuffer(r["samples_us"], dtype="<f8")
    return found


def nightly_trend(rows: list[dict[str, Any]]) -> dict[str, list[tuple[str, float]]]:
    """Per device, per night: the geometric mean over models of p50 relative to the device's
    first night with that model (1.0 = unchanged; below 1 = faster)."""
    first: dict[Key, float] = {}
    nights: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["status"] != "ok" or not r["latency_p50_us"]:
            continue
        key = (r["device"], r["family"], r["variant"])
        base = first.setdefault(key, r["latency_p50_us"])
        night = str(r["night"])[:10]
        nights[r["device"]][night].append(math.log(r["latency_p50_us"] / base))
    return {device: [(night, math.exp(sum(v) / len(v))) for night, v in sorted(series.items())]
            for device, series in sorted(nights.items())}


def environments(store: st.Store, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per device, the environment recorded with its latest scored result."""
    latest = {r["device"]: r["environment_id"] for r in rows if r["environment_id"] is not None}
    if not latest:
        return {}
    found = store.rows(sa.select(st.environments).where(st.environments.c.id.in_(set(latest.values()))))
    by_id = {e["id"]: e["data"] for e in found}
    return {device: by_id[i] for device, i in sorted(latest.items()) if i in by_id}
