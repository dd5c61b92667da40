"""Machine conditions around a measurement: how busy the controller was, its clock, throttling.

Read on the controller, the machine that runs the harness. For the `host` device that is the
board itself; a remote board's own clock and temperature come from its agent (the runner's
environment) and are stored next to these. Stored per result in `results.conditions`:

    temperature_c, cpu_freq_khz   the board's, from its agent (None when unreadable)
    controller                    {load_before, load_after (1-min load average), cpu_count,
                                   others_cores (CPU time of everything else, in cores, during
                                   the case), cpu_freq_khz, cpu_governor, harness_runs (other
                                   `harness run` processes in flight), throttle_events (new
                                   thermal-throttle events; None when unreadable)}
    busy                          why the controller was busy, [] when it was not

"Busy" is any of: a 1-min load average above the core count, other processes using at least
half of the cores the measurement leaves free (at least half a core), another `harness run` in
flight, or thermal throttling during the case. A busy host does not invalidate a result; it
tells the reader why latency may be noisier (regressions are decided from the run-to-run
history, harness/results/history.py).
"""

from __future__ import annotations

import glob
import os
import time
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import psutil

_SYSFS_CPU = "/sys/devices/system/cpu"


@dataclass(frozen=True)
class Snapshot:
    at: float  # monotonic seconds
    load_1m: float | None
    cpu_busy_s: float  # CPU seconds of all processes so far (user + system + ...), every core
    cpu_total_s: float
    own_cpu_s: float  # of this process and its children (the measurement)
    throttle_events: int | None


def snapshot() -> Snapshot:
    times = psutil.cpu_times()
    idle = times.idle + getattr(times, "iowait", 0.0)
    total = sum(times)
    return Snapshot(time.monotonic(), _load_1m(), total - idle, total, _own_cpu_s(), _throttle_events())


def around(before: Snapshot, after: Snapshot, threads: int = 1) -> dict[str, Any]:
    """The controller's conditions between two snapshots, and why it was busy (if it was)."""
    cpus = psutil.cpu_count() or 1
    wall = max(after.at - before.at, 1e-6)
    others = max(0.0, (after.cpu_busy_s - before.cpu_busy_s) - (after.own_cpu_s - before.own_cpu_s)) / wall
    throttled = (None if before.throttle_events is None or after.throttle_events is None
                 else after.throttle_events - before.throttle_events)
    controller = {
        "load_before": before.load_1m, "load_after": after.load_1m, "cpu_count": cpus,
        "others_cores": round(others, 2), "cpu_freq_khz": _cpu_freq_khz(),
        "cpu_governor": _read(f"{_SYSFS_CPU}/cpu0/cpufreq/scaling_governor"),
        "harness_runs": other_harness_runs(), "throttle_events": throttled,
    }
    return {"controller": controller, "busy": busy_reasons(controller, threads)}


def busy_reasons(c: Mapping[str, Any], threads: int = 1) -> list[str]:
    cpus = c.get("cpu_count") or 1
    reasons = []
    load = max((x for x in (c.get("load_before"), c.get("load_after")) if x is not None), default=None)
    if load is not None and load > cpus:
        reasons.append(f"load average {load:.1f} on {cpus} cores")
    if (c.get("others_cores") or 0) >= max(0.5, (cpus - threads) / 2):
        reasons.append(f"other processes used {c['others_cores']:.1f} of {cpus} cores")
    if c.get("harness_runs"):
        reasons.append(f"{c['harness_runs']} other harness run(s) in flight")
    if c.get("throttle_events"):
        reasons.append(f"CPU throttled ({c['throttle_events']} events)")
    return reasons


def busy_now() -> list[str]:
    """Why the controller is busy right now (load average, other harness runs), [] if it is not."""
    return busy_reasons({"load_before": _load_1m(), "cpu_count": psutil.cpu_count() or 1,
                         "harness_runs": other_harness_runs()})


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Conditions of several repetitions of one case: first load before, last load after, the worst
    of the rest, every busy reason once."""
    if len(parts) == 1:
        return parts[0]
    first, last = parts[0]["controller"], parts[-1]["controller"]
    worst = {k: max((p["controller"][k] or 0 for p in parts), default=0)
             for k in ("others_cores", "harness_runs")}
    throttles = [p["controller"]["throttle_events"] for p in parts]
    controller = {**last, **worst, "load_before": first["load_before"],
                  "throttle_events": None if None in throttles else sum(throttles)}
    busy = list(dict.fromkeys(r for p in parts for r in p["busy"]))
    return {"controller": controller, "busy": busy, "repetitions": len(parts)}


def busy_summary(rows: Iterable[Mapping[str, Any]]) -> str | None:
    """One warning line for a run's output, or None when no case ran on a busy controller."""
    measured = [r for r in rows if r.get("conditions")]
    busy = [r for r in measured if r["conditions"].get("busy")]
    if not busy:
        return None
    reasons = list(dict.fromkeys(x for r in busy for x in r["conditions"]["busy"]))
    return (f"host busy during {len(busy)} of {len(measured)} measured cases ({'; '.join(reasons[:4])}): "
            "latency is noisier than on a quiet machine; regressions are judged against the run-to-run "
            "history, re-measure with --repeat K or --rerun-suspects")


def other_harness_runs() -> int:
    """How many `harness run`s other than this one are in flight."""
    return len(harness_run_pids())


def harness_run_pids() -> set[int]:
    """`harness run` processes other than this one, its parents and its children; a wrapper
    (`timeout harness run ...`) and its child count once."""
    me = psutil.Process()
    mine = {me.pid, *(p.pid for p in me.parents())}
    try:
        mine |= {p.pid for p in me.children(recursive=True)}
    except psutil.Error:
        pass
    runs = {}
    for proc in psutil.process_iter(["pid", "ppid", "cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if proc.info["pid"] not in mine and _is_harness_run(cmd):
            runs[proc.info["pid"]] = proc.info["ppid"]
    return {pid for pid, ppid in runs.items() if ppid not in runs}


def _is_harness_run(cmd: list[str]) -> bool:
    return any((a == "harness.cli" or os.path.basename(a) == "harness") and cmd[i + 1] == "run"
               for i, a in enumerate(cmd[:-1]))


def _own_cpu_s() -> float:
    """CPU seconds of this process, its finished children and its live ones (the host's agent)."""
    me = psutil.Process()
    t = me.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in me.children(recursive=True):
        try:
            c = child.cpu_times()
        except psutil.Error:
            continue  # ended just now: its time is in children_* at the next snapshot
        total += c.user + c.system
    return total


def _load_1m() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _cpu_freq_khz() -> int | None:
    text = _read(f"{_SYSFS_CPU}/cpu0/cpufreq/scaling_cur_freq")
    if text and text.isdigit():
        return int(text)
    try:
        freq = psutil.cpu_freq()
    except (OSError, NotImplementedError):
        return None
    return int(freq.current * 1000) if freq and freq.current else None


def _throttle_events() -> int | None:
    """Thermal-throttle events so far: x86 per-core/package counters, the Raspberry Pi's firmware
    flag (non-zero is one event); None when the machine exposes neither."""
    counts = [_read(p) for p in glob.glob(f"{_SYSFS_CPU}/cpu*/thermal_throttle/*_throttle_count")]
    numbers = [int(c) for c in counts if c and c.isdigit()]
    if numbers:
        return sum(numbers)
    flag = _read("/sys/devices/platform/soc/soc:firmware/get_throttled")
    if flag is not None:
        try:
            return int(int(flag, 16) != 0)
        except ValueError:
            return None
    return None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None
