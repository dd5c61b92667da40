"""MLPerf Tiny text mode: the EEMBC monitor commands, read exactly as the Tiny runner reads them.

The runner (mlcommons/tiny benchmark/runner) writes `command%`, collects lines (dropping `\\r`
and NUL) until one contains `m-ready`, and matches:

    name%          ^m-(name)-dut-\\[([^]]+)]$
    profile%       ^m-(model|profile)-\\[([^]]+)]$
    db load N%     then `db <hex>%` of at most 31 bytes each
    infer N W%     ^m-results-\\[([^]]+)\\]$ and two ^m-lap-us-([0-9]+)$ (start, end)

so a board running an MLPerf Tiny reference firmware is measured unchanged. There is no CRC and no
retransmission in this mode: a missing answer is an InfrastructureError.
"""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np

from harness.deadline import Deadline
from harness.errors import DeviceError, InfrastructureError
from harness.models.tflite_model import read_model
from harness.runners import agent
from harness.runners.base import Job, Measurement
from harness.transports.base import StreamTransport

READY = "m-ready"
DB_BYTES = 31  # the Tiny runner's bytes per `db` command (26 with a power manager)


class TinyClient:
    def __init__(self, transport: StreamTransport, read_timeout: float = 5.0) -> None:
        self.transport = transport
        self.read_timeout = read_timeout
        self._pending = ""

    def send_command(self, command: str, deadline: Deadline, timeout: float | None = None) -> list[str]:
        """Lines of the answer, up to and including the one that contains `m-ready`."""
        self.transport.write(f"{command}%".encode(), deadline)
        lines: list[str] = []
        wait = deadline.sub(timeout or self.read_timeout)
        while True:
            line = self._read_line(wait)
            if line is None:
                raise InfrastructureError(f"{self.transport.url}: no response to command {command!r}")
            if line:
                lines.append(line)
            if READY in line:
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
        _raise_on_error(lines, self.transport.url)
        for i in range(0, len(data), DB_BYTES):
            lines = self.send_command(f"db {data[i:i + DB_BYTES].hex()}", deadline)
            _raise_on_error(lines, self.transport.url)
        return lines

    def infer(self, number: int, warmups: int, deadline: Deadline, timeout: float | None = None) -> dict[str, Any]:
        lines = self.send_command(f"infer {number} {warmups}", deadline, timeout)
        _raise_on_error(lines, self.transport.url)
        return gather_infer_results(lines)


def gather_infer_results(lines: list[str]) -> dict[str, Any]:
    """The Tiny runner's _gather_infer_results: results vector and start/end/elapsed µs."""
    result: dict[str, Any] = {}
    for res in lines:
        match = re.match(r"^m-results-\[([^]]+)\]$", res)
        if match:
            result["results"] = [float(x) for x in match.group(1).split(",")]
            continue
        match = re.match(r"^m-lap-us-([0-9]+)$", res)
        if match:
            key = "end_time" if "start_time" in result else "start_time"
            result[key] = int(match.group(1))
    if "start_time" in result and "end_time" in result:
        result["elapsed_time"] = result["end_time"] - result["start_time"]
    return result


def _raise_on_error(lines: list[str], url: str) -> None:
    for line in lines:
        if line.startswith("e-["):
            raise DeviceError(f"{url}: MLPerf Tiny firmware answered {line}")


def measure_text_mode(transport: StreamTransport, job: Job, deadline: Deadline) -> Measurement:
    """Latency from `infer 1 0` timestamps, accuracy from `results`; the model is the board's own."""
    client = TinyClient(transport, getattr(transport, "read_timeout", None) or 5.0)
    client.drain(deadline)
    name = client.name(deadline)
    if name is None:
        raise InfrastructureError(f"{transport.url}: no m-name-dut-[...] answer: not an MLPerf Tiny firmware?")
    env = {"name": name, **client.profile(deadline), "protocol": "mlperf-tiny",
           "transport": transport.url, "emulated": transport.emulated}
    inp = read_model(job.model_path).inputs[0]
    detail = {"dtype": inp.dtype, "scale": inp.scale or 0.0, "zero_point": inp.zero_point or 0,
              "shape": list(inp.shape)}
    dataset = np.load(job.dataset_path) if job.dataset_path else None
    client.load(agent.latency_input(dataset, detail).tobytes(), deadline)
    start = time.monotonic_ns()
    first = client.infer(1, job.warmup_count, deadline, timeout=300.0)
    samples: list[float] = []
    while len(samples) < job.measure_count or sum(samples) < job.measure_min_seconds * 1e6:
        if job.measure_max_seconds and sum(samples) >= job.measure_max_seconds * 1e6:
            break
        samples.append(float(client.infer(1, 0, deadline, timeout=300.0)["elapsed_time"]))
    end = time.monotonic_ns()
    result: dict[str, Any] = {}
    if dataset is not None:
        y = dataset["y"]
        n = len(y) if job.accuracy_samples is None else min(job.accuracy_samples, len(y))
        predictions = []
        for i in range(n):
            client.load(agent.quantize(dataset["x"][i:i + 1], detail).tobytes(), deadline)
            scores = client.infer(1, 0, deadline, timeout=300.0)["results"]
            predictions.append(int(np.argmax(scores)))
        result = {"accuracy_top1": sum(int(p == int(t)) for p, t in zip(predictions, y[:n])) / n,
                  "accuracy_samples": n, "predictions": predictions}
    return Measurement(runtime=f"mlperf-tiny ({name})", environment=env,
                       latency_us=agent.summarize(samples), samples_us=samples,
                       first_inference_ms=first.get("elapsed_time", 0) / 1000.0,
                       warmup_count=job.warmup_count, emulated=transport.emulated,
                       window_ns=(start, end), **result)
