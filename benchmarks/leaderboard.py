"""Time `harness leaderboard` on a store of 1,000,000 results: 40 devices × 50 models, nightly,
500 nights ending 2026-12-31 (365 in 2026, the rest in 2025 for the movement column).

    .venv/bin/python benchmarks/leaderboard.py [--rows 1000000] [--keep DIR]

Fills the store with SQLAlchemy Core executemany (one transaction per night), then runs the
CLI in a child process and reports its wall time and peak RSS (goal: <= 10 s, <= 2 GiB)."""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from harness.results import store as st

DEVICES, MODELS = 40, 50


def fill(url: str, nights: int) -> int:
    db = st.Store(url)
    rng = np.random.default_rng(2026)
    speed = rng.lognormal(0, 0.8, DEVICES)
    base = rng.lognormal(7, 1, MODELS)  # µs
    size = rng.integers(20_000, 5_000_000, MODELS)
    acc = rng.uniform(0.6, 0.98, MODELS)
    names = ["rpi5"] + [f"board-{i:02d}" for i in range(1, DEVICES)]
    end = dt.datetime(2026, 12, 31, 2, tzinfo=dt.timezone.utc)
    total = 0
    with db.engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA synchronous=OFF")
    for night in range(nights):
        when = end - dt.timedelta(days=nights - 1 - night)
        run_id = f"nightly-{when:%Y%m%d}"
        noise = rng.lognormal(0, 0.05, (DEVICES, MODELS))
        rows = [{"run_id": run_id, "device": names[d], "family": f"model-{m:02d}", "variant": "int8",
                 "reference_variant": "int8", "status": "ok", "runtime": "litert", "emulated": d >= DEVICES - 3,
                 "model_bytes": int(size[m]), "latency_p50_us": float(base[m] * speed[d] * noise[d, m]),
                 "rss_peak_bytes": int(30_000_000 + 1_000_000 * d), "accuracy_top1": float(acc[m]),
                 "energy_uj": float(base[m] * speed[d] * 2.0) if d % 4 else None,
                 "power_status": "measured" if d % 4 else "not measured", "recorded_at": when}
                for d in range(DEVICES) for m in range(MODELS)]
        with db.engine.begin() as conn:
            conn.execute(st.runs.insert(), [{"run_id": run_id, "suite": "nightly", "started_at": when,
                                             "status": "complete", "devices": names}])
            conn.execute(st.results.insert(), rows)  # executemany: one statement, one transaction
        total += len(rows)
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="Keep the store and the output here.")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="leaderboard-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    db_path = work / "bench.sqlite"
    if not db_path.exists():
        t = time.perf_counter()
        n = fill(f"sqlite:///{db_path}", args.rows // (DEVICES * MODELS))
        print(f"filled {n:,} results in {time.perf_counter() - t:.1f} s ({db_path.stat().st_size / 2**20:.0f} MiB)")
    definition = work / "annual-2026.yaml"
    definition.write_text("title: Benchmark leaderboard\nperiod: {from: 2026-01-01, to: 2026-12-31}\n"
                          "suites: [nightly]\nreference: rpi5\n")
    harness = Path(sys.executable).with_name("harness")
    t = time.perf_counter()
    done = subprocess.run([str(harness), "leaderboard", "--year", "2026", "--definition", str(definition),
                           "--store", str(db_path), "--out", str(work / "out")], capture_output=True, text=True)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    if done.returncode != 0:
        sys.exit(f"harness leaderboard failed ({done.returncode}): {done.stderr.strip()}")
    print(done.stdout.strip())
    print(f"harness leaderboard --year 2026: {seconds:.2f} s wall, peak RSS {peak / 2**20:.0f} MiB "
          f"(goal <= 10 s, <= 2048 MiB): {'OK' if seconds <= 10 and peak <= 2**31 else 'OVER BUDGET'}")


if __name__ == "__main__":
    main()
