#!/usr/bin/env python3
"""Eight emulated boards in parallel vs the slowest one alone: the controller's scaling.

Each board is the reference firmware under qemu-system-arm (mps2-an385), paced like a real board
(`qemu.pace: true`: -icount shift=N,align=on,sleep=on ties virtual time to real time, so a board
executes 1e9/2**N instructions per second and uses a fraction of a host core, waiting like a
real board does, instead of eight free-running emulators fighting over the host's cores). A
paced board costs about the same host CPU per instruction whatever the shift, so its share of a
core is ~1/2**shift of the emulator's speed: shift 8 (3.9 M instructions/s) keeps eight boards
under one core of a 2-core host that other jobs share; shift 7 needed ~1.3 cores.
Eight temporary profiles qemu-cortex-m-1..8 run a small int8 suite with `harness run`: each board
alone, then all eight with `--device` x8. The goal is parallel / slowest-alone <= 1.2.

These figures are the controller's scaling (one worker per board, a shared store), not board
latency: emulated time says nothing about a real Cortex-M.

Usage: .venv/bin/python benchmarks/parallel.py [--boards 8] [--shift 8] [--alone one|all]
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import harness

REPO = Path(__file__).resolve().parent.parent
GOAL = 1.2
SUITE = """\
name: parallel-bench
description: a small int8 suite for the parallel-boards benchmark
models:
  - path: {models}/digits-cnn
    variants: [int8, pruned-int8, tiny-int8]
run:
  warmup: {{count: 2, min_seconds: 0 s}}
  measure: {{count: 10, min_seconds: 0 s}}
  accuracy_samples: 16
  timeout: 600 s
"""
PROFILE = """\
name: {name}
description: emulated Cortex-M3 (mps2-an385), paced at real time, for benchmarks/parallel.py
tier: iot
transport: qemu://mps2-an385
runtime: edge-harness-fw
emulated: true
compute_tops: null
ram: 4 MiB
flash: 4 MiB
model_volume_cap: 1 MB
qemu:
  icount_shift: {shift}
  pace: {pace}
serial:
  read_timeout: 5 s
"""


def host_busy_seconds() -> float:
    """CPU seconds every process on this host has used since boot (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def harness_run(directory: Path, names: list[str], store: Path) -> tuple[float, float, float, float]:
    """Wall seconds, CPU seconds (the controller and its emulators) of one `harness run`, the
    seconds its slowest board spent in cases (the rest: start-up, boot, health check), and the
    CPU seconds other processes on this host took meanwhile."""
    argv = [sys.executable, "-m", "harness.cli", "run", str(directory / "suite.yaml"),
            "--store", str(store), "--profiles", str(directory / "profiles")]
    for name in names:
        argv += ["--device", name]
    with open(directory / "harness.log", "ab") as log:
        t0, busy0 = time.monotonic(), host_busy_seconds()
        proc = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)  # its rusage includes the QEMUs it waited for
        wall, busy = time.monotonic() - t0, host_busy_seconds() - busy0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):  # 1: a threshold missed, still a complete run
        tail = (directory / "harness.log").read_text(errors="replace")[-2000:]
        raise SystemExit(f"harness run {' '.join(names)} exited {proc.returncode}:\n{tail}")
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, _cases_seconds(store, names), max(0.0, busy - cpu)


def _cases_seconds(store: Path, names: list[str]) -> float:
    """The slowest board's time in cases, after checking every case of every board is ok once."""
    with sqlite3.connect(store) as conn:
        rows = conn.execute("SELECT device, status, count(*), sum(duration_s) FROM results "
                            "GROUP BY device, status").fetchall()
    ok = {device: n for device, status, n, _ in rows if status == "ok"}
    if any(s != "ok" for _, s, _, _ in rows) or sorted(ok) != sorted(names) or len(set(ok.values())) != 1:
        raise SystemExit(f"not every case measured ok: {rows}")
    return max(seconds for *_, seconds in rows)


def describe(wall: float, cpu: float, cases: float, others: float) -> str:
    return (f"{wall:6.1f} s wall ({cases:5.1f} s in cases), harness + emulators {cpu / wall:.2f} cores, "
            f"other processes {others / wall:.2f} cores")


def environment() -> str:
    qemu = subprocess.run(["qemu-system-arm", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"edge-harness {harness.__version__}, Python {platform.python_version()}, {qemu}\n"
            f"host: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
            f"load average before: {load}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", type=int, default=8)
    parser.add_argument("--shift", type=int, default=8,
                        help="-icount shift: a paced board runs 1e9/2**shift instructions per second")
    parser.add_argument("--no-pace", action="store_true", help="free-running emulators (sleep=off)")
    parser.add_argument("--alone", choices=("one", "all"), default="one",
                        help="the boards are identical: time the first alone (default; the slowest of "
                             "eight noisy solo runs would flatter the ratio), or every one")
    args = parser.parse_args()
    pace = not args.no_pace
    names = [f"qemu-cortex-m-{i}" for i in range(1, args.boards + 1)]
    print(environment())
    mips = 1e3 / 2 ** args.shift
    print(f"boards: {args.boards} x qemu mps2-an385, -icount shift={args.shift},"
          f"{f'align=on,sleep=on (paced: {mips:.1f} M instructions/s each)' if pace else 'sleep=off (free-running)'}")
    with tempfile.TemporaryDirectory(prefix="edge-harness-parallel-") as tmp:
        directory = Path(tmp)
        (directory / "profiles").mkdir()
        (directory / "suite.yaml").write_text(SUITE.format(models=REPO / "models"))
        for name in names:
            text = PROFILE.format(name=name, shift=args.shift, pace=str(pace).lower())
            (directory / "profiles" / f"{name}.yaml").write_text(text)
        alone: dict[str, tuple[float, float, float, float]] = {}
        for name in names if args.alone == "all" else names[:1]:
            alone[name] = harness_run(directory, [name], directory / f"alone-{name}.sqlite")
            print(f"  alone     {name}: {describe(*alone[name])}")
        wall, cpu, cases, others = harness_run(directory, names, directory / "parallel.sqlite")
        print(f"  parallel  {args.boards} boards: {describe(wall, cpu, cases, others)}")
    slowest = max(alone, key=lambda n: alone[n][0])
    slow_wall = alone[slowest][0]
    ratio = wall / slow_wall
    print(f"ratio parallel / slowest alone ({slowest}): {wall:.1f} / {slow_wall:.1f} = {ratio:.2f}  "
          f"(goal <= {GOAL}: {'met' if ratio <= GOAL else 'NOT met'})")
    print("These are the controller's scaling figures (workers, store, emulator pacing), "
          "not board latency.")
    sys.exit(0 if ratio <= GOAL else 1)


if __name__ == "__main__":
    main()
