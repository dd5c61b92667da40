"""Which stored runs to compare: run references (`latest`, `last-good`, a run id) and A/B selectors.

A run is *good* when its status is `complete` (it ran to the end and no comparison against its
own baseline found a regression: such a run is marked `regressed`) and none of its results was
left unmeasured by the lab (status `not-run`, or an `infrastructure` error). Model and device
errors are results, not faults: a case that fails the same way every night does not keep every
run from being good, and a case that newly fails is a regression of the run that shows it.

`last-good`, for a run, is the most recent good run of the same suite on the same devices that
started before it.

The history of a comparison (`metric_history`) is, per metric (latency, a noisy working memory,
measured energy: harness.results.regression.HISTORY_METRICS), the value of every case in the last N good
runs of the base run's suite and devices, up to and including the base run, taken from the runs
measured in the same environment (fingerprint) as the new result when there are such runs;
harness/results/history.py turns it into a noise band and a verdict.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Mapping

from harness.errors import ConfigError, StoreError
from harness.results.history import HISTORY_RUNS
from harness.results.store import Store, utc_naive

Key = tuple[str, str, str]  # (device, family, variant)

LATEST, LAST_GOOD = "latest", "last-good"


def is_good(store: Store, run: dict[str, Any]) -> bool:
    if run["status"] != "complete":
        return False
    return not any(r["status"] == "not-run" or (r["status"] != "ok" and r["error_kind"] == "infrastructure")
                   for r in store.results(run["run_id"]))


def last_good(store: Store, of_run: dict[str, Any]) -> str | None:
    """The most recent good run of `of_run`'s suite and devices that started before it."""
    for run in store.runs():  # newest first
        if (run["run_id"] != of_run["run_id"] and run["suite"] == of_run["suite"]
                and sorted(run["devices"] or []) == sorted(of_run["devices"] or [])
                and utc_naive(run["started_at"]) < utc_naive(of_run["started_at"]) and is_good(store, run)):
            return run["run_id"]
    return None


def good_runs_until(store: Store, base: dict[str, Any], limit: int = HISTORY_RUNS) -> list[dict[str, Any]]:
    """`base` and the good runs of its suite and devices before it, newest first, at most `limit`."""
    found = [base]
    for run in store.runs():  # newest first
        if len(found) >= limit:
            break
        if (run["run_id"] != base["run_id"] and run["suite"] == base["suite"]
                and sorted(run["devices"] or []) == sorted(base["devices"] or [])
                and utc_naive(run["started_at"]) < utc_naive(base["started_at"]) and is_good(store, run)):
            found.append(run)
    return found


def metric_history(store: Store, base_id: str, new_rows: list[dict[str, Any]],
                   metrics: Mapping[str, Callable[[Mapping[str, Any]], float | None]],
                   limit: int = HISTORY_RUNS) -> dict[str, dict[Key, list[float]]]:
    """Per metric (name -> the value of a stored row, None when it has none) and case of
    `new_rows`: the values of the last `limit` good runs up to `base_id`, oldest first (the order
    the history rule reads), those of the new result's environment when any run shares it. One
    pass over the runs for every metric."""
    fingerprints: dict[int, str] = {}
    values: dict[str, dict[Key, list[tuple[float, str | None]]]] = {m: defaultdict(list) for m in metrics}
    for run in good_runs_until(store, store.run(base_id), limit):
        fingerprints.update({e["id"]: e["fingerprint"] for e in store.environments(run["run_id"])})
        for row in store.results(run["run_id"]):
            if row["status"] != "ok":
                continue
            for metric, value_of in metrics.items():
                value = value_of(row)
                if value:
                    values[metric][(row["device"], row["family"], row["variant"])].append(
                        (value, fingerprints.get(row["environment_id"])))
    for row in new_rows:
        if row.get("environment_id") is not None and row["environment_id"] not in fingerprints:
            fingerprints.update({e["id"]: e["fingerprint"] for e in store.environments(row["run_id"])})
    history: dict[str, dict[Key, list[float]]] = {m: {} for m in metrics}
    for metric, by_case in values.items():
        for row in new_rows:
            key = (row["device"], row["family"], row["variant"])
            fingerprint = fingerprints.get(row.get("environment_id"))
            same = [v for v, fp in by_case.get(key, []) if fp is not None and fp == fingerprint]
            history[metric][key] = (same or [v for v, _ in by_case.get(key, [])])[::-1]  # oldest first
    return history


def resolve(store: Store, ref: str, relative_to: str | None = None) -> str:
    """A run id from `latest`, `last-good` (of `relative_to`, default the latest run), an id or a
    unique prefix of one. An unknown or ambiguous reference is an error (exit 2)."""
    if ref == LATEST:
        return store.latest_run_id()
    if ref == LAST_GOOD:
        anchor = store.run(relative_to or store.latest_run_id())
        found = last_good(store, anchor)
        if found is None:
            raise StoreError(f"store {store.url}: no good run of suite {anchor['suite']!r} on "
                             f"{', '.join(anchor['devices'] or [])} before run {anchor['run_id']}")
        return found
    return by_id(store, ref)


def by_id(store: Store, ref: str) -> str:
    """A full run id, or a unique prefix of one."""
    matches = store.run_ids_starting(ref) if ref else []
    if ref in matches:
        return ref
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ConfigError(f"run {ref!r} is ambiguous in {store.url}: {', '.join(matches)}"
                          f"{', …' if len(matches) == 10 else ''}; give more of the id")
    raise StoreError(f"store {store.url}: no run {ref!r} (use a run id or a unique prefix, latest or "
                     "last-good; `harness runs` lists them)")


def parse_selector(text: str) -> tuple[str, str | None, str | None]:
    """`RUN` or `RUN:family/variant` -> (run reference, family, variant)."""
    ref, sep, case = text.partition(":")
    if not sep:
        return ref, None, None
    family, slash, variant = case.partition("/")
    if not (ref and family and slash and variant):
        raise ConfigError(f"{text!r}: expected RUN or RUN:family/variant (RUN: a run id, latest or last-good)")
    return ref, family, variant
