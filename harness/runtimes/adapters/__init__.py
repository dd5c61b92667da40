"""Runtimes: one adapter file per runtime, copied to a board beside runtimes/agent.py.

Each file defines ADAPTER, a class declaring the model formats it reads (`formats`), how it
measures working memory (`memory_method`, harness/measures/memory.py) and whether it gives per-operator
times (`per_op`). Plugins add runtimes in the `edge_harness.runtimes` entry-point group
(harness/registry.py), naming their own adapter file's ADAPTER; it may import only the standard
library, numpy, its runtime and `edge_harness_agent` (the agent core, on the board).

On a board that runs the agent, a model goes to the profile's runtime when that runtime reads
its format, else to the first general-purpose runtime that does (.onnx to onnxruntime, .pte to
executorch), so one suite compares runtimes on one board.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from harness.registry import Catalog

RUNTIMES: Catalog[Any] = Catalog("runtime", {
    "litert": "harness.runtimes.adapters.litert:ADAPTER",
    "tflite-runtime": "harness.runtimes.adapters.tflite_runtime:ADAPTER",
    "edgetpu": "harness.runtimes.adapters.edgetpu:ADAPTER",
    "tflm": "harness.runtimes.adapters.tflm:ADAPTER",
    "onnxruntime": "harness.runtimes.adapters.onnxruntime:ADAPTER",
    "executorch": "harness.runtimes.adapters.executorch:ADAPTER",
}, instantiate=False)
# Runtimes that run any model of their format on a general-purpose board (not a TPU, not an MCU
# arena emulation), so a model of another format than the profile's runtime may go to them.
GENERAL = ("litert", "tflite-runtime", "onnxruntime", "executorch")


def adapter(runtime: str) -> Any:
    return RUNTIMES.get(runtime)


def adapter_file(runtime: str) -> Path:
    """The file the runner stages on the board for `runtime`."""
    return Path(inspect.getfile(adapter(runtime)))


def runtime_for(profile_runtime: str, model_format: str) -> str | None:
    """The runtime that runs a model of `model_format` on a board whose profile names
    `profile_runtime`; None when the board has none for it."""
    runtimes = RUNTIMES.all()
    own = runtimes.get(profile_runtime)
    if own is not None and model_format in own.formats:
        return profile_runtime
    if profile_runtime not in GENERAL:
        return None
    return next((name for name, cls in runtimes.items()
                 if name in GENERAL and model_format in cls.formats), None)


def capabilities() -> list[dict[str, Any]]:
    """What each runtime reads and reports (docs, `harness` listings)."""
    return [{"runtime": name, "formats": list(cls.formats), "latency": True,
             "memory_method": cls.memory_method, "per_op": cls.per_op}
            for name, cls in RUNTIMES.all().items()]
