"""`harness check`: per device, the best variant of each family and why the others don't fit.

This is the seed's "select the model version by device" and, with --device all, "which
devices can run this model".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import profiles as profile_mod
from harness.inspection import inspect_model
from harness.models import fit as fitting
from harness.targets import load_targets


def check_suite(targets: list[Path], device: str, profiles_dir: Path | None) -> dict[str, Any]:
    suite = load_targets(targets)
    devices = (profile_mod.load_all(profiles_dir) if device == "all"
               else [profile_mod.resolve(device, profiles_dir)])
    inspections = {case.key: inspect_model(case.model_path) for case in suite.cases}
    report: dict[str, Any] = {"suite": suite.name, "devices": []}
    runnable: dict[str, list[str]] = {family: [] for family in suite.families}
    for profile in devices:
        entry = {"device": profile.name, "tier": profile.tier.value, "runtime": profile.runtime.value,
                 "families": []}
        for family in suite.families:
            cases = [c for c in suite.cases if c.family == family]
            fits = [fitting.check(inspections[c.key].facts(c.family, c.variant, c.manifest_accuracy), profile)
                    for c in cases]
            chosen = fitting.best(fits)
            if chosen is not None:
                runnable[family].append(profile.name)
            entry["families"].append({
                "family": family, "best": chosen.facts.variant if chosen else None,
                "variants": [_variant(f) for f in fits],
            })
        report["devices"].append(entry)
    report["runnable_on"] = runnable
    return report


def _variant(f: fitting.Fit) -> dict[str, Any]:
    facts = f.facts
    return {"variant": facts.variant, "fits": f.fits, "reasons": f.reasons,
            "model_bytes": facts.model_bytes, "activation_bytes": facts.activation_bytes,
            "quantization": facts.quantization, "accuracy": facts.accuracy,
            "tflm_runnable": facts.tflm_runnable}
