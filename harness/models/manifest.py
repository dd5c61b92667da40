"""Model family manifests (models/<family>/manifest.json), written by tools/make_models.py."""

from __future__ import annotations

import json
from pathlib import Path

import pydantic

from harness.errors import ConfigError

MANIFEST = "manifest.json"


class _Frozen(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class DatasetInfo(_Frozen):
    file: str
    sha256: str
    samples: int
    source: str


class VariantInfo(_Frozen):
    name: str
    file: str
    sha256: str
    bytes: int
    gzip_bytes: int
    weights: str
    activations: str
    io_dtype: str
    sparsity: float
    params: int
    host_accuracy: float | None
    description: str


class FamilyManifest(_Frozen):
    family: str
    task: str  # "image-classification" (accuracy measured) or "latency" (random weights)
    num_classes: int
    input_shape: list[int]
    dataset: DatasetInfo | None
    reference_variant: str
    generator: dict[str, str | int | None]
    variants: list[VariantInfo]

    def variant(self, name: str) -> VariantInfo | None:
        return next((v for v in self.variants if v.name == name), None)


def load_manifest(path: Path) -> FamilyManifest:
    """`path` is a family directory or its manifest.json."""
    file = path / MANIFEST if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: model manifest not found") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{file}: unreadable model manifest: {exc}") from None
    try:
        return FamilyManifest.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{file}: field {where!r}: {first['msg']}") from None
