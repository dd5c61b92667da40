"""Model formats and runtimes: the digits CNN as .tflite, .onnx and .pte (models/digits-cnn-runtimes),
each runtime measured on `host` in every format it reads, end to end through the CLI and store."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.errors import DeviceError, ModelError
from harness.models.formats import read_model
from harness.measures import op_profile
from harness.transports.local import LocalTransport
from tests.conftest import MODELS, REPO, require

FAMILY = MODELS / "digits-cnn-runtimes"
EXECUTORCH_PYTHON = REPO / ".venv-executorch" / "bin" / "python"  # device_profiles/host.yaml's


def test_formats_are_detected_by_content_not_name(tmp_path: Path) -> None:
    tflite, onnx = read_model(FAMILY / "../digits-cnn/fp32.tflite"), read_model(FAMILY / "fp32.onnx")
    assert (tflite.format, onnx.format) == ("tflite", "onnx")
    # the same network: the same parameters, MACs and I/O, whatever the format
    assert (onnx.parameters, onnx.macs) == (tflite.parameters, tflite.macs) == (47532, 484992)
    assert onnx.inputs[0].shape == tflite.inputs[0].shape == (1, 8, 8, 1)
    assert onnx.outputs[0].shape == (1, 10) and onnx.quantization == "float32"
    renamed = tmp_path / "model.bin"
    shutil.copy(FAMILY / "fp32.onnx", renamed)
    assert read_model(renamed).format == "onnx"
    corrupt = tmp_path / "m.onnx"
    corrupt.write_bytes((FAMILY / "fp32.onnx").read_bytes()[:5000])
    with pytest.raises(ModelError, match=f"{corrupt}: corrupt ONNX model"):
        read_model(corrupt)
    garbage = tmp_path / "m.onnx"
    garbage.write_bytes(b"not a model at all, not even close")
    with pytest.raises(ModelError, match="not a TFLite model .* nor any other format this harness reads"):
        read_model(garbage)


def test_pte_facts_are_read_from_the_program_without_executorch(tmp_path: Path) -> None:
    pte = read_model(FAMILY / "fp32.pte")
    assert pte.format == "pte" and pte.bytes == (FAMILY / "fp32.pte").stat().st_size
    assert pte.inputs[0].shape == (1, 8, 8, 1) and pte.inputs[0].dtype == "float32"
    assert pte.outputs[0].shape == (1, 10)
    # lowered to XNNPACK whole: one delegate call, no portable kernels; its weights are opaque
    assert pte.operators == {"delegate:XnnpackBackend": 1} and pte.parameters == 0
    data = (FAMILY / "fp32.pte").read_bytes()
    cut = tmp_path / "cut.pte"
    cut.write_bytes(data[:-1])  # the delegate blob lies at the end: a cut file loses part of it
    with pytest.raises(ModelError, match=f"{cut}: corrupt ExecuTorch program: truncated, 1 bytes"):
        read_model(cut)
    cut.write_bytes(data[:100])  # the program's own tables cut off
    with pytest.raises(ModelError, match=f"{cut}: corrupt ExecuTorch program"):
        read_model(cut)


def test_a_runtime_in_its_own_venv_is_reached_or_named_when_missing() -> None:
    board = LocalTransport(f"local://?python.executorch={EXECUTORCH_PYTHON}")
    assert board.python_for("litert") == board.python == sys.executable
    missing = LocalTransport("local://?python.executorch=/nowhere/bin/python")
    with pytest.raises(DeviceError, match="executorch's interpreter /nowhere/bin/python does not exist "
                                          r"\(make executorch-venv"):
        missing.python_for("executorch")


def test_share_moves_names_the_operators_that_moved() -> None:
    base = op_profile.build([{"index": 0, "op": "Conv", "time_us": 80}, {"index": 1, "op": "Gemm", "time_us": 20}],
                            method="m", unit="us")
    new = op_profile.build([{"index": 0, "op": "Conv", "time_us": 50}, {"index": 1, "op": "Gemm", "time_us": 50}],
                           method="m", unit="us")
    moves = op_profile.share_moves(base, new)
    assert [(m["op"], round(m["moved_points"])) for m in moves] == [("Conv", -30), ("Gemm", 30)]
    assert "Conv: 80.0% -> 50.0% of the time (-30.0 points)" in op_profile.format_moves(moves)[0]


@pytest.mark.slow
def test_every_runtime_on_host_in_every_format_it_reads(tmp_path: Path) -> None:
    require(EXECUTORCH_PYTHON.is_file(), "no ExecuTorch venv (make executorch-venv installs torch 2.13.0+cpu "
                                         "and executorch 1.4.1 in .venv-executorch)")
    db, out = tmp_path / "r.sqlite", tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(REPO / "suites" / "runtimes.yaml"),
                           "--device", "host", "--device", "host-tflm", "--store", str(db), "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        rows = {(r["device"], r["variant"]): dict(r) for r in conn.execute("select * from results")}
    ran = {(d, v): r["runtime"] for (d, v), r in rows.items() if r["status"] == "ok"}
    assert ran == {("host", "tflite-fp32"): "litert", ("host", "onnx-fp32"): "onnxruntime",
                   ("host", "pte-fp32"): "executorch", ("host-tflm", "tflite-fp32"): "tflm"}
    assert "tflm reads no onnx models" in rows[("host-tflm", "onnx-fp32")]["reason"]
    assert "tflm reads no pte models" in rows[("host-tflm", "pte-fp32")]["reason"]
    ok = [rows[k] for k in ran]
    # the same network computes the same answers on every runtime (documented tolerance: none
    # needed for float32 here; max output difference 7e-7 (tools/tflite_to_onnx.py) and 7.8e-7
    # (tools/make_pte.py), far from changing any of the 360 predictions)
    assert {r["accuracy_top1"] for r in ok} == {0.975}
    assert len({json.dumps(json.loads(r["extra"])["predictions"]) for r in ok}) == 1
    assert {r["working_memory_method"] for r in ok} == {"rss-increase", "arena"}
    profiles = {r["runtime"]: json.loads(r["extra"]).get("op_profile") for r in ok}
    # no per-op API: none invented (ExecuTorch's wheel is built without its event tracer)
    assert profiles["litert"] is None and profiles["tflm"] is None and profiles["executorch"] is None
    with sqlite3.connect(db) as conn:
        envs = [json.loads(d) for (d,) in conn.execute("select data from environments")]
    [et] = [e for e in envs if e["runtime"] == "executorch"]
    assert (et["runtime_version"], et["torch_version"]) == ("1.4.1", "2.13.0+cpu")
    assert et["runtime_settings"] == {"threadpool_threads": 1}
    ort = profiles["onnxruntime"]
    assert ort["method"] == "onnxruntime profiler" and len(ort["ops"]) >= 8
    assert {o["op"] for o in ort["ops"]} >= {"Conv", "Softmax"}
    assert sum(o["share"] for o in ort["ops"]) == pytest.approx(1.0)
    # ONNX Runtime times both the nodes and the whole run; the nodes fit inside the run
    assert 0 < ort["total"] <= ort["runtime_total"]
    html = (out / "report.html").read_text()
    section = html[html.index("Runtimes side by side"):html.index("Where the time goes")]
    for runtime in ("litert", "onnxruntime", "executorch", "tflm"):
        assert f"<td>{runtime}</td>" in section
    # every runtime predicts what the first row (on host) predicts, shown per row
    assert section.count("100.0 %") == len(ok) - 1


@pytest.mark.slow
def test_onnxruntime_profile_of_mobilenetv2_fits_inside_its_own_run(tmp_path: Path) -> None:
    """What ONNX Runtime's per-operator figures honestly cover, on a model whose nodes are not
    tiny: MobileNetV2, rebuilt as ONNX by tools/tflite_to_onnx.py (checked against LiteRT first).
    The node times and model_run are the profiler's own, one clock; the nodes never fill the
    run (its executor and profiler work between them), and a profiled run is slower than an
    unprofiled one, so the stored figure is the shares, and its coverage is stored with it
    (docs/runtimes.md has the measured ratios: none is within 5 %)."""
    family = tmp_path / "mobilenetv2-onnx"
    family.mkdir()
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "check.npz", x=rng.random((8, 96, 96, 3), dtype=np.float32), y=np.zeros(8, np.int64))
    for argv in (["tools/tflite_to_onnx.py", str(MODELS / "mobilenetv2-035-96" / "fp32.tflite"),
                  str(family / "fp32.onnx"), "--eval", str(tmp_path / "check.npz")],
                 ["-m", "harness.cli", "model", "init", str(family)],
                 ["-m", "harness.cli", "run", str(family), "--device", "host", "--store", str(tmp_path / "s.db")]):
        done = subprocess.run([sys.executable, *argv], cwd=REPO, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with sqlite3.connect(tmp_path / "s.db") as conn:
        runtime, p50, extra = conn.execute("select runtime, latency_p50_us, extra from results").fetchone()
    profile = json.loads(extra)["op_profile"]
    assert runtime == "onnxruntime" and profile["method"] == "onnxruntime profiler"
    kinds = op_profile.by_type(profile)
    assert list(kinds)[0] == "Conv" and {"ReduceMean", "Gemm", "Softmax"} <= set(kinds)
    # 35 convolutions + 17 depthwise; graph optimisation fused the 10 residual Adds into them
    assert sum(o["op"] == "Conv" for o in profile["ops"]) == 52 and "Add" not in kinds
    coverage = profile["total"] / profile["runtime_total"]
    assert 0 < coverage <= 1
    print(f"MobileNetV2 ONNX: node sum {profile['total']:.0f} us = {coverage:.2f} of model_run "
          f"{profile['runtime_total']:.0f} us; {profile['total'] / p50:.2f} x the unprofiled p50 {p50:.0f} us")



def test_runtime_table_compares_within_a_device_and_counts_disagreeing_predictions() -> None:
    from harness.report.runtimes import runtime_table

    def row(device: str, runtime: str, p50: float, predictions: list[int]) -> dict:
        return {"status": "ok", "family": "f", "device": device, "runtime": runtime, "variant": runtime,
                "latency_p50_us": p50, "extra": {"predictions": predictions}}

    rows = [row("a", "onnxruntime", 20.0, [1, 2, 3, 4]), row("a", "litert", 10.0, [1, 2, 3, 4]),
            row("a", "executorch", 15.0, [1, 2, 3, 0]), row("b", "tflm", 200.0, [1, 2, 0, 0])]
    table = runtime_table(rows)
    assert [(t["row"]["device"], t["row"]["runtime"]) for t in table] == [
        ("a", "litert"), ("a", "executorch"), ("a", "onnxruntime"), ("b", "tflm")]
    assert [t["vs_fastest"] for t in table] == [1.0, 1.5, 2.0, 1.0]  # against the same device's fastest
    assert [t["is_reference"] for t in table] == [True, False, False, False]
    assert [t["agreement"] for t in table] == [1.0, 0.75, 1.0, 0.5]
