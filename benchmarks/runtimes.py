"""The digits CNN on each runtime of `host`, as a user runs it: `harness run suites/runtimes.yaml
--device host` N times (CLI, subprocess agents, SQLite store), then per runtime from the store:
the p50 latency of invoke() (each run's p50; median, min and max over runs) and the working
memory with its method (rss-increase: peak RSS increase from interpreter creation to the end of
the measured runs, harness/measures/memory.py), plus the agent process's peak RSS. ExecuTorch needs
.venv-executorch (make executorch-venv); figures of different memory methods are never divided.

    python benchmarks/runtimes.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.results.store import Store

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'runtimes.sqlite'}"
        for _ in range(args.runs):
            subprocess.run([sys.executable, "-m", "harness.cli", "run", str(REPO / "suites" / "runtimes.yaml"),
                            "--device", "host", "--store", db, "--out", str(Path(tmp) / "report")],
                           cwd=REPO, capture_output=True, check=False, timeout=900)
        rows = [r for r in Store(db).results() if r["status"] == "ok"]
    by_runtime: dict[str, list] = {}
    for r in rows:
        by_runtime.setdefault(f"{r['runtime']} ({r['variant']})", []).append(r)
    for name, rs in sorted(by_runtime.items(), key=lambda kv: statistics.median(r["latency_p50_us"] for r in kv[1])):
        p50 = [r["latency_p50_us"] for r in rs]
        memory = [r["working_memory_bytes"] / 2**20 for r in rs]
        peak = statistics.median(r["rss_peak_bytes"] for r in rs) / 2**20
        print(f"{name:<28} p50 {statistics.median(p50):7.2f} µs (min {min(p50):.2f}, max {max(p50):.2f})  "
              f"working memory {statistics.median(memory):5.1f} MiB {rs[0]['working_memory_method']} "
              f"(min {min(memory):.1f}, max {max(memory):.1f})  agent peak RSS {peak:.0f} MiB  [{len(rs)} runs]")
    return 0 if len(by_runtime) == 3 else 1  # litert, onnxruntime, executorch


if __name__ == "__main__":
    sys.exit(main())
