"""`harness check` selects the variant per device: tier, TOPS, RAM, model-volume cap, the suite's
latency budget, and measured latency from the store where it has one (else an estimate)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.models import fit as fitting
from harness.models.tflite_model import read_model
from harness.config.profiles import load_profile
from harness.results.store import Store
from tests.conftest import MODELS, REPO

cli = CliRunner()
PROFILES = REPO / "device_profiles"
QUICKSTART = REPO / "suites" / "quickstart.yaml"


def check(device: str, *extra: str) -> dict:
    result = cli.invoke(app, ["check", str(QUICKSTART), "--device", device, "--profiles", str(PROFILES),
                              "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def family(report: dict, name: str = "digits-cnn") -> dict:
    [device] = report["devices"]
    return next(f for f in device["families"] if f["family"] == name)


def facts(variant: str, model_bytes: int, accuracy: float | None, macs: int) -> fitting.VariantFacts:
    return fitting.VariantFacts("fam", variant, f"{variant}.tflite", model_bytes, "int8 full-integer",
                                accuracy, 10_000, True, macs=macs, activation_bound=True)


def test_tiers_get_different_answers_and_every_loser_says_why(tmp_path: Path) -> None:
    empty = str(tmp_path / "none.sqlite")  # no store: nothing measured, every latency estimated
    flagship, wearable = family(check("flagship", "--store", empty)), family(check("wearable", "--store", empty))
    # flagship: within 0.5 points of the best (97.5 %) and smallest: the int8 dynamic-range model;
    # wearable trades up to 2 points for size: the tiny model (95.6 %, 3.9 KiB)
    assert flagship["best"] == "int8-dynamic" and wearable["best"] == "tiny-int8"
    for fam in (flagship, wearable):
        for v in fam["variants"]:
            assert v["fits"] and v["latency_source"] == "estimated" and v["latency"].startswith("≥")
            assert v["chosen"] or v["lost"], v  # every fitting variant that lost says why
    assert "0.5 accuracy points" in flagship["rule"] and "2 accuracy points" in wearable["rule"]
    assert "beyond this tier's tolerance" in next(v["lost"] for v in flagship["variants"] if v["variant"] == "tiny-int8")
    # fp16's activations are a guess from the model (TFLite-Micro cannot run it): labelled a bound
    fp16 = next(v for v in wearable["variants"] if v["variant"] == "fp16")
    assert fp16["activation_bound"] and "upper bound" in fp16["activation"]
    assert not tmp_path.joinpath("none.sqlite").exists()  # check never creates a store


def test_a_measured_latency_over_the_budget_loses(tmp_path: Path) -> None:
    db = str(tmp_path / "r.sqlite")
    store = Store(db)
    run_id = store.start_run({"run_id": "slow-night", "suite": "quickstart", "devices": ["host"]})
    model = read_model(MODELS / "digits-cnn" / "int8-dynamic.tflite")
    store.record_result({"run_id": run_id, "device": "host", "family": "digits-cnn", "variant": "int8-dynamic",
                         "status": "ok", "runtime": "litert", "model_sha256": model.sha256,
                         "model_bytes": model.bytes, "latency_p50_us": 250_000.0,
                         "working_memory_bytes": 5_000_000, "working_memory_method": "rss-increase"})
    store.finish_run(run_id, "complete")
    digits = family(check("host", "--store", db))
    lost = next(v for v in digits["variants"] if v["variant"] == "int8-dynamic")
    assert lost["latency_source"] == "measured" and "exceeds the latency budget of 200 ms" in lost["lost"]
    assert "slow-night" in lost["latency"]
    assert digits["best"] == "int8"  # the next smallest within 0.5 points of the best
    # host has no TOPS figure: the others' latency is not known, and says so
    assert next(v for v in digits["variants"] if v["variant"] == "fp32")["latency_source"] is None


def test_an_estimate_over_the_budget_loses_and_the_rule_is_printed() -> None:
    iot = load_profile(PROFILES / "iot.yaml")  # 0.0005 TOPS
    fits = [fitting.check(f, iot) for f in (facts("big", 400_000, 0.97, macs=50_000_000),
                                            facts("small", 100_000, 0.96, macs=1_000_000))]
    latencies = {f.facts.variant: fitting.latency(f.facts, iot, None) for f in fits}
    assert latencies["big"].ms == pytest.approx(2 * 50e6 / 0.5e9 * 1000)  # 200 ms at peak TOPS
    chosen = fitting.select(fits, iot, 150.0, latencies)
    assert chosen.chosen.facts.variant == "small"
    assert "estimated" in chosen.lost["big"] and "exceeds the latency budget of 150 ms" in chosen.lost["big"]
    # a measurement on the device replaces the estimate
    measured = fitting.Measured("run-1", 90_000.0, None)
    assert fitting.latency(fits[0].facts, iot, measured).measured
    result = cli.invoke(app, ["check", str(QUICKSTART), "--device", "wearable", "--profiles", str(PROFILES),
                              "--store", "/nonexistent/dir/none.sqlite"])
    assert result.exit_code == 0, result.output
    assert "Rule: wearable tier" in result.output and "estimated" in result.output


def test_a_loser_names_the_task_metric_it_lost_on() -> None:
    wearable = load_profile(PROFILES / "wearable.yaml")
    detectors = [dataclasses.replace(facts(v, b, auc, macs=1000), accuracy_metric="auc")
                 for v, b, auc in (("good", 30_000, 0.987), ("weak", 5_000, 0.78))]
    chosen = fitting.select([fitting.check(f, wearable) for f in detectors], wearable, 200.0, {})
    assert chosen.chosen.facts.variant == "good"
    assert chosen.lost["weak"].startswith("auc 78.00% is 20.70 points below good")
    assert "top-1" not in chosen.rule and "2 accuracy points" in chosen.rule
