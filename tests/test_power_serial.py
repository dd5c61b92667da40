"""LPM01A and INA-bridge drivers against simulators speaking their wire protocols on real ptys."""

from __future__ import annotations


import pytest

from harness.deadline import Deadline
from harness.errors import ConfigError
from harness.power import MeterError, energy, open_meter
from harness.power.lpm01a import parse_current
from harness.testing.simulators import InaBridgeSimulator, LpmSimulator, format_current
from tests.meters import record

ACTIVE = range(200, 1200)  # samples at 10 mA ("inference"); 1 mA otherwise


def profile(k: int) -> float:
    return 0.010 if k in ACTIVE else 0.001


def expected_uj_per_inference(samples, inferences: int) -> float:
    """10 mA at 3.3 V over samples 200..1199: 33 mW for 999 sample periods."""
    return 0.033 * (samples.t_s[1199] - samples.t_s[200]) * 1e6 / inferences


def test_ascii_dec_round_trip() -> None:
    assert parse_current("6409-07") == pytest.approx(640.9e-6)
    assert format_current(0.010) == "1000-05" and parse_current("1000-05") == pytest.approx(0.010)
    assert parse_current("64") is None


def test_lpm01a_energy_per_inference_host_windows() -> None:
    with LpmSimulator(profile) as sim:
        s = record(f"lpm01a://{sim.port}?voltage=3300&freq=1k", 1.4)
        assert sim.commands[:9] == ["htc", "format ascii_dec", "freq 1k", "acqtime 0", "output current",
                                    "volt 3300m", "trigsrc sw", "pwr on", "start"]
        assert sim.commands[-3:] == ["stop", "pwr off", "hrc"]
    assert s.t_s[1] - s.t_s[0] == pytest.approx(0.001)
    w = energy.window_energy(s, energy.Window(s.t_s[200], s.t_s[1199], 100))
    assert w.uj_per_inference == pytest.approx(329.67, rel=1e-9)  # 33 mW x 0.999 s / 100
    assert w.uj_per_inference == pytest.approx(expected_uj_per_inference(s, 100), rel=1e-9)
    assert energy.average_power(s, s.t_s[10], s.t_s[190]) == pytest.approx(0.0033)


def test_lpm01a_trigger_edges_place_the_windows() -> None:
    with LpmSimulator(profile, events=(200, 1199)) as sim:
        s = record(f"lpm01a://{sim.port}?trigger=d7", 1.4)
        assert "eventsrc d7 fal" in sim.commands
    [w] = energy.windows_from_markers(s.markers_s, [100])
    assert (w.start_s, w.end_s) == (s.t_s[200], s.t_s[1199])
    assert energy.window_energy(s, w).uj_per_inference == pytest.approx(329.67, rel=1e-9)


def test_lpm01a_trigger_that_never_comes() -> None:
    with LpmSimulator(profile) as sim:
        s = record(f"lpm01a://{sim.port}?trigger=d7", 0.5)
    with pytest.raises(ValueError, match="trigger never came"):
        energy.windows_from_markers(s.markers_s, [100])


@pytest.mark.parametrize("fault", [{"garble_at": 300}, {"skip": (300, 301, 302, 303, 304)}])
def test_lpm01a_dropped_samples(fault: dict) -> None:
    with LpmSimulator(profile, **fault) as sim:
        with pytest.raises(MeterError, match="meter failed: .*dropped samples"):
            record(f"lpm01a://{sim.port}", 0.6)


def test_lpm01a_meter_that_stops_answering() -> None:
    with LpmSimulator(profile, silent_after=200) as sim:
        with pytest.raises(MeterError, match="meter failed: .*(stopped answering|stopped sending)"):
            record(f"lpm01a://{sim.port}", 0.5)


def test_lpm01a_refused_command_and_bad_url() -> None:
    with pytest.raises(ConfigError, match="voltage must be 1800-3300 mV"):
        open_meter("lpm01a:///dev/ttyACM0?voltage=5000")
    with pytest.raises(ConfigError, match="records continuously in ASCII mode"):
        open_meter("lpm01a:///dev/ttyACM0?freq=100k")
    with LpmSimulator(profile) as sim:
        meter = open_meter(f"lpm01a://{sim.port}")
        meter.open(Deadline(5))
        with pytest.raises(MeterError, match="'bogus' refused: unknown command"):
            meter.command("bogus", Deadline(2))
        meter.close()


def test_ina_bridge_energy_and_trigger_across_a_micros_wrap() -> None:
    with InaBridgeSimulator(profile, events=(200, 201, 1199, 1200), t0_us=2**32 - 500_000) as sim:
        s = record(f"ina://{sim.port}?period_us=2200&trigger=1", 2.9)  # one INA226 conversion pair
        assert sim.commands == ["INFO", "START 2200", "STOP"]
    assert s.voltage_v[0] == pytest.approx(3.3) and s.current_a[250] == pytest.approx(0.010)
    assert s.t_s[1000] - s.t_s[0] == pytest.approx(2.2)  # continuous through the wrap at sample 227
    [w] = energy.windows_from_markers(s.markers_s, [100], "change")
    assert energy.window_energy(s, w).uj_per_inference == pytest.approx(0.033 * 999 * 2200 / 100, rel=1e-9)


def test_meter_settings_the_device_refuses() -> None:
    """Sampling faster than the INA's conversions repeats readings; the LPM01A cannot record
    continuously at 10 kHz in ASCII mode; Joulescope's io_voltage and rates are its own lists."""
    with pytest.raises(ConfigError, match="period_us=1000 is shorter than one conversion"):
        open_meter("ina:///dev/ttyACM0?period_us=1000")
    with pytest.raises(ConfigError, match="INA226 2200 us"):
        open_meter("ina:///dev/ttyACM0?period_us=1500&chip=ina226")
    open_meter("ina:///dev/ttyACM0?period_us=1500&chip=ina219")  # 2 x 532 us: fits
    with pytest.raises(ConfigError, match="at 10k its ASCII captures last at most 1 s"):
        open_meter("lpm01a:///dev/ttyACM0?freq=10k")
    from harness.power.joulescope_meter import check_url

    assert check_url("joulescope://?io_voltage=1.8")[2] == "1.8V"
    with pytest.raises(ConfigError, match="io_voltage='12V'"):
        check_url("joulescope://?io_voltage=12V")
    with pytest.raises(ConfigError, match="freq=1234"):
        check_url("joulescope://?freq=1234")


def test_bridge_reporting_a_slower_chip_is_refused_at_open() -> None:
    with InaBridgeSimulator(profile) as sim:  # says INA226: 2200 us per reading
        meter = open_meter(f"ina://{sim.port}?period_us=1100")
        with pytest.raises(ConfigError, match="INA226 2200 us"):
            meter.open(Deadline(5))


@pytest.mark.parametrize("fault", [{"garble_at": 300}, {"skip": (300,)}])
def test_ina_bridge_dropped_samples(fault: dict) -> None:
    with InaBridgeSimulator(profile, **fault) as sim:
        with pytest.raises(MeterError, match="dropped samples"):
            record(f"ina://{sim.port}", 0.9)  # ~400 samples at the default 2200 us


def test_ina_bridge_that_stops_answering() -> None:
    with InaBridgeSimulator(profile, silent_after=100) as sim:
        with pytest.raises(MeterError, match="stopped answering"):
            record(f"ina://{sim.port}", 0.3)
