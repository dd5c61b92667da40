"""The run-to-run regression rule (harness/results/history.py) on synthetic histories."""

from __future__ import annotations

import numpy as np
import pytest

from harness.results.history import (IMPROVEMENT, REGRESSION, SUSPECT, UNCHANGED, decide, format_p, noise_band,
                             run_value, slice_medians)

def nights(median_us: float, n: int, noise_pct: float, rng: np.random.Generator | None = None) -> list[float]:
    """Run medians of n runs whose run-to-run noise is noise_pct (one standard deviation)."""
    rng = rng or np.random.default_rng(10)
    return (median_us * (1 + rng.normal(0, noise_pct / 100, n))).tolist()


def test_band_is_a_robust_prediction_interval() -> None:
    history = [100.0, 102.0, 98.0, 101.0, 99.0, 100.0, 103.0, 97.0, 100.0, 101.0]  # oldest first
    band = noise_band(history)
    assert band is not None and band.center == 100.0 and band.n == 10  # median of the last 5
    assert band.spread == pytest.approx(3.0 / 0.954)  # moving ranges 2 4 3 2 1 3 6 3 1: median 3
    assert band.half_pct == pytest.approx(4.6041 * 3.0 / 0.954 * (1 + 1 / 5) ** 0.5, rel=1e-3)  # t(0.995, 4)
    odd_night = noise_band(history[:-1] + [180.0])
    assert odd_night is not None and odd_night.half_pct < band.half_pct * 1.1  # one busy night barely widens it
    assert noise_band([100.0, 101.0]) is None  # too short for a band


def test_band_holds_one_more_run_of_unchanged_code_at_its_nominal_rate() -> None:
    # Normal night-to-night noise, alpha 0.01: one more run falls outside the band in about 1 %
    # of cases whatever the history size (the spread estimated from n runs is itself noisy).
    rng = np.random.default_rng(13)
    for n in (3, 5, 10):
        outside = 0
        for _ in range(3000):
            history, new = nights(1000, n, 3, rng), nights(1000, 1, 3, rng)[0]
            band = noise_band(history)
            outside += not band.low <= new <= band.high
        assert outside / 3000 < 0.015, (n, outside)


def test_a_history_whose_level_moved_does_not_hide_a_slowdown() -> None:
    # Nights under a neighbour's load, then quiet ones (the regression_power run that missed a
    # +15 % slowdown in 10 of 10): the spread around the median holds the step, successive
    # differences only the night-to-night noise; the center is the current level.
    rng = np.random.default_rng(12)
    stepped = nights(1080, 5, 1, rng) + nights(1000, 5, 1, rng)
    drifting = [1090.0 - 10 * i + d for i, d in enumerate(nights(0.0, 10, 1, rng))]
    for history in (stepped, drifting):
        band = noise_band(history)
        assert band is not None and band.half_pct < 8
        mad = 1.4826 * float(np.median(np.abs(np.array(history) - np.median(history))))
        assert mad / band.spread > 2  # the MAD band would be more than twice as wide
        slower = decide(history, [1150.0, 1148.0, 1153.0], threshold_pct=10, floor_pct=5)
        assert slower.verdict == REGRESSION, slower.reason
        assert "the median of the last 5 of 10 runs" in slower.reason
        same = decide(history, [history[-1] * 1.01, history[-1] * 0.99, history[-1]], threshold_pct=10, floor_pct=5)
        assert same.verdict == UNCHANGED, same.reason
    # The load comes back for one night: within the threshold it is noise, never a regression.
    assert decide(stepped, [1080.0, 1085.0, 1075.0], threshold_pct=10, floor_pct=5).verdict == UNCHANGED


def test_same_code_on_noisy_nights_never_regresses() -> None:
    rng = np.random.default_rng(11)
    verdicts = [decide(nights(1000, 10, 3, rng), nights(1000, 1, 3, rng), threshold_pct=10, floor_pct=5).verdict
                for _ in range(500)]
    assert verdicts.count(REGRESSION) == 0  # 3 % run-to-run noise (1 sd), threshold 10 %


def test_slowdown_beyond_band_threshold_and_floor_is_a_regression() -> None:
    history = nights(1000, 10, noise_pct=2)
    d = decide(history, [1150.0], threshold_pct=10, floor_pct=5, p_value=1e-9)
    assert d.verdict == REGRESSION and d.shift_pct == pytest.approx(15, abs=2.5)
    assert d.band is not None and d.value > d.band.high
    assert "band" in d.reason and "of 10 runs" in d.reason and "p<0.001" in d.reason
    faster = decide(history, [850.0], threshold_pct=10, floor_pct=5)
    assert faster.verdict == IMPROVEMENT and faster.shift_pct < -10


def test_noisy_history_widens_the_band() -> None:
    history = [1000.0, 1200.0, 850.0, 1100.0, 900.0, 1150.0, 950.0, 1050.0]
    d = decide(history, [1150.0], threshold_pct=10, floor_pct=5)
    assert d.verdict == UNCHANGED and "inside the run-to-run noise band" in d.reason


def test_threshold_decides_inside_a_tight_band() -> None:
    history = [1000.0, 1001.0, 999.0, 1000.5, 999.5]
    d = decide(history, [1080.0], threshold_pct=10, floor_pct=5)  # far outside the band, but 8 % < 10 %
    assert d.verdict == UNCHANGED and "within threshold ±10 %" in d.reason
    assert decide(history, [1080.0], threshold_pct=None, floor_pct=5).verdict == REGRESSION


def test_effect_floor_changes_the_verdict() -> None:
    history = [1000.0, 1001.0, 999.0, 1000.5, 999.5, 1000.2]
    with_floor = decide(history, [1030.0], threshold_pct=None, floor_pct=5)
    without = decide(history, [1030.0], threshold_pct=None, floor_pct=0)
    assert with_floor.verdict == UNCHANGED and "under the effect floor 5 %" in with_floor.reason
    assert without.verdict == REGRESSION


def test_within_run_test_is_one_input() -> None:
    history = nights(1000, 10, noise_pct=1)
    # A tiny p alone never makes a regression: the band decides first.
    assert decide(history, [1005.0], threshold_pct=None, floor_pct=0, p_value=1e-30).verdict == UNCHANGED
    # With a band, p is reported: a starved run's heavy tail does not hide a shift the band shows.
    heavy_tail = decide(history, [1200.0], threshold_pct=10, floor_pct=5, p_value=0.2)
    assert heavy_tail.verdict == REGRESSION and "p=0.2" in heavy_tail.reason
    # Without a band the within-run test is the only check of sampling noise: it must agree.
    short = decide([1000.0, 1005.0], [1200.0, 1210.0, 1190.0], threshold_pct=10, floor_pct=5, p_value=0.2)
    assert short.verdict == UNCHANGED and "within-run test not significant (p=0.2 >= 0.01)" in short.reason
    assert decide([1000.0], [1200.0], threshold_pct=10, floor_pct=5, p_value=0.2).verdict == UNCHANGED


def test_short_history_one_measurement_is_only_suspect() -> None:
    d = decide([1000.0], [1300.0], threshold_pct=10, floor_pct=5, p_value=1e-12)
    assert d.verdict == SUSPECT and d.band is None and "--rerun-suspects" in d.reason
    assert decide([1000.0], [1040.0], threshold_pct=10, floor_pct=5).verdict == UNCHANGED


def test_short_history_repetitions_must_all_agree() -> None:
    assert decide([1000.0, 1010.0], [1300.0, 1280.0, 1320.0], threshold_pct=10, floor_pct=5).verdict == REGRESSION
    blip = decide([1000.0, 1010.0], [1300.0, 1010.0, 1320.0], threshold_pct=10, floor_pct=5)
    assert blip.verdict == UNCHANGED and "1 of 3 repetitions within ±10 %" in blip.reason
    assert decide([1000.0], [700.0, 720.0], threshold_pct=10, floor_pct=5).verdict == IMPROVEMENT


def test_a_change_must_persist_through_the_run() -> None:
    # A/A under a CPU hog (benchmarks/regression_power.py): one run's median +12 % because a burst
    # of load hit part of its window; the slices of a slower model's run are all slower.
    history = [270.0, 278.0, 287.0, 277.0, 269.0, 291.0, 278.0, 285.0]
    quiet, burst = [275.0] * 60, [400.0] * 60
    bursty_run = quiet + burst + burst + burst + quiet  # time order: the middle three fifths loaded
    slices = slice_medians(bursty_run)
    assert slices == [275.0, 400.0, 400.0, 400.0, 275.0]
    judged = decide(history, [float(np.median(bursty_run))], threshold_pct=10, floor_pct=5, slices=slices)
    assert judged.verdict == UNCHANGED
    assert "2 of 5 time slices of the run within ±10 %: not a persistent change" in judged.reason
    without = decide(history, [float(np.median(bursty_run))], threshold_pct=10, floor_pct=5)
    assert without.verdict == REGRESSION  # the slices are what keeps the burst out
    slower = [350.0 + (i % 7) for i in range(300)]  # +27 %: beyond this noisy history's band (±21 %)
    assert decide(history, [float(np.median(slower))], threshold_pct=10, floor_pct=5,
                  slices=slice_medians(slower)).verdict == REGRESSION
    assert slice_medians([1.0] * 39) == [] and len(slice_medians([1.0] * 40)) == 2  # >= 20 a slice


def test_run_value_and_p_format() -> None:
    assert run_value(500.0) == 500.0 and run_value(500.0, [1.0, 3.0, 2.0]) == 2.0
    assert run_value(None) is None
    assert format_p(0.0) == "p<0.001" and format_p(1e-7) == "p<0.001" and format_p(0.0123) == "p=0.012"
    assert format_p(None) == ""


# ------------------------------------------------------------------ which runs make the history (store)


def test_history_is_the_last_good_runs_of_the_suite_same_environment_first(tmp_path) -> None:
    from datetime import datetime, timedelta, timezone

    from harness.results.baselines import metric_history
    from harness.results.regression import HISTORY_METRICS
    from harness.results.store import Store

    store = Store(str(tmp_path / "h.sqlite"))
    t0 = datetime(2026, 12, 1, 2, tzinfo=timezone.utc)
    key = ("host", "f", "v")

    def night(i: int, p50: float, env: str, status: str = "complete", suite: str = "nightly",
              repeats: list[float] | None = None, memory: tuple[int, str] = (5_000_000, "rss-increase")) -> dict:
        run_id = f"r{i}"
        store.start_run({"run_id": run_id, "suite": suite, "devices": ["host"], "started_at": t0 + timedelta(days=i)})
        env_id = store.record_environment(run_id, "host", {"numpy": env})
        row = {"run_id": run_id, "device": "host", "family": "f", "variant": "v", "status": "ok",
               "environment_id": env_id, "latency_p50_us": p50, "latency_repeat_p50_us": repeats,
               "working_memory_bytes": memory[0], "working_memory_method": memory[1]}
        row["id"] = store.record_result(row)
        store.finish_run(run_id, status)
        return row

    night(1, 100.0, "A")
    night(2, 101.0, "A", memory=(9_000, "arena"))  # exact: never a noisy metric's history
    night(3, 99.5, "A", repeats=[99.0, 98.0, 99.5])  # its value is the median of its repetitions
    night(4, 102.0, "A", memory=(6_000_000, "rss-increase"))
    night(5, 200.0, "A", status="regressed")  # never anyone's history
    night(6, 150.0, "B")  # the base run, measured after a numpy upgrade
    night(7, 300.0, "A", suite="other")
    new = night(8, 100.0, "A")
    history = metric_history(store, "r6", [new], HISTORY_METRICS)
    assert history["latency"][key] == [100.0, 101.0, 99.0, 102.0]  # oldest first
    assert history["memory"][key] == [5_000_000, 5_000_000, 6_000_000]  # rss-increase only, no arena
    assert history["energy"][key] == []  # no meter measured it
    assert metric_history(store, "r6", [new], HISTORY_METRICS, limit=2)["latency"][key] == [102.0]
    other_env = night(9, 100.0, "C")  # no run shares its environment: every good run counts
    assert metric_history(store, "r6", [other_env], HISTORY_METRICS)["latency"][key] == [100.0, 101.0, 99.0, 102.0, 150.0]


def test_pooled_spread_is_the_noise_cases_share_and_floors_the_band() -> None:
    from harness.results.history import noise_band, pooled_spread

    assert pooled_spread([[1.0, 3.0], [10.0, 12.0], [5.0]]) == pytest.approx(2 ** 0.5)  # (2+2)/2, one-run case adds nothing
    assert pooled_spread([[4.0]]) == 0.0
    agree = [100.0, 100.0, 100.0, 101.0]
    assert noise_band(agree).spread == 0.0
    assert noise_band(agree, min_spread=5.0).spread == 5.0 and noise_band([50.0, 100.0, 150.0], min_spread=5.0).spread > 5.0


def test_a_shift_every_case_shares_is_the_machines_until_it_lasts() -> None:
    from harness.results.history import discount_machine, last_run_shift, machine_shift

    # Two benchmarks side by side: every case of one run +9 to +28 %, nothing changed.
    machine = [14.6, 14.9, 17.8, 22.3, 18.1, 10.9, 28.4, 18.4]
    common = machine_shift(machine, limit=10)
    assert common == pytest.approx(18.1, abs=0.2)
    assert machine_shift([0.1, -0.3, 16.0, 0.2, -0.5], limit=10) is None  # one slower model: not the machine
    assert machine_shift([20.0, 21.0], limit=10) is None  # too few cases to tell
    verdict, why = discount_machine(REGRESSION, 22.3, common, limit=10)
    assert verdict == SUSPECT and "the machine, not this model" in why and "--rerun-suspects" in why
    assert discount_machine(UNCHANGED, 10.9, common, limit=10) == (UNCHANGED, None)
    # A case far beyond the shared shift is a regression on top of it.
    verdict, why = discount_machine(REGRESSION, 45.0, common, limit=10)
    assert verdict == REGRESSION and "+22.9 % beyond the device's machine-wide shift" in why
    # The run before shared the shift too, long enough ago: the device changed.
    assert discount_machine(REGRESSION, 22.3, common, limit=10, lasting=True)[0] == REGRESSION
    stepped = [[100.0, 101.0, 99.0, 100.0, 130.0]] * 3  # the base run (last) 30 % slower in every case
    assert last_run_shift(stepped, limit=10) == pytest.approx(30.0)
    assert last_run_shift([[100.0, 101.0, 99.0, 100.0, 100.5]] * 3, limit=10) is None
