"""Model family manifests (models/<family>/manifest.json): only what a .tflite cannot tell.

Everything derivable from the model files themselves (sha256, bytes, gzip bytes, parameters,
dtypes, shapes, sparsity) is read from them (harness/models/tflite_model.py, cached by sha256).
A manifest adds what cannot be derived: the evaluation dataset, the reference variant, the
published accuracy, the task. Every field is optional and a folder of .tflite files with no
manifest at all is a family too; tools/make_models.py writes full manifests and
`harness model init DIR` writes one for a user to complete. Documented in docs/manifest.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pydantic

from harness.config import configfile
from harness.measures import metrics
from harness.errors import ConfigError

MANIFEST = "manifest.json"
TASKS = metrics.TASKS


class _Frozen(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class DatasetInfo(_Frozen):
    """The evaluation set: a .npz, a .npy pair prefix or an MLPerf Tiny folder (docs/datasets.md)."""

    file: str = pydantic.Field(description="Path relative to the family folder.")
    sha256: str | None = pydantic.Field(None, description="When given, the file must match it.")
    samples: int | None = pydantic.Field(None, ge=1, description="When given, the count must match it.")
    source: str | None = pydantic.Field(None, description="Where the data came from (free text).")


class VariantInfo(_Frozen):
    """One .tflite of the family. Only `name` or `file` is needed; the rest is checked or shown."""

    name: str | None = pydantic.Field(None, description="Default: the file name without .tflite.")
    file: str | None = pydantic.Field(None, description="Default: NAME.tflite.")
    sha256: str | None = pydantic.Field(None, description="When given, the file must match it.")
    bytes: int | None = None
    gzip_bytes: int | None = None
    weights: str | None = None
    activations: str | None = None
    io_dtype: str | None = None
    sparsity: float | None = None
    params: int | None = None
    host_accuracy: float | None = pydantic.Field(
        None, ge=0, le=1, description="Published (or host-measured) top-1 accuracy, 0..1.")
    description: str = ""
    technique: str | None = pydantic.Field(
        None, description="The compression technique that made it: baseline, pruning, quantization, "
        "distillation, no-distillation (a distilled student's control), architecture-search; "
        "the white paper's compression matrix groups by it.")
    derived_from: str | None = pydantic.Field(
        None, description="The variant it was compressed from (the matrix's comparison); default: "
        "the family's reference variant.")
    decision_threshold: float | None = pydantic.Field(
        None, description="Detection tasks: this variant's own operating point (each detector's score "
        "scale differs); default: the family's decision_threshold.")

    @pydantic.model_validator(mode="after")
    def _named(self) -> "VariantInfo":
        if self.name is None and self.file is None:
            raise ValueError("a variant needs 'name' or 'file'")
        return self

    @property
    def variant_name(self) -> str:
        return self.name or Path(self.file or "").stem

    @property
    def file_name(self) -> str:
        return self.file or f"{self.name}.tflite"


class MlperfTinyInfo(_Frozen):
    """Which MLPerf Tiny benchmark the model stands for: its id, input conversion and result format."""

    benchmark: str = pydantic.Field(description="kws01, vww01, ic01 or ad01 (strww01 is known by id only).")


class FamilyManifest(_Frozen):
    family: str | None = pydantic.Field(None, description="Default: the folder's name.")
    task: str | None = pydantic.Field(
        None, description="image-classification (top-1/top-5), binary-detection (false-alarm rate, "
        "recall, F1, AUC), anomaly-detection (AUC of the score), regression (MAE, RMSE) or latency; "
        "default: image-classification with a dataset, else latency (docs/metrics.md).")
    decision_threshold: float | None = pydantic.Field(
        None, description="Detection tasks: a sample is flagged when its score >= this (default 0.5; "
        "anomaly-detection without one reports AUC only).")
    num_classes: int | None = pydantic.Field(None, ge=1, description="Default: the model's output size.")
    input_shape: list[int] | None = None
    dataset: DatasetInfo | None = None
    reference_variant: str | None = pydantic.Field(
        None, description="The baseline accuracy deltas are taken against; default: fp32 if present, else the first.")
    generator: dict[str, str | int | None] | None = None
    mlperf_tiny: MlperfTinyInfo | None = None
    variants: list[VariantInfo] | None = pydantic.Field(
        None, description="Default: every model file (*.tflite, *.onnx, *.pte) in the folder, sorted by name.")

    @pydantic.field_validator("task")
    @classmethod
    def _known_task(cls, task: str | None) -> str | None:
        if task is not None and task not in TASKS:
            raise ValueError(f"unknown task {task!r}; use one of {', '.join(TASKS)}")
        return task

    def variant(self, name: str) -> VariantInfo | None:
        return next((v for v in self.variants or () if v.variant_name == name), None)


def load_manifest(path: Path) -> FamilyManifest:
    """`path` is a family directory or its manifest.json; a directory without one is a family
    of every .tflite in it. The result has every default filled in."""
    directory = path if path.is_dir() else path.parent
    file = directory / MANIFEST
    if not file.exists():
        if not path.is_dir():
            raise ConfigError(f"{file}: model manifest not found")
        return complete(FamilyManifest(), directory)
    return complete(_read(file), directory)


def _read(file: Path) -> FamilyManifest:
    try:
        text = file.read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: unreadable model manifest: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"{file}: malformed JSON: {exc}") from None
    return configfile.validate(data, FamilyManifest, file, _json_lines(text))


def _json_lines(text: str) -> dict[configfile.Loc, int]:
    # JSON is YAML: the YAML composer gives each key its line, for file:line:field errors.
    try:
        import yaml

        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except Exception:  # noqa: BLE001 - a JSON that YAML cannot read still validates, at line 1
        return {}
    lines: dict[configfile.Loc, int] = {}
    if node is not None:
        configfile.index_lines(node, (), lines)
    return lines


def complete(manifest: FamilyManifest, directory: Path) -> FamilyManifest:
    """Fill in what the manifest leaves out from the folder's own files."""
    variants = manifest.variants
    if variants is None:
        from harness.models.formats import model_suffixes

        suffixes = model_suffixes()
        variants = [VariantInfo(file=p.name) for p in sorted(directory.iterdir())
                    if p.suffix in suffixes]
    names = [v.variant_name for v in variants]
    dataset = manifest.dataset
    if dataset is None and manifest.variants is None:
        from harness.config.datasets import find_dataset

        found = find_dataset(directory)
        dataset = DatasetInfo(file=found.name) if found else None
    reference = manifest.reference_variant or ("fp32" if "fp32" in names else (names[0] if names else None))
    return manifest.model_copy(update={
        "family": manifest.family or directory.name,
        "task": manifest.task or ("image-classification" if dataset else "latency"),
        "dataset": dataset, "reference_variant": reference, "variants": variants,
    })


def single_model(path: Path) -> FamilyManifest:
    """A lone .tflite: its own family (named after the file), one variant, no dataset unless its
    folder's manifest lists the file (then that family's variant, with its dataset and accuracy)."""
    listed = path.parent / MANIFEST
    if listed.is_file():
        family = complete(_read(listed), path.parent)
        chosen = [v for v in family.variants or () if v.file_name == path.name]
        if chosen:
            reference = family.reference_variant if family.variant(family.reference_variant or "") else None
            return family.model_copy(update={"variants": chosen,
                                             "reference_variant": reference or chosen[0].variant_name})
    return FamilyManifest(family=path.stem, task="latency", reference_variant=path.stem,
                          variants=[VariantInfo(name=path.stem, file=path.name)])
