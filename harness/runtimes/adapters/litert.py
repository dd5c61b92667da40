"""LiteRT (ai-edge-litert), the TensorFlow Lite interpreter. Per-operator times: none; its Python
API exposes no profiler (benchmark_model's op profiling is a C++ tool), so none are estimated."""

try:
    from edge_harness_agent import TfliteApiAdapter  # on a board: the agent registered itself
except ImportError:  # imported inside the harness (the catalogue reads the declarations)
    from harness.runtimes.agent import TfliteApiAdapter


class LiteRtAdapter(TfliteApiAdapter):
    name = "litert"


ADAPTER = LiteRtAdapter
