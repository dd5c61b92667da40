"""Real TFLite-Micro (reference kernels) through the tflite-micro wheel. Per-operator times:
none; the wheel's Python interpreter exposes no profiler (MicroProfiler is C++ only), so none
are estimated. Working memory: the arena its recording allocator reports."""

import os
from typing import Any

try:
    from edge_harness_agent import ARENA, Adapter, AgentError, capture_stderr
except ImportError:
    from harness.runtimes.agent import ARENA, Adapter, AgentError, capture_stderr


class TflmAdapter(Adapter):
    """Real TFLite-Micro (reference kernels) through the tflite-micro wheel."""

    name = "tflm"
    formats = ("tflite",)
    memory_method = ARENA  # what a microcontroller would need: the arena, not this host's RSS

    def import_runtime(self) -> None:
        from tflite_micro.python.tflite_micro import runtime

        self._runtime = runtime

    def load(self) -> None:
        runtime = self._runtime
        arena = int(os.environ.get("EDGE_HARNESS_TFLM_ARENA", 64 * 1024 * 1024))
        try:
            self.interp = runtime.Interpreter.from_file(self.model_path, arena_size=arena)
        except (ValueError, RuntimeError) as exc:
            raise AgentError("model", f"{self.model_path}: TFLite-Micro cannot run it: {exc}")
        self._in = self.interp.get_input_details(0)

    def input_detail(self) -> dict[str, Any]:
        q = self._in.get("quantization_parameters") or {}
        scales, zeros = list(q.get("scales", [])), list(q.get("zero_points", []))
        return {"shape": list(self._in["shape"]), "dtype": self._in["dtype"].__name__,
                "scale": float(scales[0]) if scales else 0.0, "zero_point": int(zeros[0]) if zeros else 0}

    def set_input(self, array: Any) -> None:
        self.interp.set_input(array, 0)

    def invoke(self) -> None:
        self.interp.invoke()

    def get_output(self) -> Any:
        return self.interp.get_output(0)

    def output_quantization(self) -> tuple[float, int]:
        q = self.interp.get_output_details(0).get("quantization_parameters") or {}
        scales, zeros = list(q.get("scales", [])), list(q.get("zero_points", []))
        return (float(scales[0]), int(zeros[0])) if scales else (0.0, 0)

    def versions(self) -> dict[str, str]:
        from importlib.metadata import version

        return {"runtime": self.name, "runtime_version": version("tflite-micro")}

    def arena_bytes(self) -> int | None:
        """Arena bytes TFLite-Micro's recording allocator reports (it prints them to stderr)."""
        report = capture_stderr(self.interp.print_allocations)
        for line in report.splitlines():
            if "Arena allocation total" in line:
                return int(line.split("total")[1].split()[0])
        return None



ADAPTER = TflmAdapter
