"""Record a power meter for a while: the common step of the meter tests."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

from harness.deadline import Deadline
from harness.power import Samples, open_meter


def record(url: str, seconds: float, **options: object) -> Samples:
    meter = open_meter(url, **options)
    meter.open(Deadline(5))
    try:
        meter.start(Deadline(5))
        time.sleep(seconds)
        return meter.stop(Deadline(5))
    finally:
        meter.close()


def write(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{value}\n")
    os.replace(tmp, path)  # sysfs reads are atomic; so must the fake's be


class RaplCounter:
    """A fake powercap tree: package-0 drawing a constant 2 W, its counter wrapping every
    `range_uj` (0.5 s by default), a `core` subzone, and the same package counter mirrored in
    `mirrors` (e.g. intel-rapl-mmio:0: one package seen through a second interface).

    The counter is written by a separate process, as the kernel would: a writer thread in the
    test's own process stalls behind the GIL on a loaded machine, and a stalled counter is a
    fault of the fake, not of the meter. Use as a context manager."""

    WATTS = 2.0

    def __init__(self, root: Path, range_uj: int = 1_000_000, mirrors: tuple[str, ...] = ()) -> None:
        self.zones = [root / "intel-rapl:0", *(root / m for m in mirrors)]
        self.range_uj = range_uj
        for zone in self.zones:
            write(zone / "name", "package-0")
            write(zone / "max_energy_range_uj", range_uj)
        write(root / "intel-rapl:0:0" / "name", "core")  # a subzone: never summed
        write(root / "intel-rapl:0:0" / "energy_uj", 0)
        self.stop = multiprocessing.Event()
        t0 = time.monotonic()
        _tick(self.zones, t0, self.WATTS, range_uj)
        self.process = multiprocessing.Process(
            target=_count, args=(self.zones, t0, self.WATTS, range_uj, self.stop), daemon=True)

    def __enter__(self) -> "RaplCounter":
        self.process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.process.join(5)


def _tick(zones: list[Path], t0: float, watts: float, range_uj: int) -> None:
    value = round(400_000 + watts * 1e6 * (time.monotonic() - t0)) % range_uj
    for zone in zones:
        write(zone / "energy_uj", value)


def _count(zones: list[Path], t0: float, watts: float, range_uj: int, stop) -> None:
    while not stop.is_set():
        _tick(zones, t0, watts, range_uj)
        time.sleep(0.002)  # 4 mJ steps at 2 W; a writer that sleeps is scheduled promptly under load
