"""Regression detection: the statistics and thresholds (pure), then `harness compare` and
`harness run --baseline last-good` end to end on the host with a real slower model."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from harness.results import baselines
from harness.cli import app
from harness.results.regression import (IMPROVEMENT, MISSING, REGRESSION, SUSPECT, UNCHANGED, Check, Criteria,
                                        ab_answers, compare_case, compare_runs, table_rows)
from harness.results.store import Store
from tests.conftest import REPO
from tests.suite_files import copy_family, write_suite

rng = np.random.default_rng(7)


def lognormal(median_us: float, n: int = 200, sigma: float = 0.05) -> list[float]:
    """Latency-like samples: right-skewed around a median."""
    return (median_us * rng.lognormal(0.0, sigma, n)).tolist()


def row(rid: int, variant: str = "int8", **extra: object) -> dict:
    base = {"id": rid, "device": "host", "family": "digits-cnn", "variant": variant, "status": "ok",
            "error_kind": None, "reason": None, "runtime": "litert", "latency_p50_us": None,
            "working_memory_bytes": 4_000_000, "working_memory_method": "rss-increase", "energy_uj": None,
            "accuracy_top1": 0.97}
    return {**base, **extra}


def verdict_of(base_samples: list[float], new_samples: list[float], criteria: Criteria = Criteria(),
               **new_extra: object):
    return compare_case(row(1), row(2, **new_extra), {1: base_samples, 2: new_samples}, criteria)


# ------------------------------------------------------------------ latency statistics


def test_same_distribution_is_unchanged() -> None:
    v = verdict_of(lognormal(1000), lognormal(1000))
    lat = v.check("latency")
    assert v.verdict == UNCHANGED and lat.verdict == UNCHANGED
    assert lat.p_value > 0.01 and abs(lat.change) < 5


def test_clear_slowdown_is_a_regression() -> None:
    v = verdict_of(lognormal(1000), lognormal(1300))
    lat = v.check("latency")
    assert v.verdict == REGRESSION and lat.p_value < 1e-6 and lat.change == pytest.approx(30, abs=3)
    assert lat.base == pytest.approx(1.0, rel=0.03) and lat.new == pytest.approx(1.3, rel=0.03)  # ms


def test_clear_speedup_is_an_improvement() -> None:
    v = verdict_of(lognormal(1000), lognormal(700))
    assert v.verdict == IMPROVEMENT and v.check("latency").change == pytest.approx(-30, abs=3)


def test_significant_but_tiny_shift_is_under_the_effect_floor() -> None:
    base, new = lognormal(1000, n=2000, sigma=0.01), lognormal(1020, n=2000, sigma=0.01)
    no_threshold = Criteria(latency_pct=None)  # the floor alone stands between the test and a verdict
    v = verdict_of(base, new, no_threshold)
    lat = v.check("latency")
    assert lat.p_value < 1e-10 and lat.change == pytest.approx(2, abs=0.5)
    assert v.verdict == UNCHANGED and "under the effect floor 5 %" in lat.note
    assert verdict_of(base, new, Criteria(latency_pct=None, min_effect_pct=0)).verdict == REGRESSION


def test_real_shift_under_the_threshold_is_unchanged_unless_threshold_is_off() -> None:
    base, new = lognormal(1000, sigma=0.01), lognormal(1080, sigma=0.01)
    assert verdict_of(base, new).verdict == UNCHANGED  # 8 % < latency_pct 10
    assert verdict_of(base, new, Criteria(latency_pct=None)).verdict == REGRESSION  # floor 5 % decides


def test_large_but_noisy_shift_is_not_significant() -> None:
    base = [100.0, 1000.0, 5000.0, 200.0, 3000.0, 800.0]
    new = [1150.0, 110.0, 5200.0, 230.0, 3300.0, 900.0]
    v = verdict_of(base, new)
    lat = v.check("latency")
    assert lat.change > 10 and lat.p_value > 0.01 and v.verdict == UNCHANGED


def test_too_few_samples_fall_back_to_p50() -> None:
    v = compare_case(row(1, latency_p50_us=1000.0), row(2, latency_p50_us=1500.0), {1: [1000.0], 2: []})
    lat = v.check("latency")
    assert lat.p_value is None and "no test" in lat.note and lat.change == pytest.approx(50)
    assert v.verdict == REGRESSION


# ------------------------------------------------------------------ other metrics and statuses


def test_memory_energy_accuracy_thresholds() -> None:
    same = lognormal(1000)
    memory = verdict_of(same, same, working_memory_bytes=4_800_000)
    assert memory.verdict == REGRESSION and memory.check("memory").change == pytest.approx(20)
    arena = compare_case(row(1, runtime="tflm", working_memory_bytes=10_000, working_memory_method="arena"),
                         row(2, runtime="tflm", working_memory_bytes=8_000, working_memory_method="arena"),
                         {1: same, 2: same})
    assert arena.check("memory").base == 10_000 and arena.verdict == IMPROVEMENT
    # the firmware engine's arena is checked too (its runtime names its version)
    fw = compare_case(row(1, runtime="edge-harness-fw", working_memory_bytes=10_000, working_memory_method="arena"),
                      row(2, runtime="edge-harness-fw 0.3 (int8)", working_memory_bytes=12_000,
                          working_memory_method="arena"), {1: same, 2: same})
    assert fw.check("memory").change == pytest.approx(20) and fw.verdict == REGRESSION
    # two methods are never one ratio: an arena against an RSS increase is not compared
    mixed = compare_case(row(1), row(2, working_memory_bytes=8_000, working_memory_method="arena"), {1: same, 2: same})
    assert mixed.check("memory") is None and mixed.verdict == UNCHANGED
    energy = compare_case(row(1, energy_uj=100.0, power_status="measured"),
                          row(2, energy_uj=79.0, power_status="measured"), {1: same, 2: same})
    assert energy.check("energy").verdict == IMPROVEMENT
    drop = verdict_of(same, same, accuracy_top1=0.95)
    assert drop.verdict == REGRESSION and drop.check("accuracy").change == pytest.approx(-2)
    small = verdict_of(same, same, accuracy_top1=0.975)
    assert small.verdict == UNCHANGED
    off = verdict_of(same, same, Criteria(memory_pct=None), working_memory_bytes=9_000_000)
    assert off.check("memory") is None and off.verdict == UNCHANGED


def test_noisy_memory_and_measured_energy_are_judged_by_their_history() -> None:
    """rss-increase memory and metered energy vary from run to run of identical code: two runs are
    decided by the history rule; an arena is exact, so +11 % is a regression with no history."""
    key = ("host", "digits-cnn", "int8")
    mib = 2**20
    rss = [4.8 * mib, 5.0 * mib, 5.3 * mib, 6.0 * mib, 5.5 * mib, 5.1 * mib, 5.7 * mib, 4.9 * mib]

    def memory(new_bytes: float, history: list[float] | None) -> Check:
        base, new = row(1, working_memory_bytes=int(rss[-1])), row(2, working_memory_bytes=int(new_bytes))
        histories = None if history is None else {"memory": {key: history}}
        return compare_runs([base], [new], {}, histories=histories).verdicts[0].check("memory")

    inside = memory(6.3 * mib, rss)  # +15 % of the last 5 runs' median: beyond the threshold, inside the band
    assert inside.verdict == UNCHANGED and inside.change > 10
    assert "inside the run-to-run noise band" in inside.note and "of 8 runs" in inside.note and "MiB" in inside.note
    outside = memory(9.5 * mib, rss)  # +73 %: outside band (±61 % for 8 runs this noisy) and threshold
    assert outside.verdict == REGRESSION and "band" in outside.note
    assert memory(6.0 * mib, [5.0 * mib] * 8).verdict == REGRESSION  # a steady history: the same +20 % is real
    assert memory(6.0 * mib, None).verdict == SUSPECT  # the base run alone: re-measure first
    # Three runs of one case that happen to agree make no narrow band when the device's other cases
    # show the method's noise (pooled): +14 % of this digits-cnn run on a busy host was such a case.
    agree = {key: [4.40 * mib, 4.41 * mib, 4.40 * mib]}
    others = {("host", "digits-cnn", v): [4.0 * mib, 4.6 * mib, 4.3 * mib] for v in ("fp32", "fp16")}
    lone = compare_runs([row(1, working_memory_bytes=int(4.4 * mib))], [row(2, working_memory_bytes=int(5.0 * mib))],
                        {}, histories={"memory": agree}).verdicts[0]
    pooled = compare_runs([row(1, working_memory_bytes=int(4.4 * mib))], [row(2, working_memory_bytes=int(5.0 * mib))],
                          {}, histories={"memory": {**agree, **others}}).verdicts[0]
    assert lone.verdict == REGRESSION and pooled.check("memory").verdict == UNCHANGED
    assert compare_case(row(1), row(2, working_memory_bytes=4_800_000), {}).check("memory").verdict == REGRESSION  # A/B

    arena = {"runtime": "tflm", "working_memory_method": "arena"}
    exact = compare_runs([row(1, working_memory_bytes=10_000, **arena)],
                         [row(2, working_memory_bytes=11_100, **arena)], {}).verdicts[0]
    assert exact.verdict == REGRESSION and exact.check("memory").change == pytest.approx(11)

    meter = [100.0, 112.0, 93.0, 108.0, 96.0, 104.0, 90.0]
    def energy(new_uj: float, status: str = "measured") -> Check:
        base, new = row(1, energy_uj=100.0, power_status=status), row(2, energy_uj=new_uj, power_status=status)
        return compare_runs([base], [new], {}, histories={"energy": {key: meter}}).verdicts[0].check("energy")

    assert energy(112.0).verdict == UNCHANGED and "band" in energy(112.0).note  # noise of this meter
    assert energy(200.0).verdict == REGRESSION  # beyond this meter's band (±91 %: 7 alternating runs)
    assert energy(200.0, "estimated").verdict == UNCHANGED  # an estimate is never judged
    ab = compare_case(row(1, energy_uj=100.0, power_status="measured"), row(2, energy_uj=112.0, power_status="measured"), {})
    assert ab.check("energy").verdict == REGRESSION  # A/B, no history: the threshold


def test_worst_check_decides() -> None:
    v = verdict_of(lognormal(1000), lognormal(600), working_memory_bytes=6_000_000)
    assert v.check("latency").verdict == IMPROVEMENT and v.check("memory").verdict == REGRESSION
    assert v.verdict == REGRESSION


def test_status_changes() -> None:
    failed = {"status": "failed", "error_kind": "model", "reason": "operator unsupported"}
    infra = {"status": "failed", "error_kind": "infrastructure", "reason": "board did not answer"}
    assert compare_case(row(1), row(2, **failed), {}).verdict == REGRESSION
    assert compare_case(row(1, **failed), row(2), {}).verdict == IMPROVEMENT
    assert compare_case(row(1, **failed), row(2, **failed), {}).verdict == UNCHANGED
    lost = compare_case(row(1), row(2, **infra), {})
    assert lost.verdict == MISSING and "board did not answer" in lost.note
    assert compare_case(row(1), row(2, status="not-run"), {}).verdict == MISSING


def test_runs_match_by_case_and_report_missing() -> None:
    same = lognormal(1000)
    base = [row(i, v, latency_p50_us=1000.0) for i, v in ((1, "fp32"), (2, "int8"), (3, "fp16"))]
    new = [row(11, "fp32", latency_p50_us=1005.0), row(12, "int8", latency_p50_us=2000.0),
           row(13, "tiny-int8", latency_p50_us=1000.0)]
    samples = {1: same, 2: same, 3: same, 11: same, 12: lognormal(2000), 13: same}
    nights = [990.0, 1010.0, 1000.0, 995.0, 1005.0]
    history = {("host", "digits-cnn", v): nights for v in ("fp32", "int8", "fp16")}
    comparison = compare_runs(base, new, samples, histories={"latency": history})
    by_label = {v.label: v for v in comparison.verdicts}
    assert len(comparison.verdicts) == 4
    assert by_label["host digits-cnn/int8"].verdict == REGRESSION
    assert by_label["host digits-cnn/fp32"].verdict == UNCHANGED
    assert by_label["host digits-cnn/fp16"].verdict == MISSING and "gone" in by_label["host digits-cnn/fp16"].note
    assert by_label["host digits-cnn/tiny-int8"].verdict == MISSING
    assert [comparison.count(k) for k in (REGRESSION, IMPROVEMENT, UNCHANGED, MISSING)] == [1, 0, 1, 2]
    assert comparison.regressed
    table = {r["case"]: r for r in table_rows(comparison)}
    assert table["host digits-cnn/int8"]["Δ latency"].startswith("+") and table["host digits-cnn/int8"]["p"] == "p<0.001"
    assert "band" in table["host digits-cnn/int8"]["note"] and "of 5 runs" in table["host digits-cnn/int8"]["note"]


def test_runs_are_judged_against_their_history() -> None:
    """The same +12 % run: inside a noisy history's band, outside a steady one's; alone, suspect."""
    base, new = row(1, latency_p50_us=1000.0), row(2, latency_p50_us=1120.0)
    samples = {1: lognormal(1000), 2: lognormal(1120)}
    key = ("host", "digits-cnn", "int8")
    noisy = [1000.0, 1150.0, 880.0, 1100.0, 920.0, 1080.0, 950.0]
    steady = [1000.0, 1010.0, 990.0, 1005.0, 995.0, 1002.0, 998.0]
    lat = compare_runs([base], [new], samples, histories={"latency": {key: noisy}}).verdicts[0].check("latency")
    assert lat.verdict == UNCHANGED and "inside the run-to-run noise band" in lat.note
    assert compare_runs([base], [new], samples, histories={"latency": {key: steady}}).verdicts[0].verdict == REGRESSION
    alone = compare_runs([base], [new], samples).verdicts[0]  # history: the base run only
    assert alone.verdict == SUSPECT and "--rerun-suspects" in alone.check("latency").note
    repeated = compare_runs([base], [row(2, latency_p50_us=1120.0, latency_repeat_p50_us=[1118.0, 1120.0, 1125.0])],
                            samples).verdicts[0]
    assert repeated.verdict == REGRESSION and "3 repetitions" in repeated.check("latency").note

def test_ab_answers() -> None:
    a, b = lognormal(1000), lognormal(700)
    v = compare_case(row(1, "fp32"), row(2, "int8"), {1: a, 2: b})
    assert v.label == "host digits-cnn/fp32 -> digits-cnn/int8"
    yes = ab_answers(v, Criteria(), better_pct=20, max_latency_ms=150)
    assert [x.passed for x in yes] == [True, True]
    no = ab_answers(v, Criteria(), better_pct=40, max_latency_ms=0.5)
    assert [x.passed for x in no] == [False, False] and "ms" in no[1].value
    assert yes[0].value.startswith("B 30") and "% faster than A, p<0.001" in yes[0].value


def test_ab_answer_of_a_slower_variant_says_slower() -> None:
    """int8 10 % slower than fp32: 'B 10.x % slower than A', never '-10 % faster'."""
    v = compare_case(row(1, "fp32"), row(2, "int8"), {1: lognormal(1000, sigma=0.01), 2: lognormal(1102, sigma=0.01)})
    answer = ab_answers(v, Criteria(), better_pct=5, max_latency_ms=None)[0]
    assert not answer.passed and v.verdict == REGRESSION
    assert answer.value.startswith("B 10.") and "% slower than A, p<0.001" in answer.value
    assert "-" not in answer.value and "faster" not in answer.value


# ------------------------------------------------------------------ end to end on the host

cli = CliRunner()


def harness(*args: str) -> tuple[int, str]:
    extra = ["--profiles", str(REPO / "device_profiles")] if args[0] == "run" else []
    result = cli.invoke(app, [*args, *extra])
    return result.exit_code, result.output


def slow_int8(models: Path) -> None:
    """A 'new release' whose int8 variant is really the float model: a genuine slowdown."""
    manifest_path = models / "digits-cnn" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    fp32 = next(v for v in manifest["variants"] if v["name"] == "fp32")
    int8 = next(v for v in manifest["variants"] if v["name"] == "int8")
    int8.update(file=fp32["file"], sha256=fp32["sha256"], bytes=fp32["bytes"])
    manifest_path.write_text(json.dumps(manifest))


@pytest.mark.slow
def test_baseline_last_good_fails_a_regressed_run(tmp_path: Path) -> None:
    copy_family(tmp_path)
    suite = write_suite(tmp_path, families={"digits-cnn": ["fp32", "int8"]}, models_root=tmp_path / "models")
    db = str(tmp_path / "r.sqlite")
    code, out = harness("run", str(suite), "--device", "host", "--store", db, "--baseline", "last-good")
    assert code == 0 and "nothing to compare" in out, out
    store = Store(db)
    first = store.latest_run_id()
    code, out = harness("compare", "last-good", "latest", "--store", db)
    assert code == 2 and "no good run" in out, out
    code, out = harness("compare", "last-good", "latest", "--store", db, "--allow-no-baseline")
    assert code == 0 and "nothing to compare" in out, out

    slow_int8(tmp_path / "models")
    junit, md = tmp_path / "junit.xml", tmp_path / "summary.md"
    code, out = harness("run", str(suite), "--device", "host", "--store", db, "--baseline", "last-good",
                        "--junit", str(junit), "--markdown", str(md), "--rerun-suspects")
    # One run of history has no noise band: the slower case is re-measured before it is a regression
    # (on a loaded machine fp32 may move past the effect floor too and be re-measured beside it).
    assert code == 4 and re.search(r"re-measuring [12] suspect case\(s\) on host 3 more times: .*digits-cnn/int8", out), out
    second = store.latest_run_id()
    assert store.run(second)["status"] == "regressed"
    assert 'name="regression"' in junit.read_text() and 'type="regression"' in junit.read_text()
    assert "regression" in md.read_text() and first in md.read_text()

    # A regressed run is nobody's last-good: the next run compares with the first one.
    shutil.rmtree(tmp_path / "models")
    copy_family(tmp_path)
    code, out = harness("run", str(suite), "--device", "host", "--store", db)
    assert code == 0, out
    third = store.latest_run_id()
    assert baselines.resolve(store, "last-good", relative_to=third) == first
    assert len({first, second, third}) == 3

    # `harness compare last-good RUN` (the CI flow after a merge) marks a regressed RUN too.
    slow_int8(tmp_path / "models")
    assert harness("run", str(suite), "--device", "host", "--store", db, "--repeat", "3")[0] == 0
    fourth = store.latest_run_id()
    assert len(store.results(fourth)[1]["latency_repeat_p50_us"]) == 3
    code, out = harness("compare", "last-good", fourth, "--store", db)
    assert code == 4 and store.run(fourth)["status"] == "regressed", out
    assert baselines.resolve(store, "last-good", relative_to=fourth) == third

    code, out = harness("compare", first, second, "--store", db, "--json")
    assert code == 4, out
    report = json.loads(out)
    verdicts = {tuple(v["new_key"]): v["verdict"] for v in report["verdicts"]}
    assert verdicts[("host", "digits-cnn", "int8")] == REGRESSION
    int8 = next(v for v in report["verdicts"] if v["new_key"][2] == "int8")
    latency = next(c for c in int8["checks"] if c["metric"] == "latency")
    assert latency["change"] > 30 and latency["p_value"] < 0.01


@pytest.mark.slow
def test_ab_flow_between_two_variants(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, families={"digits-cnn": ["fp32", "int8"]})
    db = str(tmp_path / "r.sqlite")
    assert harness("run", str(suite), "--device", "host", "--store", db)[0] == 0
    code, out = harness("compare", "latest:digits-cnn/fp32", "latest:digits-cnn/int8", "--store", db,
                        "--better", "20", "--max-latency-ms", "150")
    assert code == 0 and out.count("yes") == 2, out
    code, out = harness("compare", "latest:digits-cnn/int8", "latest:digits-cnn/fp32", "--store", db,
                        "--better", "20", "--max-latency-ms", "150")
    assert code == 4 and "20 %? no" in out, out  # fp32 is slower than int8: B regressed against A


def test_compare_bad_input(tmp_path: Path) -> None:
    db = str(tmp_path / "r.sqlite")
    code, out = harness("compare", "nope", "latest", "--store", db)
    assert code == 2 and "no runs yet" in out
    code, out = harness("compare", "r1:digits-cnn", "latest", "--store", db)
    assert code == 2 and "RUN:family/variant" in out
    code, out = harness("compare", "r1", "r2", "--better", "20", "--store", db)
    assert code == 2 and "two variants" in out
    code, out = harness("run", str(REPO / "suites" / "quickstart.yaml"), "--device", "host", "--store", db,
                        "--rerun-suspects")
    assert code == 2 and "--rerun-suspects needs --baseline" in out
    code, out = harness("run", str(REPO / "suites" / "quickstart.yaml"), "--device", "host", "--repeat", "0")
    assert code == 2 and "--repeat" in out


def test_a_shift_every_case_of_the_device_shares_is_suspect_until_it_lasts() -> None:
    """Four cases of one device 18 % slower in one run: the machine (suspect); the same shift in
    one case only: a regression; the base run a day earlier already shared it: a regression."""
    from datetime import datetime, timedelta

    variants = ("fp32", "fp16", "int8", "tiny-int8")
    night = datetime(2026, 12, 1, 2)
    steady = [1000.0, 1010.0, 990.0, 1005.0, 995.0, 1000.0]

    def run(slower: set[str], base_value: float = 1000.0, apart: timedelta = timedelta(seconds=30)):
        base = [row(i, v, latency_p50_us=base_value, recorded_at=night) for i, v in enumerate(variants)]
        new = [row(10 + i, v, latency_p50_us=1180.0 if v in slower else 1000.0, recorded_at=night + apart,
                   latency_repeat_p50_us=[1180.0] * 3 if v in slower else [1000.0] * 3) for i, v in enumerate(variants)]
        history = {("host", "digits-cnn", v): steady[:-1] + [base_value] for v in variants}
        return {v.new_key[2]: v for v in compare_runs(base, new, {}, histories={"latency": history}).verdicts}

    everyone = run(set(variants))
    assert {v.verdict for v in everyone.values()} == {SUSPECT}
    assert "together in this run" in everyone["int8"].check("latency").note
    alone = run({"int8"})
    assert alone["int8"].verdict == REGRESSION and alone["fp32"].verdict == UNCHANGED
    lasted = run(set(variants), base_value=1180.0, apart=timedelta(days=1))  # the base run was slower too
    assert {v.verdict for v in lasted.values()} == {REGRESSION}
    assert "the device changed" in lasted["int8"].check("latency").note
    passing = run(set(variants), base_value=1180.0, apart=timedelta(seconds=30))  # 30 s: a passing state
    assert {v.verdict for v in passing.values()} == {SUSPECT}
