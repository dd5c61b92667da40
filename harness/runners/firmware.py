"""Measures a model on a microcontroller running the reference firmware (docs/protocol.md).

    deploy    upload into slot 0 (or flash it with esptool) unless the slot already holds it,
              verified by the CRC-32 the firmware computes (a QEMU board may have it in PSRAM
              before boot, as a flashed board has it in its model partition); with a GDB server
              (runners/gdb_deploy.py) the firmware ELF and the model partition are written through
              the probe unless the board reports this build id and this model already
    latency   warm-ups, then RUN batches timed by the board's own timer until the job's count and
              minimum time are reached; statistics from agentlib.summarize like every runner
    accuracy  the eval set streamed as EVAL frames (no round trip per sample); with a GDB server,
              written to the board's staging RAM through the probe and run by EVAL_MEM
    energy    with a power meter: RUN batches back to back for each of the job's windows, timed on
              the controller's clock (the meter's), the link's round trip as alignment error
    memory    arena bytes used (activations + persistent: the `arena` working-memory method),
              model bytes, free heap

A board that resets mid-run (boot banner, or its model gone) is identified again, given the model
again, and the measurement continues where it stopped; recorded samples are kept. A board speaking
MLPerf Tiny's text mode (`serial.protocol: mlperf-tiny`) is measured by runners/mlperf_tiny.py.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.cycles.runner import estimate_since, log_offset, operator_sequence
from harness.deadline import Deadline
from harness.errors import DeviceError, InfrastructureError
from harness.measures.memory import ARENA
from harness.models.tflite_model import TensorInfo, read_model
from harness.measures.op_profile import build as build_op_profile
from harness.runtimes import agentlib
from harness.runners.base import Job, Measurement, Runner
from harness.runners.frames import crc32
from harness.runners.fwclient import BoardReset, FirmwareClient, OpTimes
from harness.runners.gdb_deploy import DeployReport as GdbDeployReport
from harness.runners.gdb_deploy import GdbDeployer, stage_and_eval
from harness.transports.base import StreamTransport

SLOT = 0
log = logging.getLogger(__name__)
MAX_RESETS = 3      # board resets survived within one measurement
RUN_BATCH = 240     # inferences per RUN command (docs/protocol.md)
EVAL_BATCH = 64     # samples per eval stream; a reset loses at most the ones in flight
FIRST_RUN_WORK_S = 60.0  # the first inference, before its time is known
PROFILE_RUNS = 5    # per-operator profiles taken; the median one (by whole invoke) is stored


@dataclass
class _Progress:
    """What survives a board reset: everything already measured."""

    first_us: float | None = None
    warmup: list[float] = field(default_factory=list)
    samples: list[float] = field(default_factory=list)
    outputs: dict[int, tuple[int, bytes]] = field(default_factory=dict)  # index -> (argmax, raw)
    init_ms: float | None = None


class FirmwareRunner(Runner):
    runtime = "edge-harness-fw"

    def __init__(self, transport: StreamTransport, protocol: str = "binary",
                 read_timeout: float | None = None, flash: dict[str, Any] | None = None,
                 gdb: GdbDeployer | None = None, tiny: dict[str, Any] | None = None) -> None:
        self.transport = transport
        self.protocol = protocol
        self.tiny = tiny  # mlperf-tiny: the board's declared model id/sha256, mode, N/W override
        self.flash = flash  # {"chip", "offset"}: deploy with esptool instead of uploading
        self.gdb = gdb  # deploy (and stage datasets) through a debug probe's GDB server
        self.deploys: list[dict[str, Any]] = []  # each GDB deploy: cached?, seconds, bytes written
        timeout = self.read_timeout = read_timeout or getattr(transport, "read_timeout", None) or 5.0
        self.client = FirmwareClient(transport, read_timeout=timeout)
        self.resets = 0  # board resets survived, for diagnostics and tests
        self.last_outputs: dict[int, tuple[int, bytes]] = {}  # eval index -> (argmax, raw output)

    def measure(self, job: Job, deadline: Deadline) -> Measurement:
        if self.protocol == "mlperf-tiny":
            from harness.runners.mlperf_tiny import measure_text_mode

            measured = measure_text_mode(self.transport, job, deadline, self.tiny, deploy=self._deploy_tiny)
            self.runtime = measured.runtime  # what the board says it is, not this class's default
            return measured
        model = job.model_path.read_bytes()
        facts = read_model(job.model_path)
        progress = _Progress()
        self.last_outputs = progress.outputs
        for attempt in range(MAX_RESETS + 1):
            try:
                return self._measure(job, model, facts.inputs[0], facts.outputs[0], progress, deadline)
            except BoardReset:
                if attempt == MAX_RESETS:
                    raise
                self.resets += 1
        raise AssertionError("unreachable")

    def identity_check(self, deadline: Deadline) -> str | None:
        """MLPerf Tiny boards: name, profile and the declared model id answer; None when they do."""
        from harness.runners.mlperf_tiny import TinyClient, identify

        try:
            identify(TinyClient(self.transport, self.read_timeout), deadline, self.tiny)
        except (DeviceError, InfrastructureError) as exc:
            return f"health check failed: {exc}"
        return None

    def recover(self, deadline: Deadline) -> None:
        # Reopen the link (an emulator restarts: a power cycle), then reset the board; the next
        # measure() identifies it again and uploads the model anew. A board reached through a
        # GDB server whose firmware does not answer is flashed again, once, here.
        self.transport.close()
        self.transport.open(deadline)
        self.transport.reset(deadline)
        if self.gdb is not None and self._probe(deadline) is None:
            self._record(self.gdb.deploy(None, True, deadline), cached=False)

    def close(self) -> None:
        self.transport.close()
        if self.gdb is not None:
            self.gdb.close()

    # ------------------------------------------------------------ steps

    def _measure(self, job: Job, model: bytes, inp: TensorInfo, out: TensorInfo,
                 progress: _Progress, deadline: Deadline) -> Measurement:
        client = self.client
        if self.gdb is not None:
            info = self._gdb_deploy(model, progress, deadline)
        else:
            client.sync(deadline)
            info = client.identify(deadline)
        max_data = int(info.get("max_data", 1024))
        self.runtime = f"{info.get('name', 'firmware')} {info.get('version', '?')} ({info.get('engine', '?')})"
        if self.gdb is None:
            self._deploy(model, max_data, progress, deadline)
        detail = {"dtype": inp.dtype, "scale": inp.scale or 0.0, "zero_point": inp.zero_point or 0,
                  "shape": list(inp.shape)}
        dataset = np.load(job.dataset_path) if job.dataset_path else None
        sample = agentlib.latency_input(dataset, detail)
        client.set_input(sample.tobytes(), max_data, deadline)
        cycles_from = log_offset(self.transport)  # an emulated board counting cycles (harness/cycles)
        start = time.monotonic_ns()
        self._latency(job, progress, deadline)
        end = time.monotonic_ns()
        cycles = estimate_since(self.transport, cycles_from, job.model_path)
        # after the cycle estimate's window: the profiled invoke's clock reads are not the model's
        op_times = self._profile(progress, deadline) if "op_clock" in info else None
        windows, clock_error_ns = self._energy(job, progress, deadline) if job.energy_windows else ([], 0)
        memory = client.memory(deadline)
        result = self._accuracy(job, dataset, detail, out, progress, info, deadline)
        env = {**info, "transport": self.transport.url, "emulated": self.transport.emulated,
               "timer": "instruction count (QEMU -icount)" if self.transport.emulated else "board timer"}
        if self.gdb is not None:
            env["deploy"] = "gdb"  # per-deploy figures are logged and kept in self.deploys
        return Measurement(
            runtime=self.runtime, environment=env, latency_us=agentlib.summarize(progress.samples),
            samples_us=list(progress.samples), init_ms=progress.init_ms,
            first_inference_ms=(progress.first_us or 0.0) / 1000.0, warmup_count=len(progress.warmup),
            arena_bytes=memory["arena_used"] or None, emulated=self.transport.emulated,
            working_memory_bytes=memory["arena_used"] or None,  # activations + persistent (eh_arena_used)
            working_memory_method=ARENA if memory["arena_used"] else None,
            window_ns=(start, end), utilization=_inference_share(progress.samples, start, end, self.transport.emulated),
            energy_windows=windows, energy_clock_error_ns=clock_error_ns, cycles=cycles,
            op_profile=_op_profile(op_times, job.model_path, self.transport.emulated), **result)

    def _deploy(self, model: bytes, max_data: int, progress: _Progress, deadline: Deadline) -> None:
        expected = crc32(model)
        loaded, length, crc = self.client.slot_info(SLOT, deadline)
        if loaded and length == len(model) and crc == expected:
            return
        t0 = time.monotonic()
        if self.flash is not None:
            got = self._flash(model, deadline)
        else:
            got = self.client.upload(SLOT, model, max_data, deadline)
        if progress.init_ms is None:
            progress.init_ms = (time.monotonic() - t0) * 1000.0
        if got != expected:
            raise InfrastructureError(f"{self.transport.url}: model upload corrupted "
                                      f"(firmware CRC {got:08x}, expected {expected:08x})")

    def _probe(self, deadline: Deadline) -> dict[str, str] | None:
        """IDENTIFY from a board that may hold no firmware (blank, halted): None when none answers."""
        assert self.gdb is not None
        try:
            self.client.sync(deadline, quiet=0.1)
            return self.client.identify(deadline.sub(self.gdb.options["probe_timeout"]))
        except InfrastructureError:
            return None

    def _gdb_deploy(self, model: bytes, progress: _Progress, deadline: Deadline) -> dict[str, str]:
        """Content caching: nothing is written when the board runs this build with this model."""
        assert self.gdb is not None
        t0 = time.monotonic()
        info = self._probe(deadline)
        same_build = info is not None and self.gdb.build_id is not None and info.get("build") == self.gdb.build_id
        if same_build and self.client.slot_info(SLOT, deadline)[0] and \
                self.client.slot_sha256(deadline) == hashlib.sha256(model).hexdigest():
            self._record(None, cached=True, seconds=time.monotonic() - t0)
            return info  # type: ignore[return-value]
        report = self.gdb.deploy(model, not same_build, deadline)
        self.client.sync(deadline)
        info = self.client.identify(deadline)
        loaded, length, crc = self.client.slot_info(SLOT, deadline)
        if not loaded or (length, crc) != (len(model), crc32(model)):
            raise InfrastructureError(f"{self.transport.url}: after the GDB deploy the firmware holds no "
                                      f"valid model (length {length}, CRC {crc:08x})")
        if progress.init_ms is None:
            progress.init_ms = report.seconds * 1000.0
        self._record(report, cached=False, seconds=time.monotonic() - t0)
        return info

    def _record(self, report: GdbDeployReport | None, cached: bool, seconds: float = 0.0) -> None:
        """seconds: from the first question to the board to its answer after the deploy."""
        entry = {"cached": cached, "seconds": round(seconds or (report.seconds if report else 0.0), 4),
                 "bytes_written": report.bytes_written if report else 0,
                 "firmware_written": bool(report and report.firmware)}
        self.deploys.append(entry)
        log.info("%s: GDB deploy %s", self.transport.url, entry)

    def _flash(self, model: bytes, deadline: Deadline) -> int:
        """esptool writes the partition and resets the board; the firmware loads it at boot."""
        from harness.runners.esptool_deploy import flash_model

        port, baud = getattr(self.transport, "port", None), getattr(self.transport, "baud", None)
        if port is None or baud is None:
            raise InfrastructureError(f"{self.transport.url}: esptool needs a serial port")
        self.transport.close()
        flash_model(port, baud, self.flash["chip"], self.flash["offset"], model, deadline)
        self.transport.open(deadline)
        self.client.sync(deadline)
        _loaded, _length, crc = self.client.slot_info(SLOT, deadline)
        return crc

    def _deploy_tiny(self, model_path: Path, benchmark: str | None, deadline: Deadline) -> None:
        """This harness's firmware in Tiny mode: the model and its Tiny tag go into the model
        partition (esptool on a flashed board; on the emulated board, its flash at power-on)."""
        if self.flash is not None:
            from harness.runners.esptool_deploy import flash_model

            port, baud = getattr(self.transport, "port", None), getattr(self.transport, "baud", None)
            if port is None or baud is None:
                raise InfrastructureError(f"{self.transport.url}: esptool needs a serial port")
            self.transport.close()
            flash_model(port, baud, self.flash["chip"], self.flash["offset"], model_path.read_bytes(), deadline,
                        benchmark=benchmark)
            self.transport.open(deadline)
        elif hasattr(self.transport, "preload"):
            self.transport.close()
            self.transport.preload, self.transport.tiny = model_path, {"benchmark": benchmark}  # type: ignore[attr-defined]
            self.transport.open(deadline)
        else:
            raise DeviceError(f"{self.transport.url}: Tiny text mode has no model upload; flash the board "
                              "(serial.deploy: esptool) or declare the model it holds (serial.model)")

    def _run_work(self, progress: _Progress, count: int) -> float:
        """Seconds the board may compute on `count` inferences, beyond the link's own timeout.
        Emulated time can run slower than real time: allow a generous multiple of it."""
        per = (progress.first_us or 1e6) / 1e6
        return 10.0 * per * max(count, 1)

    def _latency(self, job: Job, progress: _Progress, deadline: Deadline) -> None:
        client = self.client
        if progress.first_us is None:
            progress.first_us = float(client.run(0, 1, deadline, work=FIRST_RUN_WORK_S)[0])
        while not _reached(progress.warmup, job.warmup_count, job.warmup_min_seconds, None):
            n = _batch(progress.warmup, job.warmup_count, job.warmup_min_seconds, progress.first_us)
            progress.warmup += client.run(0, n, deadline, work=self._run_work(progress, n))
        while not _reached(progress.samples, job.measure_count, job.measure_min_seconds,
                           job.measure_max_seconds):
            n = _batch(progress.samples, job.measure_count, job.measure_min_seconds, progress.first_us)
            progress.samples += client.run(0, n, deadline, work=self._run_work(progress, n))

    def _profile(self, progress: _Progress, deadline: Deadline) -> OpTimes:
        """PROFILE_RUNS profiled invokes; the one whose whole time is the median is kept (on a
        board, an interrupt may land in any one of them; under -icount all are the same)."""
        runs = [self.client.profile(deadline, self._run_work(progress, 1)) for _ in range(PROFILE_RUNS)]
        return sorted(runs, key=lambda t: t.whole)[len(runs) // 2]

    def _energy(self, job: Job, progress: _Progress, deadline: Deadline) -> tuple[list[dict[str, int]], int]:
        """The meter's windows: RUN batches back to back for each window, timed on the
        controller's clock from the first command sent to the last reply. The alignment error
        is one command's round trip over the link, measured here."""
        t0 = time.monotonic_ns()
        self.client.memory(deadline)
        round_trip_ns = time.monotonic_ns() - t0
        per_us = progress.first_us or 1000.0
        windows = []
        for _ in range(job.energy_windows):
            start = time.monotonic_ns()
            end_at, count, now = start + int(job.energy_window_seconds * 1e9), 0, start
            while now < end_at:
                n = max(1, min(RUN_BATCH, int((end_at - now) / 1000 / per_us)))
                count += len(self.client.run(0, n, deadline, work=self._run_work(progress, n)))
                now = time.monotonic_ns()
            windows.append({"start_ns": start, "end_ns": now, "inferences": count})
        return windows, round_trip_ns

    def _accuracy(self, job: Job, dataset: Any, detail: dict[str, Any], out: TensorInfo,
                  progress: _Progress, info: dict[str, str], deadline: Deadline) -> dict[str, Any]:
        if dataset is None:
            return {}
        x, y = dataset["x"], dataset["y"]
        n = len(y) if job.accuracy_samples is None else min(job.accuracy_samples, len(y))
        todo = [i for i in range(n) if i not in progress.outputs]
        work = self._run_work(progress, 1)
        if self.gdb is not None and self.gdb.options["stage_datasets"] and int(info.get("staging_bytes", 0)):
            inputs = (agentlib.quantize(x[i:i + 1], detail).tobytes() for i in todo)
            staged = stage_and_eval(self.gdb, self.client, info, _nbytes(out), list(zip(todo, inputs)),
                                    deadline, work)
            for index, argmax, raw in staged:
                progress.outputs.setdefault(index, (argmax, raw))
            return _scores(progress.outputs, y[:n], out)
        for start in range(0, len(todo), EVAL_BATCH):
            batch = [(i, agentlib.quantize(x[i:i + 1], detail).tobytes()) for i in todo[start:start + EVAL_BATCH]]
            for index, argmax, raw in self.client.eval_stream(batch, deadline, work):
                progress.outputs.setdefault(index, (argmax, raw))
        return _scores(progress.outputs, y[:n], out)


def _op_profile(times: OpTimes | None, model_path: Path, emulated: bool) -> dict[str, Any] | None:
    """The board's own per-operator times (harness/measures/op_profile.py), named by what counted them:
    the DWT's cycles, or the board timer's ticks (under QEMU -icount they follow instructions:
    repeatable, not a latency). `runtime_total`: the whole invoke, read from the same clock."""
    if times is None:
        return None
    names = operator_sequence(model_path)
    if len(names) != times.ops:
        raise InfrastructureError(f"{model_path}: the firmware profiled {times.ops} operators, "
                                  f"the model has {len(names)}")
    method, unit = (("dwt cycles", "cycles") if times.clock == "cycles" else
                    ("qemu icount ticks", "ticks") if emulated else ("board timer ticks", "ticks"))
    ops = [{"index": i, "op": name, "value": t} for i, (name, t) in enumerate(zip(names, times.ticks))]
    profile = build_op_profile(ops, method=method, unit=unit, runtime_total=float(times.whole))
    profile["clock_hz"] = times.hz
    return profile


def _inference_share(samples_us: list[float], start_ns: int, end_ns: int, emulated: bool) -> dict[str, Any]:
    """A microcontroller runs one thing: its utilization is the share of the measured window
    (host clock, serial round trips included) spent inside inference (board-timed). Not under
    emulation: QEMU's instruction-count clock is not the host's, so the two never divide."""
    if emulated:
        return {"process_cpu_fraction": None, "board_busy_fraction": None,
                "method": "not measured: an emulated board's virtual clock is not the host's"}
    window_us = (end_ns - start_ns) / 1000
    share = min(1.0, sum(samples_us) / window_us) if window_us > 0 and samples_us else None
    return {"process_cpu_fraction": share, "board_busy_fraction": None,
            "method": "inference time / measured window (board timer over host clock)"}


def _reached(samples: list[float], count: int, min_seconds: float, max_seconds: float | None) -> bool:
    elapsed = sum(samples) / 1e6
    if max_seconds is not None and elapsed >= max_seconds and samples:
        return True
    return len(samples) >= count and elapsed >= min_seconds


def _batch(samples: list[float], count: int, min_seconds: float, per_us: float) -> int:
    """Inferences for the next RUN: what the count still needs, or what the minimum time needs."""
    need = count - len(samples)
    if need <= 0:
        left_us = min_seconds * 1e6 - sum(samples)
        need = math.ceil(left_us / max(per_us, 1.0))
    return max(1, min(RUN_BATCH, need))


def _nbytes(tensor: TensorInfo) -> int:
    return int(np.prod(tensor.shape)) * np.dtype(tensor.dtype).itemsize


def _scores(outputs: dict[int, tuple[int, bytes]], y: Any, out: TensorInfo) -> dict[str, Any]:
    n = len(y)
    predictions = [outputs[i][0] for i in range(n)]
    top1 = sum(int(p == int(t)) for p, t in zip(predictions, y)) / n
    top5 = None
    dtype = np.dtype(out.dtype)
    scores = [agentlib.dequantize(np.frombuffer(outputs[i][1], dtype=dtype), out.scale or 0.0, out.zero_point or 0)
              for i in range(n)]
    classes = len(outputs[0][1]) // dtype.itemsize if n else 0
    if classes > 5:
        hits = 0
        for i in range(n):
            raw = np.frombuffer(outputs[i][1], dtype=dtype).astype(np.float64)
            hits += int(int(y[i]) in np.argsort(-raw, kind="stable")[:5])
        top5 = hits / n
    return {"accuracy_top1": top1, "accuracy_top5": top5, "accuracy_samples": n, "predictions": predictions,
            "scores": scores}

