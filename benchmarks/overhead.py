"""Harness overhead: the harness's median latency vs a bare LiteRT invoke() loop.

Both run in this one process on the same interpreter build, interleaved round by round (so
clock and thermal drift hit both alike). The harness side is the agent's own measurement
(`agent.measure`, the code every runner uses); the bare side is the textbook loop. The goal is
a ratio <= 1.02 for the int8 MobileNetV2 and the digits CNN.

    python benchmarks/overhead.py [--rounds 7] [--count 300]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from harness.results.provenance import controller
from harness.runtimes import adapters, agent

MODELS = Path(__file__).resolve().parent.parent / "models"
CASES = [("digits-cnn", "fp32"), ("digits-cnn", "int8"), ("mobilenetv2-035-96", "int8")]


def bare_loop(path: Path, count: int) -> list[float]:
    interp = Interpreter(model_path=str(path), num_threads=1)
    interp.allocate_tensors()
    detail = interp.get_input_details()[0]
    interp.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    for _ in range(10):
        interp.invoke()
    samples = []
    for _ in range(count):
        t0 = time.perf_counter_ns()
        interp.invoke()
        samples.append((time.perf_counter_ns() - t0) / 1000.0)
    return samples


def harness_loop(path: Path, count: int) -> list[float]:
    job = {"warmup": {"count": 10, "min_seconds": 0}, "measure": {"count": count, "min_seconds": 0},
           "dataset": None, "accuracy_samples": None}
    return agent.measure(adapters.adapter("litert")(str(path), 1), job)["samples_us"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    env = {k: v for k, v in controller().items() if k != "argv"}
    env.update({k: agent.environment()[k] for k in ("cpu_model", "cpu_count", "kernel")})
    print("environment:", json.dumps(env))
    print(f"{'model':32} {'harness p50 µs':>15} {'bare p50 µs':>12} {'ratio':>7}")
    for family, variant in CASES:
        path = MODELS / family / f"{variant}.tflite"
        ours: list[float] = []
        bare: list[float] = []
        for _ in range(args.rounds):
            ours += harness_loop(path, args.count)
            bare += bare_loop(path, args.count)
        ratio = statistics.median(ours) / statistics.median(bare)
        verdict = "ok" if ratio <= 1.02 else "OVER 1.02"
        print(f"{family + '/' + variant:32} {statistics.median(ours):15.2f} "
              f"{statistics.median(bare):12.2f} {ratio:7.4f}  {verdict}")


if __name__ == "__main__":
    main()
