"""Model inspection: the static facts of a .tflite plus what real TFLite-Micro says of it.

The arena size is measured by running the model once under TFLite-Micro (the tflm runner,
in a subprocess because TFLite-Micro aborts the process on some models). Results are cached
by the model's sha256, so `harness check` over many devices probes each file once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.deadline import Deadline
from harness.errors import ConfigError, DeviceError, ModelError
from harness.locations import cache_dir
from harness.models.fit import VariantFacts
from harness.models.formats import ModelInfo, read_model
from harness.runners.agent_runner import AgentRunner
from harness.runners.base import Job
from harness.transports.local import LocalTransport

TFLM_PROBE_TIMEOUT_S = 120.0
CACHE_VERSION = "v2"  # bump when what the probe records changes


@dataclass(frozen=True)
class Inspection:
    model: ModelInfo
    tflm_runnable: bool
    tflm_arena_bytes: int | None
    tflm_error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {**self.model.to_dict(), "quantization": self.model.quantization,
                "tflm": {"runnable": self.tflm_runnable, "arena_bytes": self.tflm_arena_bytes,
                         "error": self.tflm_error}}

    def facts(self, family: str, variant: str, accuracy: float | None) -> VariantFacts:
        activation = self.tflm_arena_bytes or self.model.activation_bytes_upper_bound
        return VariantFacts(
            family=family, variant=variant, file_name=Path(self.model.path).name,
            model_bytes=self.model.bytes, quantization=self.model.quantization, accuracy=accuracy,
            activation_bytes=activation, tflm_runnable=self.tflm_runnable, tflm_error=self.tflm_error,
            operators=tuple(self.model.operators), macs=self.model.macs,
            activation_bound=not self.tflm_arena_bytes, model_format=self.model.format,
        )


def inspect_model(path: Path, *, use_cache: bool = True) -> Inspection:
    model = read_model(path)  # ModelError naming the file when it is missing or corrupt
    cached = cache_dir() / "inspect" / f"{model.sha256}-{CACHE_VERSION}.json"
    if use_cache and cached.is_file():
        tflm = json.loads(cached.read_text())
    else:
        tflm = _probe_tflm(path) if model.format == "tflite" else {
            "runnable": False, "arena_bytes": None, "error": f"TFLite-Micro reads .tflite only, this is {model.format}"}
        _write_cache(cached, tflm)
    return Inspection(model, tflm["runnable"], tflm["arena_bytes"], tflm["error"])


def model_files(paths: list[Path]) -> list[Path]:
    """Model files as given, and those in the folders given (sorted)."""
    from harness.models.formats import model_suffixes

    suffixes = model_suffixes()
    files: list[Path] = []
    for path in paths:
        found = sorted(p for p in path.iterdir() if p.suffix in suffixes) if path.is_dir() else [path]
        if not found:
            raise ConfigError(f"{path}: no model file ({', '.join(suffixes)}) in this folder")
        files.extend(found)
    return files


def _probe_tflm(path: Path) -> dict[str, Any]:
    job = Job(model_path=path, dataset_path=None, warmup_count=0, warmup_min_seconds=0.0,
              measure_count=1, measure_min_seconds=0.0)
    runner = AgentRunner(LocalTransport(), "tflm")
    try:
        measured = runner.measure(job, Deadline(TFLM_PROBE_TIMEOUT_S))
    except (ModelError, DeviceError) as exc:
        return {"runnable": False, "arena_bytes": None, "error": _short(str(exc), path)}
    return {"runnable": True, "arena_bytes": measured.arena_bytes, "error": None}


def _short(message: str, path: Path) -> str:
    # The agent names the file it was given; the caller already knows which file it asked about.
    for name in (str(path.resolve()), str(path)):
        message = message.replace(f"{name}: ", "")
    return message.removeprefix("TFLite-Micro cannot run it: ").strip()[:300]


def _write_cache(file: Path, data: dict[str, Any]) -> None:
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(file)
    except OSError:
        pass  # a cache that cannot be written only costs time
