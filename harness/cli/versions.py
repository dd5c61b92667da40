"""`harness --version`: the harness's version and which runtimes and tools this machine has."""

from __future__ import annotations

import shutil
from importlib import metadata

from harness import __version__

RUNTIMES = {  # package -> what it gives the harness
    "ai-edge-litert": "LiteRT (host, litert runtime)",
    "tflite-micro": "TFLite-Micro (host-tflm, arena probes)",
    "tflite-runtime": "tflite-runtime (Linux boards)",
    "pycoral": "Edge TPU (pycoral)",
}
TOOLS = {
    "qemu-system-arm": "emulated Cortex-M board",
    "qemu-system-aarch64": "emulated aarch64 board",
    "arm-none-eabi-gcc": "builds the reference firmware",
}


def version_report() -> str:
    lines = [f"edge-harness {__version__}"]
    for package, what in RUNTIMES.items():
        try:
            found = metadata.version(package)
        except metadata.PackageNotFoundError:
            found = "not installed"
        lines.append(f"  {package:<20} {found:<24} {what}")
    for tool, what in TOOLS.items():
        lines.append(f"  {tool:<20} {'found' if shutil.which(tool) else 'not found':<24} {what}")
    return "\n".join(lines)
