"""Bad input: a one-line error naming the thing and what is wrong, exit 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from harness.cli import app
from tests.conftest import REPO
from tests.suite_files import copy_family, write_suite

cli = CliRunner()


def run(suite: Path, tmp_path: Path, device: str = "host", store: str | None = None) -> tuple[int, str, Path]:
    db = Path(store) if store else tmp_path / "results.sqlite"
    result = cli.invoke(app, ["run", str(suite), "--device", device, "--store", str(db),
                              "--profiles", str(REPO / "device_profiles")])
    return result.exit_code, result.output, db


def assert_one_line_error(code: int, output: str, db: Path, *fragments: str) -> None:
    assert code == 2, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert not db.exists(), "nothing may be written on bad input"


def test_malformed_suite_yaml(tmp_path: Path) -> None:
    suite = tmp_path / "s.yaml"
    suite.write_text("name: x\nmodels: [\n")
    assert_one_line_error(*run(suite, tmp_path), f"{suite}:", "malformed YAML")


def test_unknown_suite_key(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, extra="treshold: {}\n")
    assert_one_line_error(*run(suite, tmp_path), "unknown key 'treshold'", "did you mean 'thresholds'?")


def test_unknown_variant(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, families={"digits-cnn": ["fp32", "int4"]})
    assert_one_line_error(*run(suite, tmp_path), f"{suite}:4:", "no variant 'int4'")


def test_missing_model_file(tmp_path: Path) -> None:
    family = copy_family(tmp_path)
    (family / "int8.tflite").unlink()
    suite = write_suite(tmp_path, families={"digits-cnn": None}, models_root=tmp_path / "models")
    assert_one_line_error(*run(suite, tmp_path), str(family / "int8.tflite"), "not found")


def test_corrupt_model_file(tmp_path: Path) -> None:
    family = copy_family(tmp_path)
    data = bytearray((family / "int8.tflite").read_bytes())
    (family / "int8.tflite").write_bytes(bytes(data[: len(data) // 3]))
    suite = write_suite(tmp_path, families={"digits-cnn": None}, models_root=tmp_path / "models")
    assert_one_line_error(*run(suite, tmp_path), str(family / "int8.tflite"), "corrupt TFLite model")


def test_model_changed_since_manifest(tmp_path: Path) -> None:
    family = copy_family(tmp_path)
    (family / "fp32.tflite").write_bytes((family / "fp16.tflite").read_bytes())
    suite = write_suite(tmp_path, families={"digits-cnn": None}, models_root=tmp_path / "models")
    assert_one_line_error(*run(suite, tmp_path), str(family / "fp32.tflite"), "sha256 differs")


def test_dataset_shape_mismatch(tmp_path: Path) -> None:
    family = copy_family(tmp_path)
    np.savez(family / "eval.npz", x=np.zeros((4, 28, 28, 1), np.float32), y=np.zeros(4, np.int64))
    suite = write_suite(tmp_path, families={"digits-cnn": ["int8"]}, models_root=tmp_path / "models")
    assert_one_line_error(*run(suite, tmp_path), str(family / "eval.npz"), "[28, 28, 1]", "[1, 8, 8, 1]")


def test_broken_manifest(tmp_path: Path) -> None:
    family = copy_family(tmp_path)
    manifest = json.loads((family / "manifest.json").read_text())
    manifest["variants"][0]["bytes"] = "many"  # every field is optional, but a given one is checked
    (family / "manifest.json").write_text(json.dumps(manifest, indent=2))
    suite = write_suite(tmp_path, families={"digits-cnn": None}, models_root=tmp_path / "models")
    assert_one_line_error(*run(suite, tmp_path), "manifest.json:", "variants[0].bytes")


def test_unknown_device(tmp_path: Path) -> None:
    suite = write_suite(tmp_path)
    assert_one_line_error(*run(suite, tmp_path, device="rpi9"), "unknown device 'rpi9'", "known devices:")


def test_reference_class_cannot_run(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, families={"digits-cnn": ["tiny-int8"]})
    code, output, _ = run(suite, tmp_path, device="flagship")
    assert code == 2 and "reference class" in output


def test_unwritable_store(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    suite = write_suite(tmp_path, families={"digits-cnn": ["tiny-int8"]})
    code, output, db = run(suite, tmp_path, store=str(blocker / "results.sqlite"))
    assert_one_line_error(code, output, db, str(blocker), "cannot create")


def test_missing_suite(tmp_path: Path) -> None:
    assert_one_line_error(*run(tmp_path / "nope.yaml", tmp_path), "nope.yaml: no such file")
