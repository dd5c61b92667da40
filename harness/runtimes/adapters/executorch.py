"""ExecuTorch (.pte programs; XNNPACK-delegated where the program was lowered to it) through the
`executorch` wheel's runtime API. Per-operator times: not given (ETDump needs a devtools build
of the runtime, which the wheel is not). On x86_64 Python 3.11 the 1.5.1 wheel installs, but its
pybindings need libtorch (torch is not a declared dependency), so this adapter needs torch too.
"""

from typing import Any

try:
    from edge_harness_agent import Adapter, AgentError
except ImportError:
    from harness.runtimes.agent import Adapter, AgentError

_DTYPES = {"torch.float32": "float32", "torch.int8": "int8", "torch.uint8": "uint8",
           "torch.float16": "float16", "torch.int32": "int32", "torch.int64": "int64"}


class ExecuTorchAdapter(Adapter):
    name = "executorch"
    formats = ("pte",)

    def import_runtime(self) -> None:
        import torch
        from executorch.runtime import Runtime

        self._torch, self._runtime = torch, Runtime.get()

    def load(self) -> None:
        try:
            program = self._runtime.load_program(self.model_path)
            self.method = program.load_method("forward")
        except (RuntimeError, ValueError) as exc:
            raise AgentError("model", f"{self.model_path}: executorch cannot load it: {exc}")
        meta = self.method.metadata.input_tensor_meta(0)
        self._shape = list(meta.sizes())
        self._dtype = _DTYPES.get(str(meta.dtype()), "float32")
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

        return {"runtime": self.name, "runtime_version": version("executorch")}


ADAPTER = ExecuTorchAdapter
