"""ONNX Runtime on its CPU execution provider. Recorded with every result: intra-op threads (the
job's), inter-op threads (1: one model, sequential execution) and the graph optimisation level
(job option `graph_optimization_level`: disable | basic | extended | all, default all).
Per-operator times: ONNX Runtime's own profiler (one kernel-time event per node and run)."""

import json
import os
import tempfile
from statistics import median
from typing import Any

try:
    from edge_harness_agent import Adapter, AgentError
except ImportError:
    from harness.runtimes.agent import Adapter, AgentError

_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(int8)": "int8",
           "tensor(uint8)": "uint8", "tensor(int32)": "int32", "tensor(int64)": "int64"}
_LEVELS = ("disable", "basic", "extended", "all")


class OnnxRuntimeAdapter(Adapter):
    name = "onnxruntime"
    formats = ("onnx",)
    per_op = True

    def import_runtime(self) -> None:
        import onnxruntime

        self._ort = onnxruntime

    @property
    def level(self) -> str:
        level = str(self.options.get("graph_optimization_level", "all"))
        if level not in _LEVELS:
            raise AgentError("device", f"graph_optimization_level {level!r}: use one of {', '.join(_LEVELS)}")
        return level

    def _session(self, profile_dir: str | None = None) -> Any:
        ort = self._ort
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[self.level]
        if profile_dir is not None:
            opts.enable_profiling = True
            opts.profile_file_prefix = os.path.join(profile_dir, "ort")
        try:
            return ort.InferenceSession(self.model_path, opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's Fail/InvalidGraph/NotImplemented have no common base
            raise AgentError("model", f"{self.model_path}: onnxruntime cannot load it: {exc}")

    def load(self) -> None:
        self.session = self._session()
        self._in = self.session.get_inputs()[0]
        self._out_name = self.session.get_outputs()[0].name
        self._feed: dict[str, Any] = {}
        self._result: Any = None

    def input_detail(self) -> dict[str, Any]:
        shape = [d if isinstance(d, int) else 1 for d in self._in.shape]  # a symbolic batch: 1
        return {"shape": shape, "dtype": _DTYPES.get(self._in.type, "float32"), "scale": 0.0, "zero_point": 0}

    def set_input(self, array: Any) -> None:
        self._feed = {self._in.name: array}

    def invoke(self) -> None:
        self._result = self.session.run([self._out_name], self._feed)

    def get_output(self) -> Any:
        return self._result[0]

    def versions(self) -> dict[str, str]:
        import onnxruntime

        return {"runtime": self.name, "runtime_version": onnxruntime.__version__}

    def settings(self) -> dict[str, Any]:
        return {"execution_provider": "CPUExecutionProvider", "intra_op_threads": self.threads,
                "inter_op_threads": 1, "graph_optimization_level": self.level}

    def profile(self, runs: int) -> list[dict[str, Any]]:
        """Median kernel time per node over `runs` inferences, from the profiler's trace, plus the
        profiler's median whole-run time as the first entry's `run_us` (both timed by onnxruntime)."""
        with tempfile.TemporaryDirectory() as tmp:
            session = self._session(tmp)
            feed = dict(self._feed)
            session.run([self._out_name], feed)  # first run (allocations) is not profiled apart
            for _ in range(runs):
                session.run([self._out_name], feed)
            with open(session.end_profiling()) as f:
                events = json.load(f)
        return summarize_trace(events, skip_first=True)


def summarize_trace(events: list[dict[str, Any]], skip_first: bool) -> list[dict[str, Any]]:
    """[{index, op, name, time_us}] in execution order, each node's median kernel time over the
    profiled runs (a run the scheduler preempted moves a mean, not a median); the list's first
    item carries `run_us`, the median model_run time. Both are the profiler's: its node times add
    up to about 0.5 (digits CNN) to 0.7 (MobileNetV2) of its model_run, the rest being the
    executor's and the profiler's own work between nodes (docs/runtimes.md)."""
    model_runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
    if skip_first and model_runs:
        first_end = model_runs[0]["ts"] + model_runs[0]["dur"]
        model_runs = model_runs[1:]
        events = [e for e in events if e.get("ts", 0) > first_end]
    ops: dict[str, dict[str, Any]] = {}
    for e in events:
        if e.get("cat") != "Node" or not str(e.get("name", "")).endswith("_kernel_time"):
            continue
        node = e["name"][: -len("_kernel_time")]
        entry = ops.setdefault(node, {"index": len(ops), "op": e.get("args", {}).get("op_name", "?"),
                                      "name": node, "durations": []})
        entry["durations"].append(float(e["dur"]))
    out = [{**{k: v for k, v in o.items() if k != "durations"}, "time_us": median(o["durations"])}
           for o in ops.values()]
    if out:
        out[0]["run_us"] = median([float(r["dur"]) for r in model_runs]) if model_runs else None
    return out


ADAPTER = OnnxRuntimeAdapter
