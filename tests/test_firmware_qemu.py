"""The reference firmware built with arm-none-eabi-gcc and run under qemu-system-arm (mps2-an385):
bit-identical outputs with TFLite-Micro on every eval sample, repeatable instruction-count time,
clear model errors, and the MLPerf Tiny text mode parsed as the Tiny runner parses it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.measures import op_profile
from harness.cycles.runner import operator_sequence
from harness.deadline import Deadline
from harness.errors import ModelError
from harness.runtimes import agentlib
from harness.runners.base import Job
from harness.runners.firmware import FirmwareRunner
from harness.runners.mlperf_tiny import TinyClient, measure_text_mode
from harness.transports import open_transport
from tests.conftest import MODELS, REPO, require_tool

pytestmark = pytest.mark.slow
DIGITS = MODELS / "digits-cnn"
INT8_VARIANTS = ["int8", "pruned-int8", "tiny-int8"]
MOBILENET = MODELS / "mobilenetv2-035-96" / "int8.tflite"


@pytest.fixture(scope="module")
def board():
    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")
    transport = open_transport("qemu://mps2-an385", qemu={"icount_shift": 3}, serial={"read_timeout": 3})
    transport.open(Deadline(300))  # builds the firmware first when it is missing
    yield transport
    transport.close()


def job(variant: str, samples: int | None = None, count: int = 10) -> Job:
    return Job(model_path=DIGITS / f"{variant}.tflite", dataset_path=DIGITS / "eval.npz",
               warmup_count=2, warmup_min_seconds=0, measure_count=count, measure_min_seconds=0,
               accuracy_samples=samples)


def tflm_outputs(model: Path, x: np.ndarray) -> tuple[list[bytes], dict]:
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_file(str(model), arena_size=1 << 20)
    detail = interp.get_input_details(0)
    q = detail["quantization_parameters"]
    quant = {"dtype": detail["dtype"].__name__, "scale": float(q["scales"][0]),
             "zero_point": int(q["zero_points"][0])}
    outputs = []
    for i in range(len(x)):
        interp.set_input(agentlib.quantize(x[i:i + 1], quant), 0)
        interp.invoke()
        outputs.append(interp.get_output(0).tobytes())
    return outputs, quant


@pytest.mark.parametrize("variant", INT8_VARIANTS)
def test_outputs_identical_to_tflite_micro_on_every_eval_sample(board, variant: str) -> None:
    runner = FirmwareRunner(board, read_timeout=3)
    measured = runner.measure(job(variant), Deadline(300))
    data = np.load(DIGITS / "eval.npz")
    expected, _ = tflm_outputs(DIGITS / f"{variant}.tflite", data["x"])
    assert len(runner.last_outputs) == len(expected) == len(data["y"])
    for i, raw in enumerate(expected):
        assert runner.last_outputs[i][1] == raw, f"sample {i} differs from TFLite-Micro"
    tflm_top1 = float(np.mean([np.argmax(np.frombuffer(r, np.int8)) == y for r, y in zip(expected, data["y"])]))
    assert measured.accuracy_top1 == pytest.approx(tflm_top1)
    assert measured.emulated and measured.environment["board"] == "qemu-mps2-an385"
    assert measured.latency_us["n"] == 10 and measured.arena_bytes and measured.arena_bytes > 0


def test_instruction_count_time_is_identical_across_two_boots() -> None:
    require_tool("qemu-system-arm")
    runs = []
    for _ in range(2):
        transport = open_transport("qemu://mps2-an385", qemu={"icount_shift": 3})
        transport.open(Deadline(300))
        try:
            runs.append(FirmwareRunner(transport).measure(job("tiny-int8", samples=5, count=30), Deadline(120)))
        finally:
            transport.close()
    assert runs[0].samples_us == runs[1].samples_us
    assert runs[0].first_inference_ms == runs[1].first_inference_ms
    assert runs[0].samples_us[0] > 0


def test_a_float_model_is_a_model_error_and_the_board_keeps_answering(board) -> None:
    runner = FirmwareRunner(board, read_timeout=3)
    with pytest.raises(ModelError, match="firmware"):
        runner.measure(job("fp32", samples=5), Deadline(120))
    assert runner.client.identify(Deadline(10))["name"] == "edge-harness-fw"


def test_mlperf_tiny_text_mode_against_the_firmware() -> None:
    require_tool("qemu-system-arm")
    model = DIGITS / "int8.tflite"
    # The model placed in PSRAM before boot, as a Tiny firmware has its model built in.
    transport = open_transport("qemu://mps2-an385", qemu={"icount_shift": 3}, preload=str(model))
    transport.open(Deadline(300))
    try:
        client = TinyClient(transport)
        client.drain(Deadline(5))
        assert client.name(Deadline(5)) == "edge-harness-fw"
        assert client.profile(Deadline(5))["profile"] == "ulp-mlperf"
        data = np.load(DIGITS / "eval.npz")
        expected, quant = tflm_outputs(model, data["x"][:3])
        for i in range(3):
            lines = client.load(agentlib.quantize(data["x"][i:i + 1], quant).tobytes(), Deadline(10))
            assert "m-load-done" in lines
            result = client.infer(2, 1, Deadline(30))
            assert result["elapsed_time"] > 0
            want = (np.frombuffer(expected[i], np.int8).astype(np.float64) + 128) * (1 / 256)
            assert np.allclose(result["results"], want, atol=0.0011)
        measured = measure_text_mode(transport, job("int8", samples=20, count=3), Deadline(120))
        assert measured.latency_us["n"] == 3 and measured.accuracy_samples == 20
        assert measured.environment["name"] == "edge-harness-fw"
    finally:
        transport.close()


def test_per_operator_profile_adds_up_to_the_whole_invoke(board) -> None:
    """The firmware times each operator of MobileNetV2 int8 and the whole invoke with one clock.
    QEMU models no DWT cycle counter, so the firmware falls back to SysTick, whose ticks follow
    instructions under -icount; the profile is named so, never "cycles"."""
    runner = FirmwareRunner(board, read_timeout=3)
    m = runner.measure(Job(model_path=MOBILENET, dataset_path=None, warmup_count=1, warmup_min_seconds=0,
                           measure_count=3, measure_min_seconds=0), Deadline(600))
    assert m.environment["op_clock"] == "timer"  # the firmware's DWT check found no counting CYCCNT
    p = m.op_profile
    assert (p["method"], p["unit"], p["clock_hz"]) == ("qemu icount ticks", "ticks", 25_000_000)
    assert [o["op"] for o in p["ops"]] == operator_sequence(MOBILENET)
    assert all(o["value"] > 0 for o in p["ops"]) and sum(o["share"] for o in p["ops"]) == pytest.approx(1)
    assert p["total"] == pytest.approx(p["runtime_total"], rel=0.05)  # the same invoke, the same clock
    # RUN times the invoke with the same SysTick, without the per-operator reads
    assert p["runtime_total"] / p["clock_hz"] * 1e6 == pytest.approx(m.latency_us["p50"], rel=0.05)
    top = sorted(p["ops"], key=lambda o: -o["share"])[:5]
    print("MobileNetV2 int8 on mps2-an385, qemu icount ticks:", ", ".join(
        f"#{o['index']} {o['op']} {100 * o['share']:.1f}%" for o in top),
        f"| sum {p['total']:.0f} vs whole {p['runtime_total']:.0f} ticks, RUN p50 {m.latency_us['p50']:.0f} us")
    assert list(op_profile.by_type(p))[:2] == ["CONV_2D", "DEPTHWISE_CONV_2D"]


def test_firmware_op_profiles_are_stored_charted_and_compared(tmp_path: Path) -> None:
    """End to end: `harness run` on the emulated board stores the profile with the result, the
    run report charts it, and `harness compare` lists the operators whose share moved."""
    require_tool("qemu-system-arm")
    suite = tmp_path / "fw-ops.yaml"
    suite.write_text(f"name: fw-ops\nmodels:\n  - path: {DIGITS}\n    variants: [tiny-int8]\n"
                     "run:\n  warmup: {count: 1, min_seconds: 0 s}\n  measure: {count: 5, min_seconds: 0 s}\n")
    store = tmp_path / "store.db"

    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "harness.cli", *args, "--store", str(store)],
                              cwd=REPO, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return done.stdout

    for run_id in ("base", "new"):
        cli("run", str(suite), "--device", "qemu-cortex-m", "--run-id", run_id)
    from harness.results.store import Store

    row = Store(f"sqlite:///{store}").results("new")[0]
    profile = op_profile.of_row(row)
    assert profile["method"] == "qemu icount ticks"
    assert [o["op"] for o in profile["ops"]] == operator_sequence(DIGITS / "tiny-int8.tflite")
    cli("report", "--run", "new", "--out", str(tmp_path / "report"))
    html = (tmp_path / "report" / "report.html").read_text()
    assert "share of time per operator (qemu icount ticks)" in html and "#0 CONV_2D" in html
    covered = re.search(r"operators sum to ([0-9.]+) % of the whole inference", html)
    assert covered and 95 <= float(covered.group(1)) <= 100
    out = cli("compare", "base", "new")
    assert "operators whose share of the time moved most (qemu icount ticks)" in out
    # one model, one code path: nothing moved; ties in graph order
    assert re.search(r"#0 CONV_2D: ([0-9.]+)% -> \1% of the time \(\+0\.0 points\)", out), out


def many_reshapes(path: Path, extra: int) -> Path:
    """The tiny digits CNN with `extra` more RESHAPEs (to the same shape) before its
    FULLY_CONNECTED: a real model with more operators than one PROFILE reply holds."""
    import copy

    import flatbuffers

    from harness.models.tflite_model import tflite_schema

    schema = tflite_schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel((DIGITS / "tiny-int8.tflite").read_bytes(), 0))
    graph = model.subgraphs[0]
    reshape, fc = graph.operators[2], graph.operators[3]
    ops, prev = [], int(reshape.outputs[0])
    for i in range(extra):
        tensor = copy.deepcopy(graph.tensors[prev])
        tensor.name = f"reshape_{i}".encode()
        graph.tensors.append(tensor)
        op = copy.deepcopy(reshape)
        op.inputs, op.outputs = np.array([prev, reshape.inputs[1]], np.int32), np.array([len(graph.tensors) - 1], np.int32)
        ops.append(op)
        prev = len(graph.tensors) - 1
    fc.inputs = np.array([prev, *fc.inputs[1:]], np.int32)
    graph.operators[3:3] = ops
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    return path


def test_a_profile_longer_than_one_reply_is_paged_from_one_run(board, tmp_path: Path) -> None:
    model = many_reshapes(tmp_path / "reshapes.tflite", 300)  # 305 operators: two PROFILE pages
    m = FirmwareRunner(board, read_timeout=3).measure(
        Job(model_path=model, dataset_path=None, warmup_count=1, warmup_min_seconds=0, measure_count=3,
            measure_min_seconds=0), Deadline(300))
    p = m.op_profile
    assert [o["op"] for o in p["ops"]] == ["CONV_2D", "MAX_POOL_2D"] + ["RESHAPE"] * 301 + ["FULLY_CONNECTED", "SOFTMAX"]
    assert [o["index"] for o in p["ops"]] == list(range(305)) and all(o["value"] > 0 for o in p["ops"])
    assert p["total"] == pytest.approx(p["runtime_total"], rel=0.05)
