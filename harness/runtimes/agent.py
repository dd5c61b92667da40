#!/usr/bin/env python3
"""The measurement agent: runs one model on the machine it finds itself on and prints JSON.

This file, the shared library beside it (harness/runtimes/agentlib.py: input quantization and
latency statistics, the same code the controller uses) and one adapter file
(harness/runtimes/adapters/<runtime>.py) are the whole on-board half of the harness. The host
runner runs it in a subprocess on the host; the SSH runner copies the three to a board and runs
it there; the job names the other two by path. They need only the standard library, numpy and
one runtime package (ai-edge-litert, tflite-runtime, pycoral's libedgetpu delegate, tflite-micro,
onnxruntime, executorch); psutil is used when present. So run as a script they import nothing
from the `harness` package. This file measures only; what it computes from the measurements is
in the shared library.

Usage: python3 agent.py < job.json > result.json   (see `run_job` for the job's keys)
Measurement follows TFLite's benchmark_model: init, first inference, warm-up by count and
time, then runs until both the count and the minimum time are reached; only `invoke()` is
inside the timed region.
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import select
import sys
import tempfile
import threading
import time
from typing import Any, Callable

AGENT_PROTOCOL = 1
_now = time.perf_counter_ns
# Working-memory methods; the same names as harness/measures/memory.py (this file imports nothing of harness)
ARENA, RSS_INCREASE = "arena", "rss-increase"
ADAPTER_MODULE = "edge_harness_agent"  # adapters import this file under this name
LIBRARY_MODULE = "edge_harness_agentlib"  # the shared library, loaded under this name on a board

shared: Any  # harness/runtimes/agentlib.py
if __name__ != "__main__":  # imported inside the harness (runners, the runtime catalogue, tests)
    from harness.runtimes import agentlib as shared


# ---------------------------------------------------------------- interpreters

class Adapter:
    """The few calls the measurement needs, over one runtime. Each runtime is one file in
    harness/runtimes/adapters/ defining ADAPTER; the runner stages it beside this file and names it
    in the job. Class attributes declare what it reads and reports (the controller reads them)."""

    name = "?"
    formats: tuple[str, ...] = ()  # model formats it reads (harness/models/formats.py names)
    per_op = False  # whether it gives per-operator times (`profile()`)
    memory_method = RSS_INCREASE  # an interpreter in this process: what its RSS grew by

    def __init__(self, model_path: str, threads: int, options: dict[str, Any] | None = None) -> None:
        self.model_path = model_path
        self.threads = threads
        self.options = options or {}

    def import_runtime(self) -> None:
        """Import the interpreter's library: before the memory baseline, so the RSS increase is
        the interpreter's and the model's, not the shared library's."""

    def load(self) -> None: ...
    def input_detail(self) -> dict[str, Any]: ...
    def set_input(self, array: Any) -> None: ...
    def invoke(self) -> None: ...
    def get_output(self) -> Any: ...
    def versions(self) -> dict[str, str]: ...
    def output_quantization(self) -> tuple[float, int]:
        """(scale, zero_point) of the output; scale 0 for a float output."""
        return 0.0, 0

    def arena_bytes(self) -> int | None:
        return None

    def settings(self) -> dict[str, Any]:
        """Runtime settings beyond the suite's threads that change its speed (an optimisation
        level, an execution provider), recorded with the result; none by default."""
        return {}

    def profile(self, runs: int) -> list[dict[str, Any]] | None:
        """Per-operator times over `runs` inferences: [{index, op, time_us}] (mean per inference),
        or None where the runtime cannot give them."""
        return None


class TfliteApiAdapter(Adapter):
    """The tf.lite.Interpreter API that LiteRT, tflite-runtime and pycoral share."""

    formats = ("tflite",)
    module = "ai_edge_litert.interpreter"
    package = "ai_edge_litert"

    def delegates(self) -> list[Any]:
        return []

    def import_runtime(self) -> None:
        self._mod = __import__(self.module, fromlist=["Interpreter"])

    def load(self) -> None:
        mod = self._mod
        kwargs: dict[str, Any] = {"model_path": self.model_path, "num_threads": self.threads}
        delegates = self.delegates()
        if delegates:
            kwargs["experimental_delegates"] = delegates
        try:
            self.interp = mod.Interpreter(**kwargs)
            self.interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise AgentError("model", f"{self.model_path}: {self.name} cannot load it: {exc}")
        self._in = self.interp.get_input_details()[0]
        out = self.interp.get_output_details()[0]
        self._out = out["index"]
        self._out_q = tuple(out["quantization"])

    def output_quantization(self) -> tuple[float, int]:
        scale, zero = self._out_q
        return float(scale), int(zero)

    def input_detail(self) -> dict[str, Any]:
        scale, zero = self._in["quantization"]
        return {"shape": list(self._in["shape"]), "dtype": self._in["dtype"].__name__,
                "scale": scale, "zero_point": zero}

    def set_input(self, array: Any) -> None:
        self.interp.set_tensor(self._in["index"], array)

    def invoke(self) -> None:
        self.interp.invoke()

    def get_output(self) -> Any:
        return self.interp.get_tensor(self._out)

    def versions(self) -> dict[str, str]:
        pkg = __import__(self.package)
        return {"runtime": self.name, "runtime_version": str(getattr(pkg, "__version__", "unknown"))}


def load_file(path: str, name: str) -> Any:
    """The module in the file at `path` (staged beside this file on a board), under `name`."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_adapter(path: str) -> type[Adapter]:
    """The ADAPTER class of the adapter file at `path`."""
    sys.modules.setdefault(ADAPTER_MODULE, sys.modules[__name__])
    name = "edge_harness_adapter_" + os.path.basename(path).split(".")[0].replace("-", "_")
    return load_file(path, name).ADAPTER


def load_library(path: str) -> None:
    """Use the shared library staged at `path` (a board has no `harness` package)."""
    global shared
    shared = load_file(path, LIBRARY_MODULE)


class AgentError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # "model" or "device": a result, not an infrastructure fault


def capture_stderr(fn: Callable[[], Any]) -> str:
    """C++ code writes to fd 2 directly; redirect the descriptor, not sys.stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            fn()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        return tmp.read().decode(errors="replace")


# ---------------------------------------------------------------- memory and environment

def reset_peak_rss() -> bool:
    """Restart the kernel's peak-RSS mark (VmHWM) at the current RSS (Linux >= 4.0), so the peak
    read later is the peak of what follows, not of imports before it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def rss_bytes() -> int:
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:
        return _proc_status_kib("VmRSS") * 1024


def peak_rss_bytes() -> int:
    """Peak resident set of this process (VmHWM; ru_maxrss where /proc is missing)."""
    hwm = _proc_status_kib("VmHWM")
    if hwm:
        return hwm * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _proc_status_kib(key: str) -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace").strip("\x00\n ")
    except OSError:
        return None


def environment() -> dict[str, Any]:
    """Who measured: board, CPU, kernel, clocks and temperature at the time, Python, numpy."""
    import numpy

    cpu_model = None
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        if line.split(":")[0].strip() in ("model name", "Hardware", "Model", "cpu model"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    freq = _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq")
    temp = _read("/sys/class/thermal/thermal_zone0/temp")
    return {
        "board_model": _read("/proc/device-tree/model"),
        "cpu_model": cpu_model or platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "os": platform.platform(),
        "kernel": platform.release(),
        "cpu_governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "cpu_freq_khz": int(freq) if freq and freq.isdigit() else None,
        "temperature_c": int(temp) / 1000.0 if temp and temp.lstrip("-").isdigit() else None,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "hostname": platform.node(),
    }


# ---------------------------------------------------------------- measurement

def timed_loop(invoke: Callable[[], None], count: int, min_seconds: float,
               max_seconds: float | None = None) -> list[float]:
    """Per-call latency in microseconds; runs until both count and min_seconds are reached."""
    samples: list[float] = []
    start = _now()
    min_ns = min_seconds * 1e9
    max_ns = max_seconds * 1e9 if max_seconds else None
    while True:
        t0 = _now()
        invoke()
        t1 = _now()
        samples.append((t1 - t0) / 1000.0)
        elapsed = t1 - start
        if len(samples) >= count and elapsed >= min_ns:
            return samples
        if max_ns is not None and elapsed >= max_ns:
            return samples


def warm_up(invoke: Callable[[], None], count: int, min_seconds: float) -> tuple[int, float]:
    """(calls, seconds) of warm-up calls; runs until both count and min_seconds are reached.
    Keeps no per-call list: the working memory is read right after it (see measure)."""
    calls, start, min_ns = 0, _now(), min_seconds * 1e9
    while calls < count or _now() - start < min_ns:
        invoke()
        calls += 1
    return calls, (_now() - start) / 1e9


def measure(adapter: Adapter, job: dict[str, Any]) -> dict[str, Any]:
    adapter.import_runtime()
    dataset = _load_dataset(job.get("dataset"))
    peak_reset = reset_peak_rss()
    rss_before = rss_bytes()
    t0 = _now()
    adapter.load()
    init_ms = (_now() - t0) / 1e6
    rss_loaded = rss_bytes()
    detail = adapter.input_detail()
    sample = shared.latency_input(dataset, detail)
    if list(sample.shape) != list(detail["shape"]):
        raise AgentError("model", f"dataset sample shape {list(sample.shape)} does not match "
                                  f"model input {detail['shape']}")
    adapter.set_input(sample)
    t0 = _now()
    adapter.invoke()
    first_ms = (_now() - t0) / 1e6
    warm, run = job["warmup"], job["measure"]
    accel = AcceleratorLoad.open(job.get("accelerator_load"))  # before warm-up: tegrastats is printing by the window
    try:
        warmup_count, warmup_seconds = (warm_up(adapter.invoke, warm["count"], warm["min_seconds"])
                                        if warm["count"] else (0, 0.0))
        # The peak is read before the timed runs: they repeat the warm-up's invocations, and their
        # sample list (32 bytes a sample: 3 MiB in one second of a 10 µs model) is the harness's
        # memory, not the model's; its size follows the machine's load, so counting it made the
        # figure move by MiBs from run to run. Without a peak mark reset, the current RSS is the
        # best lower bound we have.
        peak = peak_rss_bytes() if peak_reset else max(rss_loaded, rss_bytes())
        before = _cpu_counters()
        accel.begin()
        samples = timed_loop(adapter.invoke, run["count"], run["min_seconds"], run.get("max_seconds"))
        accel.end()
    finally:
        accel.close()  # never leave a tegrastats running on the board
    used = {**utilization(before, _cpu_counters(), int(job.get("threads", 1))), **accel.result()}
    arena = adapter.arena_bytes()
    working = arena if adapter.memory_method == ARENA else max(0, peak - rss_before)
    result: dict[str, Any] = {
        "init_ms": init_ms, "first_inference_ms": first_ms,
        "warmup_count": warmup_count, "warmup_seconds": warmup_seconds,
        "samples_us": samples, "latency_us": shared.summarize(samples),
        "memory": {"rss_before_load": rss_before, "rss_after_load": rss_loaded,
                   "rss_load_delta": rss_loaded - rss_before, "rss_peak": peak_rss_bytes(),
                   "rss_peak_increase": peak - rss_before, "rss_peak_mark_reset": peak_reset,
                   "arena_bytes": arena, "working_memory_bytes": working,
                   "working_memory_method": adapter.memory_method if working is not None else None},
        "utilization": used,
    }
    if job.get("profile_runs"):  # per-operator times, after (and apart from) the timed runs
        result["op_profile"] = adapter.profile(int(job["profile_runs"]))
    if job.get("energy"):  # the power meter's windows: after the latency runs, before accuracy
        result["energy_windows"] = energy_windows(adapter.invoke, int(job["energy"]["windows"]),
                                                  float(job["energy"]["seconds"]))
    result.update(accuracy(adapter, dataset, detail, job.get("accuracy_samples")))
    return result


def _cpu_counters() -> tuple[int, float, list[int] | None]:
    """(monotonic ns, this process's CPU seconds, /proc/stat's aggregate cpu jiffies or None)."""
    stat = _read("/proc/stat")
    jiffies = [int(v) for v in stat.splitlines()[0].split()[1:]] if stat and stat.startswith("cpu ") else None
    return _now(), time.process_time(), jiffies


def utilization(before: tuple[int, float, list[int] | None], after: tuple[int, float, list[int] | None],
                threads: int) -> dict[str, Any]:
    """Compute utilization over the measured window (the seed's < 85 %): the inference process's
    CPU time over wall time per core it may use (`threads`), and the whole board's busy share
    from /proc/stat (all cores, idle and iowait excluded); None where the board cannot tell."""
    wall_s = (after[0] - before[0]) / 1e9
    process = (after[1] - before[1]) / wall_s / max(threads, 1) if wall_s > 0 else None
    busy = None
    if before[2] and after[2]:
        delta = [a - b for a, b in zip(after[2], before[2])]
        total = sum(delta[:8])  # user nice system idle iowait irq softirq steal (guest is in user)
        busy = (total - delta[3] - delta[4]) / total if total > 0 else None
    return {"process_cpu_fraction": process, "board_busy_fraction": busy,
            "method": "process CPU time / wall time / threads; /proc/stat busy share"}


class AcceleratorLoad:
    """The NPU's/GPU's busy share over the measured window, read here on the board where the
    profile's `accelerator_load` says: a sysfs load file polled every `interval` (Jetson
    /sys/devices/gpu.0/load 0..1000, a devfreq `load` "42@800000000Hz" with full_scale 100), or
    tegrastats' GR3D_FREQ x% (each line covers the interval before it, so the first line after
    the window's end still counts, even when a loaded board prints it late). The share is the mean of the readings in the
    window; None with the reason in the method where the source gives nothing."""

    def __init__(self, spec: dict[str, Any] | None) -> None:
        self.spec, self.readings, self.why = spec, [], None  # readings: (monotonic s, busy share)
        self.window = (0.0, 0.0)
        self._stop = threading.Event()
        self._proc: Any = None
        self._thread: threading.Thread | None = None

    @classmethod
    def open(cls, spec: dict[str, Any] | None) -> "AcceleratorLoad":
        load = cls(spec)
        if spec is None:
            return load
        try:
            if spec["source"] == "sysfs":
                load._read_sysfs()  # an unreadable file says so before the window, not after
                target = load._poll_sysfs
            else:
                load._start_tegrastats()
                target = load._follow_tegrastats
        except (OSError, ValueError) as exc:
            load.why = str(exc)
            return load
        load._thread = threading.Thread(target=target, daemon=True)
        load._thread.start()
        return load

    def begin(self) -> None:
        self.window = (time.monotonic(), math.inf)
        self._edge_reading()

    def end(self) -> None:
        self._edge_reading()
        end = time.monotonic()
        self.window = (self.window[0], end)
        if self._thread is not None and self.spec["source"] == "tegrastats":  # the line covering the tail
            # It is due one interval after the end; on a loaded board tegrastats prints late, and
            # the late line still covers the interval before it, so it is awaited (up to 1 s).
            until = end + min(max(2 * float(self.spec["interval"]), 1.0), 5.0)
            while time.monotonic() < until and not (self.readings and self.readings[-1][0] > end):
                time.sleep(0.005)

    def close(self) -> None:
        self._stop.set()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def result(self) -> dict[str, Any]:
        if self.spec is None:
            return {"accelerator_busy_fraction": None, "accelerator_method": None}
        start, end = self.window
        inside = [v for t, v in self.readings if start <= t <= end]
        if self.spec["source"] == "tegrastats":  # the first line after the window covers its tail
            inside += [v for t, v in self.readings if t > end][:1]
        where = self.spec.get("path") or "tegrastats"
        if not inside:
            why = self.why or "no reading inside the measured window"
            return {"accelerator_busy_fraction": None, "accelerator_method": f"not measured: {where}: {why}"[:200]}
        how = "GR3D_FREQ" if self.spec["source"] == "tegrastats" else f"/ {self.spec['full_scale']:g}"
        return {"accelerator_busy_fraction": sum(inside) / len(inside),
                "accelerator_method": f"{self.spec['source']} {where} {how}, mean of {len(inside)} readings"}

    def _read_sysfs(self) -> float:
        with open(self.spec["path"], encoding="ascii", errors="replace") as f:
            text = f.read().strip()
        number = text.split("@", 1)[0].strip()  # devfreq: "42@800000000Hz"
        try:
            return float(number) / float(self.spec["full_scale"])
        except ValueError:
            raise ValueError(f"{self.spec['path']} reads {text[:40]!r}, not a number") from None

    def _edge_reading(self) -> None:
        """sysfs: a reading at each edge too, so a window shorter than `interval` has two."""
        if self._thread is not None and self.spec["source"] == "sysfs":
            try:
                self.readings.append((time.monotonic(), self._read_sysfs()))
            except (OSError, ValueError) as exc:
                self.why = str(exc)

    def _poll_sysfs(self) -> None:
        while not self._stop.is_set():
            try:
                self.readings.append((time.monotonic(), self._read_sysfs()))
            except (OSError, ValueError) as exc:
                self.why = str(exc)
            self._stop.wait(float(self.spec["interval"]))

    def _start_tegrastats(self) -> None:
        import subprocess

        ms = max(1, round(float(self.spec["interval"]) * 1000))
        self._proc = subprocess.Popen([self.spec.get("path") or "tegrastats", "--interval", str(ms)],
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def _follow_tegrastats(self) -> None:
        import re

        for line in self._proc.stdout:
            found = re.search(r"\bGR3D_FREQ (\d+)%", line)
            if found:
                self.readings.append((time.monotonic(), int(found.group(1)) / 100))
            elif self.why is None:
                self.why = f"tegrastats printed no GR3D_FREQ: {line.strip()[:60]!r}"


def _load_dataset(path: str | None) -> dict[str, Any] | None:
    """Read whole (np.load of an .npz is lazy), so the data is not counted as working memory."""
    import numpy as np

    if not path:
        return None
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def energy_windows(invoke: Callable[[], None], windows: int, seconds: float) -> list[dict[str, int]]:
    """Inference back to back for `windows` windows of `seconds`, timed on CLOCK_MONOTONIC: on
    the controller's own machine that is its time.monotonic_ns, so a meter's samples align."""
    out = []
    for _ in range(windows):
        start = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        end_at, count = start + int(seconds * 1e9), 0
        while True:
            invoke()
            count += 1
            now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            if now >= end_at:
                break
        out.append({"start_ns": start, "end_ns": now, "inferences": count})
    return out


def accuracy(adapter: Adapter, dataset: Any, detail: dict[str, Any],
             limit: int | None) -> dict[str, Any]:
    """Top-1/top-5 on the eval set; set_input and get_output are timed apart from invoke."""
    import numpy as np

    if dataset is None:
        return {"accuracy": None}
    x, y = dataset["x"], dataset["y"]
    n = len(y) if limit is None else min(limit, len(y))
    top1 = top5 = 0
    set_us, get_us, predictions, outputs = [], [], [], []
    scale, zero = adapter.output_quantization()
    for i in range(n):
        q = shared.quantize(x[i:i + 1], detail)
        t0 = _now()
        adapter.set_input(q)
        t1 = _now()
        adapter.invoke()
        t2 = _now()
        out = adapter.get_output()
        t3 = _now()
        set_us.append((t1 - t0) / 1000.0)
        get_us.append((t3 - t2) / 1000.0)
        scores = out.reshape(-1)
        outputs.append(shared.dequantize(scores, scale, zero))
        ranked = np.argsort(-scores.astype(np.float64), kind="stable")
        predictions.append(int(ranked[0]))
        top1 += int(ranked[0] == y[i])
        top5 += int(y[i] in ranked[:5])
    classes = int(np.prod(out.shape))
    return {"accuracy": {"samples": n, "top1": top1 / n, "top5": top5 / n if classes > 5 else None,
                         "predictions": predictions, "scores": outputs},
            "set_input_us": shared.summarize(set_us)["p50"], "get_output_us": shared.summarize(get_us)["p50"]}


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """job: runtime, adapter (its file), library (the shared library's file), model,
    dataset|null, warmup{count,min_seconds}, measure{count,min_seconds,max_seconds}, threads,
    options{} (runtime settings), accuracy_samples|null, profile_runs (optional),
    energy{windows,seconds} (optional)."""
    try:
        if job.get("library"):
            load_library(job["library"])
        elif __name__ == "__main__":
            raise ImportError("the job names no shared library file")
    except (ImportError, OSError, SyntaxError) as exc:
        return {"ok": False, "kind": "device", "message": f"agent library: {exc}"}
    try:
        adapter_cls = load_adapter(job["adapter"])
    except (ImportError, OSError, AttributeError, KeyError) as exc:
        return {"ok": False, "kind": "device", "message": f"runtime {job['runtime']!r}: no adapter: {exc}"}
    adapter = adapter_cls(job["model"], int(job.get("threads", 1)), job.get("options"))
    env = environment()
    try:
        env.update(adapter.versions())
        if adapter.settings():
            env["runtime_settings"] = adapter.settings()
    except ImportError as exc:
        return {"ok": False, "kind": "device", "environment": env,
                "message": f"runtime {adapter.name!r} is not installed on this machine: {exc}"}
    try:
        result = measure(adapter, job)
    except AgentError as exc:
        return {"ok": False, "kind": exc.kind, "message": str(exc), "environment": env}
    return {"ok": True, "protocol": AGENT_PROTOCOL, "environment": env, **result}


def exit_when_unread() -> None:
    """End at once when nobody can read the result any more: the controller that started this
    agent died (a kill -9; over SSH, sshd exits with the connection and closes its end). poll()
    reports POLLERR on a pipe's write end without readers, POLLHUP on a socket whose peer closed,
    without asking for any event. A file or a terminal that stays open never triggers it. On the
    host the kernel kills the agent too (PR_SET_PDEATHSIG, harness/interrupts.py); a board's
    agent has only this."""
    if not hasattr(select, "poll"):
        return

    def watch() -> None:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), 0)
        while True:
            for _fd, events in poller.poll():
                if events & (select.POLLERR | select.POLLHUP | select.POLLNVAL):
                    os._exit(141)  # as a write into that pipe would end it: 128 + SIGPIPE

    threading.Thread(target=watch, name="exit-when-unread", daemon=True).start()


def main() -> int:
    exit_when_unread()
    if sys.argv[1:] == ["--clock"]:  # the controller estimates this machine's clock offset
        print(time.clock_gettime_ns(time.CLOCK_MONOTONIC))
        return 0
    job = json.loads(sys.stdin.read())
    print(json.dumps(run_job(job)))
    return 0


sys.modules.setdefault(ADAPTER_MODULE, sys.modules[__name__])  # imported, not run: same name

if __name__ == "__main__":
    sys.exit(main())
