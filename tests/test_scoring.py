"""Scoring against values computed by hand (docs/scoring.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness import scoring

EQUAL = {"delay": 1.0, "power": 1.0, "precision": 1.0, "volume": 1.0}


def row(device: str, family: str, p50: float, acc: float | None = 0.9, model_bytes: int = 1000,
        rss: int = 1000, energy: float | None = None, power_status: str = "not measured",
        emulated: bool = False, variant: str = "int8") -> dict:
    return {"device": device, "family": family, "variant": variant, "status": "ok", "runtime": "litert",
            "latency_p50_us": p50, "accuracy_top1": acc, "model_bytes": model_bytes, "rss_peak_bytes": rss,
            "arena_bytes": None, "energy_uj": energy, "power_status": power_status, "emulated": emulated}


def test_ratios_geomean_and_gsd_by_hand() -> None:
    rows = [row("ref", "m1", 100), row("ref", "m2", 200),
            row("a", "m1", 50, acc=0.81, model_bytes=500, rss=500), row("a", "m2", 400, acc=0.81, model_bytes=500, rss=500)]
    board = scoring.score_table(rows, "ref", EQUAL, {"ref": "iot", "a": "iot"}, resamples=0)
    a = next(s for s in board.pools["boards"] if s.device == "a")
    assert a.per_model[("m1", "int8")]["delay"] == pytest.approx(2.0)
    assert a.per_model[("m2", "int8")]["delay"] == pytest.approx(0.5)
    assert a.dims["delay"].score == pytest.approx(1.0)  # sqrt(2 × 0.5)
    assert a.dims["delay"].gsd == pytest.approx(2.0)  # exp(std(ln 2, ln 0.5)) = exp(ln 2)
    assert a.dims["precision"].score == pytest.approx(0.9)
    assert a.dims["volume"].score == pytest.approx(2.0)  # 1000 / 500 model bytes
    # power not measured anywhere: absent, not zero, and the composite says what it covers
    assert a.dims["power"].score is None and a.dims["power"].status == "not measured"
    assert a.covers == ("delay", "precision", "volume")
    assert a.composite == pytest.approx(1000 * (1.0 * 0.9 * 2.0) ** (1 / 3))
    ref = next(s for s in board.pools["boards"] if s.device == "ref")
    assert ref.composite == pytest.approx(1000.0)


def test_weights_are_a_weighted_geometric_mean() -> None:
    rows = [row("ref", "m", 100), row("a", "m", 100, acc=0.81, model_bytes=500, rss=500)]
    weights = {"delay": 1.0, "power": 1.0, "precision": 1.0, "volume": 2.0}
    a = scoring.score_table(rows, "ref", weights, {}, resamples=0).pools["boards"][0]
    assert a.device == "a"
    assert a.composite == pytest.approx(1000 * math.exp((math.log(0.9) + 2 * math.log(2.0)) / 4))
    zero_volume = {**weights, "volume": 0.0}
    a = scoring.score_table(rows, "ref", zero_volume, {}, resamples=0).pools["boards"]
    a = next(s for s in a if s.device == "a")
    assert a.covers == ("delay", "precision")
    assert a.composite == pytest.approx(1000 * 0.9 ** 0.5)


def test_power_counts_only_when_measured_and_estimates_are_not_ranked() -> None:
    rows = [row("ref", "m", 100, energy=10.0, power_status="measured"),
            row("a", "m", 100, energy=5.0, power_status="measured"),
            row("b", "m", 100, energy=1.0, power_status="estimated")]
    board = scoring.score_table(rows, "ref", EQUAL, {}, resamples=0)
    scores = {s.device: s for s in board.pools["boards"]}
    assert scores["a"].dims["power"].score == pytest.approx(2.0)
    assert scores["b"].dims["power"].score is None
    assert scores["b"].dims["power"].status == "estimated (not ranked)"
    assert [r["device"] for r in board.estimated_power] == ["b"]
    # b lacks measured power, so the pool's composite leaves power out for everyone
    assert scores["a"].covers == ("delay", "precision", "volume")
    assert scores["a"].not_covered == {"power": "not common to the pool"}
    assert scores["b"].not_covered == {"power": "estimated (not ranked)"}


def test_emulated_and_workstation_are_never_ranked_with_boards() -> None:
    rows = [row("ref", "m", 100), row("fast-qemu", "m", 1, emulated=True), row("host", "m", 10),
            row("board", "m", 50)]
    board = scoring.score_table(rows, "ref", EQUAL, {"host": "workstation", "board": "iot"}, resamples=0)
    assert [s.device for s in board.pools["boards"]] == ["board", "ref"]
    assert [s.device for s in board.pools["emulated"]] == ["fast-qemu"]
    assert [s.device for s in board.pools["workstation"]] == ["host"]
    assert board.pools["boards"][0].rank == 1 and board.pools["emulated"][0].rank == 1
    assert board.pools["emulated"][0].composite == pytest.approx(1000 * 100 ** (1 / 3))


def test_overlapping_intervals_are_tied() -> None:
    rng = np.random.default_rng(0)
    rows = [row("ref", "m", 100), row("b", "m", 100), row("c", "m", 101), row("d", "m", 300)]
    sets = {("b", "m", "int8"): rng.uniform(50, 150, 51), ("c", "m", "int8"): rng.uniform(51, 151, 51),
            ("d", "m", "int8"): rng.uniform(290, 310, 51)}
    ranked = scoring.score_table(rows, "ref", {"delay": 1.0}, {}, sets, resamples=500, seed=1).pools["boards"]
    by = {s.device: s for s in ranked}
    # ref has no samples: a point interval at 1000, inside b's and c's intervals
    assert by["b"].ci_low < 1000 < by["b"].ci_high
    assert by["ref"].rank == by["b"].rank == by["c"].rank == 1
    assert by["b"].tied and by["c"].tied
    assert by["d"].rank == 4 and not by["d"].tied
    assert by["d"].composite == pytest.approx(1000 / 3)


def test_distinct_intervals_rank_apart_and_equal_points_tie() -> None:
    rows = [row("ref", "m", 100), row("a", "m", 50), row("b", "m", 50)]
    ranked = scoring.score_table(rows, "ref", {"delay": 1.0}, {}, resamples=0).pools["boards"]
    assert [(s.device, s.rank, s.tied) for s in ranked] == [("a", 1, True), ("b", 1, True), ("ref", 3, False)]


def test_models_without_a_reference_result_are_not_scored() -> None:
    rows = [row("ref", "m", 100), row("a", "m", 100), row("a", "only-a", 10)]
    board = scoring.score_table(rows, "ref", EQUAL, {}, resamples=0)
    assert board.unscored_models == [("only-a", "int8")]
    a = next(s for s in board.pools["boards"] if s.device == "a")
    assert a.dims["delay"].models == 1


def test_volume_compares_model_bytes_only_never_working_memory() -> None:
    # A TFLite-Micro arena of 3 KB against an interpreter's 50 MB RSS increase must not win volume.
    ref = {**row("host", "m", 100), "working_memory_bytes": 50_000_000, "working_memory_method": "rss-increase"}
    tflm = {**row("mcu", "m", 3000), "runtime": "tflm", "working_memory_bytes": 3000,
            "working_memory_method": "arena"}
    small = {**row("small", "m", 100, model_bytes=250), "working_memory_bytes": 90_000_000,
             "working_memory_method": "rss-increase"}
    board = scoring.score_table([ref, tflm, small], "host", EQUAL, {}, resamples=0).pools["boards"]
    scores = {s.device: s for s in board}
    assert scores["mcu"].dims["volume"].score == pytest.approx(1.0)
    assert scores["small"].dims["volume"].score == pytest.approx(4.0)  # 1000 / 250 model bytes
    assert scores["host"].rank < scores["mcu"].rank  # 30x slower, not 16000x smaller


@pytest.mark.parametrize("n", [4, 5, 6])
def test_median_draws_follow_the_exact_bootstrap_law(n: int) -> None:
    """Every one of the n^n equally likely resamples enumerated: the draws fit that law
    (chi-square goodness of fit), odd and even n, with a tie in the sample."""
    import itertools
    from collections import Counter

    from scipy import stats

    sample = np.array([1.0, 2.0, 2.0, 3.5, 7.0, 9.0][:n])
    law = Counter(round(float(np.median(sample[list(i)])), 9) for i in itertools.product(range(n), repeat=n))
    draws = Counter(np.round(scoring.median_draws(sample, 200_000, np.random.default_rng(n)), 9).tolist())
    assert set(draws) <= set(law)
    keys = sorted(law)
    expected = np.array([law[k] / n ** n * 200_000 for k in keys])
    assert stats.chisquare([draws.get(k, 0) for k in keys], expected).pvalue > 0.001


@pytest.mark.parametrize("n", [365, 2000, 50_001])
def test_median_draws_match_plain_resampling(n: int) -> None:
    from scipy import stats

    sample = np.random.default_rng(5).lognormal(0, 0.5, n)
    exact = scoring.median_draws(sample, 4000, np.random.default_rng(1))
    plain = np.median(sample[np.random.default_rng(2).integers(0, n, (400, n))], axis=1)
    assert stats.ks_2samp(exact, plain).pvalue > 0.001
    assert np.quantile(exact, [0.025, 0.5, 0.975]) == pytest.approx(
        np.quantile(plain, [0.025, 0.5, 0.975]), rel=0.01)


def test_median_draws_are_fast_on_a_large_sample() -> None:
    """100 000 samples (a 1 s run of a 10 µs model): plain resampling took ~15 s for 1000 draws."""
    import time

    sample = np.random.default_rng(5).lognormal(0, 0.5, 100_000)
    began = time.process_time()
    scoring.median_draws(sample, 1000, np.random.default_rng(1))
    assert time.process_time() - began < 1.0
