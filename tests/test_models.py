"""Static inspection of the committed models, the TFLite-Micro probe, and the fit check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import ModelError
from harness.lab.inspection import inspect_model
from harness.models import fit as fitting
from harness.models.manifest import load_manifest
from harness.models.tflite_model import read_model
from harness.config.profiles import load_profile
from tests.conftest import MODELS, REPO

DIGITS = MODELS / "digits-cnn"
MOBILENET = MODELS / "mobilenetv2-035-96"
MICRO_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D",
             "ADD", "RESHAPE", "SOFTMAX", "MEAN", "PAD", "QUANTIZE", "DEQUANTIZE"}


def test_manifest_matches_files() -> None:
    for family in (DIGITS, MOBILENET):
        manifest = load_manifest(family)
        for variant in manifest.variants:
            model = read_model(family / variant.file)
            assert (model.sha256, model.bytes, model.gzip_bytes) == (variant.sha256, variant.bytes, variant.gzip_bytes)


def test_quantization_is_classified() -> None:
    kinds = {p.stem: read_model(p).quantization for p in DIGITS.glob("*.tflite")}
    assert kinds == {"fp32": "float32", "fp16": "float16", "int8-dynamic": "int8 dynamic-range",
                     "int8": "int8 full-integer", "pruned-int8": "int8 full-integer",
                     "tiny-int8": "int8 full-integer"}


def test_int8_model_facts() -> None:
    model = read_model(DIGITS / "int8.tflite")
    assert model.inputs[0].shape == (1, 8, 8, 1) and model.inputs[0].dtype == "int8"
    assert model.inputs[0].scale and model.outputs[0].dtype == "int8"
    assert set(model.operators) <= MICRO_OPS
    assert model.macs > 0 and model.parameters > 0


def test_pruning_shows_in_gzip_not_in_bytes() -> None:
    dense, pruned = read_model(DIGITS / "int8.tflite"), read_model(DIGITS / "pruned-int8.tflite")
    assert pruned.sparsity >= 0.4 > dense.sparsity
    assert abs(pruned.bytes - dense.bytes) < 0.05 * dense.bytes
    assert pruned.gzip_bytes < 0.85 * dense.gzip_bytes


def test_mobilenet_macs_plausible() -> None:
    # MobileNetV2 alpha 0.35 at 96x96: about 11-12 M MACs in the backbone.
    model = read_model(MOBILENET / "fp32.tflite")
    assert 5e6 < model.macs < 2e7
    assert model.inputs[0].shape == (1, 96, 96, 3)


@pytest.mark.parametrize("content", [b"", b"not a model at all", b"\x1c\x00\x00\x00TFL3" + b"\xff" * 40])
def test_corrupt_model_names_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.tflite"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=str(path)):
        read_model(path)


def test_truncated_model(tmp_path: Path) -> None:
    path = tmp_path / "truncated.tflite"
    path.write_bytes((DIGITS / "int8.tflite").read_bytes()[:600])
    with pytest.raises(ModelError, match=f"{path}: corrupt TFLite model"):
        read_model(path)


def test_missing_model() -> None:
    with pytest.raises(ModelError, match="model file not found"):
        read_model(Path("/nonexistent/model.tflite"))


@pytest.mark.slow
def test_tflm_probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    int8 = inspect_model(DIGITS / "int8.tflite")
    assert int8.tflm_runnable and 1000 < int8.tflm_arena_bytes < 200_000
    assert inspect_model(DIGITS / "fp32.tflite").tflm_runnable
    for rejected in ("fp16", "int8-dynamic"):
        found = inspect_model(DIGITS / f"{rejected}.tflite")
        assert not found.tflm_runnable and found.tflm_error
    mobilenet = inspect_model(MOBILENET / "int8.tflite")
    assert mobilenet.tflm_runnable and mobilenet.tflm_arena_bytes > 50_000
    cached = list((tmp_path / "edge-harness" / "inspect").glob("*.json"))
    assert len(cached) == 5 and json.loads(cached[0].read_text())["runnable"] in (True, False)


def facts(variant: str, model_bytes: int, accuracy: float | None, arena: int = 10_000,
          runnable: bool | None = True) -> fitting.VariantFacts:
    return fitting.VariantFacts("fam", variant, f"{variant}.tflite", model_bytes, "int8 full-integer",
                                accuracy, arena, runnable, None if runnable is not False else "unsupported op")


def test_fit_rules() -> None:
    iot = load_profile(REPO / "device_profiles" / "iot.yaml")  # tflm, 512 KiB RAM, 2 MiB flash, 1 MB cap
    assert fitting.check(facts("a", 900_000, 0.9), iot).fits
    assert "model-volume cap" in fitting.check(facts("a", 1_100_000, 0.9), iot).reasons[0]
    assert "arena" in fitting.check(facts("a", 100_000, 0.9, arena=600_000), iot).reasons[0]
    assert "TFLite-Micro cannot run it" in fitting.check(facts("a", 1000, 0.9, runnable=False), iot).reasons[0]


def test_select_prefers_accuracy_then_the_smallest_model() -> None:
    host = load_profile(REPO / "device_profiles" / "flagship.yaml")
    fits = [fitting.check(f, host) for f in (facts("fp32", 400_000, 0.975), facts("int8", 100_000, 0.972),
                                              facts("tiny", 10_000, 0.93))]
    best = fitting.select(fits, host, None, {})
    assert best.chosen.facts.variant == "int8"  # within 0.5 points of fp32, and 4x smaller
    assert "larger model" in best.lost["fp32"] and "beyond this tier's tolerance" in best.lost["tiny"]
    fits[1] = fitting.check(facts("int8", 100_000, 0.96), host)
    assert fitting.select(fits, host, None, {}).chosen.facts.variant == "fp32"
    latency_only = [fitting.check(facts(v, b, None), host) for v, b in (("fp32", 2_000_000), ("int8", 600_000))]
    assert fitting.select(latency_only, host, None, {}).chosen.facts.variant == "int8"
    assert fitting.select([fitting.check(facts("x", 10**9, 0.9), host)], host, None, {}).chosen is None


def test_a_tflm_crash_is_a_model_error_not_a_dead_harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/data/tflm-sigfpe.tflite: tiny-int8 with a few bytes changed (found by fuzzing), a
    valid flatbuffer on which TFLite-Micro dies of SIGFPE. The subprocess dies, not the harness."""
    from harness.deadline import Deadline
    from harness.runners.agent_runner import AgentRunner
    from harness.runners.base import Job
    from harness.transports.local import LocalTransport

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    model = REPO / "tests" / "data" / "tflm-sigfpe.tflite"
    job = Job(model_path=model, dataset_path=None, warmup_count=0, warmup_min_seconds=0,
              measure_count=1, measure_min_seconds=0)
    with pytest.raises(ModelError, match=r"tflm crashed \(SIGFPE\) on this model"):
        AgentRunner(LocalTransport(), "tflm").measure(job, Deadline(60))
    found = inspect_model(model)
    assert not found.tflm_runnable and "crashed (SIGFPE)" in found.tflm_error
