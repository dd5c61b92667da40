"""ExecuTorch (.pte programs; XNNPACK-delegated where the program was lowered to it) through the
`executorch` wheel's runtime API. Its pybindings need libtorch at import, so it runs in a venv of
its own (make executorch-venv: torch 2.13.0+cpu, executorch 1.4.1), reached by the profile's
`local://?python.executorch=PATH`. Threads: XNNPACK's threadpool is reset to the job's count
before the program loads (recorded with the result).

Per-operator times: none. The wheel's runtime is built without the event tracer: with
`enable_etdump=True` it writes no ETDump ("No etdump data found, try rebuilding with ...
EXECUTORCH_ENABLE_EVENT_TRACER"), and the legacy `_dump_profile_results()` returns 0 bytes.
"""

from typing import Any

try:
    from edge_harness_agent import Adapter, AgentError
except ImportError:
    from harness.runtimes.agent import Adapter, AgentError

# c10::ScalarType codes, as MethodMeta's TensorInfo.dtype() returns them
_DTYPES = {0: "uint8", 1: "int8", 3: "int32", 4: "int64", 5: "float16", 6: "float32"}


class ExecuTorchAdapter(Adapter):
    name = "executorch"
    formats = ("pte",)

    def import_runtime(self) -> None:
        import torch
        from executorch.extension.pybindings import portable_lib
        from executorch.runtime import Runtime

        self._torch, self._lib, self._runtime = torch, portable_lib, Runtime.get()

    def load(self) -> None:
        self._lib._unsafe_reset_threadpool(self.threads)  # before any method runs on it
        try:
            program = self._runtime.load_program(self.model_path)
            self.method = program.load_method("forward")
        except KeyError:  # the program has no method of that name
            raise AgentError("model", f"{self.model_path}: no `forward` method (it has {sorted(program.method_names)})")
        except (RuntimeError, ValueError) as exc:
            raise AgentError("model", f"{self.model_path}: executorch cannot load it: {exc}")
        meta = self.method.metadata.input_tensor_meta(0)
        self._shape = list(meta.sizes())
        self._dtype = _DTYPES.get(int(meta.dtype()), "float32")
        self._inputs: list[Any] = []
        self._outputs: Any = None

    def input_detail(self) -> dict[str, Any]:
        return {"shape": self._shape, "dtype": self._dtype, "scale": 0.0, "zero_point": 0}

    def set_input(self, array: Any) -> None:
        self._inputs = [self._torch.from_numpy(array)]

    def invoke(self) -> None:
        self._outputs = self.method.execute(self._inputs)

    def get_output(self) -> Any:
        return self._outputs[0].numpy()

    def versions(self) -> dict[str, str]:
        from importlib.metadata import version

        return {"runtime": self.name, "runtime_version": version("executorch"), "torch_version": version("torch")}

    def settings(self) -> dict[str, Any]:
        return {"threadpool_threads": self.threads}  # what load() resets XNNPACK's threadpool to


ADAPTER = ExecuTorchAdapter
