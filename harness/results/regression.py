"""Regression detection between two sets of stored results. Pure: rows and samples in, verdicts out.

Cases are matched by (device, family, variant). Per matched case:

    latency   two runs: decided from the case's run-to-run history by harness/results/history.py (the
              noise band of the run median over the last good runs, the threshold latency_pct,
              the effect floor min_effect_pct, and the within-run Mann-Whitney p as one more
              input); the check's note says why. A/B (two variants, no history): Mann-Whitney U
              on the samples decides whether the change is real (p < alpha AND relative median
              shift >= min_effect_pct), the threshold whether it matters; with too few samples
              on a side there is no test and the p50 alone decides.
    memory    the working memory, only between two figures of one method (harness/measures/memory.py).
              An exact method (arena): relative change vs memory_pct. A noisy one (rss-increase):
              two runs are decided by the history rule, as latency, with memory_pct as threshold.
    energy    energy per inference, when a meter measured both sides: two runs by the history
              rule (meters are noisy), an A/B by relative change vs energy_pct; estimated energy
              is shown with a note and never decides a verdict
    accuracy  top-1 change in percentage points vs accuracy_points
    status    ok -> failed/skipped is a regression; failed -> ok an improvement; a case that
              was not measured for an infrastructure reason is `missing`, not a regression.

A case's verdict is the worst of its checks: regression > suspect > improvement > unchanged; a
case on one side only is `missing`. `suspect`: a latency change seen once, with too short a
history to tell it from noise; it fails nothing and asks for a re-measurement. Thresholds are
"more than": a 10.0 % slowdown passes latency_pct 10.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Mapping, Sequence

from harness.results import history as run_history
from harness.measures import memory, metrics
from harness.results.history import IMPROVEMENT, REGRESSION, SUSPECT, UNCHANGED, format_p
from harness.results.store import utc_naive
from harness.config.units import human_bytes

MISSING = "missing"
_RANK = {REGRESSION: 4, SUSPECT: 3, IMPROVEMENT: 2, UNCHANGED: 1}

Key = tuple[str, str, str]  # (device, family, variant)


@dataclass(frozen=True)
class Criteria:
    alpha: float = 0.01  # significance level of the Mann-Whitney U test
    min_effect_pct: float = 5.0  # smallest relative median shift counted as real
    latency_pct: float | None = 10.0  # None: any real shift counts
    memory_pct: float | None = 10.0  # None: not compared
    energy_pct: float | None = 10.0
    accuracy_points: float | None = 1.0
    metric_pct: float | None = 10.0  # a lower-is-better task metric (RMSE): relative change
    min_samples: int = 5  # per side, to run the test at all
    history_runs: int = run_history.HISTORY_RUNS  # last N good runs whose medians make the noise band
    min_history: int = run_history.MIN_HISTORY  # fewer: no band (see harness/results/history.py)


@dataclass(frozen=True)
class Check:
    metric: str
    base: Any
    new: Any
    change: float | None  # percent (latency, memory, energy) or points (accuracy)
    limit: float | None
    verdict: str
    p_value: float | None = None
    note: str = ""


@dataclass(frozen=True)
class CaseVerdict:
    base_key: Key | None
    new_key: Key | None
    verdict: str
    checks: tuple[Check, ...] = ()
    note: str = ""

    @property
    def label(self) -> str:
        """`device family/variant`, or `device family/A -> family/B` for an A/B comparison."""
        base, new = self.base_key, self.new_key
        if base is None or new is None or base == new:
            device, family, variant = base or new  # type: ignore[misc]
            return f"{device} {family}/{variant}"
        return f"{base[0]} {base[1]}/{base[2]} -> {new[1]}/{new[2]}"

    def check(self, metric: str) -> Check | None:
        return next((c for c in self.checks if c.metric == metric), None)


@dataclass(frozen=True)
class Answer:
    """One answered A/B question: e.g. "latency better by more than 20 %" -> passed."""

    question: str
    value: str
    passed: bool


@dataclass
class Comparison:
    verdicts: list[CaseVerdict] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(1 for v in self.verdicts if v.verdict == verdict)

    @property
    def regressed(self) -> bool:
        return self.count(REGRESSION) > 0


def key_of(row: Mapping[str, Any]) -> Key:
    return (row["device"], row["family"], row["variant"])


def latency_value(row: Mapping[str, Any]) -> float | None:
    """A run's latency value (µs): the median of its repetition medians, else its p50."""
    return run_history.run_value(row.get("latency_p50_us"), row.get("latency_repeat_p50_us"))


def noisy_memory_value(row: Mapping[str, Any]) -> float | None:
    """Working memory bytes of a noisy method (rss-increase); None for an exact one (arena)."""
    wm = memory.working_memory(row)
    return None if wm is None or wm.method in memory.EXACT_METHODS else float(wm.bytes)


def measured_energy_value(row: Mapping[str, Any]) -> float | None:
    """Energy per inference (µJ) a meter measured; an estimate is never history."""
    return row.get("energy_uj") if row.get("power_status") == "measured" else None


ValueOf = Callable[[Mapping[str, Any]], "float | None"]  # a stored row's value of one metric, None: none

# The metrics judged against their run-to-run history, and how a stored row gives each one's value.
HISTORY_METRICS: dict[str, ValueOf] = {"latency": latency_value, "memory": noisy_memory_value, "energy": measured_energy_value}

Histories = Mapping[str, Sequence[float]]  # metric -> run values of one case (any order)


def compare_runs(base_rows: Iterable[Mapping[str, Any]], new_rows: Iterable[Mapping[str, Any]],
                 samples: Mapping[int, Sequence[float]], criteria: Criteria = Criteria(),
                 histories: Mapping[str, Mapping[Key, Sequence[float]]] | None = None) -> Comparison:
    """Every case of either side, matched by (device, family, variant), in a stable order.

    `histories`: per metric of HISTORY_METRICS and case, the run values of the last good runs up
    to and including the base run (harness.results.baselines.metric_history); a case without one has
    the base run alone."""
    base = {key_of(r): r for r in base_rows}
    new = {key_of(r): r for r in new_rows}
    memory_noise = _device_noise((histories or {}).get("memory", {}))
    verdicts = []
    for key in sorted(base.keys() | new.keys()):
        if key not in new:
            verdicts.append(CaseVerdict(key, None, MISSING, note="gone: not in the new run"))
        elif key not in base:
            verdicts.append(CaseVerdict(None, key, MISSING, note="new: not in the base run"))
        else:
            case = {m: (histories or {}).get(m, {}).get(key) or _own_value(value_of, base[key])
                    for m, value_of in HISTORY_METRICS.items()}
            verdicts.append(compare_case(base[key], new[key], samples, criteria, case,
                                         memory_noise.get(key[0], 0.0)))
    if histories is None:
        return Comparison(verdicts)
    return Comparison(_discount_machine(verdicts, criteria, histories.get("latency", {}), base, new))


def _discount_machine(verdicts: list[CaseVerdict], criteria: Criteria, history: Mapping[Key, Sequence[float]],
                      base: Mapping[Key, Mapping[str, Any]], new: Mapping[Key, Mapping[str, Any]]
                      ) -> list[CaseVerdict]:
    """Latency changes a device's cases share in one run are the machine's (history.machine_shift):
    such a change, within the threshold once the shared shift is taken out, becomes `suspect` -
    unless the base run, MACHINE_STATE_MINUTES or more before, shared it too (the device changed)."""
    limit = run_history.change_limit(criteria.latency_pct, criteria.min_effect_pct)
    shifts: dict[str, list[float]] = {}
    for v in verdicts:
        lat = v.check("latency")
        if v.new_key is not None and lat is not None and lat.change is not None:
            shifts.setdefault(v.new_key[0], []).append(lat.change)
    common = {device: run_history.machine_shift(values, limit) for device, values in shifts.items()}
    lasting = {device: _lasting(device, shared, history, base, new, limit) for device, shared in common.items()
               if shared is not None}
    out = []
    for v in verdicts:
        lat = v.check("latency")
        shared = common.get(v.new_key[0]) if v.new_key is not None else None
        if lat is None or lat.change is None or shared is None:
            out.append(v)
            continue
        verdict, why = run_history.discount_machine(lat.verdict, lat.change, shared, limit, lasting[v.new_key[0]])
        if why is not None:
            checks = tuple(replace(c, verdict=verdict, note=f"{c.note}; {why}") if c is lat else c for c in v.checks)
            v = replace(v, verdict=max((c.verdict for c in checks), key=_RANK.__getitem__), checks=checks)
        out.append(v)
    return out


def _lasting(device: str, shared: float, history: Mapping[Key, Sequence[float]], base: Mapping[Key, Mapping[str, Any]],
             new: Mapping[Key, Mapping[str, Any]], limit: float) -> bool:
    """Did the base run's cases of `device` share the new run's shift, MACHINE_STATE_MINUTES or more before?"""
    keys = [k for k in new if k[0] == device and k in base]
    before = run_history.last_run_shift((history.get(k, ()) for k in keys), limit)
    times = [(utc_naive(new[k].get("recorded_at")), utc_naive(base[k].get("recorded_at"))) for k in keys]
    apart = [a - b for a, b in times if isinstance(a, datetime) and isinstance(b, datetime)]
    return (before is not None and (before > 0) == (shared > 0) and bool(apart)
            and min(apart) >= timedelta(minutes=run_history.MACHINE_STATE_MINUTES))


def _device_noise(histories: Mapping[Key, Sequence[float]]) -> dict[str, float]:
    """Per device, the run-to-run spread (bytes) of the RSS increase pooled over its cases: the
    allocator and the runtime's threads move it by a few hundred KiB whatever the model, so three
    runs of one case that happen to agree must not make a band narrower than that."""
    devices: dict[str, list[Sequence[float]]] = {}
    for key, values in histories.items():
        devices.setdefault(key[0], []).append(values)
    return {device: run_history.pooled_spread(cases) for device, cases in devices.items()}


def _own_value(value_of: ValueOf, row: Mapping[str, Any]) -> list[float]:
    value = value_of(row)
    return [] if value is None else [value]


def compare_case(base: Mapping[str, Any], new: Mapping[str, Any],
                 samples: Mapping[int, Sequence[float]], criteria: Criteria = Criteria(),
                 history: Histories | None = None, memory_noise: float = 0.0) -> CaseVerdict:
    """Two results of one case; latency, noisy memory and measured energy judged against `history`
    (per metric, run values of the case's last good runs up to `base`); without a history (A/B
    of two variants) latency by the samples, memory and energy by their thresholds.
    `memory_noise`: the device's pooled RSS-increase spread (bytes), a floor of the memory band."""
    keys = (key_of(base), key_of(new))
    for side, row in (("new", new), ("base", base)):
        if _unmeasured(row):
            return CaseVerdict(*keys, MISSING, note=f"{side} not measured: {row['status']} "
                                                    f"({row.get('reason') or 'infrastructure'})")
    if base["status"] != "ok" or new["status"] != "ok":
        return CaseVerdict(*keys, _status_verdict(base["status"], new["status"]),
                           (Check("status", base["status"], new["status"], None, None,
                                  _status_verdict(base["status"], new["status"]), note=new.get("reason") or ""),))
    checks = [c for c in (
        _latency(base, new, samples, criteria) if history is None
        else _latency_history(base, new, samples, criteria, history.get("latency") or ()),
        _memory(base, new, criteria, None if history is None else history.get("memory"), memory_noise),
        _energy(base, new, criteria, None if history is None else history.get("energy")),
        _accuracy(base.get("accuracy_top1"), new.get("accuracy_top1"), criteria.accuracy_points),
        task_metric(base, new, criteria),
    ) if c is not None]
    worst = max((c.verdict for c in checks), key=_RANK.__getitem__, default=UNCHANGED)
    return CaseVerdict(*keys, worst, tuple(checks))


def _unmeasured(row: Mapping[str, Any]) -> bool:
    # The lab failed, not the model: nothing to compare, and no regression either.
    return row["status"] == "not-run" or (row["status"] != "ok" and row.get("error_kind") == "infrastructure")


def _status_verdict(base: str, new: str) -> str:
    if base == "ok":
        return REGRESSION
    return IMPROVEMENT if new == "ok" else UNCHANGED


def _latency(base: Mapping[str, Any], new: Mapping[str, Any], samples: Mapping[int, Sequence[float]],
             criteria: Criteria) -> Check | None:
    a, b = samples.get(base.get("id"), ()), samples.get(new.get("id"), ())
    tested = len(a) >= criteria.min_samples and len(b) >= criteria.min_samples
    base_us = statistics.median(a) if tested else base.get("latency_p50_us")
    new_us = statistics.median(b) if tested else new.get("latency_p50_us")
    if base_us is None or new_us is None or base_us <= 0:
        return None
    shift = (new_us - base_us) / base_us * 100
    p_value = _mann_whitney(a, b) if tested else None
    real = abs(shift) >= criteria.min_effect_pct and (p_value is None or p_value < criteria.alpha)
    limit = criteria.latency_pct if criteria.latency_pct is not None else criteria.min_effect_pct
    verdict = UNCHANGED
    if real and shift > limit:
        verdict = REGRESSION
    elif real and shift < -limit:
        verdict = IMPROVEMENT
    why = [f"shift {shift:+.1f} % of the median (samples of both sides, no history)"]
    if not tested:
        why.append(f"fewer than {criteria.min_samples} samples: p50 alone, no test")
    else:
        why.append(format_p(p_value) + ("" if p_value < criteria.alpha else f" >= {criteria.alpha:g}: not significant"))
    if abs(shift) < criteria.min_effect_pct:
        why.append(f"under the effect floor {criteria.min_effect_pct:g} %")
    else:
        why.append(f"{'beyond' if abs(shift) > limit else 'within'} threshold ±{limit:g} %")
    return Check("latency", base_us / 1000, new_us / 1000, shift, limit, verdict, p_value, "; ".join(why))


def _latency_history(base: Mapping[str, Any], new: Mapping[str, Any], samples: Mapping[int, Sequence[float]],
                     criteria: Criteria, history: Sequence[float]) -> Check | None:
    """Two runs of one case: the run-to-run rule of harness/results/history.py; Mann-Whitney is one input."""
    repeats = new.get("latency_repeat_p50_us") or (
        [new["latency_p50_us"]] if new.get("latency_p50_us") is not None else [])
    history = [h for h in history if h and h > 0]
    if not repeats or not history:
        return None
    a, b = samples.get(base.get("id"), ()), samples.get(new.get("id"), ())
    tested = len(a) >= criteria.min_samples and len(b) >= criteria.min_samples
    p_value = _mann_whitney(a, b) if tested else None
    d = run_history.decide(history, repeats, threshold_pct=criteria.latency_pct, floor_pct=criteria.min_effect_pct,
                           alpha=criteria.alpha, min_history=criteria.min_history, p_value=p_value,
                           slices=run_history.slice_medians(b))
    limit = criteria.latency_pct if criteria.latency_pct is not None else criteria.min_effect_pct
    return Check("latency", d.center / 1000, d.value / 1000, d.shift_pct, limit, d.verdict, p_value, d.reason)


def _mann_whitney(a: Sequence[float], b: Sequence[float]) -> float:
    from scipy.stats import mannwhitneyu  # scipy is imported only when a test runs

    if len(set(a) | set(b)) == 1:
        return 1.0  # identical constant samples: no difference (scipy would warn on ties)
    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def _memory(base: Mapping[str, Any], new: Mapping[str, Any], criteria: Criteria,
            history: Sequence[float] | None, noise: float = 0.0) -> Check | None:
    """An exact method (arena) by the threshold; a noisy one (rss-increase) of two runs by its history."""
    a, b = memory.working_memory(base), memory.working_memory(new)
    if a is None or b is None or a.method != b.method:
        return None  # not measured, or by two methods: never one ratio (harness/measures/memory.py)
    if b.method in memory.EXACT_METHODS or not history:
        return _relative("memory", a.bytes, b.bytes, criteria.memory_pct)
    return _by_history("memory", history, b.bytes, criteria, criteria.memory_pct, human_bytes, noise)


def _by_history(metric: str, history: Sequence[float], value: float, criteria: Criteria,
                limit: float | None, show: Callable[[float], str], min_spread: float = 0.0) -> Check | None:
    """One run's value against the case's run-to-run history (harness/results/history.py); limit None: off."""
    history = [h for h in history if h and h > 0]
    if limit is None or not history:
        return None
    d = run_history.decide(history, [value], threshold_pct=limit, floor_pct=criteria.min_effect_pct,
                           alpha=criteria.alpha, min_history=criteria.min_history, show=show,
                           min_spread=min_spread)
    return Check(metric, d.center, d.value, d.shift_pct, limit, d.verdict, note=f"{metric}: {d.reason}")


def _relative(metric: str, base: float | None, new: float | None, limit: float | None) -> Check | None:
    if limit is None or base is None or new is None or base <= 0:
        return None
    change = (new - base) / base * 100
    verdict = REGRESSION if change > limit else IMPROVEMENT if change < -limit else UNCHANGED
    return Check(metric, base, new, change, limit, verdict)


def _energy(base: Mapping[str, Any], new: Mapping[str, Any], criteria: Criteria,
            history: Sequence[float] | None) -> Check | None:
    """Only energy a meter measured on both sides is judged (two runs: by its history, a meter is
    noisy); an estimate (rated power x latency) would turn latency noise into an energy verdict,
    so it is shown, labelled, and left out."""
    limit = criteria.energy_pct
    check = _relative("energy", base.get("energy_uj"), new.get("energy_uj"), limit)
    statuses = (base.get("power_status"), new.get("power_status"))
    if check is not None and statuses == ("measured", "measured") and history:
        return _by_history("energy", history, new["energy_uj"], criteria, limit, lambda v: f"{v:.4g} µJ")
    if check is None or statuses == ("measured", "measured"):
        return check
    return Check("energy", check.base, check.new, check.change, limit, UNCHANGED,
                 note=f"energy {statuses[0] or 'unknown'} -> {statuses[1] or 'unknown'}: not judged")


def _accuracy(base: float | None, new: float | None, limit: float | None) -> Check | None:
    if limit is None or base is None or new is None:
        return None
    points = (new - base) * 100
    verdict = REGRESSION if points < -limit else IMPROVEMENT if points > limit else UNCHANGED
    return Check("accuracy", base, new, points, limit, verdict)


def task_metric(base: Mapping[str, Any], new: Mapping[str, Any], criteria: Criteria) -> Check | None:
    """A task's headline metric other than top-1 (harness/measures/metrics.py): AUC, F1 in points against
    `accuracy_points`; RMSE (lower is better) as a relative change against `metric_pct`."""
    head = metrics.headline(new.get("task"))
    if head is None or head.name == "top1" or criteria.accuracy_points is None:
        return None
    b = metrics.headline_value(new.get("task"), base.get("metrics"))
    n = metrics.headline_value(new.get("task"), new.get("metrics"))
    if b is None or n is None:
        return None
    if not head.higher_is_better:
        check = _relative(head.name, b, n, criteria.metric_pct)
        return None if check is None else Check("accuracy", b, n, check.change, check.limit, check.verdict,
                                                note=f"{head.name} (lower is better), change in %")
    points = (n - b) * 100
    limit = criteria.accuracy_points
    verdict = REGRESSION if points < -limit else IMPROVEMENT if points > limit else UNCHANGED
    return Check("accuracy", b, n, points, limit, verdict, note=f"{head.name}, change in points")


def ab_answers(verdict: CaseVerdict, criteria: Criteria, better_pct: float | None,
               max_latency_ms: float | None) -> list[Answer]:
    """The seed's A/B questions about B (the `new` side) against A (the `base` side)."""
    answers = []
    latency = verdict.check("latency")
    if better_pct is not None:
        shift = None if latency is None else -latency.change  # > 0: B is faster than A
        significant = latency is not None and (latency.p_value is None or latency.p_value < criteria.alpha)
        value = "not measured" if shift is None else _speed(shift, latency.p_value)
        answers.append(Answer(f"B's latency better than A's by more than {better_pct:g} %", value,
                              shift is not None and significant and shift > better_pct))
    if max_latency_ms is not None:
        new_ms = None if latency is None else latency.new
        answers.append(Answer(f"B's median latency under {max_latency_ms:g} ms",
                              "not measured" if new_ms is None else f"{new_ms:.3f} ms",
                              new_ms is not None and new_ms < max_latency_ms))
    return answers


def _speed(faster_pct: float, p_value: float | None) -> str:
    """`B 10.2 % slower than A, p<0.001`: the word carries the sign."""
    word = "faster" if faster_pct > 0 else "slower"
    text = f"B {abs(faster_pct):.1f} % {word} than A" if round(faster_pct, 1) else "B as fast as A"
    return text + ("" if p_value is None else f", {format_p(p_value)}")


TABLE_COLUMNS = ("case", "verdict", "latency ms", "Δ latency", "p", "Δ memory", "Δ energy",
                 "Δ accuracy", "note")


def table_rows(comparison: Comparison) -> list[dict[str, str]]:
    """The comparison as rows of text, for the terminal table and the Markdown summary."""
    rows = []
    for v in comparison.verdicts:
        lat = v.check("latency")
        status = v.check("status")
        notes = [v.note, *(c.note for c in v.checks if c.note and c.metric != "status")]
        if status is not None:
            notes.insert(0, f"status {status.base} -> {status.new}" + (f": {status.note}" if status.note else ""))
        rows.append({
            "case": v.label, "verdict": v.verdict,
            "latency ms": "" if lat is None else f"{lat.base:.4g} -> {lat.new:.4g}",
            "Δ latency": _pct(lat), "p": "" if lat is None else format_p(lat.p_value),
            "Δ memory": _pct(v.check("memory")), "Δ energy": _pct(v.check("energy")),
            "Δ accuracy": "" if v.check("accuracy") is None else f"{v.check('accuracy').change:+.2f} pts",
            "note": "; ".join(n for n in notes if n),
        })
    return rows


def _pct(check: Check | None) -> str:
    return "" if check is None or check.change is None else f"{check.change:+.1f} %"
