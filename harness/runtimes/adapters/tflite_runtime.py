"""tflite-runtime, the stand-alone TFLite interpreter wheel of older boards. No per-op profiler
in its Python API either."""

try:
    from edge_harness_agent import TfliteApiAdapter
except ImportError:
    from harness.runtimes.agent import TfliteApiAdapter


class TfliteRuntimeAdapter(TfliteApiAdapter):
    name = "tflite-runtime"
    module = "tflite_runtime.interpreter"
    package = "tflite_runtime"


ADAPTER = TfliteRuntimeAdapter
