"""What `harness run/check` are pointed at: a suite file, or models given directly.

.tflite files and model folders need no suite: one is built in memory with the suite defaults,
and its YAML is stored with the run exactly like a suite file's text, so the run can be
resumed, compared and reported like any other.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from harness.config import configfile
from harness.errors import ConfigError
from harness.config.suites import Suite, SuiteFile, SuiteModel, build_suite, load_suite

SUITE_SUFFIXES = (".yaml", ".yml")


def load_targets(paths: list[Path]) -> Suite:
    """One suite file, or any number of model files (.tflite, .onnx, .pte) and model folders."""
    if len(paths) == 1 and paths[0].suffix in SUITE_SUFFIXES:
        return load_suite(paths[0])
    if any(p.suffix in SUITE_SUFFIXES for p in paths):
        raise ConfigError("give one suite (.yaml), or .tflite files and model folders, not both")
    configfile.raise_all([problem for p in paths if (problem := _problem(p))])
    spec = SuiteFile(name=_name(paths), models=[SuiteModel(path=str(p.resolve())) for p in paths])
    text = "# built by `harness` from the models given on its command line\n" + yaml.safe_dump(
        spec.model_dump(mode="json", exclude_none=True), sort_keys=False)
    return build_suite(spec, paths[0].resolve(), text, {})


def _problem(path: Path) -> str | None:
    if path.is_dir():
        return None
    if not path.exists():
        return f"{path}: no such file or folder"
    from harness.errors import ModelError
    from harness.models.formats import model_suffixes, read_model

    if path.suffix in model_suffixes():
        return None  # its content is checked, and a corrupt file named, when the run is planned
    try:  # a model under another name: recognised by its content
        read_model(path)
    except ModelError:
        return f"{path}: not a .tflite model, a model folder or a suite (.yaml), nor by its content .onnx or .pte"
    return None


def _name(paths: list[Path]) -> str:
    name = ", ".join(str(p) for p in paths)
    return name if len(name) <= 200 else name[:197] + "..."
