"""hwmon and RAPL meters against fake sysfs trees, read here and through a real command runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.deadline import Deadline
from harness.power import MeterUnavailable, energy, open_meter
from harness.transports.local import LocalTransport
from tests.meters import RaplCounter, record, write


@pytest.fixture
def hwmon(tmp_path: Path) -> Path:
    root = tmp_path / "hwmon"
    write(root / "hwmon0" / "name", "cpu_thermal")
    write(root / "hwmon0" / "temp1_input", 45000)
    chip = root / "hwmon1"
    write(chip / "name", "ina3221")
    for n, label, mv, ma in ((1, "VDD_IN", 5000, 500), (2, "VDD_CPU_GPU_CV", 5000, 120)):
        write(chip / f"in{n}_label", label)
        write(chip / f"in{n}_input", mv)
        write(chip / f"curr{n}_input", ma)
    write(root / "hwmon2" / "name", "pmic")
    write(root / "hwmon2" / "power1_input", 1_500_000)  # uW, no voltage channel
    return root


def test_hwmon_ina3221_channel_by_label_here(hwmon: Path) -> None:
    s = record(f"hwmon://ina3221/VDD_IN?root={hwmon}&interval=0.01", 0.5)
    assert len(s) > 10 and set(s.current_a) == {0.5} and set(s.voltage_v) == {5.0}
    w = energy.window_energy(s, energy.Window(s.t_s[2], s.t_s[-2], 40))
    assert w.avg_power_w == pytest.approx(2.5)  # 5 V x 500 mA
    assert w.uj_per_inference == pytest.approx(2.5 * (s.t_s[-2] - s.t_s[2]) * 1e6 / 40, rel=1e-12)


def test_hwmon_on_a_board_through_its_command_runner(hwmon: Path) -> None:
    board = LocalTransport()
    commands: list[list[str]] = []

    def run(argv: list[str]) -> bytes:
        commands.append(argv)
        done = board.run(argv, deadline=Deadline(5))
        assert done.returncode == 0, done.stderr
        return done.stdout

    s = record(f"hwmon://ina3221/2?root={hwmon}&interval=0.01", 0.5, run=run)
    assert set(s.current_a) == {0.12} and energy.average_power(s, s.t_s[0], s.t_s[-1]) == pytest.approx(0.6)
    assert commands[0][:2] == ["sh", "-c"] and ["cat", f"{hwmon}/hwmon1/curr2_input",
                                                f"{hwmon}/hwmon1/in2_input"] in commands
    assert s.anchor_error_s > 0  # half a command round trip


def test_hwmon_power_only_sensor_and_missing_chip(hwmon: Path) -> None:
    s = record(f"hwmon://pmic?root={hwmon}&interval=0.01", 0.2)
    assert energy.average_power(s, s.t_s[0], s.t_s[-1]) == pytest.approx(1.5)
    with pytest.raises(MeterUnavailable, match="no hwmon sensor named 'ina219' .*found: cpu_thermal, ina3221, pmic"):
        open_meter(f"hwmon://ina219?root={hwmon}").open(Deadline(1))


def test_rapl_constant_power_across_counter_wraps(tmp_path: Path) -> None:
    with RaplCounter(tmp_path, range_uj=2_000_000):
        s = record(f"rapl://?root={tmp_path}&interval=0.02", 3.2)
    # 3.2 s at 2 W wraps the 2 J counter three times; without unwrapping each wrap would read
    # as about -100 W. Single intervals jitter with the writer's scheduling; their sum
    # telescopes to the counter's total, so the average is tight. (A reader stalled for a whole
    # wrap period, 1 s, cannot see that wrap: as with a real counter, polling must be faster.)
    assert s.current_a.min() >= 0
    assert energy.average_power(s, s.t_s[0], s.t_s[-1]) == pytest.approx(2.0, rel=0.1)


def test_rapl_absent_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(MeterUnavailable, match="does not exist on this machine"):
        open_meter(f"rapl://?root={tmp_path / 'nope'}").open(Deadline(1))
    write(tmp_path / "intel-rapl:0" / "name", "psys")
    write(tmp_path / "intel-rapl:0" / "energy_uj", 1)
    with pytest.raises(MeterUnavailable, match="no RAPL zone package-\\* .*found: psys"):
        open_meter(f"rapl://?root={tmp_path}").open(Deadline(1))
