#!/usr/bin/env python3
"""What SSH costs a run: connect, per-command round trip, deploy first run vs repeat (sha256
skip), and, with --qemu, the emulated aarch64 board's boot time.

    .venv/bin/python benchmarks/ssh_overhead.py            # a throwaway sshd on 127.0.0.1
    .venv/bin/python benchmarks/ssh_overhead.py --qemu     # also boot qemu-aarch64 (image built)
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from harness.deadline import Deadline  # noqa: E402
from harness.config.profiles import resolve  # noqa: E402
from harness.runners.agent_runner import AGENT_FILE  # noqa: E402
from harness.transports import open_transport  # noqa: E402
from harness.transports.local import LocalTransport  # noqa: E402
from harness.transports.ssh import SshTransport  # noqa: E402

QUICKSTART_FILES = [AGENT_FILE, *sorted((REPO / "models").glob("*/*.tflite")),
                    *sorted((REPO / "models").glob("*/*.npz"))]


def round_trip_ms(transport, count: int) -> float:
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        transport.run(["true"], deadline=Deadline(30))
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def deploy(url: str, options: dict) -> tuple[float, int]:
    """Seconds to stage every quickstart file in a new session, and the bytes uploaded."""
    transport = SshTransport(url, ssh=options)
    transport.open(Deadline(60))
    try:
        t0 = time.perf_counter()
        for path in QUICKSTART_FILES:
            transport.stage(path, Deadline(120))
        return time.perf_counter() - t0, transport.uploaded_bytes
    finally:
        transport.close()


def report(name: str, url: str, options: dict, count: int) -> None:
    t0 = time.perf_counter()
    transport = SshTransport(url, ssh=options)
    transport.open(Deadline(60))
    connect_ms = (time.perf_counter() - t0) * 1000
    rtt = round_trip_ms(transport, count)
    transport.close()
    first_s, first_bytes = deploy(url, options)
    repeat_s, repeat_bytes = deploy(url, options)
    total = sum(p.stat().st_size for p in QUICKSTART_FILES)
    print(f"[{name}]")
    print(f"  connect + login + work dir   {connect_ms:8.1f} ms")
    print(f"  command round trip (`true`)  {rtt:8.1f} ms   median of {count}")
    print(f"  deploy, first run            {first_s * 1000:8.1f} ms   {first_bytes / 1e6:.2f} MB uploaded "
          f"({len(QUICKSTART_FILES)} files, {total / 1e6:.2f} MB)")
    print(f"  deploy, repeat run           {repeat_s * 1000:8.1f} ms   {repeat_bytes / 1e6:.2f} MB uploaded "
          "(sha256 matched on the board)")


def local_sshd(count: int) -> None:
    from tests.sshd_server import start_sshd

    sshd = start_sshd()
    try:
        local = LocalTransport()
        print(f"[local:// baseline]\n  command round trip (`true`)  {round_trip_ms(local, count):8.1f} ms")
        report("sshd on 127.0.0.1", sshd.url, sshd.options(), count)
    finally:
        sshd.stop()


def qemu(count: int) -> None:
    profile = resolve("qemu-aarch64", REPO / "device_profiles")
    board = open_transport(profile.transport, **profile.transport_options())
    board.open(Deadline(300))
    try:
        print(f"[qemu-aarch64]\n  boot to SSH ready            {board.boot_seconds:8.1f} s")
        inner = board._board()
        options = dataclasses.asdict(inner.settings)
        report("qemu-aarch64 over SSH", inner.url, options, count)
    finally:
        t0 = time.perf_counter()
        board.close()
        print(f"  power off (QMP quit)         {(time.perf_counter() - t0) * 1000:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qemu", action="store_true", help="also boot the emulated aarch64 board")
    parser.add_argument("--count", type=int, default=50, help="round trips to time")
    args = parser.parse_args()
    local_sshd(args.count)
    if args.qemu:
        qemu(max(10, args.count // 5))


if __name__ == "__main__":
    main()
