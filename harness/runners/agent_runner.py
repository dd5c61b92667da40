"""Runs runtimes/agent.py on any CommandTransport: the host, an SSH board, a QEMU Linux board."""

from __future__ import annotations

import dataclasses
import json
import signal
import time
from pathlib import Path
from typing import Any

from harness import interrupts
from harness.deadline import Deadline
from harness.errors import DeviceError, InfrastructureError, ModelError
from harness.models.formats import format_of
from harness.runtimes import adapters, agent, agentlib
from harness.runners.base import Job, Measurement, Runner
from harness.transports.base import CommandTransport

AGENT_FILE = Path(agent.__file__)
LIBRARY_FILE = Path(agentlib.__file__)  # what the agent shares with the controller
# Signals a runtime never raises on its own: another process (a terminal's Ctrl-C, a service
# manager, the OOM killer, a timeout) ended the agent, so it says nothing about the model.
_SENT_FROM_OUTSIDE = {signal.SIGINT, signal.SIGTERM, signal.SIGKILL, signal.SIGHUP, signal.SIGQUIT,
                      signal.SIGPIPE}


PROFILE_RUNS = 50  # inferences a per-operator profile averages over


class AgentRunner(Runner):
    """Stages the agent, its shared library and the one adapter file the job's runtime needs,
    then runs the agent."""

    def __init__(self, transport: CommandTransport, runtime: str,
                 accelerator_load: dict[str, Any] | None = None) -> None:
        self.transport = transport
        self.runtime = runtime  # the profile's; a model of another format may pick another
        self.accelerator_load = accelerator_load  # the profile's: where the agent reads NPU/GPU load

    def measure(self, job: Job, deadline: Deadline) -> Measurement:
        fmt = format_of(job.model_path)
        runtime = adapters.runtime_for(self.runtime, fmt)
        if runtime is None:
            raise DeviceError(f"{job.model_path}: {self.runtime} reads no {fmt} models and this board has "
                              "no other runtime for them")
        python = self.transport.python_for(runtime)
        agent_path = self.transport.stage(AGENT_FILE, deadline)
        library_path = self.transport.stage(LIBRARY_FILE, deadline)
        adapter_path = self.transport.stage(adapters.adapter_file(runtime), deadline)
        model = self.transport.stage(job.model_path, deadline)
        dataset = self.transport.stage(job.dataset_path, deadline) if job.dataset_path else None
        if adapters.adapter(runtime).per_op and not job.profile_runs:
            job = dataclasses.replace(job, profile_runs=PROFILE_RUNS)
        request = json.dumps({**job.agent_job(runtime, model, dataset, adapter_path, library_path),
                              "accelerator_load": self.accelerator_load}).encode()
        start = time.monotonic_ns()
        with interrupts.abandonable():  # a Ctrl-C ends this agent; the case is not stored
            done = self.transport.run([python, agent_path], stdin=request, deadline=deadline)
        end = time.monotonic_ns()
        interrupts.raise_if_requested()
        if done.returncode != 0:
            raise self._crash(job, done.returncode, done.stderr)
        try:
            reply = json.loads(done.stdout)
        except ValueError:
            raise InfrastructureError(
                f"{self.transport.url}: agent answered no JSON: {done.stdout[-200:]!r}") from None
        if not reply.get("ok"):
            kind = ModelError if reply.get("kind") == "model" else DeviceError
            raise kind(reply.get("message", "agent failed without a message"))
        measured = _measurement(reply, runtime, self.transport.emulated, (start, end))
        if reply.get("energy_windows"):
            offset, error = self._clock_offset_ns(agent_path, deadline)
            measured.energy_clock_error_ns = error
            measured.energy_windows = [{"start_ns": w["start_ns"] - offset, "end_ns": w["end_ns"] - offset,
                                        "inferences": w["inferences"]} for w in reply["energy_windows"]]
        return measured

    def _clock_offset_ns(self, agent_path: str, deadline: Deadline) -> tuple[int, int]:
        """(board − controller) monotonic clock offset and its error bound: 0 on this host;
        elsewhere the best of three probes, the board's reading taken mid round trip."""
        if self.transport.url.startswith("local:"):
            return 0, 0
        probes = []
        for _ in range(3):
            t0 = time.monotonic_ns()
            done = self.transport.run([self.transport.python, agent_path, "--clock"], deadline=deadline)
            t1 = time.monotonic_ns()
            if done.returncode == 0 and done.stdout.strip().isdigit():
                probes.append((t1 - t0, int(done.stdout) - (t0 + t1) // 2))
        if not probes:
            raise InfrastructureError(f"{self.transport.url}: cannot read the board's monotonic clock")
        trip, offset = min(probes)
        return offset, trip // 2

    def recover(self, deadline: Deadline) -> None:
        # A fresh connection; for an emulated board, closing powers it off and opening boots it.
        self.transport.close()
        self.transport.open(deadline)

    def close(self) -> None:
        self.transport.close()

    def _crash(self, job: Job, code: int, stderr: bytes) -> Exception:
        tail = stderr.decode(errors="replace").strip().splitlines()[-3:]
        detail = " | ".join(tail) or "no output"
        if code < 0 or code >= 128:  # killed by a signal
            number = -code if code < 0 else code - 128
            name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
            if number in _SENT_FROM_OUTSIDE:  # someone killed it (a person, the OOM killer): the lab's fault
                return InfrastructureError(f"{self.transport.url}: the agent was killed by {name} "
                                           f"while measuring {job.model_path.name}: {detail}")
            # SIGSEGV, SIGABRT, SIGFPE, SIGBUS, SIGILL...: the runtime aborted on this model
            return ModelError(f"{job.model_path}: {self.runtime} crashed ({name}) on this model: {detail}")
        return InfrastructureError(f"{self.transport.url}: agent exited with {code}: {detail}")


def _measurement(reply: dict[str, Any], runtime: str, emulated: bool,
                 window: tuple[int, int]) -> Measurement:
    memory = reply["memory"]
    acc = reply.get("accuracy") or {}
    return Measurement(
        runtime=runtime, environment=reply["environment"], latency_us=reply["latency_us"],
        samples_us=reply["samples_us"], init_ms=reply["init_ms"],
        first_inference_ms=reply["first_inference_ms"], warmup_count=reply["warmup_count"],
        set_input_us=reply.get("set_input_us"), get_output_us=reply.get("get_output_us"),
        rss_load_delta_bytes=memory["rss_load_delta"], rss_peak_bytes=memory["rss_peak"],
        arena_bytes=memory.get("arena_bytes"), working_memory_bytes=memory.get("working_memory_bytes"),
        working_memory_method=memory.get("working_memory_method"), accuracy_top1=acc.get("top1"),
        accuracy_top5=acc.get("top5"), accuracy_samples=acc.get("samples"),
        predictions=acc.get("predictions", []), scores=acc.get("scores", []),
        utilization=reply.get("utilization"), emulated=emulated, window_ns=window,
        op_profile=_op_profile(reply.get("op_profile"), runtime),
    )


def _op_profile(ops: list[dict[str, Any]] | None, runtime: str) -> dict[str, Any] | None:
    if not ops:
        return None
    from harness.measures.op_profile import build

    run_us = ops[0].get("run_us")
    return build([{k: o[k] for k in ("index", "op", "name", "time_us") if k in o} for o in ops],
                 method=f"{runtime} profiler", unit="us", runtime_total=run_us)
