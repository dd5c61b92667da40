"""Plugins: a separate package adds a transport through an entry point, without touching the
harness; the example in examples/tcp-board-plugin is pip-installed into a temporary site
folder and a case runs through it, end to end (CLI, subprocess, store)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from harness import registry
from harness.runtimes import adapters
from tests.conftest import MODELS, REPO

PLUGIN = REPO / "examples" / "tcp-board-plugin"


def test_builtins_are_declared_as_entry_points_too() -> None:
    """pyproject.toml declares every built-in in its group; the in-code tables say the same."""
    import tomllib

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]
    from harness.power import _REGISTRY as meters
    from harness.transports import _REGISTRY as transports

    assert declared["edge_harness.transports"] == transports._builtin
    assert declared["edge_harness.meters"] == meters._builtin
    assert declared["edge_harness.runtimes"] == adapters.RUNTIMES._builtin
    assert declared["edge_harness.model_formats"] == registry.MODEL_FORMATS._builtin
    assert declared["edge_harness.report_sections"] == registry.REPORT_SECTIONS._builtin
    assert set(registry.GROUPS.values()) >= set(declared)


def test_each_runtime_declares_formats_memory_and_per_op() -> None:
    caps = {c["runtime"]: c for c in adapters.capabilities()}
    assert caps["onnxruntime"] == {"runtime": "onnxruntime", "formats": ["onnx"], "latency": True,
                                   "memory_method": "rss-increase", "per_op": True}
    assert caps["tflm"]["memory_method"] == "arena" and not caps["tflm"]["per_op"]
    assert not caps["litert"]["per_op"]  # LiteRT's Python API has no per-op profiler
    assert adapters.runtime_for("litert", "onnx") == "onnxruntime"
    assert adapters.runtime_for("litert", "pte") == "executorch"
    assert adapters.runtime_for("tflm", "onnx") is None  # an MCU emulation runs .tflite only


@pytest.mark.slow
def test_example_transport_plugin_installs_and_runs_a_case(tmp_path: Path) -> None:
    site, source = tmp_path / "site", tmp_path / "plugin"
    shutil.copytree(PLUGIN, source)  # its build/ stays out of the checkout
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(source)],
                   check=True, capture_output=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(site)])}
    board = subprocess.Popen([sys.executable, "-m", "edge_harness_tcp_board"], env=env, stdout=subprocess.PIPE,
                             text=True, start_new_session=True)
    try:
        port = int(board.stdout.readline())
        profiles = tmp_path / "profiles"
        profiles.mkdir()
        (profiles / "tcp-board.yaml").write_text(
            "name: tcp-board\ndescription: a board over TCP (example plugin)\ntier: workstation\ncompute_tops: null\ntransport: tcpboard://127.0.0.1:%d\nruntime: litert\n"
            "ram: 1 GB\nflash: 1 GB\nmodel_volume_cap: 100 MB\n" % port)
        db = tmp_path / "r.sqlite"
        done = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(MODELS / "digits-cnn" / "fp32.tflite"),
                               "--device", "tcp-board", "--profiles", str(profiles), "--store", str(db)],
                              env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    finally:
        board.kill()
        board.wait()
    with sqlite3.connect(db) as conn:
        status, runtime, p50 = conn.execute("select status, runtime, latency_p50_us from results").fetchone()
    assert (status, runtime) == ("ok", "litert") and p50 > 0
