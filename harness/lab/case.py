"""One case: measure a model variant on a board (or skip it) and store its row.

Only infrastructure errors are retried, with the board recovered between attempts; a model
or device error is a result. Every outcome, including a skip or a case the lab could not run,
becomes exactly one stored row, with the machine conditions of its measurement
(harness/lab/conditions.py). With `run.repeat` K > 1 the session measures every case K times,
interleaved; the row pools the samples of all repetitions and keeps each one's median
(`latency_repeat_p50_us`), the values harness/results/history.py judges.
"""

from __future__ import annotations

import dataclasses
import logging
import statistics
import time
from typing import Any, Callable, Sequence

from harness import interrupts
from harness.lab import conditions
from harness.measures import metrics, tradeoff
from harness.config import thresholds
from harness.cycles.calibration import with_calibration
from harness.deadline import Deadline
from harness.errors import DeviceError, InfrastructureError, ModelError
from harness.lab.planning import PlannedCase
from harness.config.profiles import DeviceProfile
from harness.runtimes.agentlib import summarize  # the agent's own statistics, so pooled rows match
from harness.runners.base import Job, Measurement, Runner
from harness.results.store import Store
from harness.config.suites import ModelCase, Suite

INFRA_ATTEMPTS = 3
BACKOFF_S = (1.0, 4.0)
Recover = Callable[[Deadline], None]  # reconnect / reset / power-cycle a board
Repetition = tuple[Measurement, dict[str, Any]]  # a measurement and its machine conditions
log = logging.getLogger(__name__)


def measure(item: PlannedCase, suite: Suite, runner: Runner, recover: Recover | None = None) -> Repetition:
    """One measurement of a case with the controller's conditions around it (no row stored)."""
    before = conditions.snapshot()
    measured = _measure_with_retries(runner, _job(item.case, suite), Deadline(suite.run.timeout), recover)
    return measured, conditions.around(before, conditions.snapshot(), suite.run.threads)


def run_case(item: PlannedCase, suite: Suite, device: DeviceProfile, store: Store,
             runner: Runner, run_id: str, recover: Recover | None = None,
             earlier: Sequence[Repetition] = ()) -> dict[str, Any]:
    """Measure one case (or skip it, when it does not fit) and store its row; returns the row.
    `earlier`: this case's earlier repetitions in this run (`run.repeat`), pooled into the row."""
    case = item.case
    row = base_row(item, device, run_id, runner.runtime)
    samples: list[float] = []
    started = time.monotonic()
    if not item.fit.fits:
        row.update(status="skipped", reason="; ".join(item.fit.reasons), error_kind="device")
    else:
        try:
            repetitions = [*earlier, measure(item, suite, runner, recover)]
        except (ModelError, DeviceError, InfrastructureError) as exc:
            interrupts.raise_if_requested()  # ended by our own stop: not a result of the model or lab
            row.update(status="failed", reason=str(exc), error_kind=_kind(exc))
        else:
            interrupts.raise_if_requested()  # measured while a stop came: dropped, remeasured on resume
            measured = pooled(repetitions)
            samples = measured.samples_us
            row.update(status="ok", runtime=measured.runtime or runner.runtime, **_metrics(measured))
            row.update(task_metrics(case, measured))
            row["conditions"] = {**row["conditions"], **conditions.merge([c for _, c in repetitions])}
            if len(repetitions) > 1:
                row["latency_repeat_p50_us"] = [statistics.median(m.samples_us) for m, _ in repetitions]
            row.update(measured.power or {})  # power columns (harness/lab/metering.py)
            row["environment_id"] = store.record_environment(run_id, device.name, _stable_env(measured))
            row["accuracy_delta_points"] = _accuracy_delta(store, run_id, device.name, case, row)
            row["extra"] = with_calibration(store, device, row)  # a real board's DWT vs the estimate
    row["duration_s"] = time.monotonic() - started
    checks = thresholds.evaluate(row, device.thresholds.merged(suite.thresholds), device.ram)
    row.update(thresholds=checks, thresholds_passed=thresholds.overall(checks))
    row["id"] = store.record_result(row, samples)
    return row


def pooled(repetitions: Sequence[Repetition]) -> Measurement:
    """The last repetition's measurement with the latency samples of all repetitions."""
    last = repetitions[-1][0]
    if len(repetitions) == 1:
        return last
    samples = [s for m, _ in repetitions for s in m.samples_us]
    return dataclasses.replace(last, samples_us=samples, latency_us=summarize(samples))


def base_row(item: PlannedCase, device: DeviceProfile, run_id: str, runtime: str) -> dict[str, Any]:
    case = item.case
    return {
        "run_id": run_id, "device": device.name, "family": case.family, "variant": case.variant,
        "reference_variant": case.reference_variant, "runtime": runtime,
        "emulated": device.emulated, "model_sha256": item.model_sha256,
        "model_bytes": item.model_bytes, "model_gzip_bytes": item.model_gzip_bytes,
        "planned_activation_bytes": item.planned_activation_bytes, "model_macs": item.model_macs,
        "task": case.task, "technique": case.technique, "derived_from": case.derived_from,
        "power_status": "not measured",
    }


def record_not_run(item: PlannedCase, device: DeviceProfile, store: Store, run_id: str,
                   reason: str) -> dict[str, Any]:
    """A case the lab could not run (bad board, maintenance): recorded, never silently dropped."""
    row = base_row(item, device, run_id, device.runtime.value)
    row.update(status="not-run", reason=reason, error_kind="infrastructure")
    row["id"] = store.record_result(row)
    return row


def _measure_with_retries(runner: Runner, job: Job, deadline: Deadline,
                          recover: Recover | None) -> Measurement:
    """Infrastructure errors only are retried, inside the case's deadline: recover the board
    (reconnect, reset or power cycle), back off, try again."""
    for attempt in range(INFRA_ATTEMPTS):
        try:
            return runner.measure(job, deadline)
        except InfrastructureError as exc:
            interrupts.raise_if_requested()
            if attempt == INFRA_ATTEMPTS - 1 or deadline.expired:
                raise
            log.warning("%s: attempt %d failed (%s); recovering", runner.runtime, attempt + 1, exc)
            if recover is not None:
                try:
                    recover(deadline)
                except InfrastructureError as again:
                    log.warning("recovery failed: %s", again)
            time.sleep(deadline.timeout(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]) or 0)
    raise AssertionError("unreachable")


def _job(case: ModelCase, suite: Suite) -> Job:
    run = suite.run
    return Job(model_path=case.model_path, dataset_path=case.dataset_path,
               warmup_count=run.warmup.count, warmup_min_seconds=run.warmup.min_seconds,
               measure_count=run.measure.count, measure_min_seconds=run.measure.min_seconds,
               measure_max_seconds=run.measure.max_seconds, threads=run.threads,
               accuracy_samples=run.accuracy_samples, tiny_benchmark=case.tiny_benchmark)


def repooled(row: dict[str, Any], stored_samples: list[float],
             more: Sequence[Repetition]) -> tuple[dict[str, Any], list[float]]:
    """A stored row re-measured (`run --rerun-suspects`): its new latency columns and samples."""
    samples = stored_samples + [s for m, _ in more for s in m.samples_us]
    medians = row.get("latency_repeat_p50_us") or [row["latency_p50_us"]]
    before = row.get("conditions") or {}
    busy = list(dict.fromkeys([*before.get("busy", []), *(r for _, c in more for r in c["busy"])]))
    values = {**_latency_columns(summarize(samples)),
              "latency_repeat_p50_us": [*medians, *(statistics.median(m.samples_us) for m, _ in more)],
              "conditions": {**before, "busy": busy, "reruns": len(more)}}
    return values, samples


def _latency_columns(lat: dict[str, Any]) -> dict[str, Any]:
    return {
        "latency_n": lat["n"], "latency_p50_us": lat["p50"],
        "latency_p90_us": lat["p90"], "latency_p99_us": lat["p99"], "latency_mean_us": lat["mean"],
        "latency_std_us": lat["std"], "latency_min_us": lat["min"], "latency_max_us": lat["max"],
        "latency_ci_low_us": lat["median_ci_low"], "latency_ci_high_us": lat["median_ci_high"],
    }


def _metrics(m: Measurement) -> dict[str, Any]:
    extra: dict[str, Any] = {k: v for k, v in (("predictions", m.predictions), ("op_profile", m.op_profile)) if v}
    if m.cycles:
        extra["cycles"] = m.cycles  # the estimate's breakdown (harness/cycles)
    return {
        "init_ms": m.init_ms, "first_inference_ms": m.first_inference_ms,
        "warmup_count": m.warmup_count, **_latency_columns(m.latency_us),
        "set_input_us": m.set_input_us, "get_output_us": m.get_output_us,
        "rss_load_delta_bytes": m.rss_load_delta_bytes, "rss_peak_bytes": m.rss_peak_bytes,
        "arena_bytes": m.arena_bytes, "working_memory_bytes": m.working_memory_bytes,
        "working_memory_method": m.working_memory_method, "accuracy_top1": m.accuracy_top1,
        "accuracy_top5": m.accuracy_top5, "accuracy_samples": m.accuracy_samples,
        "emulated": m.emulated, **_utilization(m.utilization),
        "conditions": {k: m.environment.get(k) for k in _VOLATILE},
        **cycle_columns(m.cycles),
        "extra": extra or None,
    }


def _utilization(u: dict[str, Any] | None) -> dict[str, Any]:
    accelerator = {"accelerator_busy_fraction": (u or {}).get("accelerator_busy_fraction"),
                   "accelerator_method": (u or {}).get("accelerator_method")}
    if not u or u.get("process_cpu_fraction") is None:
        return {"cpu_utilization": None, "board_busy_fraction": None, "utilization_method": None, **accelerator}
    return {"cpu_utilization": u["process_cpu_fraction"], "board_busy_fraction": u.get("board_busy_fraction"),
            "utilization_method": u.get("method"), **accelerator}


_VOLATILE = ("temperature_c", "cpu_freq_khz")


def cycle_columns(cycles: dict[str, Any] | None) -> dict[str, Any]:
    """The estimate's own columns (never the latency ones); the breakdown goes to extra."""
    if not cycles:
        return {}
    return {"estimated_cycles": cycles["cycles"], "estimated_latency_us": cycles["latency_us"],
            "cycle_model": cycles["model"]}


def _stable_env(m: Measurement) -> dict[str, Any]:
    return {k: v for k, v in m.environment.items() if k not in _VOLATILE}


def task_metrics(case: ModelCase, m: Measurement) -> dict[str, Any]:
    """The task's metrics from the board's raw outputs (harness/measures/metrics.py); top-1/top-5 only
    where the task is classification (an argmax over one detection score means nothing)."""
    row: dict[str, Any] = {"task": case.task}
    if case.task not in (metrics.CLASSIFICATION, "classification"):
        row.update(accuracy_top1=None, accuracy_top5=None)
    if m.scores is None or len(m.scores) == 0 or case.dataset_path is None:
        return row
    import numpy as np

    with np.load(case.dataset_path) as data:
        y = data["y"][:len(m.scores)]
    row["metrics"] = metrics.evaluate(case.task, y, m.scores, case.decision_threshold)
    return row


def _accuracy_delta(store: Store, run_id: str, device: str, case: ModelCase,
                    row: dict[str, Any]) -> float | None:
    """The task's headline metric (top-1 for classification, AUC for anomaly detection) minus
    the reference variant's, in percentage points; None where the headline is not a fraction."""
    mine = _headline_fraction(row)
    if mine is None:
        return None
    if case.variant == case.reference_variant:
        return 0.0
    for ref in store.results(run_id):
        if (ref["device"], ref["family"], ref["variant"]) == (device, case.family, case.reference_variant):
            theirs = _headline_fraction(ref)
            if theirs is not None:
                return (mine - theirs) * 100
    return None


def _headline_fraction(row: dict[str, Any]) -> float | None:
    head = metrics.headline(row.get("task"))
    return tradeoff.headline(row) if row.get("accuracy_top1") is not None or (head and head.higher_is_better) else None


def _kind(exc: Exception) -> str:
    return {ModelError: "model", DeviceError: "device"}.get(type(exc), "infrastructure")
