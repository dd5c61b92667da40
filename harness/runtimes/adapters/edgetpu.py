"""A Coral Edge TPU (Dev Board, or a USB accelerator on any host) via libedgetpu.so.1, under
tflite_runtime (pycoral's) or, where that is missing, ai_edge_litert. No per-op times: the
compiled model is one custom operator on the TPU."""

from typing import Any

try:
    from edge_harness_agent import AgentError, TfliteApiAdapter
except ImportError:
    from harness.runtimes.agent import AgentError, TfliteApiAdapter


class EdgeTpuAdapter(TfliteApiAdapter):
    name = "edgetpu"
    library = "libedgetpu.so.1"

    def versions(self) -> dict[str, str]:
        import importlib.util

        for package in ("tflite_runtime", "ai_edge_litert"):
            if importlib.util.find_spec(package) is not None:
                self.module, self.package = f"{package}.interpreter", package
                return {**super().versions(), "interpreter": package}
        raise ImportError("neither tflite_runtime (pycoral) nor ai_edge_litert is installed")

    def delegates(self) -> list[Any]:
        import ctypes

        if not self.model_path.endswith("_edgetpu.tflite"):
            raise AgentError("model", f"{self.model_path}: not compiled for the Edge TPU "
                                      "(run edgetpu_compiler; the variant must end in _edgetpu.tflite)")
        try:
            ctypes.CDLL(self.library)
        except OSError as exc:
            raise AgentError("device", f"Edge TPU runtime {self.library} is not installed ({exc}); "
                                       "install libedgetpu1-std from Coral's apt repository")
        mod = __import__(self.module, fromlist=["load_delegate"])
        try:
            return [mod.load_delegate(self.library)]
        except (ValueError, OSError, RuntimeError) as exc:
            raise AgentError("device", f"no Edge TPU found: {self.library} loads but its delegate "
                                       f"failed ({exc}); plug in the Coral USB accelerator (lsusb "
                                       "shows 1a6e:089a or 18d1:9302) or, on a Dev Board, check /dev/apex_0")


ADAPTER = EdgeTpuAdapter
