#!/usr/bin/env python3
"""MLPerf Tiny performance and accuracy mode for kws01, vww01, ic01 and ad01 on the emulated
Cortex-M board, end to end: `harness run` (a subprocess) drives this harness's firmware in Tiny
text mode (serial.protocol mlperf-tiny, tiny_mode performance, Tiny's own N/W per benchmark);
the figures are read back from the store.

    windows, median throughput   Tiny's performance mode: 5 windows of `infer N W`, timed by the
                                 board's m-lap-us- stamps (instruction-count time: emulated, not
                                 a board's speed); `valid` says whether Tiny's rules were met
    accuracy                     top-1 over models/<id>/tiny-dataset (the manifest's dataset; ad01's
                                 labels are normal/anomaly, not classes: its AUC is measured by
                                 tests/test_mlperf_tiny.py's accuracy mode)

Usage: .venv/bin/python benchmarks/mlperf_tiny.py [kws01 vww01 ic01 ad01]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from harness.results.store import Store

ROOT = Path(__file__).resolve().parent.parent
PROFILE = """\
name: qemu-tiny
description: QEMU mps2-an385, this harness's firmware in MLPerf Tiny text mode
tier: iot
transport: qemu://mps2-an385
runtime: edge-harness-fw
emulated: true
compute_tops: null
ram: 4 MiB
flash: 4 MiB
model_volume_cap: 1 MB
qemu: {icount_shift: 3}
serial: {protocol: mlperf-tiny, read_timeout: 5, tiny_mode: performance}
"""
SUITE = """\
name: mlperf-tiny
models:
  - path: {model}
run:
  warmup: {{count: 1, min_seconds: 0}}
  measure: {{count: 1, min_seconds: 0}}
  timeout: 900 s
"""


def run(benchmark: str, tmp: Path) -> dict:
    (tmp / "qemu-tiny.yaml").write_text(PROFILE)
    (tmp / f"{benchmark}.yaml").write_text(SUITE.format(model=ROOT / "models" / benchmark))
    db = f"sqlite:///{tmp / f'{benchmark}.sqlite'}"
    subprocess.run([sys.executable, "-m", "harness.cli", "run", str(tmp / f"{benchmark}.yaml"), "--device",
                    str(tmp / "qemu-tiny.yaml"), "--store", db, "--out", str(tmp / benchmark)], check=True,
                   capture_output=True)
    store = Store(db)
    [row] = store.results(store.latest_run_id())
    [env] = store.environments(store.latest_run_id())
    return {"row": row, "perf": env["data"]["mlperf_tiny"], "accuracy": env["data"].get("mlperf_tiny_accuracy", {})}


def main() -> None:
    benchmarks = sys.argv[1:] or ["kws01", "vww01", "ic01", "ad01"]
    print(f"{'benchmark':<10} {'windows':>7} {'N/W':>8} {'median inf/s':>13} {'accuracy':>16}  valid (why not)")
    with tempfile.TemporaryDirectory(prefix="edge-harness-tiny-") as tmp:
        for benchmark in benchmarks:
            got = run(benchmark, Path(tmp))
            perf, acc = got["perf"], got["accuracy"]
            w = perf["windows"][0]
            metric = (f"AUC {acc['auc']:.3f}" if acc.get("metric") == "auc" else
                      f"top-1 {acc['accuracy_top1']:.3f}" if acc else "no dataset")
            metric += f" n={acc['samples']}" if acc else ""
            print(f"{benchmark:<10} {len(perf['windows']):>7} {w['inferences']:>8} {perf['median_throughput']:>13.1f} "
                  f"{metric:>16}  {perf['valid']} "
                  f"({'; '.join(perf['invalid_reasons'])})")


if __name__ == "__main__":
    main()
