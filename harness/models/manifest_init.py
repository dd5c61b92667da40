"""`harness model init DIR`: a manifest.json from the files a model folder holds.

It records what the files say (names, sha256 that pin them, the dataset found and its size)
and leaves what only a person knows empty for them to complete: published accuracy, the
dataset's source, the task when it is not plain classification.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.config import datasets
from harness.errors import ConfigError
from harness.models.manifest import MANIFEST, complete, FamilyManifest
from harness.models.formats import read_model


def init_manifest(directory: Path, *, force: bool = False) -> tuple[Path, dict[str, Any]]:
    target = directory / MANIFEST
    if not directory.is_dir():
        raise ConfigError(f"{directory}: no such folder")
    if target.exists() and not force:
        raise ConfigError(f"{target} exists; --force replaces it")
    found = complete(FamilyManifest(), directory)
    if not found.variants:
        raise ConfigError(f"{directory}: no .tflite file in this folder")
    files = {v.variant_name: v.file_name for v in found.variants}
    models = {name: read_model(directory / file) for name, file in files.items()}
    first = next(iter(models.values()))
    manifest: dict[str, Any] = {
        "family": found.family, "task": found.task,
        "num_classes": int(_prod(first.outputs[0].shape[1:])) if first.outputs else None,
        "input_shape": list(first.inputs[0].shape) if first.inputs else None,
        "dataset": None, "reference_variant": found.reference_variant,
        "variants": [{"name": name, "file": files[name], "sha256": m.sha256,
                      "host_accuracy": None, "description": m.quantization}
                     for name, m in models.items()],
    }
    if found.dataset is not None:
        data = datasets.read(directory / found.dataset.file)
        manifest["dataset"] = {"file": found.dataset.file, "sha256": data.sha256,
                               "samples": int(len(data.y)), "source": ""}
    target.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return target, manifest


def _prod(shape: tuple[int, ...]) -> int:
    out = 1
    for d in shape:
        out *= d
    return out
