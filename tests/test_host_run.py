"""End to end on the host: real models through the LiteRT and TFLite-Micro runners into SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.results.store import Store
from tests.conftest import REPO
from tests.suite_files import write_suite

pytestmark = pytest.mark.slow
cli = CliRunner()


def harness(*args: str) -> tuple[int, str]:
    result = cli.invoke(app, [*args, "--profiles", str(REPO / "device_profiles")]
                        if args[0] in ("run", "check") else list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def host_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, str, Path]:
    tmp = tmp_path_factory.mktemp("host")
    suite = write_suite(tmp)
    db = f"sqlite:///{tmp / 'r.sqlite'}"
    code, output = harness("run", str(suite), "--device", "host", "--store", db, "--out", str(tmp / "report"))
    assert code == 0, output
    store = Store(db)
    return store, store.latest_run_id(), tmp


def test_every_variant_measured(host_run) -> None:
    store, run_id, _ = host_run
    rows = {(r["family"], r["variant"]): r for r in store.results(run_id)}
    assert len(rows) == 8 and all(r["status"] == "ok" for r in rows.values())
    for r in rows.values():
        assert r["latency_n"] >= 30 and 0 < r["latency_p50_us"] <= r["latency_p99_us"]
        assert r["latency_ci_low_us"] <= r["latency_p50_us"] <= r["latency_ci_high_us"]
        assert r["rss_peak_bytes"] > 0 and r["init_ms"] > 0
        assert len(store.samples(r["id"])) == r["latency_n"]
        # host.yaml reads RAPL where the host has it; elsewhere power is NULL, never 0
        assert (r["energy_uj"] is None) == (r["power_status"] != "measured")
    fp32, int8 = rows[("digits-cnn", "fp32")], rows[("digits-cnn", "int8")]
    assert fp32["accuracy_top1"] > 0.9 and fp32["accuracy_samples"] == 360
    assert abs(int8["accuracy_top1"] - fp32["accuracy_top1"]) <= 0.01
    assert int8["accuracy_delta_points"] == pytest.approx((int8["accuracy_top1"] - fp32["accuracy_top1"]) * 100)
    assert rows[("mobilenetv2-035-96", "int8")]["accuracy_top1"] is None  # latency-only family


def test_environment_recorded(host_run) -> None:
    store, run_id, _ = host_run
    run = store.run(run_id)
    assert run["status"] == "complete" and run["harness_version"] and run["suite"] == "test-suite"
    [env] = store.environments(run_id)
    assert env["data"]["runtime"] == "litert" and env["data"]["runtime_version"].startswith("2.")
    assert env["data"]["python"] and env["data"]["numpy"] and env["data"]["cpu_count"]


def test_report_rendered(host_run) -> None:
    _, run_id, tmp = host_run
    html = (tmp / "report" / "report.html").read_text()
    assert run_id in html and "pruned-int8" in html and "Compression" in html
    assert "not measured" in html


def test_results_command(host_run) -> None:
    store, run_id, _ = host_run
    code, out = harness("results", "--run", run_id, "--format", "csv", "--store", store.url)
    assert code == 0 and out.count("\n") == 9 and "digits-cnn,tiny-int8" in out.replace('"', "")
    code, out = harness("results", "--run", run_id, "--format", "json", "--store", store.url)
    assert code == 0 and '"variant": "int8-dynamic"' in out


def test_tflm_device(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, families={"digits-cnn": ["fp32", "fp16", "int8", "tiny-int8"]})
    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    code, output = harness("run", str(suite), "--device", "host-tflm", "--store", db)
    assert code == 0, output
    rows = {r["variant"]: r for r in Store(db).results()}
    assert rows["fp16"]["status"] == "skipped" and "TFLite-Micro cannot run it" in rows["fp16"]["reason"]
    for v in ("fp32", "int8", "tiny-int8"):
        assert rows[v]["status"] == "ok" and rows[v]["arena_bytes"] > 0 and rows[v]["runtime"] == "tflm"
    assert abs(rows["int8"]["accuracy_top1"] - rows["fp32"]["accuracy_top1"]) <= 0.01


def test_threshold_miss_exits_1(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, families={"digits-cnn": ["tiny-int8"]},
                        extra="thresholds:\n  latency_ms: 0.000001\n")
    code, output = harness("run", str(suite), "--device", "host", "--store", str(tmp_path / "r.sqlite"))
    assert code == 1, output
    [row] = Store(str(tmp_path / "r.sqlite")).results()
    assert row["thresholds_passed"] is False and row["thresholds"][0]["name"] == "latency_p50_ms"
