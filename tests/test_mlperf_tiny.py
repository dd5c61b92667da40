"""MLPerf Tiny both ways on the emulated Cortex-M board (qemu mps2-an385):

- the harness firmware in Tiny mode (its model partition tagged kws01, vww01, ic01 or ad01),
  driven by a client that speaks the Tiny protocol exactly (commands ending in `%`, 31-byte `db`
  chunks of hex, `m-ready` after each answer): benchmark id, input conversion, result format,
  `db print`, a corrupt, a short and an oversized `db load`, performance and accuracy mode;
- the harness's Tiny runner against that board: identity-only health check, runtime from the
  board, Tiny performance mode flagged invalid when its rules are not met."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from harness.config import datasets
from harness.deadline import Deadline
from harness.errors import DeviceError
from harness.lab.health import health_check
from harness.power import energy, open_meter
from harness.testing.fakes import FakeJoulescope
from harness.testing.simulators import LpmSimulator
from harness.power.trigger import TriggerLine
from harness.runners.base import Job
from harness.runners.firmware import FirmwareRunner
from harness.runners.mlperf_tiny import (TinyClient, accuracy_mode, energy_mode, gather_infer_results,
                                         performance_mode)
from harness.transports import open_transport
from harness.transports.qemu_mcu import BUILD_DIR, PORT_DIR
from tests.conftest import MODELS, require_tool
from tests.suite_files import FAST_RUN, write_emulated_mcu_profile, write_suite


BENCHMARKS = {"kws01": 12, "vww01": 2, "ic01": 10, "ad01": 1}


def tflm_dequantized(model: Path, x_int8: np.ndarray) -> np.ndarray:
    """TFLite-Micro's output for one int8 input, dequantized."""
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_file(str(model), arena_size=1 << 20)
    interp.set_input(x_int8.reshape(interp.get_input_details(0)["shape"]), 0)
    interp.invoke()
    detail = interp.get_output_details(0)
    q = detail["quantization_parameters"]
    return (interp.get_output(0).astype(np.float64).ravel() - q["zero_points"][0]) * q["scales"][0]


def board_input(benchmark: str, model: Path, wire: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """The conversion Tiny's th_load_tensor does, computed on the host: (int8 input, float input)."""
    if benchmark == "kws01":
        return np.frombuffer(wire, np.int8), None
    if benchmark in ("vww01", "ic01"):
        return (np.frombuffer(wire, np.uint8).astype(np.int16) - 128).astype(np.int8), None
    from tflite_micro.python.tflite_micro import runtime

    q = runtime.Interpreter.from_file(str(model), arena_size=1 << 20).get_input_details(0)["quantization_parameters"]
    x = np.frombuffer(wire, "<f4").astype(np.float32)
    scale, zp = np.float32(q["scales"][0]), int(q["zero_points"][0])
    return np.clip(np.round(x / scale) + zp, -128, 127).astype(np.int8), x


@pytest.fixture(scope="module", params=list(BENCHMARKS))
def tiny_board(request):
    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")
    benchmark = request.param
    transport = open_transport("qemu://mps2-an385", qemu={"icount_shift": 3}, serial={"read_timeout": 5},
                               preload=str(MODELS / benchmark / "int8.tflite"), tiny={"benchmark": benchmark})
    transport.open(Deadline(300))
    client = TinyClient(transport)
    client.drain(Deadline(5))
    yield benchmark, transport, client
    transport.close()


@pytest.mark.slow
def test_identity_conversion_and_result_format(tiny_board) -> None:
    benchmark, _, client = tiny_board
    assert client.send_command("name", Deadline(5))[0] == "m-name-dut-[edge-harness-fw]"
    assert client.profile(Deadline(5)) == {"profile": "ulp-mlperf", "model": benchmark}
    model = MODELS / benchmark / "int8.tflite"
    data = datasets.read(MODELS / benchmark / "tiny-dataset")
    wire = data.x[0].tobytes()
    assert len(wire) == {"kws01": 490, "vww01": 27648, "ic01": 3072, "ad01": 2560}[benchmark]
    assert client.load(wire, Deadline(60))[0] == "m-load-done"
    # db print: `m-buffer-` and up to 8 hex bytes joined by `-`
    printed = [line for line in client.send_command("db print", Deadline(30)) if line.startswith("m-buffer-")]
    assert len(printed) == -(-len(wire) // 8)
    assert bytes.fromhex("".join(line[len("m-buffer-"):].replace("-", "") for line in printed)) == wire
    lines = client.send_command("infer 3 1", Deadline(60))
    assert [line for line in lines if not line.startswith(("m-lap-us-", "m-results-"))] == [
        "m-warmup-start-1", "m-warmup-done", "m-infer-start-3", "m-infer-done", "m-ready"]
    result = gather_infer_results(lines)
    assert result["elapsed_time"] > 0
    results_line = next(line for line in lines if line.startswith("m-results-"))
    assert re.fullmatch(r"m-results-\[-?\d+\.\d{3}(,-?\d+\.\d{3})*\]", results_line)
    assert len(result["results"]) == BENCHMARKS[benchmark]
    x_int8, x_float = board_input(benchmark, model, wire)
    expected = tflm_dequantized(model, x_int8)
    if benchmark == "ad01":  # one anomaly score: MSE of the float input and the reconstruction
        assert result["results"][0] == pytest.approx(float(np.mean((x_float - expected) ** 2)), abs=0.0011)
    else:
        assert np.allclose(result["results"], expected, atol=0.0011)


@pytest.mark.slow
def test_corrupt_short_and_oversized_db_load(tiny_board) -> None:
    benchmark, _, client = tiny_board
    wire = datasets.read(MODELS / benchmark / "tiny-dataset").x[0].tobytes()
    oversized = client.send_command(f"db load {len(wire) + 1}", Deadline(5))
    assert oversized[0] == f"e-[Supplied buffer size {len(wire) + 1} exceeds maximum of {len(wire)}]"
    # corrupt: a chunk that is not hex voids the load; an inference then refuses stale input
    client.send_command(f"db load {len(wire)}", Deadline(5))
    assert client.send_command("db zz11", Deadline(5))[0] == "e-[Invalid hex digit 'zz']"
    assert client.send_command("infer 1 0", Deadline(5))[0].startswith("e-[Input db has 0 bytes")
    with pytest.raises(DeviceError, match="Input db has 0 bytes"):
        client.infer(1, 0, Deadline(5))
    # short: fewer bytes than the benchmark's input, loaded completely
    assert client.load(wire[:160], Deadline(10))[0] == "m-load-done"
    with pytest.raises(DeviceError, match=f"Input db has 160 bytes, expected {len(wire)}"):
        client.infer(1, 0, Deadline(10))
    # a load that stops early
    client.send_command(f"db load {len(wire)}", Deadline(5))
    client.send_command(f"db {wire[:31].hex()}", Deadline(5))
    assert client.send_command("infer 1 0", Deadline(5))[0] == "e-[The 'db load' in progress is incomplete]"


@pytest.mark.slow
def test_performance_and_accuracy_mode(tiny_board, record_property) -> None:
    benchmark, _, client = tiny_board
    data = datasets.read(MODELS / benchmark / "tiny-dataset")
    perf = performance_mode(client, data.x[0].tobytes(), benchmark, Deadline(300), iterations=(5, 1))
    assert len(perf["windows"]) == 5 and perf["median_throughput"] > 0
    assert not perf["valid"]  # 5 inferences a window on the emulated board: far from Tiny's 10 s
    assert any("instead of Tiny's" in r for r in perf["invalid_reasons"])
    assert any("< Tiny's 10 s" in r for r in perf["invalid_reasons"])
    acc = accuracy_mode(client, MODELS / benchmark / "tiny-dataset", benchmark, Deadline(600))
    if benchmark == "ad01":
        assert acc["metric"] == "auc" and acc["auc"] >= 0.9
    else:
        assert acc["accuracy_top1"] >= 0.75
    record_property("tiny", {"benchmark": benchmark, "windows": len(perf["windows"]),
                             "median_throughput": perf["median_throughput"],
                             **{k: acc[k] for k in ("auc", "accuracy_top1", "samples") if k in acc}})
    print(f"\nTINY {benchmark}: windows {len(perf['windows'])}, median throughput "
          f"{perf['median_throughput']:.1f} inf/s (board time), "
          + ", ".join(f"{k} {acc[k]}" for k in ("auc", "accuracy_top1", "samples") if k in acc))


@pytest.mark.slow
def test_runner_drives_the_board_as_tiny_firmware(tiny_board) -> None:
    benchmark, transport, _ = tiny_board
    model = MODELS / benchmark / "int8.tflite"
    declared = {"model": benchmark, "model_sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
                "mode": "performance", "iterations": [3, 1]}
    runner = FirmwareRunner(transport, protocol="mlperf-tiny", read_timeout=5, tiny=declared)
    assert health_check(runner, Deadline(30)) is None  # identity only: no digits-CNN inputs pushed
    wrong = FirmwareRunner(transport, protocol="mlperf-tiny", read_timeout=5, tiny={**declared, "model": "strww01"})
    assert "declares model 'strww01'" in health_check(wrong, Deadline(30))
    job = Job(model_path=model, dataset_path=MODELS / benchmark / "tiny-dataset", warmup_count=1,
              warmup_min_seconds=0, measure_count=3, measure_min_seconds=0, accuracy_samples=4)
    measured = runner.measure(job, Deadline(600))
    assert runner.runtime == measured.runtime == "mlperf-tiny (edge-harness-fw)"
    perf = measured.environment["mlperf_tiny"]
    assert len(perf["windows"]) == 5 and perf["valid"] is False
    assert measured.environment["mlperf_tiny_benchmark"] == benchmark
    assert measured.latency_us["n"] == 5


def build_tiny_api(benchmark: str) -> Path:
    """The second firmware image (firmware/tiny-api: th_load_tensor, th_infer, th_results,
    th_timestamp, th_printf), its benchmark fixed at build time as a Tiny submission's is."""

    out = BUILD_DIR / "qemu-mps2"
    subprocess.run(["make", "-s", "-C", str(PORT_DIR), "tiny-api", f"TINY_MODEL={benchmark}", f"OUT={out}"],
                   check=True, capture_output=True, timeout=300)
    return out / f"tiny-api-{benchmark}.elf"


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", list(BENCHMARKS))
def test_runner_drives_a_separate_tiny_api_firmware(benchmark: str, record_property) -> None:
    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")
    model = MODELS / benchmark / "int8.tflite"
    transport = open_transport("qemu://mps2-an385", serial={"read_timeout": 5}, preload=str(model),
                               qemu={"icount_shift": 3, "image": str(build_tiny_api(benchmark))})
    transport.open(Deadline(300))
    try:
        declared = {"model": benchmark, "model_sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
                    "mode": "performance", "iterations": [4, 1]}
        runner = FirmwareRunner(transport, protocol="mlperf-tiny", read_timeout=5, tiny=declared)
        assert health_check(runner, Deadline(30)) is None
        job = Job(model_path=model, dataset_path=MODELS / benchmark / "tiny-dataset", warmup_count=1,
                  warmup_min_seconds=0, measure_count=3, measure_min_seconds=0, accuracy_samples=8)
        measured = runner.measure(job, Deadline(600))
        assert measured.runtime == runner.runtime == "mlperf-tiny (tiny-api-qemu)"
        assert measured.environment["profile"] == "ULPMark for tinyML Firmware V0.0.1"
        perf = measured.environment["mlperf_tiny"]
        assert len(perf["windows"]) == 5 and not perf["valid"] and perf["median_throughput"] > 0
        accuracy = measured.environment["mlperf_tiny_accuracy"]
        assert (accuracy.get("auc") or accuracy.get("accuracy_top1")) >= 0.75
        if benchmark == "ad01":  # the reference's "Input db has 160 elemented" then m-results-[inf]
            client = TinyClient(transport)
            client.load(datasets.read(MODELS / "ad01" / "tiny-dataset").x[0].tobytes()[:640], Deadline(10))
            with pytest.raises(DeviceError, match="outside the protocol: 'Input db has 160 elemented, expected 640'"):
                client.infer(1, 0, Deadline(10))
    finally:
        transport.close()


def test_non_finite_results_fail_the_case() -> None:
    with pytest.raises(DeviceError, match=r"not a finite number: m-results-\[inf\]"):
        gather_infer_results(["m-results-[inf]"])
    with pytest.raises(DeviceError, match="not a finite number"):
        gather_infer_results(["m-results-[0.5,nan]"])


# ---------------------------------------------------------------- the trigger chain, end to end

ENERGY_N = {"kws01": 1300, "vww01": 140, "ic01": 260, "ad01": 470}  # about 0.4 s a window, paced
ACTIVE_A, IDLE_A, VOLTS = 0.012, 0.002, 3.3


def _measure_energy(meter, client: TinyClient, line, wire: bytes, number: int) -> tuple[float, float]:
    """(energy per inference the meter's trigger windows give, P x window / N from the pin)."""

    meter.open(Deadline(10))
    try:
        meter.start(Deadline(10))
        before = len(line.falling())
        time.sleep(0.2)
        counts = energy_mode(client, wire, number, 0, 2, Deadline(300))
        time.sleep(0.2)
        samples = meter.stop(Deadline(10))
    finally:
        meter.close()
    windows = energy.windows_from_markers(samples.markers_s, counts, meter.edge_convention)
    measured = [energy.window_energy(samples, w).uj_per_inference for w in windows]
    edges = line.falling()[before:before + 4]
    expected = [ACTIVE_A * VOLTS * (edges[2 * k + 1] - edges[2 * k]) * 1e6 / n for k, n in enumerate(counts)]
    return float(np.median(measured)), float(np.median(expected))


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", list(BENCHMARKS))
def test_energy_from_firmware_driven_triggers(benchmark: str, record_property) -> None:
    """The harness firmware in Tiny energy mode pulses its trigger (UART1 on the emulated board);
    the LPM01A and Joulescope simulators take it as their trigger input and draw the active
    current while the board is inside a window; energy per inference from the meters' markers
    equals the simulated power x window length / inferences within 1 %."""
    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")

    transport = open_transport("qemu://mps2-an385", qemu={"icount_shift": 3, "pace": True},
                               serial={"read_timeout": 5}, preload=str(MODELS / benchmark / "int8.tflite"),
                               tiny={"benchmark": benchmark, "mode": "energy"})
    transport.open(Deadline(300))
    try:
        client = TinyClient(transport)
        client.drain(Deadline(5))
        assert client.send_command("timestamp", Deadline(5)) == ["m-ready"]  # energy mode: the pin, no line
        wire = datasets.read(MODELS / benchmark / "tiny-dataset").x[0].tobytes()
        figures = {}
        with TriggerLine(transport.trigger_port) as line:
            client.send_command("timestamp", Deadline(5))  # one pulse the line must see
            deadline = time.monotonic() + 5
            while not line.falling() and time.monotonic() < deadline:
                time.sleep(0.01)
            assert line.falling(), "the firmware's trigger never reached the host"

            base = len(line.falling())  # from here on, timestamps come in (start, end) pairs

            def current(t: float) -> float:  # the board draws its active current inside a window
                return ACTIVE_A if sum(1 for f in line.falling()[base:] if f <= t) % 2 else IDLE_A

            with LpmSimulator(lambda k: current(sim.sample_time(k)), trigger=line) as sim:
                lpm = open_meter(f"lpm01a://{sim.port}?voltage=3300&freq=1k&trigger=d7")
                figures["lpm01a"] = _measure_energy(lpm, client, line, wire, ENERGY_N[benchmark])
            api = FakeJoulescope(lambda k: current(api.devices[0].sample_time(k)), voltage=VOLTS, trigger=line)
            js = open_meter("joulescope://JS220-000001?freq=1000&trigger=gpi0", api=api)
            figures["joulescope"] = _measure_energy(js, client, line, wire, ENERGY_N[benchmark])
    finally:
        transport.close()
    for meter, (measured, expected) in figures.items():
        assert measured == pytest.approx(expected, rel=0.01), meter
    record_property("energy_uj_per_inference", {m: f[0] for m, f in figures.items()})
    print(f"\nENERGY {benchmark}: " + ", ".join(f"{m} {f[0]:.3f} uJ/inf (P x window / N {f[1]:.3f})"
                                              for m, f in figures.items()))


@pytest.mark.slow
def test_text_mode_deploys_the_model_and_its_tag_to_the_harness_firmware() -> None:
    """No model declared and none on the board: the runner writes the model and its manifest's
    benchmark id into the model partition (the emulated board's flash) and measures it."""
    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")
    transport = open_transport("qemu://mps2-an385", qemu={"icount_shift": 3}, serial={"read_timeout": 5})
    transport.open(Deadline(300))
    try:
        runner = FirmwareRunner(transport, protocol="mlperf-tiny", read_timeout=5, tiny={"mode": "latency"})
        job = Job(model_path=MODELS / "ic01" / "int8.tflite", dataset_path=MODELS / "ic01" / "tiny-dataset",
                  warmup_count=1, warmup_min_seconds=0, measure_count=3, measure_min_seconds=0, accuracy_samples=6)
        measured = runner.measure(job, Deadline(600))
        assert measured.environment["model"] == "ic01" == measured.environment["mlperf_tiny_benchmark"]
        assert measured.latency_us["n"] == 3 and measured.accuracy_samples == 6
    finally:
        transport.close()


def harness_run(tmp_path: Path, suite: Path, profile: Path) -> tuple[dict, dict]:
    """`harness run` through the CLI: the one result row and its environment."""
    from typer.testing import CliRunner

    from harness.cli import app
    from harness.results.store import Store

    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    result = CliRunner().invoke(app, ["run", str(suite), "--device", str(profile), "--store", db,
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    store = Store(db)
    [row] = store.results(store.latest_run_id())
    [env] = store.environments(store.latest_run_id())
    return row, env["data"]


@pytest.mark.slow
def test_harness_run_on_a_tiny_board_flashed_by_someone_else(tmp_path: Path) -> None:
    """The CLI end to end: a profile declares a Tiny board (the separate tiny-api firmware with
    kws01 in its flash); `harness run` checks identity only, runs Tiny's performance mode and
    stores the board's runtime and the windows."""
    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")

    model = MODELS / "kws01" / "int8.tflite"
    profile = write_emulated_mcu_profile(tmp_path, "tiny-kws01", "a Tiny board flashed elsewhere", extra=f"""\
qemu:
  image: {build_tiny_api("kws01")}
  icount_shift: 3
  preload: {model}
serial:
  protocol: mlperf-tiny
  model: kws01
  model_sha256: {hashlib.sha256(model.read_bytes()).hexdigest()}
  tiny_mode: performance
  tiny_iterations: [4, 1]
""")
    row, _ = harness_run(tmp_path, write_suite(tmp_path, families={"kws01": ["int8"]}), profile)
    assert row["status"] == "ok" and row["runtime"] == "mlperf-tiny (tiny-api-qemu)"
    assert row["accuracy_top1"] >= 0.75


@pytest.mark.slow
def test_harness_run_in_text_mode_tags_the_model_from_the_suite(tmp_path: Path) -> None:
    """`harness run` with `serial.protocol: mlperf-tiny` on this harness's firmware: the suite's
    `mlperf_tiny: {benchmark: kws01}` (here on a copy of the model without a manifest) is the tag
    deployed with the model; the board then answers kws01 and scores the Tiny dataset."""
    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")

    folder = tmp_path / "kws"
    folder.mkdir()
    shutil.copy(MODELS / "kws01" / "int8.tflite", folder / "int8.tflite")
    shutil.copytree(MODELS / "kws01" / "tiny-dataset", folder / "tiny-dataset")
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"name: tiny\nmodels:\n  - path: {folder}\n    mlperf_tiny: {{benchmark: kws01}}\n" + FAST_RUN)
    profile = write_emulated_mcu_profile(tmp_path, "fw-tiny", "this firmware, Tiny mode", extra="""\
qemu: {icount_shift: 3}
serial: {protocol: mlperf-tiny, read_timeout: 5}
""")
    row, env = harness_run(tmp_path, suite, profile)
    assert row["status"] == "ok" and row["runtime"] == "mlperf-tiny (edge-harness-fw)", row.get("reason")
    assert row["accuracy_top1"] >= 0.75 and env["model"] == "kws01"
