"""The seed's wearable case end to end: the anomaly-detection families measured on the host
(LiteRT), on TFLite-Micro and on the emulated Cortex-M board, stored with their task metrics
(false-alarm rate, recall, AUC), judged by a false-alarm threshold, and published."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.models.manifest import load_manifest
from harness.results.store import Store
from harness.config.suites import load_suite
from tests.conftest import MODELS, REPO, require_tool
from tests.suite_files import write_suite

pytestmark = pytest.mark.slow
cli = CliRunner()
FAMILY = "wearable-hr"


def harness(*args: str) -> tuple[int, str]:
    result = cli.invoke(app, [*args, "--profiles", str(REPO / "device_profiles")])
    return result.exit_code, result.output


def _rows(db: str) -> dict[str, dict]:
    return {r["variant"]: r for r in Store(db).results()}


def test_new_families_have_valid_manifests() -> None:
    for family in (FAMILY, "wearable-hr-nas"):
        manifest = load_manifest(MODELS / family)
        assert manifest.task == "anomaly-detection" and manifest.decision_threshold is not None
        assert len(manifest.variants or ()) >= 5
        assert {v.technique for v in manifest.variants} <= {
            "baseline", "pruning", "quantization", "distillation", "no-distillation", "architecture-search"}
    nas = load_manifest(MODELS / "wearable-hr-nas")
    assert 8 <= len(nas.variants) <= 12
    assert (MODELS / FAMILY / "eval.npz").stat().st_size < 300_000


def test_each_variant_runs_at_its_own_operating_point() -> None:
    # a pruned, quantized or distilled detector scores on its own scale: one family threshold
    # (the fp32 teacher's) put the int8 variant at 6.3 % false alarms; each is now its own,
    # chosen on a validation split (tools/make_wearable.py)
    manifest = load_manifest(MODELS / FAMILY)
    cases = {c.variant: c for c in load_suite(REPO / "suites" / "wearable.yaml").cases if c.family == FAMILY}
    for name, case in cases.items():
        own = manifest.variant(name).decision_threshold
        assert own is not None and case.decision_threshold == own, name
    assert len({c.decision_threshold for c in cases.values()}) > 1


@pytest.fixture(scope="module")
def host_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    tmp = tmp_path_factory.mktemp("wearable")
    db = f"sqlite:///{tmp / 'r.sqlite'}"
    code, output = harness("run", str(REPO / "suites" / "wearable.yaml"), "--device", "host", "--store", db,
                           "--out", str(tmp / "report"))
    assert code in (0, 1), output  # 1: a threshold missed (the seed's FAR limit is strict); stored either way
    return db, tmp


def test_detection_metrics_stored(host_run) -> None:
    db, _ = host_run
    rows = _rows(db)
    assert set(rows) >= {"fp32", "pruned", "int8", "distilled-int8", "student-int8", "w16-d3"}
    for r in rows.values():
        assert r["status"] == "ok" and r["task"] == "anomaly-detection"
        m = r["metrics"]
        assert 0 <= m["false_alarm_rate"] <= 1 and 0 <= m["recall"] <= 1 and 0.5 <= m["auc"] <= 1
        assert r["accuracy_top1"] is None  # an argmax over a detector's outputs is not a metric
        names = {c["name"] for c in r["thresholds"]}
        assert {"false_alarm_rate", "latency_p50_ms"} <= names
        if r["family"] == FAMILY:  # measured at the variant's own operating point
            assert m["decision_threshold"] == load_manifest(MODELS / FAMILY).variant(r["variant"]).decision_threshold
    assert rows["pruned"]["model_bytes"] < rows["fp32"]["model_bytes"] / 2  # channels removed, not zeroed
    assert rows["pruned"]["model_macs"] < rows["fp32"]["model_macs"] / 2
    assert rows["fp32"]["cpu_utilization"] is None or 0 < rows["fp32"]["cpu_utilization"] <= 1.5


def test_white_paper_shows_matrix_and_front(host_run) -> None:
    db, tmp = host_run
    code, output = harness("report", "--store", db, "--out", str(tmp / "paper"), "--no-pdf",
                           "--definition", str(REPO / "reports" / "wearable.yaml"))
    assert code == 0, output
    html = next((tmp / "paper").glob("*.html")).read_text()
    assert "The compression matrix, measured" in html and "30–70 %" in html
    assert "Pareto front on host" in html and "Non-dominated on host" in html


def test_false_alarm_threshold_fails_the_case(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, families={FAMILY: ["student-int8"]}, extra="thresholds:\n  false_alarm_rate: 0.1 %\n")
    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    code, output = harness("run", str(suite), "--device", "host", "--store", db)
    row = _rows(db)["student-int8"]
    far = row["metrics"]["false_alarm_rate"]
    check = next(c for c in row["thresholds"] if c["name"] == "false_alarm_rate")
    assert far > 0.001 and check["passed"] is False and row["thresholds_passed"] is False
    assert code == 1, output


@pytest.mark.parametrize("device, suite", [("host-tflm", "wearable-int8"), ("qemu-cortex-m", "wearable-int8")])
def test_int8_variants_on_microcontroller_runtimes(tmp_path: Path, device: str, suite: str) -> None:
    if device == "qemu-cortex-m":
        require_tool("qemu-system-arm")
        require_tool("arm-none-eabi-gcc")
    path = write_suite(tmp_path, families={FAMILY: ["int8", "distilled-int8"]})
    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    code, output = harness("run", str(path), "--device", device, "--store", db)
    assert code == 0, output
    rows = _rows(db)
    for r in rows.values():
        assert r["status"] == "ok", r["reason"]
        assert "auc" in r["metrics"] and "false_alarm_rate" in r["metrics"]
        # TFLite-Micro on the host: the agent's CPU share; QEMU's virtual clock: not measured
        assert (r["cpu_utilization"] is None) == (device == "qemu-cortex-m")
    print(json.dumps({v: {k: r["metrics"][k] for k in ("false_alarm_rate", "auc")} for v, r in rows.items()}))
