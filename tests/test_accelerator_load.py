"""The NPU's/GPU's busy share (the seed's compute utilization): read on the board where the
profile's `accelerator_load` says, during the measured window, stored beside the CPU figures.

The "board" is the tests' real sshd with a login directory of its own: a fake sysfs tree and a
fake tegrastats exist there only, so a figure can only have been read on the board side."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.runtimes.agent import AcceleratorLoad
from harness.results.store import Store
from tests.sshd_server import start_sshd
from tests.suite_files import write_suite
from tests.test_ssh_run import board_profile

cli = CliRunner()
GPU_LOAD = "sys/devices/gpu.0/load"  # relative: resolved in the board's login directory
# A Jetson Orin's tegrastats line (L4T 36), GR3D_FREQ given as the test asks; it records its pid
# so the test can tell that the agent stopped it.
TEGRASTATS = """#!/bin/sh
echo $$ > "$(dirname "$0")/tegrastats.pid"
ms=1000; [ "$1" = "--interval" ] && ms=$2
while true; do
  echo "12-02-2026 19:00:00 RAM 2448/7620MB (lfb 4x4MB) SWAP 0/3810MB (cached 0MB) CPU [9%@729,6%@729] \
EMC_FREQ 0% GR3D_FREQ {percent}%@[305,305] cpu@45.5C soc2@44.1C VDD_IN 4211mW/4211mW"
  sleep $(awk "BEGIN {{print $ms / 1000}}")
done
"""


def fake_tegrastats(directory: Path, percent: int) -> Path:
    path = directory / "bin" / "tegrastats"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TEGRASTATS.format(percent=percent))
    path.chmod(0o755)
    return path


def measured(spec: dict | None, seconds: float = 0.4) -> dict:
    """The agent's sampler around a busy-wait window of `seconds`, as measure() drives it."""
    load = AcceleratorLoad.open(spec)
    try:
        time.sleep(0.15)  # the warm-up
        load.begin()
        time.sleep(seconds)
        load.end()
    finally:
        load.close()
    return load.result()


# ---------------------------------------------------------------- the agent's sampler


def test_sysfs_load_is_the_mean_of_the_readings_in_the_window(tmp_path: Path) -> None:
    load = tmp_path / "load"
    load.write_text("620\n")
    r = measured({"source": "sysfs", "path": str(load), "full_scale": 1000, "interval": 0.02})
    assert r["accelerator_busy_fraction"] == pytest.approx(0.62)
    assert r["accelerator_method"].startswith(f"sysfs {load} / 1000, mean of ")


def test_devfreq_load_reads_its_leading_percent(tmp_path: Path) -> None:
    load = tmp_path / "load"
    load.write_text("42@800000000Hz\n")
    r = measured({"source": "sysfs", "path": str(load), "full_scale": 100, "interval": 0.02})
    assert r["accelerator_busy_fraction"] == pytest.approx(0.42)


@pytest.mark.parametrize("content, why", [(None, "No such file"), ("busy\n", "not a number")])
def test_an_unreadable_source_is_not_measured_with_its_reason(tmp_path: Path, content: str | None, why: str) -> None:
    load = tmp_path / "load"
    if content is not None:
        load.write_text(content)
    r = measured({"source": "sysfs", "path": str(load), "full_scale": 1000, "interval": 0.02})
    assert r["accelerator_busy_fraction"] is None
    assert r["accelerator_method"].startswith("not measured: ") and why in r["accelerator_method"]


def test_no_source_is_not_measured() -> None:
    assert measured(None, 0.01) == {"accelerator_busy_fraction": None, "accelerator_method": None}


def test_tegrastats_is_parsed_and_stopped(tmp_path: Path) -> None:
    script = fake_tegrastats(tmp_path, 37)
    r = measured({"source": "tegrastats", "path": str(script), "full_scale": 1000, "interval": 0.05})
    assert r["accelerator_busy_fraction"] == pytest.approx(0.37)
    assert "GR3D_FREQ" in r["accelerator_method"]
    assert not _alive(int((tmp_path / "bin" / "tegrastats.pid").read_text()))


def test_missing_tegrastats_is_not_measured(tmp_path: Path) -> None:
    r = measured({"source": "tegrastats", "path": str(tmp_path / "no-tegrastats"), "full_scale": 1000,
                  "interval": 0.05})
    assert r["accelerator_busy_fraction"] is None and "not measured" in r["accelerator_method"]


# ---------------------------------------------------------------- an SSH board, end to end


@pytest.mark.slow
@pytest.mark.parametrize("source", ["sysfs", "tegrastats"])
def test_ssh_board_reads_its_accelerator_load_on_the_board(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           source: str) -> None:
    board_home, controller = tmp_path / "board-home", tmp_path / "controller"
    controller.mkdir()
    monkeypatch.chdir(controller)  # the controller has neither the load file nor tegrastats
    (board_home / GPU_LOAD).parent.mkdir(parents=True)
    (board_home / GPU_LOAD).write_text("450\n")
    fake_tegrastats(board_home, 63)
    section = ({"sysfs": f"{{source: sysfs, path: {GPU_LOAD}, interval: 20 ms}}",
                "tegrastats": "{source: tegrastats, path: bin/tegrastats, interval: 50 ms}"}[source])
    sshd = start_sshd(login_dir=board_home)
    try:
        profile = board_profile(tmp_path, sshd, name="gpu-board")
        profile.write_text(profile.read_text() + f"accelerator_load: {section}\n")
        suite = write_suite(tmp_path, families={"digits-cnn": ["int8"]})
        db = f"sqlite:///{tmp_path / 'r.sqlite'}"
        result = cli.invoke(app, ["run", str(suite), "--device", str(profile), "--store", db])
        assert result.exit_code in (0, 1), result.output
    finally:
        sshd.stop()
    [row] = Store(db).results()
    assert row["status"] == "ok", row["reason"]
    print(f"{source}: {row['accelerator_busy_fraction']} by {row['accelerator_method']}")
    assert row["accelerator_busy_fraction"] == pytest.approx({"sysfs": 0.45, "tegrastats": 0.63}[source])
    assert row["accelerator_method"].startswith(source), row["accelerator_method"]
    assert row["cpu_utilization"] is not None  # beside the CPU figures, not instead of them
    if source == "tegrastats":
        assert not _alive(int((board_home / "bin" / "tegrastats.pid").read_text()))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # a zombie has ended
