"""What a runner is given (Job) and what it gives back (Measurement)."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.deadline import Deadline


@dataclass(frozen=True)
class Job:
    model_path: Path
    dataset_path: Path | None
    warmup_count: int
    warmup_min_seconds: float
    measure_count: int
    measure_min_seconds: float
    measure_max_seconds: float | None = None
    threads: int = 1
    accuracy_samples: int | None = None
    energy_windows: int = 0  # > 0: after latency, this many windows of continuous inference
    energy_window_seconds: float = 0.0
    tiny_benchmark: str | None = None  # MLPerf Tiny id (suite or manifest): the tag deployed in Tiny mode
    profile_runs: int = 0  # > 0: per-operator times over this many inferences, where the runtime has them
    runtime_options: dict[str, Any] = field(default_factory=dict)  # e.g. graph_optimization_level

    def agent_job(self, runtime: str, model: str, dataset: str | None, adapter: str = "",
                  library: str = "") -> dict[str, Any]:
        """The JSON job runtimes/agent.py reads, with paths as seen on the target."""
        return {
            "runtime": runtime, "adapter": adapter, "library": library, "model": model, "dataset": dataset,
            "threads": self.threads, "options": self.runtime_options, "profile_runs": self.profile_runs,
            "warmup": {"count": self.warmup_count, "min_seconds": self.warmup_min_seconds},
            "measure": {"count": self.measure_count, "min_seconds": self.measure_min_seconds,
                        "max_seconds": self.measure_max_seconds},
            "accuracy_samples": self.accuracy_samples,
            "energy": ({"windows": self.energy_windows, "seconds": self.energy_window_seconds}
                       if self.energy_windows else None),
        }


@dataclass
class Measurement:
    runtime: str
    environment: dict[str, Any]
    latency_us: dict[str, float]  # summary: n, p50, p90, p99, mean, std, min, max, median CI
    samples_us: list[float]
    init_ms: float | None = None
    first_inference_ms: float | None = None
    warmup_count: int | None = None
    set_input_us: float | None = None
    get_output_us: float | None = None
    rss_load_delta_bytes: int | None = None
    rss_peak_bytes: int | None = None
    arena_bytes: int | None = None
    working_memory_bytes: int | None = None  # by working_memory_method (harness/measures/memory.py)
    working_memory_method: str | None = None
    accuracy_top1: float | None = None
    accuracy_top5: float | None = None
    accuracy_samples: int | None = None
    predictions: list[int] = field(default_factory=list)
    scores: list[list[float]] = field(default_factory=list)  # dequantized outputs, per eval sample
    # compute utilization during the measured window (agent.utilization or the firmware's share)
    utilization: dict[str, Any] | None = None
    emulated: bool = False
    window_ns: tuple[int, int] | None = None  # host monotonic clock around the measured runs
    # energy phase: [{start_ns, end_ns, inferences}] on the controller's monotonic clock, the
    # board's clock mapped with an offset known to +- energy_clock_error_ns (0 on this host)
    energy_windows: list[dict[str, int]] = field(default_factory=list)
    energy_clock_error_ns: int = 0
    power: dict[str, Any] | None = None  # store power columns, filled by harness.lab.metering
    # an emulated Cortex-M's cycle estimate (harness/cycles/model.py estimate()): its own figure
    cycles: dict[str, Any] | None = None
    # per-operator profile (harness/measures/op_profile.py): {method, unit, ops: [{index, op, time_us|cycles}]}
    op_profile: dict[str, Any] | None = None


class Runner(abc.ABC):
    """Measures jobs on one board; one runner per board, one job at a time."""

    runtime: str

    @abc.abstractmethod
    def measure(self, job: Job, deadline: Deadline) -> Measurement:
        """Raises ModelError/DeviceError (a result) or InfrastructureError (retry)."""

    def recover(self, deadline: Deadline) -> None:
        """Bring a board back after an infrastructure error (reconnect, reset, restart)."""

    def close(self) -> None:
        """Clean up what this runner left on the board."""
