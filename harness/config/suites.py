"""Suites: which model variants to run, on which data, with which run settings."""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from pathlib import Path

import pydantic

from harness.config import configfile
from harness.config.configfile import StrictModel
from harness.errors import ConfigError
from harness.models.manifest import MANIFEST, FamilyManifest, MlperfTinyInfo, load_manifest, single_model
from harness.config.profiles import Thresholds
from harness.config.units import PositiveSeconds, Seconds


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
    repeat: int = pydantic.Field(default=1, ge=1)  # interleaved repetitions of every case (run --repeat)


class SuiteModel(StrictModel):
    path: str = pydantic.Field(description="A model family folder (manifest.json optional) or a .tflite "
                               "file, relative to the suite file.")
    variants: list[str] | None = pydantic.Field(None, description="Default: every variant of the family.")
    mlperf_tiny: MlperfTinyInfo | None = pydantic.Field(
        None, description="The MLPerf Tiny benchmark the model stands for; default: the manifest's.")


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
    tiny_benchmark: str | None = None  # the suite's or the manifest's mlperf_tiny.benchmark
    decision_threshold: float | None = None  # detection tasks (harness/measures/metrics.py)
    technique: str | None = None  # compression technique, from the manifest (the matrix's rows)
    derived_from: str | None = None

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
    return build_suite(spec, path, configfile.read_text(path), lines)


def build_suite(spec: SuiteFile, path: Path, text: str, lines: dict[configfile.Loc, int]) -> Suite:
    """A suite from its validated spec; `text` is what the run stores (a file's, or an in-memory
    suite's YAML). Every error of every model entry is reported at once."""
    cases: list[ModelCase] = []
    families: dict[str, FamilyManifest] = {}
    errors: list[str] = []
    for i, entry in enumerate(spec.models):
        try:
            manifest, base = _family(path, entry, lines, i)
            found, missing = _cases(manifest, base, entry, path, lines, i)
        except ConfigError as exc:
            errors.extend(configfile.messages(exc))
            continue
        errors.extend(missing)
        families[str(manifest.family)] = manifest
        cases.extend(found)
    configfile.raise_all(errors)
    return Suite(
        name=spec.name, path=path, sha256=hashlib.sha256(text.encode()).hexdigest(), text=text,
        run=spec.run, thresholds=spec.thresholds, cases=tuple(cases), families=families,
    )


def _family(path: Path, entry: SuiteModel, lines: dict, i: int) -> tuple[FamilyManifest, Path]:
    target = (path.parent / entry.path).resolve()
    line = lines.get(("models", i, "path"), 1)
    if target.is_dir():
        return load_manifest(target), target
    if target.is_file() and target.suffix == ".tflite":
        return single_model(target), target.parent
    raise ConfigError(f"{path}:{line}: field 'models[{i}].path': no model folder or .tflite file {target}")


def _cases(manifest: FamilyManifest, family_dir: Path, entry: SuiteModel, path: Path,
           lines: dict, index: int) -> tuple[list[ModelCase], list[str]]:
    variants = manifest.variants or []
    names = entry.variants or [v.variant_name for v in variants]
    errors: list[str] = []
    if not names:
        line = lines.get(("models", index, "path"), 1)
        errors.append(f"{path}:{line}: field 'models[{index}].path': no .tflite file in {family_dir}")
    dataset = family_dir / manifest.dataset.file if manifest.dataset else None
    if dataset is not None and not dataset.exists():
        errors.append(f"{family_dir / MANIFEST}: dataset {dataset} not found")
    cases = []
    tiny = entry.mlperf_tiny or manifest.mlperf_tiny
    for j, name in enumerate(names):
        variant = manifest.variant(name)
        if variant is None:
            line = lines.get(("models", index, "variants", j), 1)
            known = ", ".join(v.variant_name for v in variants)
            close = difflib.get_close_matches(name, [v.variant_name for v in variants], n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            errors.append(f"{path}:{line}: field 'models[{index}].variants[{j}]': family {manifest.family!r} "
                          f"has no variant {name!r}; {hint}known: {known}")
            continue
        cases.append(ModelCase(
            family=str(manifest.family), variant=name, model_path=family_dir / variant.file_name,
            dataset_path=dataset, reference_variant=str(manifest.reference_variant),
            task=str(manifest.task), manifest_accuracy=variant.host_accuracy,
            tiny_benchmark=tiny.benchmark if tiny else None,
            decision_threshold=_first_set(variant.decision_threshold, manifest.decision_threshold),
            technique=variant.technique,
            derived_from=variant.derived_from,
        ))
    return cases, errors


def _first_set(*values: float | None) -> float | None:
    """The first value that is given: a threshold of 0 is a threshold, not a missing one."""
    return next((v for v in values if v is not None), None)
