"""Time what a reader waits for, end to end through the CLI (a child process each):

- the quickstart white paper (`harness report --definition reports/quickstart.yaml`) from a
  real quickstart run on host and host-tflm (run here unless --quickstart-store is given);
- the nightly dashboard (`harness dashboard`) of 90 nights × 8 devices × 10 models, cold (every
  run report written) and warm (the next morning: finished runs' reports kept).

    .venv/bin/python benchmarks/report_speed.py [--quickstart-store PATH] [--keep DIR]

Prints wall and CPU (user + sys of the child) seconds: on a shared, loaded machine the wall time
includes the wait for a core, the CPU time does not. Goals: paper <= 3 s, dashboard <= 10 s."""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def timed(*args: str) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        sys.exit(f"harness {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def nightly_store(path: Path) -> None:
    import sqlalchemy as sa

    from harness.results.store import Store
    from tests.reportdata import HOSTILE, FakeDevice, fill

    models = {(f"family-{i // 2}", "fp32" if i % 2 == 0 else "int8"): (100.0 * (i + 1), 50_000 * (i + 1), 0.9, "fp32")
              for i in range(10)}
    names = ["rpi5", "jetson-orin-nano", "coral-dev-board", "esp32-s3", "rpi4", "host", HOSTILE, "qemu-aarch64"]
    store = Store(str(path))
    sa.event.listen(store.engine, "connect", lambda conn, _: conn.execute("PRAGMA synchronous=OFF"))
    store.engine.dispose()
    fill(store, [FakeDevice(n, 0.5 + 0.2 * i, slower_from=60 if i == 1 else None) for i, n in enumerate(names)],
         nights=90, models=models, samples=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quickstart-store", type=Path)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="report-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    quick = args.quickstart_store
    if quick is None:
        quick = work / "quickstart.sqlite"
        wall, cpu = timed("run", "suites/quickstart.yaml", "--device", "host,host-tflm", "--store", str(quick))
        print(f"quickstart run (host, host-tflm):   {wall:6.1f} s wall")
    for attempt in (1, 2):
        wall, cpu = timed("report", "--definition", "reports/quickstart.yaml", "--store", str(quick),
                          "--out", str(work / "paper"))
        print(f"quickstart white paper (#{attempt}):      {wall:6.1f} s wall {cpu:6.1f} s CPU")
    began = time.perf_counter()
    nightly_store(work / "nightly.sqlite")
    print(f"90 nights x 8 devices x 10 models stored in {time.perf_counter() - began:.1f} s")
    for label in ("cold", "warm"):
        wall, cpu = timed("dashboard", "--store", str(work / "nightly.sqlite"), "--out", str(work / "site"))
        print(f"dashboard, 90 nights ({label}):       {wall:6.1f} s wall {cpu:6.1f} s CPU")
    print(f"files in {work}")


if __name__ == "__main__":
    main()
