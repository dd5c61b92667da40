"""MLPerf Tiny text mode: the EEMBC monitor commands, read exactly as the Tiny runner reads them.

The runner (mlcommons/tiny benchmark/runner) writes `command%`, collects lines (dropping `\\r`
and NUL) until one contains `m-ready`, and matches:

    name%          ^m-(name)-dut-\\[([^]]+)]$
    profile%       ^m-(model|profile)-\\[([^]]+)]$
    db load N%     then `db <hex>%` of at most 31 bytes each
    infer N W%     ^m-results-\\[([^]]+)\\]$ and two ^m-lap-us-([0-9]+)$ (start, end)

so a board running an MLPerf Tiny reference firmware is measured unchanged. There is no CRC and no
retransmission in this mode: a missing answer is an InfrastructureError. With nothing to retry,
the wait for an answer never drops below `read_timeout`; it grows with the measured answer times
(SRTT + 4 RTTVAR, harness/rto.py) when a busy controller or board slows them down.
"""

from __future__ import annotations

import hashlib
import math
import re
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from harness.deadline import Deadline
from harness.errors import ConfigError, DeviceError, InfrastructureError
from harness.models.tflite_model import read_model
from harness.rto import RetransmitTimer
from harness.runtimes import agentlib
from harness.runners.base import Job, Measurement
from harness.runners.frames import crc32
from harness.transports.base import StreamTransport

READY = "m-ready"
DB_BYTES = 31  # the Tiny runner's bytes per `db` command (26 with a power manager)
# Tiny's performance mode: (inferences, warm-ups) per window for each benchmark (the runner's
# scripts); 5 windows; the run must last >= 10 s. strww01 is known by id only.
TINY_ITERATIONS = {"kws01": (70, 10), "vww01": (20, 5), "ic01": (20, 5), "ad01": (1500, 10)}
TINY_WINDOWS = 5
TINY_MIN_SECONDS = 10.0
KNOWN_BENCHMARKS = (*TINY_ITERATIONS, "strww01")
HARNESS_FIRMWARE = "edge-harness-fw"  # firmware/core: deployable in Tiny mode (a tagged partition)


class TinyClient:
    def __init__(self, transport: StreamTransport, read_timeout: float = 5.0) -> None:
        self.transport = transport
        self.read_timeout = read_timeout
        self.rto = RetransmitTimer(initial=read_timeout, minimum=read_timeout, maximum=max(60.0, read_timeout))
        self._pending = ""

    def send_command(self, command: str, deadline: Deadline, timeout: float | None = None) -> list[str]:
        """Lines of the answer, up to and including the one that contains `m-ready`. `timeout`:
        what a command that computes (`infer`) may take; the others get the link's timeout."""
        sent = time.monotonic()
        self.transport.write(f"{command}%".encode(), deadline)
        lines: list[str] = []
        wait = deadline.sub(max(timeout or 0.0, self.rto.timeout))
        while True:
            line = self._read_line(wait)
            if line is None:
                raise InfrastructureError(f"{self.transport.url}: no response to command {command!r} "
                                          f"({self.rto.describe()})")
            if line:
                lines.append(line)
            if READY in line:
                if timeout is None:
                    self.rto.sample(time.monotonic() - sent)
                return lines

    def _read_line(self, deadline: Deadline) -> str | None:
        while "\n" not in self._pending:
            data = self.transport.read(4096, deadline)
            if not data:
                return None
            self._pending += "".join(c for c in data.decode(errors="replace") if c not in "\r\0")
        line, self._pending = self._pending.split("\n", 1)
        return line

    def drain(self, deadline: Deadline, quiet: float = 1.0) -> None:
        """Discards what the board prints unasked (its boot banner), until it is quiet."""
        self._pending = ""
        seen = b""
        while True:
            data = self.transport.read(4096, deadline.sub(0.2 if READY.encode() in seen else quiet))
            if not data:
                return
            seen = (seen + data)[-64:]

    def name(self, deadline: Deadline) -> str | None:
        for line in self.send_command("name", deadline):
            match = re.match(r"^m-(name)-dut-\[([^]]+)]$", line)
            if match:
                return match.group(2)
        return None

    def profile(self, deadline: Deadline) -> dict[str, str]:
        found = {}
        for line in self.send_command("profile", deadline):
            match = re.match(r"^m-(model|profile)-\[([^]]+)]$", line)
            if match:
                found[match.group(1)] = match.group(2)
        return found

    def load(self, data: bytes, deadline: Deadline) -> list[str]:
        lines = self.send_command(f"db load {len(data)}", deadline)
        _check_lines(lines, self.transport.url)
        for i in range(0, len(data), DB_BYTES):
            lines = self.send_command(f"db {data[i:i + DB_BYTES].hex()}", deadline)
            _check_lines(lines, self.transport.url)
        return lines

    def infer(self, number: int, warmups: int, deadline: Deadline, timeout: float | None = None) -> dict[str, Any]:
        lines = self.send_command(f"infer {number} {warmups}", deadline, timeout)
        _check_lines(lines, self.transport.url)
        return gather_infer_results(lines, self.transport.url)


def gather_infer_results(lines: list[str], url: str = "board") -> dict[str, Any]:
    """The Tiny runner's _gather_infer_results: results vector and start/end/elapsed µs. A value
    that is not a finite number fails the case with the line as the reason."""
    result: dict[str, Any] = {}
    for res in lines:
        match = re.match(r"^m-results-\[([^]]+)\]$", res)
        if match:
            try:
                values = [float(x) for x in match.group(1).split(",")]
            except ValueError:
                values = [float("nan")]
            if not all(math.isfinite(v) for v in values):
                raise DeviceError(f"{url}: MLPerf Tiny firmware printed a result that is not a finite number: {res}")
            result["results"] = values
            continue
        match = re.match(r"^m-lap-us-([0-9]+)$", res)
        if match:
            key = "end_time" if "start_time" in result else "start_time"
            result[key] = int(match.group(1))
    if "start_time" in result and "end_time" in result:
        result["elapsed_time"] = result["end_time"] - result["start_time"]
    return result


def _check_lines(lines: list[str], url: str) -> None:
    """An `e-[` line, or any line that is not the protocol's (`m-...`), fails the case: a
    firmware that prints "Input db has 160 elemented, expected 640" has measured stale input."""
    for line in lines:
        if line.startswith("e-["):
            raise DeviceError(f"{url}: MLPerf Tiny firmware answered {line}")
        if not line.startswith("m-"):
            raise DeviceError(f"{url}: MLPerf Tiny firmware printed a line outside the protocol: {line!r}")


def benchmark_rules(benchmark: str | None) -> tuple[int, int] | None:
    return TINY_ITERATIONS.get(benchmark or "")


def performance_mode(client: TinyClient, data: bytes, benchmark: str | None, deadline: Deadline,
                     iterations: tuple[int, int] | None = None) -> dict[str, Any]:
    """Tiny's performance mode: 5 windows, each a download then `infer N W`, timed by the
    board's m-lap-us- stamps; the score is the median throughput. `iterations` overrides N/W
    (a short test run): the result then says which of Tiny's rules it does not meet."""
    rule = benchmark_rules(benchmark)
    invalid: list[str] = []
    if iterations is None:
        if rule is None:
            raise DeviceError(f"MLPerf Tiny performance mode: no inference count known for benchmark "
                              f"{benchmark!r} (known: {', '.join(TINY_ITERATIONS)}); give one explicitly")
        iterations = rule
    elif rule is None:
        invalid.append(f"benchmark {benchmark!r} has no Tiny rule")
    elif tuple(iterations) != rule:
        invalid.append(f"N/W {iterations[0]}/{iterations[1]} instead of Tiny's {rule[0]}/{rule[1]} for {benchmark}")
    number, warmups = iterations
    windows = []
    for _ in range(TINY_WINDOWS):
        client.load(data, deadline)
        result = client.infer(number, warmups, deadline, timeout=600.0)
        elapsed = int(result.get("elapsed_time", 0))
        if elapsed <= 0:
            raise DeviceError(f"{client.transport.url}: infer {number} {warmups}: no m-lap-us- timestamps "
                              "(a firmware in energy mode prints none)")
        windows.append({"inferences": number, "elapsed_us": elapsed, "throughput": number * 1e6 / elapsed})
    seconds = sum(w["elapsed_us"] for w in windows) / 1e6
    if len(windows) != TINY_WINDOWS:
        invalid.append(f"{len(windows)} windows instead of {TINY_WINDOWS}")
    if seconds < TINY_MIN_SECONDS:
        invalid.append(f"the windows lasted {seconds:.3f} s < Tiny's {TINY_MIN_SECONDS:.0f} s")
    return {"mode": "performance", "benchmark": benchmark, "windows": windows,
            "median_throughput": statistics.median(w["throughput"] for w in windows),
            "seconds": seconds, "valid": not invalid, "invalid_reasons": invalid}


def energy_mode(client: TinyClient, data: bytes, number: int, warmups: int, windows: int,
                deadline: Deadline) -> list[int]:
    """Tiny's energy mode: windows of a download then `infer N W`; the board's timestamps pulse
    the trigger instead of printing, so the meter's markers time the windows. The inference
    count of each window, for energy.windows_from_markers."""
    counts = []
    for _ in range(windows):
        client.load(data, deadline)
        result = client.infer(number, warmups, deadline, timeout=600.0)
        if "start_time" in result:
            raise DeviceError(f"{client.transport.url}: the board printed m-lap-us- timestamps: it is in "
                              "performance mode, not energy mode (its partition tag says 'p')")
        counts.append(number)
    return counts


def _npz_accuracy(client: TinyClient, npz: Any, benchmark: str | None, detail: dict[str, Any],
                  samples: int | None, deadline: Deadline) -> dict[str, Any]:
    """Top-1 over a prepared .npz (model-input domain), each sample sent in the benchmark's wire format."""
    y = npz["y"]
    n = len(y) if samples is None else min(samples, len(y))
    predictions = []
    for i in range(n):
        client.load(to_wire(benchmark, npz["x"][i:i + 1], detail), deadline)
        predictions.append(int(np.argmax(client.infer(1, 0, deadline, timeout=300.0)["results"])))
    return {"metric": "top1", "accuracy_top1": float(np.mean(np.asarray(predictions) == y[:n])), "samples": n,
            "predictions": predictions}


def accuracy_mode(client: TinyClient, dataset: Path, benchmark: str | None, deadline: Deadline,
                  samples: int | None = None) -> dict[str, Any]:
    """Tiny's accuracy mode over a Tiny dataset folder: each .bin's bytes sent as they are (the
    board converts them), top-1 from the results vector; ad01 scores by AUC of its one value."""
    from harness.config.datasets import read

    data = read(dataset)
    n = len(data.y) if samples is None else min(samples, len(data.y))
    scores = []
    for i in range(n):
        client.load(data.x[i].tobytes(), deadline)
        scores.append(client.infer(1, 0, deadline, timeout=300.0)["results"])
    y = data.y[:n]
    if benchmark == "ad01":
        anomaly = np.asarray([s[0] for s in scores])
        pos, neg = anomaly[y == 1], anomaly[y == 0]
        pairs = [(p > q) + 0.5 * (p == q) for p in pos for q in neg]
        return {"metric": "auc", "auc": float(np.mean(pairs)) if pairs else None, "samples": n, "scores": anomaly.tolist()}
    predictions = [int(np.argmax(s)) for s in scores]
    return {"metric": "top1", "accuracy_top1": float(np.mean(np.asarray(predictions) == y)), "samples": n,
            "predictions": predictions}


def identify(client: TinyClient, deadline: Deadline, declared: dict[str, Any] | None = None) -> dict[str, Any]:
    """name and profile; when the profile declares the board's model (`serial.model`), the
    board must answer that model id. The identity check of a board flashed by someone else."""
    client.drain(deadline)
    name = client.name(deadline)
    if name is None:
        raise InfrastructureError(f"{client.transport.url}: no m-name-dut-[...] answer: not an MLPerf Tiny firmware?")
    answers = client.profile(deadline)
    want = (declared or {}).get("model")
    if want is not None and answers.get("model") != want:
        raise DeviceError(f"{client.transport.url}: the profile declares model {want!r}, the board answers "
                          f"m-model-[{answers.get('model', '')}]")
    return {"name": name, **answers}


def to_wire(benchmark: str | None, x: np.ndarray, detail: dict[str, Any]) -> bytes:
    """One model input (float, or the model's dtype) as the Tiny runner sends it for this
    benchmark: the inverse of the firmware's th_load_tensor."""
    if benchmark == "ad01":
        return np.asarray(x, "<f4").tobytes()  # the board quantizes
    q = agentlib.quantize(x, detail)
    if benchmark in ("vww01", "ic01"):
        return (q.astype(np.int16) + 128).astype(np.uint8).tobytes()  # the board subtracts 128
    return q.tobytes()


def _wire_input(benchmark: str | None, dataset: Any, npz: Any, detail: dict[str, Any]) -> bytes:
    """One input for the latency runs: a Tiny dataset's first .bin as it is, the first sample
    of an .npz in the benchmark's wire format, or a neutral input in that format."""
    if dataset is not None:
        return dataset.x[0].tobytes()
    if npz is not None:
        return to_wire(benchmark, npz["x"][:1], detail)
    count = int(np.prod(detail["shape"]))
    if benchmark == "ad01":
        return np.zeros(count, "<f4").tobytes()
    if benchmark in ("vww01", "ic01"):
        return np.full(count, 128, np.uint8).tobytes()
    return agentlib.latency_input(None, detail).tobytes()


def manifest_benchmark(model_path: Path) -> str | None:
    """The Tiny benchmark id the model's manifest names (`mlperf_tiny: {benchmark: kws01}`)."""
    from harness.models.manifest import MANIFEST, load_manifest

    if not (model_path.parent / MANIFEST).is_file():
        return None
    info = load_manifest(model_path.parent).mlperf_tiny
    return info.benchmark if info else None


def _deployed(ident: dict[str, Any], model: bytes, benchmark: str | None) -> bool:
    """Whether this harness's firmware holds `model` with that tag: it answers the benchmark id,
    or (untagged) the model's CRC-32."""
    return ident.get("model") == (benchmark or f"{crc32(model):08x}")


def measure_text_mode(transport: StreamTransport, job: Job, deadline: Deadline,
                      tiny: dict[str, Any] | None = None,
                      deploy: Callable[[Path, str | None, Deadline], None] | None = None) -> Measurement:
    """Latency from `infer 1 0` timestamps (or Tiny's performance mode with `tiny.mode:
    performance`), accuracy from `results`; the model is the board's own. `tiny`: the profile's
    declared model id and sha256, the mode, and an N/W override."""
    tiny = tiny or {}
    client = TinyClient(transport, getattr(transport, "read_timeout", None) or 5.0)
    ident = identify(client, deadline, tiny)
    if tiny.get("model") is None and ident["name"] == HARNESS_FIRMWARE and deploy is not None:
        # This harness's own firmware, no model declared: deploy the job's model with its tag.
        wanted = job.tiny_benchmark or manifest_benchmark(job.model_path)
        if not _deployed(ident, job.model_path.read_bytes(), wanted):
            deploy(job.model_path, wanted, deadline)
            client = TinyClient(transport, getattr(transport, "read_timeout", None) or 5.0)
            ident = identify(client, deadline, tiny)
    declared_sha = tiny.get("model_sha256")
    if declared_sha and hashlib.sha256(job.model_path.read_bytes()).hexdigest() != declared_sha:
        raise ConfigError(f"{job.model_path}: sha256 differs from the model_sha256 the profile declares for "
                          f"the board's model {tiny.get('model')!r}")
    name = ident["name"]
    benchmark = ident.get("model") if ident.get("model") in KNOWN_BENCHMARKS else None
    env = {**ident, "protocol": "mlperf-tiny", "transport": transport.url, "emulated": transport.emulated,
           "mlperf_tiny_benchmark": benchmark or f"unknown ({ident.get('model')!r}: not a Tiny benchmark id)"}
    inp = read_model(job.model_path).inputs[0]
    detail = {"dtype": inp.dtype, "scale": inp.scale or 0.0, "zero_point": inp.zero_point or 0,
              "shape": list(inp.shape)}
    tiny_set = job.dataset_path is not None and (job.dataset_path.is_dir() or job.dataset_path.name == "y_labels.csv")
    dataset = None
    if tiny_set:
        from harness.config.datasets import read

        dataset = read(job.dataset_path)
    npz = np.load(job.dataset_path) if job.dataset_path and not tiny_set else None
    wire = _wire_input(benchmark, dataset, npz, detail)
    start = time.monotonic_ns()
    client.load(wire, deadline)
    first = client.infer(1, job.warmup_count, deadline, timeout=300.0)
    samples: list[float] = []
    if tiny.get("mode") == "performance":
        override = tiny.get("iterations")
        perf = performance_mode(client, wire, benchmark, deadline, tuple(override) if override else None)
        env["mlperf_tiny"] = perf
        samples = [w["elapsed_us"] / w["inferences"] for w in perf["windows"]]
    else:
        while len(samples) < job.measure_count or sum(samples) < job.measure_min_seconds * 1e6:
            if job.measure_max_seconds and sum(samples) >= job.measure_max_seconds * 1e6:
                break
            samples.append(float(client.infer(1, 0, deadline, timeout=300.0)["elapsed_time"]))
    end = time.monotonic_ns()
    result: dict[str, Any] = {}
    if tiny_set:
        acc = accuracy_mode(client, job.dataset_path, benchmark, deadline, job.accuracy_samples)
    elif npz is not None:
        acc = _npz_accuracy(client, npz, benchmark, detail, job.accuracy_samples, deadline)
    if tiny_set or npz is not None:
        env["mlperf_tiny_accuracy"] = {k: v for k, v in acc.items() if k != "predictions"}
        if acc["metric"] == "top1":
            result = {"accuracy_top1": acc["accuracy_top1"], "accuracy_samples": acc["samples"],
                      "predictions": acc["predictions"]}
    return Measurement(runtime=f"mlperf-tiny ({name})", environment=env,
                       latency_us=agentlib.summarize(samples), samples_us=samples,
                       first_inference_ms=first.get("elapsed_time", 0) / 1000.0,
                       warmup_count=job.warmup_count, emulated=transport.emulated,
                       window_ns=(start, end), **result)
