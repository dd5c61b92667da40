"""What the board agent and the controller compute alike, in one copy both import.

    quantize / dequantize / latency_input   a dataset sample as the model's input, an output back
                                            to floats (the agent on a board; the firmware and
                                            MLPerf Tiny runners on the controller)
    summarize / percentile / median_ci_ranks
                                            latency statistics: the agent's per-case summary, and
                                            the controller's when it pools repetitions (case.py)

The agent is a standalone file on a board, so this module is too: it is staged beside the agent
(runners/agent_runner.py) and loaded from there by path. Standard library only, numpy imported
where needed; it must import nothing of the `harness` package.
"""

from __future__ import annotations

import math
from typing import Any

# ---------------------------------------------------------------- statistics


def summarize(samples_us: list[float]) -> dict[str, float | int]:
    """Latency statistics in microseconds, with a distribution-free 95% CI of the median."""
    data = sorted(samples_us)
    n = len(data)
    mean = sum(data) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in data) / (n - 1)) if n > 1 else 0.0
    lo, hi = median_ci_ranks(n)
    return {
        "n": n, "mean": mean, "std": std, "min": data[0], "max": data[-1],
        "p50": percentile(data, 50), "p90": percentile(data, 90), "p99": percentile(data, 99),
        "median_ci_low": data[lo], "median_ci_high": data[hi],
    }


def percentile(sorted_data: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method)."""
    pos = (len(sorted_data) - 1) * q / 100.0
    low = math.floor(pos)
    high = min(low + 1, len(sorted_data) - 1)
    return sorted_data[low] + (sorted_data[high] - sorted_data[low]) * (pos - low)


def median_ci_ranks(n: int, z: float = 1.959964) -> tuple[int, int]:
    """0-based ranks bounding the median with ~95% coverage (binomial, normal approximation)."""
    half = z * math.sqrt(n) / 2.0
    lo = max(0, math.floor(n / 2.0 - half) - 1)
    hi = min(n - 1, math.ceil(1 + n / 2.0 + half) - 1)
    return lo, hi


# ---------------------------------------------------------------- model input and output


def quantize(x: Any, detail: dict[str, Any]) -> Any:
    """Float input to the model's input dtype (int8/uint8 with its scale and zero point); input
    already in that dtype (raw MLPerf Tiny .bin samples) is sent as it is."""
    import numpy as np

    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f" or x.dtype == dtype:
        return x.astype(dtype)
    info = np.iinfo(dtype)
    q = np.round(x / detail["scale"] + detail["zero_point"])
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(raw: Any, scale: float, zero_point: int) -> list[float]:
    """An output vector as floats, for the controller's task metrics (harness/measures/metrics.py)."""
    values = raw.astype("float64")
    return ((values - zero_point) * scale if scale else values).tolist()


def latency_input(dataset: Any, detail: dict[str, Any]) -> Any:
    """The input the latency runs use: the dataset's first sample, or seeded random input."""
    import numpy as np

    if dataset is not None:
        return quantize(dataset["x"][:1], detail)
    rng = np.random.default_rng(0)  # a latency-only model: seeded random input in [0, 1)
    return quantize(rng.random(detail["shape"], dtype=np.float32), detail)
