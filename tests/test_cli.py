"""The command line: help imports nothing heavy (its time is measured in benchmarks/cli_startup.py),
devices table, inspect, check."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from harness.cli import app
from tests.conftest import MODELS, REPO

cli = CliRunner()


def test_help_imports_nothing_heavy() -> None:
    code = ("import sys, harness.cli as c\n"
            "heavy = [m for m in ('pandas', 'tensorflow', 'numpy', 'ai_edge_litert', 'paramiko', "
            "'serial', 'sqlalchemy', 'tflite_micro', 'jinja2') if m in sys.modules]\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_devices_json() -> None:
    result = cli.invoke(app, ["devices", "--json", "--profiles", str(REPO / "device_profiles")])
    assert result.exit_code == 0
    names = {d["name"] for d in json.loads(result.output)}
    assert {"host", "rpi4", "esp32-s3", "qemu-cortex-m"} <= names


def test_devices_bad_profile_exit_2(tmp_path) -> None:
    (tmp_path / "bad.yaml").write_text("name: bad\n")
    result = cli.invoke(app, ["devices", "--profiles", str(tmp_path)])
    assert result.exit_code == 2 and "missing required field" in result.output


@pytest.mark.slow
def test_inspect_json() -> None:
    result = cli.invoke(app, ["inspect", str(MODELS / "digits-cnn" / "int8.tflite"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["quantization"] == "int8 full-integer" and data["tflm"]["runnable"]
    assert data["tflm"]["arena_bytes"] > 0 and data["operators"]["CONV_2D"] >= 1
    assert data["inputs"][0]["shape"] == [1, 8, 8, 1] and data["macs"] > 0


@pytest.mark.slow
def test_check_iot_and_all() -> None:
    suite = str(REPO / "suites" / "quickstart.yaml")
    result = cli.invoke(app, ["check", suite, "--device", "iot", "--json", "--profiles", str(REPO / "device_profiles")])
    assert result.exit_code == 0, result.output
    [device] = json.loads(result.output)["devices"]
    digits = next(f for f in device["families"] if f["family"] == "digits-cnn")
    reasons = {v["variant"]: v["reasons"] for v in digits["variants"]}
    assert digits["best"] in ("int8", "pruned-int8", "tiny-int8")
    assert any("TFLite-Micro cannot run it" in r for r in reasons["fp16"])
    assert any("TFLite-Micro cannot run it" in r for r in reasons["int8-dynamic"])
    result = cli.invoke(app, ["check", suite, "--device", "all", "--json", "--profiles", str(REPO / "device_profiles")])
    runnable = json.loads(result.output)["runnable_on"]
    assert "host" in runnable["digits-cnn"] and "flagship" in runnable["mobilenetv2-035-96"]
