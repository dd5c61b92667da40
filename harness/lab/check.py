"""`harness check`: per device, the variant of each family to deploy, the rule that chose it, why
each other variant lost or does not fit.

This is the seed's "select the model version by device" and, with --device all, "which devices
can run this model". The device's tier, TOPS, RAM and model-volume cap and the suite's latency
budget decide; latency and working memory come from the store where it measured this device and
model file, else from the model (labelled: an estimate, an upper bound).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from harness.measures import memory
from harness.measures.tradeoff import Point, headline, headline_name, pareto_front
from harness.config import profiles as profile_mod
from harness.lab.inspection import inspect_model
from harness.models import fit as fitting
from harness.locations import default_store
from harness.results.store import Store, normalize_url
from harness.config.targets import load_targets

Measurements = dict[tuple[str, str, str, str], fitting.Measured]  # (device, family, variant, sha256)
Headlines = dict[tuple[str, str, str, str], tuple[str, float]]  # ... -> (metric name, measured value)


def check_suite(targets: list[Path], device: str, profiles_dir: Path | None,
                store_url: str | None = None) -> dict[str, Any]:
    suite = load_targets(targets)
    devices = (profile_mod.load_all(profiles_dir) if device == "all"
               else [profile_mod.resolve(device, profiles_dir)])
    inspections = {case.key: inspect_model(case.model_path) for case in suite.cases}
    measured, source = measurements(store_url)
    headlines = measured_headlines(source)
    report: dict[str, Any] = {"suite": suite.name, "store": source, "devices": []}
    runnable: dict[str, list[str]] = {family: [] for family in suite.families}
    for profile in devices:
        budget = profile.thresholds.merged(suite.thresholds).latency_ms
        entry = {"device": profile.name, "tier": profile.tier.value, "runtime": profile.runtime.value,
                 "tops": profile.compute_tops, "ram": profile.ram, "cap": profile.model_volume_cap,
                 "latency_budget_ms": budget, "families": []}
        for family in suite.families:
            fits, latencies = [], {}
            for c in (c for c in suite.cases if c.family == family):
                found = inspections[c.key]
                facts = found.facts(c.family, c.variant, c.manifest_accuracy)
                key = (profile.name, c.family, c.variant, found.model.sha256)
                seen = measured.get(key)
                # the task's measured headline (a detector's AUC) over the manifest's top-1: this
                # device's, else the same model file's on any device (a reference class is never run)
                found_metric = headlines.get(key) or headlines.get(("*", *key[1:]))
                if found_metric is not None:
                    facts = dataclasses.replace(facts, accuracy=found_metric[1], accuracy_metric=found_metric[0])
                fits.append(fitting.check(facts, profile, seen))
                latencies[c.variant] = fitting.latency(facts, profile, seen)
            chosen = fitting.select(fits, profile, budget, latencies)
            if chosen.chosen is not None:
                runnable[family].append(profile.name)
            front = pareto_members(fits, latencies)
            entry["families"].append({
                "family": family, "best": chosen.chosen.facts.variant if chosen.chosen else None,
                "rule": chosen.rule, "variants": [_variant(f, chosen) for f in fits],
                "front": front, "front_note": _front_note(chosen, front),
            })
        report["devices"].append(entry)
    report["runnable_on"] = runnable
    return report


def pareto_members(fits: list[fitting.Fit], latencies: dict[str, fitting.Latency | None]) -> list[str]:
    """The variants that fit and that no other fitting variant beats on both latency (lower)
    and accuracy or the task's headline metric (higher): the accuracy/latency front."""
    points = [Point(f.facts.variant, lat.ms, f.facts.accuracy, f.facts.model_bytes, {})
              for f in fits if f.fits and f.facts.accuracy is not None
              and (lat := latencies.get(f.facts.variant)) is not None]
    return [p.label for p in pareto_front(points)]


def _front_note(chosen: fitting.Selection, front: list[str]) -> str:
    if not front:
        return "no Pareto front: no fitting variant has both a latency and an accuracy"
    pick = chosen.chosen.facts.variant if chosen.chosen else None
    if pick is None:
        return f"front: {', '.join(front)}; none chosen"
    if pick in front:
        return f"front: {', '.join(front)}; {pick} is on it and the rule picked it among them"
    return (f"front: {', '.join(front)}; {pick} is not on it: the rule prefers a smaller model within the tier's "
            f"accuracy tolerance over a faster or more accurate one")


def measured_headlines(url: str | None) -> Headlines:
    """The latest successful result's task headline metric (harness/measures/metrics.py) per case."""
    if url is None:
        return {}
    found: Headlines = {}
    for r in Store(url).results():
        value = headline(r)
        if r["status"] == "ok" and r.get("model_sha256") and value is not None:
            found[(r["device"], r["family"], r["variant"], r["model_sha256"])] = (headline_name(r), value)
            found[("*", r["family"], r["variant"], r["model_sha256"])] = (headline_name(r), value)
    return found


def measurements(store_url: str | None) -> tuple[Measurements, str | None]:
    """The latest successful result of every device × variant × model file in the store; an
    absent SQLite store is not created (nothing measured yet: every latency is estimated)."""
    url = normalize_url(store_url or default_store())
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return {}, None
    found: Measurements = {}
    for r in Store(url).results():  # ordered by id: a later result replaces an earlier one
        if r["status"] == "ok" and r.get("model_sha256"):
            found[(r["device"], r["family"], r["variant"], r["model_sha256"])] = fitting.Measured(
                r["run_id"], r.get("latency_p50_us"), memory.working_memory(r))
    return found, url


def _variant(f: fitting.Fit, chosen: fitting.Selection) -> dict[str, Any]:
    facts = f.facts
    lat = chosen.latencies.get(facts.variant)
    return {"variant": facts.variant, "fits": f.fits, "reasons": f.reasons,
            "chosen": chosen.chosen is f, "lost": chosen.lost.get(facts.variant),
            "model_bytes": facts.model_bytes, "activation_bytes": facts.activation_bytes,
            "activation_bound": facts.activation_bound, "activation": facts.activation_label,
            "latency_ms": lat.ms if lat else None,
            "latency_source": None if lat is None else ("measured" if lat.measured else "estimated"),
            "latency": lat.label if lat else "not known (no measurement, no TOPS)",
            "quantization": facts.quantization, "accuracy": facts.accuracy,
            "tflm_runnable": facts.tflm_runnable}
