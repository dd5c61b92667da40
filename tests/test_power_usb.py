"""Joulescope and PPK2 drivers against fakes of the `joulescope` and `ppk2-api` Python calls."""

from __future__ import annotations

import sys

import pytest

from harness.deadline import Deadline
from harness.errors import ConfigError
from harness.power import MeterError, energy, open_meter
from harness.testing.fakes import FakeJoulescope, FakePPK2
from tests.meters import record


def js_profile(k: int) -> float:
    return 0.010 if 200 <= k < 1200 else 0.001  # at 1 kHz: 10 mA from 0.2 s to 1.2 s


def ppk_profile(k: int) -> float:
    return 0.010 if 20_000 <= k < 120_000 else 0.001  # at 100 kHz: the same times


def test_joulescope_energy_per_inference_and_gpi0_edges() -> None:
    api = FakeJoulescope(js_profile, voltage=3.3, edges=(200, 201, 1199, 1200))  # two timestamp pulses
    s = record("joulescope://JS220-000001?freq=1000&trigger=gpi0&io_voltage=1.8V", 1.4, api=api)
    params = api.devices[0].parameters
    assert params["sampling_frequency"] == 1000 and params["current_lsb"] == "gpi0"
    assert params["io_voltage"] == "1.8V"  # the DUT's logic level, from the URL (docs/power.md)
    [w] = energy.windows_from_markers(s.markers_s, [100], "change")
    assert (w.start_s, w.end_s) == (s.t_s[200], s.t_s[1199])
    assert energy.window_energy(s, w).uj_per_inference == pytest.approx(329.67, rel=1e-9)
    assert energy.average_power(s, s.t_s[10], s.t_s[190]) == pytest.approx(0.0033)


def test_joulescope_not_connected_dropped_and_stalled() -> None:
    with pytest.raises(MeterError, match="no Joulescope JS110-9 is connected"):
        open_meter("joulescope://JS110-9", api=FakeJoulescope(js_profile)).open(Deadline(1))
    with pytest.raises(MeterError, match=r"dropped samples \(2 missing"):
        record("joulescope://", 0.3, api=FakeJoulescope(js_profile, nan_at=(50, 51)))
    with pytest.raises(MeterError, match="stopped answering"):
        record("joulescope://", 2.5, api=FakeJoulescope(js_profile, stall_after=100))


def test_ppk2_source_meter_energy_per_inference() -> None:
    api = FakePPK2(ppk_profile, edges=(20_000, 20_001, 119_999, 120_000))
    s = record("ppk2:///dev/ttyACM0?voltage=1800&trigger=d0", 1.4, api=api)
    assert ("use_source_meter",) in api.calls and ("set_source_voltage", 1800) in api.calls
    assert ("toggle_DUT_power", "OFF") == api.calls[-1]
    [w] = energy.windows_from_markers(s.markers_s, [1000], "change")
    assert (w.start_s, w.end_s) == (s.t_s[20_000], s.t_s[119_999])
    # 10 mA at 1.8 V over 99 999 periods of 10 us, 1000 inferences
    assert energy.window_energy(s, w).uj_per_inference == pytest.approx(0.018 * 0.99999 * 1e6 / 1000, rel=1e-9)


def test_ppk2_dropped_and_stalled() -> None:
    with pytest.raises(MeterError, match="dropped samples"):
        record("ppk2://?voltage=3300", 0.8, api=FakePPK2(ppk_profile, drop_fraction=0.5))
    with pytest.raises(MeterError, match="stopped answering"):
        record("ppk2://?voltage=3300", 2.5, api=FakePPK2(ppk_profile, stall_after=1000))
    with pytest.raises(ConfigError, match="voltage must be 800-5000 mV"):
        open_meter("ppk2:///dev/ttyACM0?voltage=9000", api=FakePPK2(ppk_profile))


def test_missing_vendor_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("joulescope", "ppk2_api", "ppk2_api.ppk2_api"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails, as when not installed
    with pytest.raises(ConfigError, match=r"'joulescope' package .* pip install 'edge-harness\[power\]'"):
        open_meter("joulescope://")
    with pytest.raises(ConfigError, match=r"'ppk2_api.ppk2_api' package"):
        open_meter("ppk2:///dev/ttyACM0")
