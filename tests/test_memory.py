"""One memory model (docs/scoring.md §9): a stored row per runtime class carries its working
memory by its method, and the white paper from host + host-tflm ranks volume by model bytes and
shows both methods side by side, never as one ratio."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from harness.measures import memory
from harness.cli import app
from harness.models.tflite_model import read_model
from harness.runtimes import adapters, agent
from harness.results.store import Store
from harness.config.units import human_bytes
from tests.conftest import MODELS, REPO, require, require_tool
from tests.suite_files import write_emulated_mcu_profile, write_suite

cli = CliRunner()
VARIANTS = ["int8", "tiny-int8"]


def harness(*args: str) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


# ---------------------------------------------------------------- the rules, without a board


def test_methods_by_runtime_class_and_never_one_ratio_across_methods() -> None:
    # the agent (stdlib only, imports nothing of harness) uses the same names
    assert (agent.ARENA, agent.RSS_INCREASE) == (memory.ARENA, memory.RSS_INCREASE)
    assert adapters.adapter("tflm").memory_method == memory.ARENA
    for name in ("litert", "tflite-runtime", "edgetpu", "onnxruntime", "executorch"):
        assert adapters.adapter(name).memory_method == memory.RSS_INCREASE
    arena = {"device": "mcu", "working_memory_bytes": 2_000, "working_memory_method": "arena"}
    rss = {"device": "host", "working_memory_bytes": 4_000_000, "working_memory_method": "rss-increase"}
    assert memory.ratio(arena, rss) is None and memory.ratio(rss, arena) is None
    assert memory.ratio({**arena, "working_memory_bytes": 3_000}, arena) == pytest.approx(1.5)
    # a row stored before the method was recorded: its absolute RSS is not working memory
    assert memory.working_memory({"rss_peak_bytes": 50_000_000, "arena_bytes": None}) is None
    assert memory.label(rss) == "4 MB (rss-increase)" and memory.label({}) == "not measured"


def test_planned_activations_equal_tflite_micros_own_plan() -> None:
    """The greedy plan from the flatbuffer is TFLite-Micro's: its arena head (activations, no
    persistent data) on every model it runs, far below the no-reuse upper bound."""
    from tflite_micro.python.tflite_micro import runtime

    compared = set()
    for path in sorted(MODELS.glob("*/*.tflite")):
        model = read_model(path)
        # the upper bound has no 16-byte alignment: a model of few tensors may plan a little over it
        assert 0 < model.planned_activation_bytes <= model.activation_bytes_upper_bound + 64, path
        try:
            interp = runtime.Interpreter.from_file(str(path), arena_size=8 << 20)
        except RuntimeError:
            continue  # fp16 and dynamic-range int8: TFLite-Micro cannot allocate them
        head = agent.capture_stderr(interp.print_allocations).split("Arena allocation head ")[1].split()[0]
        assert model.planned_activation_bytes == int(head), path
        compared.add(f"{path.parent.name}/{path.stem}")
    # every model TFLite-Micro can allocate was compared; these at least (new families add more)
    assert {"digits-cnn/fp32", "digits-cnn/int8", "digits-cnn/pruned-int8", "digits-cnn/tiny-int8",
            "mobilenetv2-035-96/fp32", "mobilenetv2-035-96/int8", "kws01/int8", "vww01/int8", "ic01/int8",
            "ad01/int8"} <= compared
    mobilenet = read_model(MODELS / "mobilenetv2-035-96" / "int8.tflite")
    assert mobilenet.planned_activation_bytes < mobilenet.activation_bytes_upper_bound / 2  # reuse


# ---------------------------------------------------------------- stored rows, real runtimes


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Store]:
    """The quickstart's digits variants on `host` (LiteRT) and `host-tflm` (TFLite-Micro)."""
    tmp = tmp_path_factory.mktemp("memory")
    suite = write_suite(tmp, families={"digits-cnn": VARIANTS}, name="quickstart")
    db = f"sqlite:///{tmp / 'r.sqlite'}"
    for device in ("host", "host-tflm"):
        harness("run", str(suite), "--device", device, "--store", db, "--profiles", str(REPO / "device_profiles"))
    return tmp, Store(db)


@pytest.mark.slow
def test_litert_row_is_the_rss_increase_not_the_process_rss(quickstart) -> None:
    _, store = quickstart
    for r in (r for r in store.results() if r["device"] == "host"):
        assert r["status"] == "ok" and r["runtime"] == "litert"
        assert r["working_memory_method"] == "rss-increase"
        # an increase over the interpreter's life, far below the Python process's own RSS
        assert 0 < r["working_memory_bytes"] < r["rss_peak_bytes"] / 2
        assert r["planned_activation_bytes"] == read_model(MODELS / "digits-cnn" / f"{r['variant']}.tflite").planned_activation_bytes
        assert r["arena_bytes"] is None


@pytest.mark.slow
def test_tflm_row_is_the_arena(quickstart) -> None:
    _, store = quickstart
    for r in (r for r in store.results() if r["device"] == "host-tflm"):
        assert r["status"] == "ok" and r["runtime"] == "tflm"
        assert r["working_memory_method"] == "arena"
        assert r["working_memory_bytes"] == r["arena_bytes"] > 0
        assert r["working_memory_bytes"] < 64 * 1024  # the digits CNN's arena, not a process


@pytest.mark.slow
def test_firmware_engine_row_is_the_arena_on_the_emulated_cortex_m(tmp_path: Path) -> None:
    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")
    profile = write_emulated_mcu_profile(tmp_path, "cortex-m-memory", "the emulated Cortex-M board",
                                         "qemu:\n  icount_shift: 3\n")
    suite = write_suite(tmp_path, families={"digits-cnn": ["tiny-int8"]},
                        extra="thresholds:\n  memory_fraction: 0.6\n")
    db = f"sqlite:///{tmp_path / 'fw.sqlite'}"
    harness("run", str(suite), "--device", str(profile), "--store", db)
    [row] = Store(db).results()
    assert row["status"] == "ok" and row["runtime"].startswith("edge-harness-fw")
    assert row["working_memory_method"] == "arena"
    assert row["working_memory_bytes"] == row["arena_bytes"] > 0
    assert row["rss_peak_bytes"] is None
    # the memory threshold judged the engine's arena against the board's 4 MiB
    [check] = [c for c in row["thresholds"] if c["name"] == "memory_fraction_of_ram"]
    assert check["value"] == pytest.approx(row["working_memory_bytes"] / (4 * 2**20)) and check["passed"]


def tflite_runtime_python() -> str:
    """tflite-runtime's only cp311 wheel (2.14.0) is built against NumPy 1; the project runs NumPy
    2. Like a board with its own Python, it gets its own venv (make tflite-runtime-venv)."""
    for candidate in (os.environ.get("EDGE_HARNESS_TFLITE_RUNTIME_PYTHON"),
                      str(REPO / ".venv-tflite-runtime" / "bin" / "python")):
        if candidate and Path(candidate).is_file():
            return candidate
    require(False, "no tflite-runtime venv (make tflite-runtime-venv installs tflite-runtime 2.14.0 with NumPy 1)")
    raise AssertionError("unreachable")


@pytest.mark.slow
def test_tflite_runtime_row_is_the_rss_increase(tmp_path: Path) -> None:
    profile = tmp_path / "host-tflite-runtime.yaml"
    profile.write_text(f"""\
name: host-tflite-runtime
description: this machine under tflite-runtime, in its own venv
tier: workstation
transport: local://?python={tflite_runtime_python()}
runtime: tflite-runtime
compute_tops: null
ram: auto
flash: auto
model_volume_cap: 500 MB
""")
    suite = write_suite(tmp_path, families={"digits-cnn": VARIANTS})
    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    harness("run", str(suite), "--device", str(profile), "--store", db)
    store = Store(db)
    rows = store.results()
    assert len(rows) == len(VARIANTS)
    for r in rows:
        assert r["status"] == "ok" and r["runtime"] == "tflite-runtime"
        assert r["working_memory_method"] == "rss-increase"
        assert 0 < r["working_memory_bytes"] < r["rss_peak_bytes"] / 2
    [env] = store.environments(rows[0]["run_id"])
    assert env["data"]["runtime"] == "tflite-runtime" and env["data"]["runtime_version"] == "2.14.0"


# ---------------------------------------------------------------- the white paper


@pytest.mark.slow
def test_whitepaper_ranks_volume_by_model_bytes_and_shows_both_methods(quickstart) -> None:
    tmp, store = quickstart
    out = tmp / "paper"
    harness("report", "--definition", str(REPO / "reports" / "quickstart.yaml"), "--out", str(out),
            "--store", store.url, "--profiles", str(REPO / "device_profiles"), "--no-pdf")
    scores = pd.read_csv(out / "scores.csv").set_index("device")
    host, tflm = scores.loc["host"], scores.loc["host-tflm"]
    # same models, same bytes: volume is 1.0 for both, whatever the arena and RSS increase are
    assert host["volume_score"] == pytest.approx(1.0) and tflm["volume_score"] == pytest.approx(1.0)
    assert tflm["delay_score"] < 1.0 and host["composite"] > tflm["composite"]
    html = (out / "whitepaper.html").read_text()
    section = html[html.index('id="memory"'):html.index('id="rankings"')]
    assert "<strong>arena</strong>" in section and "<strong>rss-increase</strong>" in section
    assert "never divided into one ratio" in section
    rows = {r["device"]: r for r in store.results() if r["variant"] == "int8"}
    assert memory.label(rows["host"]) in section and memory.label(rows["host-tflm"]) in section
    # every working-memory figure in the paper names its method: never a bare byte count
    for r in store.results():
        assert html.count(memory.label(r)) >= 3, r["device"]  # side by side, device page, compression
        assert f">{human_bytes(r['working_memory_bytes'])}<" not in html
