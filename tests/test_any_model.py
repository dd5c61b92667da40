"""Any model, no ceremony: .tflite files and model folders run, check and inspect without a suite;
manifests are optional and `harness model init` writes one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from harness.cli import app
from harness.results.store import Store
from tests.conftest import MODELS, REPO

cli = CliRunner()
PROFILES = ["--profiles", str(REPO / "device_profiles")]


def invoke(*args: str) -> tuple[int, str]:
    result = cli.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def loose(tmp_path: Path) -> Path:
    """A user's folder: two .tflite files and an eval set, no manifest."""
    folder = tmp_path / "kws"
    folder.mkdir()
    for name in ("fp32.tflite", "int8.tflite", "eval.npz"):
        shutil.copy(MODELS / "digits-cnn" / name, folder / name)
    return folder


def test_run_one_tflite_without_suite(tmp_path: Path) -> None:
    model = tmp_path / "my_model.tflite"
    shutil.copy(MODELS / "digits-cnn" / "tiny-int8.tflite", model)
    db = tmp_path / "r.sqlite"
    code, out = invoke("run", str(model), "--device", "host", "--store", str(db), *PROFILES)
    assert code == 0, out
    store = Store(str(db))
    run = store.runs()[0]
    assert out.index(f"run {run['run_id']} started") < out.index("status")  # printed before it runs
    spec = yaml.safe_load(run["suite_text"])  # stored like any suite: it can be resumed and compared
    assert spec["models"] == [{"path": str(model.resolve())}] and run["suite_sha256"]
    [row] = store.results(run["run_id"])
    assert (row["family"], row["variant"], row["status"]) == ("my_model", "my_model", "ok")
    assert row["model_bytes"] == model.stat().st_size and row["accuracy_top1"] is None


def test_tflite_in_a_family_folder_takes_its_manifest(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    code, out = invoke("run", str(MODELS / "digits-cnn" / "tiny-int8.tflite"), "--device", "host",
                       "--store", str(db), *PROFILES)
    assert code == 0, out
    [row] = Store(str(db)).results()
    assert (row["family"], row["variant"], row["reference_variant"]) == ("digits-cnn", "tiny-int8", "fp32")
    assert row["accuracy_top1"] > 0.9  # the family's dataset came with it


def test_folder_without_manifest_is_a_family(loose: Path, tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    code, out = invoke("run", str(loose), "--device", "host", "--store", str(db), *PROFILES)
    assert code == 0, out
    rows = {r["variant"]: r for r in Store(str(db)).results()}
    assert set(rows) == {"fp32", "int8"} and rows["fp32"]["family"] == "kws"
    assert rows["int8"]["accuracy_top1"] > 0.9 and rows["int8"]["accuracy_delta_points"] is not None


def test_model_init_writes_a_manifest_that_runs(loose: Path, tmp_path: Path) -> None:
    code, out = invoke("model", "init", str(loose))
    assert code == 0 and "variants fp32, int8" in out, out
    manifest = json.loads((loose / "manifest.json").read_text())
    assert manifest["dataset"]["samples"] == 360 and manifest["num_classes"] == 10
    assert manifest["variants"][0]["sha256"] and manifest["variants"][0]["host_accuracy"] is None
    assert invoke("model", "init", str(loose))[0] == 2  # never overwrites without --force
    code, out = invoke("check", str(loose), "--device", "iot", "--json", *PROFILES)
    assert code == 0, out
    assert json.loads(out)["devices"][0]["families"][0]["family"] == "kws"


def test_minimal_manifest_every_field_optional(loose: Path, tmp_path: Path) -> None:
    (loose / "manifest.json").write_text(json.dumps({"variants": [{"name": "int8", "host_accuracy": 0.97}]}))
    db = tmp_path / "r.sqlite"
    code, out = invoke("run", str(loose), "--device", "host", "--store", str(db), *PROFILES)
    assert code == 0, out
    [row] = Store(str(db)).results()
    assert row["variant"] == "int8" and row["accuracy_top1"] is None  # no dataset named in the manifest


def test_inspect_a_folder(loose: Path) -> None:
    code, out = invoke("inspect", str(loose), "--json")
    assert code == 0, out
    assert [Path(m["path"]).name for m in json.loads(out)] == ["fp32.tflite", "int8.tflite"]


@pytest.mark.parametrize("name, content, message", [
    ("notes.txt", "hello", "not a .tflite model, a model folder or a suite"),
    ("missing.tflite", None, "no such file or folder"),
    ("garbage.tflite", "\x8c not a flatbuffer", "not a TFLite model"),
])
def test_bad_model_paths_are_one_clear_error(tmp_path: Path, name: str, content: str | None, message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    db = tmp_path / "r.sqlite"
    code, out = invoke("run", str(path), "--device", "host", "--store", str(db), *PROFILES)
    assert code == 2 and message in out and str(path) in out, out
    assert not db.exists()


def test_derived_facts_are_cached_by_sha256(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.models import tflite_model

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = tflite_model.read_model(MODELS / "digits-cnn" / "int8.tflite")
    copy = tmp_path / "same.tflite"
    shutil.copy(MODELS / "digits-cnn" / "int8.tflite", copy)
    monkeypatch.setattr(tflite_model, "_parse", lambda *a: pytest.fail("parsed again"))
    again = tflite_model.read_model(copy)
    assert again.path == str(copy) and again.inputs == first.inputs and again.macs == first.macs
    assert list((tmp_path / "cache" / "edge-harness" / "facts").glob(f"{first.sha256}-*.json"))


def test_a_killed_model_run_resumes_like_a_suite_run(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    model = str(MODELS / "digits-cnn" / "tiny-int8.tflite")
    assert invoke("run", model, "--device", "host", "--store", str(db), *PROFILES)[0] == 0
    code, out = invoke("run", model, "--device", "host", "--store", str(db), "--resume", "latest", *PROFILES)
    assert code == 0 and "resumed" in out, out
    assert len(Store(str(db)).results()) == 1  # nothing measured twice
