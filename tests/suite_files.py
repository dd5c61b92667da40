"""Small suites for tests, written into a temporary directory, pointing at the committed models."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import MODELS

FAST_RUN = """\
run:
  warmup: {count: 3, min_seconds: 0}
  measure: {count: 30, min_seconds: 0}
  timeout: 120 s
"""


def write_suite(directory: Path, *, families: dict[str, list[str] | None] | None = None,
                extra: str = "", name: str = "test-suite", models_root: Path = MODELS) -> Path:
    families = families if families is not None else {"digits-cnn": None, "mobilenetv2-035-96": None}
    lines = [f"name: {name}", "models:"]
    for family, variants in families.items():
        lines.append(f"  - path: {models_root / family}")
        if variants is not None:
            lines.append(f"    variants: [{', '.join(variants)}]")
    path = directory / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n" + FAST_RUN + extra)
    return path


def copy_family(directory: Path, family: str = "digits-cnn") -> Path:
    """A private copy of a model family that a test may damage."""
    target = directory / "models" / family
    shutil.copytree(MODELS / family, target)
    return target


def write_emulated_mcu_profile(directory: Path, name: str, description: str, extra: str = "",
                               transport: str = "qemu://mps2-an385") -> Path:
    """A profile of the emulated Cortex-M board running the reference firmware, plus `extra`
    YAML (deadlines, a meter, a labgrid place) for the test at hand."""
    path = directory / f"{name}.yaml"
    path.write_text(f"""\
name: {name}
description: {description}
tier: iot
transport: {transport}
runtime: edge-harness-fw
emulated: true
compute_tops: null
ram: 4 MiB
flash: 4 MiB
model_volume_cap: 1 MB
""" + extra)
    return path
