"""Errors a person fixes in one go: every error of a profile, suite or manifest at once, each with
file:line:field, and a did-you-mean for misspelt keys, variants and device names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from tests.conftest import MODELS, REPO
from tests.suite_files import copy_family, write_suite

cli = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = cli.invoke(app, list(args))
    return result.exit_code, result.output


def profile_with_typos(tmp_path: Path) -> Path:
    folder = tmp_path / "profiles"
    folder.mkdir()
    text = (REPO / "device_profiles" / "host.yaml").read_text()
    text = text.replace("\ntier:", "\nteir:").replace("\nmodel_volume_cap:", "\nmodle_volume_cap:")
    text = text.replace("\nram: auto", "\nram: 4 GHz")
    (folder / "host.yaml").write_text(text)
    return folder


def line_of(path: Path, key: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(key))


def test_profile_reports_every_error_with_line_and_suggestion(tmp_path: Path) -> None:
    folder = profile_with_typos(tmp_path)
    path = folder / "host.yaml"
    code, out = run("devices", "--profiles", str(folder))
    assert code == 2, out
    assert f"{path}:{line_of(path, 'teir')}: unknown key 'teir'; did you mean 'tier'?" in out
    assert f"{path}:{line_of(path, 'modle_volume_cap')}: unknown key 'modle_volume_cap'; did you mean 'model_volume_cap'?" in out
    assert f"{path}:{line_of(path, 'ram')}: field 'ram': wrong unit 'GHz'" in out
    assert "3 errors" in out and "missing required field" not in out  # a typo is reported once


@pytest.mark.parametrize("devices, expected", [
    (["hots"], ["unknown device 'hots': did you mean 'host'?"]),
    (["hots,rpi44"], ["did you mean 'host'?", "unknown device 'rpi44': did you mean 'rpi4'?"]),
    (["host-tlfm"], ["did you mean 'host-tflm'?"]),
])
def test_device_names_did_you_mean(tmp_path: Path, devices: list[str], expected: list[str]) -> None:
    code, out = run("run", str(MODELS / "digits-cnn" / "tiny-int8.tflite"), *[a for d in devices for a in ("--device", d)],
                    "--store", str(tmp_path / "r.sqlite"), "--profiles", str(REPO / "device_profiles"))
    assert code == 2 and all(e in out for e in expected), out
    assert not (tmp_path / "r.sqlite").exists()


def test_suite_reports_every_model_error(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, families={"digits-cnn": ["fp32", "int4", "tiny-int9"], "no-such-family": None})
    code, out = run("check", str(suite), "--device", "iot", "--profiles", str(REPO / "device_profiles"))
    assert code == 2, out
    assert "3 errors" in out
    assert f"{suite}:4: field 'models[0].variants[1]'" in out and "no variant 'int4'" in out
    assert "no variant 'tiny-int9'; did you mean 'tiny-int8'?" in out
    assert "field 'models[1].path': no model folder or .tflite file" in out


def test_suite_schema_errors_all_at_once(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, extra="treshold: {}\ndescripton: x\n")
    code, out = run("check", str(suite), "--device", "iot", "--profiles", str(REPO / "device_profiles"))
    assert code == 2 and "did you mean 'thresholds'?" in out and "did you mean 'description'?" in out, out


def test_manifest_errors_name_line_and_field(tmp_path: Path) -> None:
    family = copy_family(tmp_path)
    manifest = json.loads((family / "manifest.json").read_text())
    manifest["taks"] = "latency"
    manifest["variants"][1]["bytes"] = "many"
    manifest["variants"][2]["host_accuracy"] = 97.5  # a percentage where a fraction belongs
    (family / "manifest.json").write_text(json.dumps(manifest, indent=2))
    code, out = run("check", str(family), "--device", "iot", "--profiles", str(REPO / "device_profiles"))
    assert code == 2 and "3 errors" in out, out
    lines = (family / "manifest.json").read_text().splitlines()
    taks_line = next(i for i, l in enumerate(lines, 1) if '"taks"' in l)
    assert f"manifest.json:{taks_line}: unknown key 'taks'; did you mean 'task'?" in out
    assert "field 'variants[1].bytes'" in out and "field 'variants[2].host_accuracy'" in out
