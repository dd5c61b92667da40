"""Orchestration: run a suite on a device and store every result as it is measured.

    plan()     pre-flight, before anything is written: every model parses, matches its
               manifest's sha256 and its dataset's shape; the fit check decides what is skipped.
    run_suite()  opens the transport, measures case after case, writes each result in its own
               transaction, retries infrastructure errors only, and resumes a killed run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

from harness import provenance, thresholds
from harness.deadline import Deadline
from harness.errors import ConfigError, DeviceError, InfrastructureError, ModelError
from harness.models import fit as fitting
from harness.models.tflite_model import read_model
from harness.power import recording as power_recording
from harness.profiles import DeviceProfile, Runtime
from harness.runners.base import Job, Measurement, Runner
from harness.store import Store
from harness.suites import ModelCase, Suite

INFRA_ATTEMPTS = 3
BACKOFF_S = (1.0, 4.0)


@dataclass(frozen=True)
class PlannedCase:
    case: ModelCase
    fit: fitting.Fit
    model_sha256: str
    model_bytes: int
    model_gzip_bytes: int


class Progress(Protocol):
    def case_started(self, planned: PlannedCase) -> None: ...
    def case_done(self, planned: PlannedCase, row: dict[str, Any]) -> None: ...


def plan(suite: Suite, device: DeviceProfile) -> list[PlannedCase]:
    """Check every input before the run starts; bad input is a ConfigError (exit 2)."""
    planned = []
    for case in _reference_first(suite.cases):
        try:
            model = read_model(case.model_path)
        except ModelError as exc:
            raise ConfigError(str(exc)) from None
        expected = suite.families[case.family].variant(case.variant)
        if expected is not None and expected.sha256 != model.sha256:
            raise ConfigError(f"{case.model_path}: sha256 differs from its manifest; "
                              "the file changed since tools/make_models.py wrote it")
        if case.dataset_path is not None:
            _check_dataset(case, model.inputs[0].shape)
        planned.append(PlannedCase(case, fitting.check(_facts(case, device), device),
                                   model.sha256, model.bytes, model.gzip_bytes))
    return planned


def _facts(case: ModelCase, device: DeviceProfile) -> fitting.VariantFacts:
    # Only a TFLite-Micro device needs the (slower) real arena probe to decide the fit.
    if device.runtime is Runtime.TFLM:
        from harness.inspection import inspect_model

        return inspect_model(case.model_path).facts(case.family, case.variant, case.manifest_accuracy)
    model = read_model(case.model_path)
    return fitting.VariantFacts(
        family=case.family, variant=case.variant, file_name=case.model_path.name,
        model_bytes=model.bytes, quantization=model.quantization, accuracy=case.manifest_accuracy,
        activation_bytes=model.activation_bytes_upper_bound, tflm_runnable=None,
    )


def _check_dataset(case: ModelCase, input_shape: tuple[int, ...]) -> None:
    import numpy as np

    try:
        with np.load(case.dataset_path) as data:
            x_shape, y_len = data["x"].shape, len(data["y"])
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{case.dataset_path}: not a dataset with arrays 'x' and 'y': {exc}") from None
    if tuple(x_shape[1:]) != tuple(input_shape[1:]) or x_shape[0] != y_len:
        raise ConfigError(f"{case.dataset_path}: samples of shape {list(x_shape[1:])} do not match "
                          f"{case.model_path.name} input {list(input_shape)}")


def _reference_first(cases: tuple[ModelCase, ...]) -> list[ModelCase]:
    # The reference (fp32) variant is measured first so the others compare with it.
    return sorted(cases, key=lambda c: (c.family, c.variant != c.reference_variant))


def run_suite(suite: Suite, device: DeviceProfile, store: Store, runner: Runner,
              planned: list[PlannedCase], *, run_id: str | None = None,
              progress: Progress | None = None, new_run: bool = False) -> str:
    """Measure every planned case not yet stored under `run_id`; returns the run id.
    `new_run`: start a new run under the given `run_id` (CI shards of one run share it)."""
    runner = power_recording.attach(device, runner)  # power: the profile's meter records each case
    if run_id is None or new_run:
        run_id = run_id or provenance.new_run_id()
        ctl = provenance.controller()
        store.start_run({"run_id": run_id, "suite": suite.name, "suite_path": str(suite.path),
                         "suite_sha256": suite.sha256, "suite_text": suite.text,
                         "devices": [device.name], "harness_version": ctl["harness"],
                         "git_describe": provenance.git_describe(), "controller": ctl["host"],
                         "command": ctl["argv"]})
    else:
        store.reopen_run(run_id)
    done = store.completed_cases(run_id)
    status = "interrupted"
    try:
        for item in planned:
            if (device.name, item.case.family, item.case.variant) in done:
                continue
            if progress:
                progress.case_started(item)
            row = _run_case(item, suite, device, store, runner, run_id)
            if progress:
                progress.case_done(item, row)
        status = "complete"
    finally:
        runner.close_meter()
        store.finish_run(run_id, status)
    return run_id


def _run_case(item: PlannedCase, suite: Suite, device: DeviceProfile, store: Store,
              runner: Runner, run_id: str) -> dict[str, Any]:
    case = item.case
    row: dict[str, Any] = {
        "run_id": run_id, "device": device.name, "family": case.family, "variant": case.variant,
        "reference_variant": case.reference_variant, "runtime": runner.runtime,
        "emulated": device.emulated, "model_sha256": item.model_sha256,
        "model_bytes": item.model_bytes, "model_gzip_bytes": item.model_gzip_bytes,
        "power_status": "not measured",
    }
    samples: list[float] = []
    started = time.monotonic()
    if not item.fit.fits:
        row.update(status="skipped", reason="; ".join(item.fit.reasons), error_kind="device")
    else:
        try:
            measured = _measure_with_retries(runner, _job(case, suite), Deadline(suite.run.timeout))
        except (ModelError, DeviceError, InfrastructureError) as exc:
            row.update(status="failed", reason=str(exc), error_kind=_kind(exc))
        else:
            samples = measured.samples_us
            row.update(status="ok", **_metrics(measured))
            row.update(measured.power or {})  # power columns (harness/power/recording.py)
            row["environment_id"] = store.record_environment(run_id, device.name, _stable_env(measured))
            row["accuracy_delta_points"] = _accuracy_delta(store, run_id, device.name, case, row)
    row["duration_s"] = time.monotonic() - started
    checks = thresholds.evaluate(row, device.thresholds.merged(suite.thresholds), device.ram)
    row.update(thresholds=checks, thresholds_passed=thresholds.overall(checks))
    row["id"] = store.record_result(row, samples)
    return row


def _measure_with_retries(runner: Runner, job: Job, deadline: Deadline) -> Measurement:
    """Infrastructure errors only are retried, with backoff, inside the case's deadline."""
    for attempt in range(INFRA_ATTEMPTS):
        try:
            return runner.measure(job, deadline)
        except InfrastructureError:
            if attempt == INFRA_ATTEMPTS - 1 or deadline.expired:
                raise
            time.sleep(deadline.timeout(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]) or 0)
    raise AssertionError("unreachable")


def _job(case: ModelCase, suite: Suite) -> Job:
    run = suite.run
    return Job(model_path=case.model_path, dataset_path=case.dataset_path,
               warmup_count=run.warmup.count, warmup_min_seconds=run.warmup.min_seconds,
               measure_count=run.measure.count, measure_min_seconds=run.measure.min_seconds,
               measure_max_seconds=run.measure.max_seconds, threads=run.threads,
               accuracy_samples=run.accuracy_samples)


def _metrics(m: Measurement) -> dict[str, Any]:
    lat = m.latency_us
    return {
        "init_ms": m.init_ms, "first_inference_ms": m.first_inference_ms,
        "warmup_count": m.warmup_count, "latency_n": lat["n"], "latency_p50_us": lat["p50"],
        "latency_p90_us": lat["p90"], "latency_p99_us": lat["p99"], "latency_mean_us": lat["mean"],
        "latency_std_us": lat["std"], "latency_min_us": lat["min"], "latency_max_us": lat["max"],
        "latency_ci_low_us": lat["median_ci_low"], "latency_ci_high_us": lat["median_ci_high"],
        "set_input_us": m.set_input_us, "get_output_us": m.get_output_us,
        "rss_load_delta_bytes": m.rss_load_delta_bytes, "rss_peak_bytes": m.rss_peak_bytes,
        "arena_bytes": m.arena_bytes, "accuracy_top1": m.accuracy_top1,
        "accuracy_top5": m.accuracy_top5, "accuracy_samples": m.accuracy_samples,
        "emulated": m.emulated,
        "conditions": {k: m.environment.get(k) for k in _VOLATILE},
        "extra": {"predictions": m.predictions} if m.predictions else None,
    }


_VOLATILE = ("temperature_c", "cpu_freq_khz")


def _stable_env(m: Measurement) -> dict[str, Any]:
    return {k: v for k, v in m.environment.items() if k not in _VOLATILE}


def _accuracy_delta(store: Store, run_id: str, device: str, case: ModelCase,
                    row: dict[str, Any]) -> float | None:
    if row.get("accuracy_top1") is None:
        return None
    if case.variant == case.reference_variant:
        return 0.0
    for ref in store.results(run_id):
        if (ref["device"], ref["family"], ref["variant"]) == (device, case.family, case.reference_variant):
            if ref["accuracy_top1"] is not None:
                return (row["accuracy_top1"] - ref["accuracy_top1"]) * 100
    return None


def _kind(exc: Exception) -> str:
    return {ModelError: "model", DeviceError: "device"}.get(type(exc), "infrastructure")
