"""Suites: which model variants to run, on which data, with which run settings."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pydantic

from harness import configfile
from harness.configfile import StrictModel
from harness.errors import ConfigError
from harness.models.manifest import FamilyManifest, load_manifest
from harness.profiles import Thresholds
from harness.units import PositiveSeconds, Seconds


class Phase(StrictModel):
    """A phase runs until both `count` inferences and `min_seconds` are reached (benchmark_model)."""

    count: int = pydantic.Field(ge=0)
    min_seconds: Seconds = 0.0


class MeasurePhase(Phase):
    count: int = pydantic.Field(ge=1)
    max_seconds: PositiveSeconds | None = None  # a cap for very slow boards; None: no cap


class RunSettings(StrictModel):
    warmup: Phase = Phase(count=5, min_seconds=0.2)
    measure: MeasurePhase = MeasurePhase(count=50, min_seconds=1.0)
    threads: int = pydantic.Field(default=1, ge=1, le=256)  # and at most the board's cores (planning.py)
    timeout: PositiveSeconds = 300.0  # per case, including deploy and accuracy
    accuracy_samples: int | None = pydantic.Field(default=None, ge=1)  # None: the whole eval set


class SuiteModel(StrictModel):
    path: str  # a model family directory (with manifest.json), relative to the suite file
    variants: list[str] | None = None  # None: every variant of the manifest


class SuiteFile(StrictModel):
    name: str
    description: str = ""
    models: list[SuiteModel] = pydantic.Field(min_length=1)
    run: RunSettings = RunSettings()
    thresholds: Thresholds = Thresholds()


@dataclass(frozen=True)
class ModelCase:
    """One model variant of a suite, resolved to files on disk."""

    family: str
    variant: str
    model_path: Path
    dataset_path: Path | None
    reference_variant: str
    task: str
    manifest_accuracy: float | None

    @property
    def key(self) -> str:
        return f"{self.family}/{self.variant}"


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    sha256: str
    text: str
    run: RunSettings
    thresholds: Thresholds
    cases: tuple[ModelCase, ...]
    families: dict[str, FamilyManifest]


def load_suite(path: Path) -> Suite:
    data, lines = configfile.read_yaml(path)
    spec = configfile.validate(data, SuiteFile, path, lines)
    cases: list[ModelCase] = []
    families: dict[str, FamilyManifest] = {}
    for i, entry in enumerate(spec.models):
        line = lines.get(("models", i, "path"), 1)
        family_dir = (path.parent / entry.path).resolve()
        if not family_dir.is_dir():
            raise ConfigError(f"{path}:{line}: field 'models[{i}].path': no model directory {family_dir}")
        manifest = load_manifest(family_dir)
        families[manifest.family] = manifest
        cases.extend(_cases(manifest, family_dir, entry, path, lines, i))
    text = configfile.read_text(path)
    return Suite(
        name=spec.name, path=path, sha256=hashlib.sha256(text.encode()).hexdigest(), text=text,
        run=spec.run, thresholds=spec.thresholds, cases=tuple(cases), families=families,
    )


def _cases(manifest: FamilyManifest, family_dir: Path, entry: SuiteModel, path: Path,
           lines: dict, index: int) -> list[ModelCase]:
    names = entry.variants or [v.name for v in manifest.variants]
    dataset = family_dir / manifest.dataset.file if manifest.dataset else None
    if dataset is not None and not dataset.is_file():
        raise ConfigError(f"{family_dir / 'manifest.json'}: dataset {dataset} not found")
    cases = []
    for j, name in enumerate(names):
        variant = manifest.variant(name)
        if variant is None:
            line = lines.get(("models", index, "variants", j), 1)
            known = ", ".join(v.name for v in manifest.variants)
            raise ConfigError(
                f"{path}:{line}: field 'models[{index}].variants[{j}]': family {manifest.family!r} "
                f"has no variant {name!r}; known: {known}"
            )
        cases.append(ModelCase(
            family=manifest.family, variant=name, model_path=family_dir / variant.file,
            dataset_path=dataset, reference_variant=manifest.reference_variant,
            task=manifest.task, manifest_accuracy=variant.host_accuracy,
        ))
    return cases
