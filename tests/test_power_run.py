"""`harness run` on the host with a power meter: an LPM01A simulator on a real pty records each
case's energy windows; without a meter power is "not measured"; a failing meter keeps the rest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.testing.simulators import LpmSimulator
from harness.results.store import Store
from tests.suite_files import write_emulated_mcu_profile, write_suite

pytestmark = pytest.mark.slow
cli = CliRunner()

PROFILE = """\
name: {name}
description: this host, its power from a simulated meter
tier: workstation
transport: local://
runtime: litert
compute_tops: null
ram: auto
flash: auto
model_volume_cap: 500 MB
power:
{power}
"""
BATTERY = """\
  windows: 2
  window_seconds: 0.3 s
  battery_capacity: 300 mAh
  battery_voltage: 3.7 V
  duty_cycle: 0.1
"""


def run(tmp: Path, name: str, power: str, variants: list[str]) -> tuple[list[dict], str]:
    profile = tmp / f"{name}.yaml"
    profile.write_text(PROFILE.format(name=name, power=power))
    suite = write_suite(tmp, families={"digits-cnn": variants})
    db = f"sqlite:///{tmp / 'r.sqlite'}"
    result = cli.invoke(app, ["run", str(suite), "--device", str(profile), "--store", db, "--out", str(tmp / "out")])
    assert result.exit_code in (0, 1), result.output
    store = Store(db)
    rows = store.results(store.latest_run_id())
    return rows, (tmp / "out" / "report.html").read_text()


def test_measured_energy_power_and_battery(tmp_path: Path) -> None:
    with LpmSimulator(lambda k: 0.010) as sim:  # 10 mA at 3.3 V: 33 mW throughout
        rows, html = run(tmp_path, "metered", f"  meter: lpm01a://{sim.port}?voltage=3300\n" + BATTERY, ["fp32", "int8"])
    assert [r["status"] for r in rows] == ["ok", "ok"]
    for r in rows:
        d = r["power_detail"]
        assert r["power_status"] == "measured" and d["method"] == "host clock" and len(d["windows"]) == 2
        assert r["avg_power_mw"] == pytest.approx(33.0) and r["idle_power_mw"] == pytest.approx(33.0)
        per_window = sorted(33e-3 * w["seconds"] * 1e6 / w["inferences"] for w in d["windows"])
        assert r["energy_uj"] == pytest.approx(sum(per_window) / 2)  # the median of two
        assert all(w["inferences"] > 0 and w["seconds"] >= 0.3 for w in d["windows"])
        assert r["battery_pct_per_hour"] == pytest.approx(100 * 0.033 * 3600 / (300 * 3.6 * 3.7))
        assert r["battery_life_h"] == pytest.approx(300 * 3.6 * 3.7 / (0.033 * 3600))
        assert 0 < d["alignment_error_fraction"] < 0.05 and r["latency_p50_us"] > 0
    assert "Power and battery" in html and "33.0 mW" in html and "2.97 %/h" in html and "33.6 h" in html  # 3 sig. digits


def test_without_a_meter_power_is_not_measured_or_flagged_estimated(tmp_path: Path) -> None:
    (tmp_path / "none").mkdir()
    rows, html = run(tmp_path / "none", "nometer", "  windows: 1", ["fp32"])
    [r] = rows
    assert r["status"] == "ok" and r["power_status"] == "not measured"
    assert all(r[k] is None for k in ("energy_uj", "avg_power_mw", "battery_pct_per_hour", "battery_life_h"))
    assert "not measured" in html and "no power.meter in the profile" in html

    (tmp_path / "est").mkdir()
    rows, html = run(tmp_path / "est", "estimated", "  estimate: {rated_power: 2 W}\n" + BATTERY, ["fp32"])
    [r] = rows
    assert r["power_status"] == "estimated" and r["avg_power_mw"] == pytest.approx(2000.0)
    assert r["energy_uj"] == pytest.approx(2.0 * r["latency_p50_us"])
    assert '<span class="tag">estimated</span>' in html


@pytest.mark.parametrize(("url", "sim", "error"), [
    ("lpm01a://{port}", {"silent_after": 150}, "meter failed: .*stopped answering"),
    ("lpm01a://{port}?trigger=d7", {}, "meter failed: .*trigger never came"),
])
def test_a_failing_meter_keeps_latency_and_accuracy(tmp_path: Path, url: str, sim: dict, error: str) -> None:
    with LpmSimulator(lambda k: 0.010, **sim) as s:
        rows, html = run(tmp_path, "failing", f"  meter: {url.format(port=s.port)}\n" + BATTERY, ["fp32"])
    [r] = rows
    assert r["status"] == "ok" and r["latency_p50_us"] > 0 and r["accuracy_top1"] > 0.9
    assert r["power_status"] == "meter failed" and r["energy_uj"] is None
    assert re.search(error, r["power_detail"]["error"])
    assert "meter failed" in html


def test_microcontroller_energy_through_the_firmware(tmp_path: Path) -> None:
    """The serial runner's energy phase: RUN batches in each window, on the emulated board."""
    from tests.conftest import require_tool

    require_tool("qemu-system-arm")
    profile = write_emulated_mcu_profile(
        tmp_path, "metered-mcu", "the emulated Cortex-M board with a simulated meter on its supply",
        "qemu:\n  icount_shift: 3\npower:\n  meter: sim://?current_ma=10&voltage=3.3&rate=2000\n"
        "  windows: 2\n  window_seconds: 0.5 s\n")
    suite = write_suite(tmp_path, families={"digits-cnn": ["tiny-int8"]})
    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    result = cli.invoke(app, ["run", str(suite), "--device", str(profile), "--store", db])
    assert result.exit_code == 0, result.output
    [row] = Store(db).results()
    d = row["power_detail"]
    assert row["power_status"] == "measured" and len(d["windows"]) == 2
    # 33 mW throughout: each window's energy divided by the inferences the board ran in it
    for w in d["windows"]:
        assert w["inferences"] > 0
        assert w["uj_per_inference"] == pytest.approx(33e-3 * w["seconds"] * 1e6 / w["inferences"], rel=0.01)
    assert row["avg_power_mw"] == pytest.approx(33.0, rel=0.02)
    assert row["energy_uj"] > 0 and d["alignment_error_ms"] is not None
