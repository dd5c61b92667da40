"""The digits CNN's compression matrix (tools/make_models.py): structured pruning that really
shrinks the model beside the unstructured variant, a distilled student beside its no-teacher
control, and a width x depth search as a family of its own — measured and published."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.models.manifest import load_manifest
from harness.models.tflite_model import read_model
from harness.results.store import Store
from tests.conftest import MODELS, REPO

cli = CliRunner()
COMPRESS, NAS, DIGITS = MODELS / "digits-cnn-compress", MODELS / "digits-cnn-nas", MODELS / "digits-cnn"
TECHNIQUES = {"baseline", "pruning", "quantization", "distillation", "no-distillation", "architecture-search"}


def model(family: Path, variant: str):
    return read_model(family / load_manifest(family).variant(variant).file_name)


def test_manifests_name_techniques_and_match_their_files() -> None:
    for family in (COMPRESS, NAS):
        manifest = load_manifest(family)
        assert manifest.task == "image-classification" and {v.technique for v in manifest.variants} <= TECHNIQUES
        for v in manifest.variants:
            m = read_model(family / v.file_name)
            assert (m.sha256, m.bytes, m.parameters > 0) == (v.sha256, v.bytes, True), v.variant_name
            assert v.derived_from is None or manifest.variant(v.derived_from) is not None
    assert 8 <= len([v for v in load_manifest(NAS).variants if v.technique == "architecture-search"]) <= 12


def test_references_are_digits_cnn_own_files() -> None:
    # the matrix compares against the very files digits-cnn ships, not retrained look-alikes
    for family, name in ((COMPRESS, "fp32"), (COMPRESS, "int8"), (COMPRESS, "pruned-int8"), (NAS, "int8")):
        assert model(family, name).sha256 == read_model(DIGITS / f"{name}.tflite").sha256


def test_channel_pruning_shrinks_file_and_macs_unstructured_does_not() -> None:
    int8, unstructured, channels = (model(COMPRESS, n) for n in ("int8", "pruned-int8", "channel-pruned-int8"))
    assert unstructured.bytes == int8.bytes and unstructured.macs == int8.macs  # zeros are still stored and run
    assert channels.bytes < 0.5 * int8.bytes and channels.macs < 0.5 * int8.macs
    assert channels.sparsity < 0.05  # kernels deleted, not zeroed


def test_distilled_student_and_its_control_share_the_architecture() -> None:
    distilled, control = model(COMPRESS, "distilled-int8"), model(COMPRESS, "student-int8")
    assert (distilled.parameters, distilled.macs) == (control.parameters, control.macs)
    assert distilled.sha256 != control.sha256


@pytest.mark.slow
def test_suite_on_host_publishes_the_matrix_and_front(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    result = cli.invoke(app, ["run", str(REPO / "suites" / "digits-compression.yaml"), "--device", "host",
                              "--store", db, "--profiles", str(REPO / "device_profiles")])
    assert result.exit_code in (0, 1), result.output
    rows = {(r["family"], r["variant"]): r for r in Store(db).results()}
    assert all(r["status"] == "ok" for r in rows.values())
    pruned = rows[("digits-cnn-compress", "channel-pruned-int8")]
    assert pruned["technique"] == "pruning" and pruned["derived_from"] == "int8"
    assert pruned["model_bytes"] < rows[("digits-cnn-compress", "int8")]["model_bytes"] / 2
    result = cli.invoke(app, ["report", "--store", db, "--out", str(tmp_path / "paper"), "--no-pdf",
                              "--definition", str(REPO / "reports" / "digits-compression.yaml")])
    assert result.exit_code == 0, result.output
    html = next((tmp_path / "paper").glob("*.html")).read_text()
    assert "The compression matrix, measured" in html and "channel-pruned-int8" in html and "w16-d3" in html
    assert "Pareto front on host" in html
