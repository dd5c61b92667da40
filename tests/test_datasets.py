"""Datasets a user already has (.npz, .npy pairs, MLPerf Tiny .bin folders), checked against the
model before anything runs: each mismatch is one clear error naming the file, exit 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.models.tflite_model import read_model
from harness.results.store import Store
from tests.conftest import MODELS, REPO

cli = CliRunner()
DIGITS = MODELS / "digits-cnn"


def eval_set() -> tuple[np.ndarray, np.ndarray]:
    with np.load(DIGITS / "eval.npz") as data:
        return data["x"], data["y"]


def folder_with(tmp_path: Path, model: str = "int8.tflite") -> Path:
    folder = tmp_path / "user-model"
    folder.mkdir()
    shutil.copy(DIGITS / model, folder / model)
    return folder


def run(target: Path, tmp_path: Path) -> tuple[int, str, Path]:
    db = tmp_path / "r.sqlite"
    result = cli.invoke(app, ["run", str(target), "--device", "host", "--store", str(db),
                              "--profiles", str(REPO / "device_profiles")])
    return result.exit_code, result.output, db


def tiny_folder(target: Path, x: np.ndarray, y: np.ndarray, model: Path, rows: list[str] | None = None) -> None:
    """The MLPerf Tiny runner's layout: raw input-tensor .bin files and y_labels.csv."""
    detail = read_model(model).inputs[0]
    q = np.clip(np.round(x / detail.scale + detail.zero_point), -128, 127).astype(np.int8)
    target.mkdir()
    lines = []
    for i, sample in enumerate(q):
        (target / f"s{i:04d}.bin").write_bytes(sample.tobytes())
        lines.append(f"s{i:04d}.bin, 10, {int(y[i])}, {sample.nbytes}, {sample.nbytes}")
    (target / "y_labels.csv").write_text("\n".join(rows if rows is not None else lines) + "\n")


def accuracy_of(db: Path) -> float:
    [row] = Store(str(db)).results()
    assert row["status"] == "ok", row["reason"]
    return row["accuracy_top1"]


def test_mlperf_tiny_bin_folder_gives_the_npz_accuracy(tmp_path: Path) -> None:
    folder = folder_with(tmp_path)
    x, y = eval_set()
    tiny_folder(folder / "tiny", x, y, folder / "int8.tflite")
    code, out, db = run(folder, tmp_path)
    assert code == 0, out
    # Same samples, quantized the same way as the .npz path does it: the same accuracy.
    manifest = json.loads((DIGITS / "manifest.json").read_text())
    expected = next(v["host_accuracy"] for v in manifest["variants"] if v["name"] == "int8")
    assert accuracy_of(db) == pytest.approx(expected, abs=1e-4)  # the manifest rounds to 4 places
    # `harness model init` pins the folder's sha256; the next run checks it, and a changed .bin is refused.
    assert cli.invoke(app, ["model", "init", str(folder)]).exit_code == 0
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["dataset"]["file"] == "tiny" and manifest["dataset"]["samples"] == len(y)
    (tmp_path / "again").mkdir()
    assert run(folder, tmp_path / "again")[0] == 0
    (folder / "tiny" / "s0003.bin").write_bytes(bytes(64))
    code, out, _ = run(folder, tmp_path)
    assert code == 2 and "differs from the manifest" in out, out


def test_npy_pair(tmp_path: Path) -> None:
    folder = folder_with(tmp_path)
    x, y = eval_set()
    np.save(folder / "eval_x.npy", x)
    np.save(folder / "eval_y.npy", y)
    code, out, db = run(folder, tmp_path)
    assert code == 0, out
    assert accuracy_of(db) > 0.9


def npz(x: np.ndarray, y: np.ndarray):
    return lambda folder: np.savez(folder / "eval.npz", x=x, y=y)


X, Y = eval_set()
CASES = {
    "wrong label count": (npz(X[:10], Y[:9]), "eval.npz", "10 inputs but 9 labels"),
    "label out of range": (npz(X[:4], np.array([0, 1, 2, 10])), "eval.npz", "label 10 is out of range"),
    "negative label": (npz(X[:4], np.array([0, -1, 2, 3])), "eval.npz", "label -1 is out of range"),
    "float labels": (npz(X[:4], Y[:4].astype(np.float32)), "eval.npz", "labels y must be integers"),
    "NaN inputs": (npz(np.where(np.arange(len(X[:4]))[:, None, None, None] == 2, np.nan, X[:4]), Y[:4]),
                   "eval.npz", "sample 2 has NaN or infinite inputs"),
    "wrong dtype": (npz(X[:4].astype(np.uint8), Y[:4]), "eval.npz", "inputs x are uint8 but int8.tflite takes int8"),
    "wrong shape": (npz(np.zeros((4, 28, 28, 1), np.float32), Y[:4]), "eval.npz", "[28, 28, 1]"),
    "no y array": (lambda f: np.savez(f / "eval.npz", x=X[:4], labels=Y[:4]), "eval.npz", "arrays 'x' and 'y'"),
    "npy pair length": (lambda f: (np.save(f / "x.npy", X[:5]), np.save(f / "y.npy", Y[:4])), "x.npy",
                        "5 inputs but 4 labels"),
}


@pytest.mark.parametrize("make, file, message", CASES.values(), ids=CASES.keys())
def test_bad_dataset_is_one_clear_error(tmp_path: Path, make, file: str, message: str) -> None:
    folder = folder_with(tmp_path)
    make(folder)
    code, out, db = run(folder, tmp_path)
    assert code == 2, out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1 and str(folder / file) in lines[0] and message in lines[0], out
    assert not db.exists()


TINY_CASES = {
    "bytes_to_send differs from the input": (lambda r: r.replace(", 64, 64", ", 32, 32"), "bytes_to_send 32"),
    "class not an integer": (lambda r: r.replace(", 10, 3,", ", 10, 3.0,", 1), "class '3.0' is not an integer"),
    "missing column": (lambda r: r.rsplit(",", 1)[0], "4 columns; expected 5"),
    "classes disagree with the model": (lambda r: r.replace(", 10, ", ", 12, "),
                                        "its classes column says 12 classes but int8.tflite outputs 10"),
}


@pytest.mark.parametrize("edit, message", TINY_CASES.values(), ids=TINY_CASES.keys())
def test_bad_tiny_folder(tmp_path: Path, edit, message: str) -> None:
    folder = folder_with(tmp_path)
    x, y = eval_set()
    tiny_folder(folder / "tiny", x[:8], np.full(8, 3), folder / "int8.tflite")
    labels = folder / "tiny" / "y_labels.csv"
    labels.write_text("\n".join(edit(r) for r in labels.read_text().splitlines()) + "\n")
    code, out, _ = run(folder, tmp_path)
    assert code == 2 and str(folder / "tiny" / "y_labels.csv") in out and message in out, out


def test_manifest_sha256_and_classes_are_checked(tmp_path: Path) -> None:
    folder = folder_with(tmp_path)
    np.savez(folder / "eval.npz", x=X[:8], y=Y[:8])
    manifest = {"dataset": {"file": "eval.npz", "sha256": "0" * 64}, "variants": [{"name": "int8"}]}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    code, out, _ = run(folder, tmp_path)
    assert code == 2 and str(folder / "eval.npz") in out and "differs from the manifest" in out, out
    manifest = {"num_classes": 12, "dataset": {"file": "eval.npz"}, "variants": [{"name": "int8"}]}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    code, out, _ = run(folder, tmp_path)
    assert code == 2 and "says 12 classes but int8.tflite outputs 10" in out, out
