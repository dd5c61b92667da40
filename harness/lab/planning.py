"""Pre-flight of a suite on a device, before anything is written.

Every model parses and matches its manifest's sha256, every dataset matches its model's input
shape and holds labels and inputs an accuracy can be computed from (harness/config/datasets.py), the
threads fit the board's cores (bad input is a ConfigError, exit 2), and the fit check decides
which cases are skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from harness.config import datasets
from harness.errors import ConfigError, ModelError
from harness.models import fit as fitting
from harness.models.formats import ModelInfo, read_model
from harness.config.profiles import DeviceProfile
from harness.config.suites import ModelCase, Suite


@dataclass(frozen=True)
class PlannedCase:
    case: ModelCase
    fit: fitting.Fit
    model_sha256: str
    model_bytes: int
    model_gzip_bytes: int
    planned_activation_bytes: int | None = None  # from the model's greedy plan, not measured
    model_macs: int | None = None  # CONV/DEPTHWISE/FC multiply-accumulates, from the flatbuffer


def plan(suite: Suite, device: DeviceProfile) -> list[PlannedCase]:
    """Check every input before the run starts; bad input is a ConfigError (exit 2)."""
    _check_threads(suite, device)
    planned = []
    for case in _reference_first(suite.cases):
        try:
            model = read_model(case.model_path)
        except ModelError as exc:
            raise ConfigError(str(exc)) from None
        expected = suite.families[case.family].variant(case.variant)
        if expected is not None and expected.sha256 is not None and expected.sha256 != model.sha256:
            raise ConfigError(f"{case.model_path}: sha256 differs from its manifest; "
                              "the file changed since its manifest was written")
        if case.dataset_path is not None:
            case = replace(case, dataset_path=_dataset(case, suite, model))
        planned.append(PlannedCase(case, fitting.check(_facts(case, device), device),
                                   model.sha256, model.bytes, model.gzip_bytes,
                                   model.planned_activation_bytes, model.macs or None))
    return planned


def _facts(case: ModelCase, device: DeviceProfile) -> fitting.VariantFacts:
    # Only a TFLite-Micro device needs the (slower) real arena probe to decide the fit.
    if device.runtime.microcontroller:
        from harness.lab.inspection import inspect_model

        return inspect_model(case.model_path).facts(case.family, case.variant, case.manifest_accuracy)
    model = read_model(case.model_path)
    return fitting.VariantFacts(
        family=case.family, variant=case.variant, file_name=case.model_path.name,
        model_bytes=model.bytes, quantization=model.quantization, accuracy=case.manifest_accuracy,
        activation_bytes=model.activation_bytes_upper_bound, tflm_runnable=None,
        operators=tuple(model.operators), macs=model.macs, activation_bound=True,
        model_format=model.format,
    )


def _dataset(case: ModelCase, suite: Suite, model: ModelInfo) -> Path:
    """The dataset checked against this model (harness/config/datasets.py); the .npz runners read."""
    assert case.dataset_path is not None
    family = suite.families[case.family]
    info = family.dataset
    io = datasets.ModelIO(model.inputs[0].shape, model.inputs[0].dtype,
                          int(np.prod(model.outputs[0].shape[1:])) if model.outputs else 0)
    return datasets.prepare(case.dataset_path, io, case.model_path.name, case.tiny_benchmark,
                            sha256=info.sha256 if info else None, samples=info.samples if info else None,
                            classes=family.num_classes)


def _check_threads(suite: Suite, device: DeviceProfile) -> None:
    # More threads than cores makes LiteRT crash (SIGSEGV at 100000) or time-slice: a bad input.
    local = str(device.transport).startswith("local:")
    cores = device.cores or (os.cpu_count() if local else None)
    if cores is not None and suite.run.threads > cores:
        raise ConfigError(f"{suite.path}: field 'run.threads': {suite.run.threads} threads, but {device.name} "
                          f"has {cores} cores; use at most {cores}")


def _reference_first(cases: tuple[ModelCase, ...]) -> list[ModelCase]:
    # The reference (fp32) variant is measured first so the others compare with it.
    return sorted(cases, key=lambda c: (c.family, c.variant != c.reference_variant))
