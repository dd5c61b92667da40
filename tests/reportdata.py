"""Synthetic, deterministic results written through the real Store API, for the report tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from harness.results.store import Store

HOSTILE = "<script>alert(1)</script>"


@dataclass(frozen=True)
class FakeDevice:
    name: str
    speed: float  # latency multiplier against the base model latency
    memory: int = 40_000_000  # working memory, by memory_method
    memory_method: str = "rss-increase"
    runtime: str = "litert"
    energy_uj: float | None = None
    power_status: str = "not measured"
    emulated: bool = False
    accuracy_shift: float = 0.0
    slower_from: int | None = None  # from this night on, every model 30 % slower (a change point)


MODELS = {  # (family, variant): (base p50 µs, model bytes, accuracy, reference variant)
    ("digits-cnn", "fp32"): (400.0, 80_000, 0.97, "fp32"),
    ("digits-cnn", "int8"): (150.0, 22_000, 0.965, "fp32"),
    ("digits-cnn", "tiny-int8"): (60.0, 6_000, 0.93, "fp32"),
    ("mobilenetv2-035-96", "fp32"): (9_000.0, 1_700_000, None, "fp32"),
    ("mobilenetv2-035-96", "int8"): (4_000.0, 600_000, None, "fp32"),
}


def fill(store: Store, devices: list[FakeDevice], nights: int = 3, suite: str = "quickstart",
         start: dt.datetime | None = None, models: dict = MODELS, samples: int = 60) -> list[str]:
    """One run per night, every device × model; returns the run ids."""
    rng = np.random.default_rng(7)
    start = start or dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=nights)
    run_ids = []
    for night in range(nights):
        when = start + dt.timedelta(days=night)
        run_id = store.start_run({"run_id": f"night-{when:%Y%m%d}-{suite}", "suite": suite,
                                  "devices": [d.name for d in devices], "started_at": when})
        for d in devices:
            env = store.record_environment(run_id, d.name, {"os": "Linux", "python": "3.11", "cpu": d.name})
            for (family, variant), (p50, size, acc, ref) in models.items():
                step = 1.3 if d.slower_from is not None and night >= d.slower_from else 1.0
                lat = rng.normal(p50 * d.speed * step * (1 + 0.01 * night), p50 * d.speed * 0.03, samples)
                store.record_result({
                    "run_id": run_id, "device": d.name, "family": family, "variant": variant,
                    "reference_variant": ref, "status": "ok", "runtime": d.runtime, "emulated": d.emulated,
                    "model_bytes": size, "model_gzip_bytes": size // 2, "environment_id": env,
                    "latency_n": samples, "latency_p50_us": float(np.median(lat)),
                    "latency_p90_us": float(np.quantile(lat, 0.9)), "latency_p99_us": float(np.quantile(lat, 0.99)),
                    "working_memory_bytes": d.memory, "working_memory_method": d.memory_method,
                    "planned_activation_bytes": size // 10, "init_ms": 3.0, "first_inference_ms": 1.0,
                    "accuracy_top1": None if acc is None else acc + d.accuracy_shift,
                    "accuracy_delta_points": None if acc is None else (acc - models[(family, ref)][2]) * 100,
                    "energy_uj": None if d.energy_uj is None else d.energy_uj * p50 / 400,
                    "power_status": d.power_status,
                }, lat.tolist())
        store.finish_run(run_id, "complete")
        run_ids.append(run_id)
    return run_ids
