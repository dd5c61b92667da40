"""Run-time overhead of the cycle-estimating plugin on the emulated Cortex-M (issue 18).

First, pure emulation: firmware/ports/qemu-mps2/spinbench.S (~800 M instructions: loads, stores,
ALU, MLA, a conditional branch; no UART, no timer) run to its semihosting exit, the QEMU process
timed, without and with the plugin, rounds interleaved. Then one whole digits int8 case as a
run measures it (boot, upload, timed inferences, eval set), the QEMU process's CPU. Then three
boards side by side, the same firmware and model: QEMU without a plugin, with the plugin
(inline per-class counters, branches assumed) and with exact branch tracking (a callback per
conditional branch and per block). After one untimed round (translation), each round times one
RUN batch of N inferences on each, host wall clock from command to reply, in turn (so host load
hits all alike). Printed for wall clock and for the CPU time QEMU (and, end to end, every child
process) used: the minimum over rounds (the least disturbed by other processes on a shared
host: the plugin's intrinsic cost) and the median. On a busy host trust CPU time over wall. Goal: <= 5 % without exact branch tracking. With --cli it also times what a
user runs end to end: `harness run suites/quickstart-int8.yaml` on the profile with and without
its `cycles:` section (subprocess, store, everything).

    python benchmarks/cycle_model.py [--rounds 9] [--count 240] [--cli]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

from harness.deadline import Deadline
from harness.runners.base import Job
from harness.runners.firmware import FirmwareRunner
from harness.transports import open_transport

REPO = Path(__file__).resolve().parent.parent
MODEL = REPO / "models" / "digits-cnn" / "int8.tflite"
CYCLES = {"core": "cortex-m3", "clock_mhz": 25, "flash_wait_states": 0}
MODES = {"no plugin": None, "plugin (branches assumed)": CYCLES,
         "plugin (branches exact)": {**CYCLES, "branches": "exact"}}


SPIN = REPO / "firmware" / "build" / "qemu-mps2" / "spinbench.elf"


def spin(rounds: int) -> dict[str, list[float]]:
    from harness.cycles.plugin import PLUGIN, build_plugin

    subprocess.run(["make", "-s", "-C", str(REPO / "firmware" / "ports" / "qemu-mps2"), "spinbench"],
                   check=True, capture_output=True)
    build_plugin()
    base = ["qemu-system-arm", "-M", "mps2-an385", "-kernel", str(SPIN), "-nographic", "-monitor", "none",
            "-semihosting-config", "enable=on,target=native", "-icount", "shift=3,sleep=off"]
    times: dict[str, list[float]] = {name: [] for name in MODES}
    cpu: dict[str, list[float]] = {name: [] for name in MODES}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            for name, cycles in MODES.items():
                plugin = [] if cycles is None else [
                    "-plugin", f"{PLUGIN},out={tmp}/log,branches={cycles.get('branches', 'assumed')}"]
                t0, c0 = time.perf_counter(), children_cpu()
                subprocess.run(base + plugin, check=True, capture_output=True, timeout=600)
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(children_cpu() - c0)
    return times, cpu


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def qemu_cpu(process: psutil.Process) -> float:
    t = process.cpu_times()
    return t.user + t.system


def open_board(cycles: dict | None) -> tuple[FirmwareRunner, psutil.Process]:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    board = open_transport("qemu://mps2-an385", qemu={"icount_shift": 3}, serial={"read_timeout": 30},
                           cycles=cycles)
    board.open(Deadline(300))
    runner = FirmwareRunner(board, read_timeout=30)
    runner.measure(Job(model_path=MODEL, dataset_path=None, warmup_count=1, warmup_min_seconds=0,
                       measure_count=1, measure_min_seconds=0), Deadline(300))  # deploy, set input
    qemu = [p for p in psutil.Process().children(recursive=True)
            if p.pid not in before and p.name().startswith("qemu-system")]
    return runner, qemu[0]


def emulation(rounds: int, count: int) -> dict[str, float]:
    boards = {name: open_board(cycles) for name, cycles in MODES.items()}
    times: dict[str, list[float]] = {name: [] for name in MODES}
    cpu: dict[str, list[float]] = {name: [] for name in MODES}
    try:
        for runner, _qemu in boards.values():  # translate every block once, untimed
            runner.client.run(0, count, Deadline(600), timeout=600)
        for _ in range(rounds):
            for name, (runner, qemu) in boards.items():
                t0, c0 = time.perf_counter(), qemu_cpu(qemu)
                runner.client.run(0, count, Deadline(600), timeout=600)
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(qemu_cpu(qemu) - c0)
    finally:
        for runner, _qemu in boards.values():
            runner.close()
    return times, cpu


def case(rounds: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """One whole case as `harness run` measures it (boot, upload, 110 timed inferences, 360 eval
    samples), on a fresh board per round: wall clock and the QEMU process's CPU time."""
    job = Job(model_path=MODEL, dataset_path=MODEL.parent / "eval.npz", warmup_count=10, warmup_min_seconds=0,
              measure_count=100, measure_min_seconds=0)
    modes = {"no plugin": None, "plugin (branches assumed)": CYCLES}
    times: dict[str, list[float]] = {name: [] for name in modes}
    cpu: dict[str, list[float]] = {name: [] for name in modes}
    for _ in range(rounds):
        for name, cycles in modes.items():
            t0 = time.perf_counter()
            runner, qemu = open_board(cycles)
            runner.measure(job, Deadline(600))
            cpu[name].append(qemu_cpu(qemu))
            runner.close()
            times[name].append(time.perf_counter() - t0)
    return times, cpu


def cli(rounds: int) -> dict[str, float]:
    profile = yaml.safe_load((REPO / "device_profiles" / "qemu-cortex-m.yaml").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp, "qemu-cortex-m-plain.yaml")
        plain.write_text(yaml.safe_dump({**{k: v for k, v in profile.items() if k != "cycles"},
                                         "name": "qemu-cortex-m-plain"}))
        devices = {"no plugin": str(plain), "plugin (branches assumed)": "qemu-cortex-m"}
        times: dict[str, list[float]] = {name: [] for name in devices}
        cpu: dict[str, list[float]] = {name: [] for name in devices}
        for r in range(rounds):
            for name, device in devices.items():
                t0, c0 = time.perf_counter(), children_cpu()
                subprocess.run([sys.executable, "-m", "harness.cli", "run", "suites/quickstart-int8.yaml",
                                "--device", device, "--store", str(Path(tmp, f"{r}-{len(name)}.db"))],
                               cwd=REPO, check=True, capture_output=True, timeout=1800)
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(children_cpu() - c0)
    return times, cpu


def report(title: str, figures: tuple[dict[str, list[float]], dict[str, list[float]]]) -> None:
    print(title)
    for clock, times in zip(("wall", "cpu"), figures):
        for stat in (min, statistics.median):
            base = stat(times["no plugin"])
            for name, seconds in times.items():
                print(f"  {clock:4s} {stat.__name__:6s} {name:28s} {stat(seconds):8.3f} s   "
                      f"overhead {100 * (stat(seconds) / base - 1):+6.1f} %")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--count", type=int, default=240, help="inferences per RUN batch (digits int8; the firmware takes <= 240)")
    ap.add_argument("--cli", action="store_true", help="also time `harness run` end to end")
    args = ap.parse_args()
    report(f"pure emulation: spinbench.elf (~800 M instructions), QEMU process wall time, {args.rounds} "
           "interleaved rounds", spin(args.rounds))
    report(f"emulation: RUN of {args.count} x digits-cnn/int8 (~3.7 M instructions each), "
           f"{args.rounds} interleaved rounds, host wall clock", emulation(args.rounds, args.count))
    report(f"one case: digits-cnn/int8 measured like `harness run` does, {args.rounds} interleaved "
           "rounds, QEMU process CPU", case(args.rounds))
    if args.cli:
        report(f"end to end: harness run suites/quickstart-int8.yaml, {max(1, args.rounds // 3)} "
               "interleaved runs", cli(max(1, args.rounds // 3)))


if __name__ == "__main__":
    main()
