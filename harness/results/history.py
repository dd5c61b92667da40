"""The regression rule for a noisy metric, decided from the run-to-run history of a case. Pure functions.

Latency, the working memory measured as an RSS increase, and energy measured by a meter all vary
from run to run of identical code; each is judged by this rule against its own history (values in
the metric's unit; `show` prints them). Exact figures (a TFLite-Micro arena) keep a plain threshold.

One rule for `harness compare`, `harness run --baseline` and the nightly dashboard, so they
never disagree. Numbers in, a `Decision` out; no store, no I/O, no printing.

Why history: a run's samples only show the noise *within* that run. Load, clock frequency and
cache state change from run to run, so with 100+ samples per run a within-run test calls almost
any two runs "significantly different" (issue 10: 5 of 8 cases "regressed" between two runs of
the same code). The noise that matters is the spread of the *run median* from run to run, and
only the history of the case shows it (asv and Bencher decide the same way).

Inputs
    history   run values (µs) of the same case in the last N good runs up to the baseline, same
              environment where possible, oldest first. A run value is the median of the run's
              repetition medians (`harness run --repeat K`), else its p50:
              `run_value(p50_us, repeat_medians_us)`.
    new       the new run's repetition medians (µs); one value for a run without --repeat.

The rule (`decide`)
    center    median of the most recent m = min(n, 5) runs: the case's current level
    shift     (median(new) - center) / center, in %
    band      with at least `min_history` runs: center ± t(1 - alpha/2, df) · s · sqrt(1 + 1/m),
              s = median(|x_i - x_(i-1)|) / 0.954, the median moving range of the history in
              time order (the individuals control chart's estimate of the short-term noise; 0.954
              makes it the standard deviation of a normal noise), df = max(2, (n - 1) // 2) its
              effective degrees of freedom (_moving_range_df) — a prediction interval for one
              more run, robust to one odd night (medians, not means) and wide when the history
              is short (t). Why not the spread around the median (MAD): a history whose level
              moved (nights under load, then quiet ones; a slow drift) has a large MAD but small
              successive differences; the MAD band (±17.9 % once, for a history that drifted
              by 5-9 % under a neighbour's load) then hid a +15 % slowdown, and the missed slow
              runs joined the history and widened it further. The moving ranges see one jump per level change.
    verdict   regression (improvement) when ALL hold:
                - median(new) is above (below) the band,
                - |shift| > threshold_pct (None: no threshold, the floor alone),
                - |shift| >= floor_pct (the effect floor: smaller shifts are never real),
                - the change persists through the run: every value that re-measured it (the
                  repetition medians with K >= 2, else the medians of `slices`, consecutive
                  time slices of the run's samples) is beyond the threshold and floor in the
                  same direction. A burst of load during part of a case's window moves its
                  median but not every slice's; a slower model moves them all.
              The within-run Mann-Whitney p is reported, not required: the band already holds
              the run-to-run spread of the median, which includes the within-run sampling
              noise, and under load a starved run's heavy tail makes p large for a real shift.
    short     with fewer than `min_history` runs there is no band, and the within-run test is
    history   the only check of sampling noise: p, when given, must be < alpha. With K >= 2
              repetitions the run re-measured itself: a change counts only when EVERY repetition
              median is beyond the threshold and floor in the same direction. With one
              measurement a change that passes threshold, floor and test is `suspect`: not a
              regression, re-measure it (`harness run --repeat K` or `--rerun-suspects`).

The machine  a model change moves its own case; a machine that is slower for a minute (load,
(one run,   clock, another VM on the same host) moves every case of the run together: two
many cases) regression_power benchmarks run side by side saw all 8 cases +9 to +28 % in the same
            two consecutive runs, nothing changed, nothing in the recorded conditions. So the
            median of one device's latency shifts in a run (`machine_shift`, at least 3 cases) is
            the machine's; when it is beyond the limit, a change in its direction that is not
            beyond the limit once it is taken out (`discount_machine`, ratios) is `suspect`:
            re-measure. One slower model among many leaves the median near 0. A shift the
            device's cases already shared in the run before, at least MACHINE_STATE_MINUTES
            earlier, has lasted: the device changed (a board 30 % slower from one night on), and
            its changes count again (`lasting`).

Every Decision carries `reason`, one line a reader can check: band, shift, p and history size.
p-values are printed by `format_p` (`p<0.001` when small).

API
    run_value(p50_us, repeat_medians_us=None) -> float | None
    noise_band(history, alpha=0.01, min_history=3, min_spread=0) -> Band | None
    decide(history, new, *, threshold_pct, floor_pct, alpha=0.01, min_history=3, p_value=None,
           show=µs, min_spread=0, slices=()) -> Decision
    slice_medians(samples, slices=5, min_per_slice=20) -> list[float]   [] when too few samples
    machine_shift(shifts, limit, min_cases=3) -> float | None   one run's machine-wide shift, %
    change_limit(threshold_pct, floor_pct) -> float   the shift a change must exceed
    last_run_shift(histories, limit) -> float | None   the shift the previous run's cases shared
    discount_machine(verdict, shift, common, limit, lasting=False) -> (verdict, why | None)
    pooled_spread(histories) -> float   the noise several cases share (a floor for min_spread)
    format_p(p) -> str
    HISTORY_RUNS   default N of history runs (10)
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

REGRESSION, IMPROVEMENT, UNCHANGED, SUSPECT = "regression", "improvement", "unchanged", "suspect"
HISTORY_RUNS = 10  # the last N good runs whose medians make the band
RECENT_RUNS = 5  # the most recent runs whose median is the center (the current level)
MIN_HISTORY = 3  # fewer runs than this: no band, see "short history"
MACHINE_MIN_CASES = 3  # cases of one device in a run before the shift they share is the machine's
MACHINE_STATE_MINUTES = 15  # a shared shift that lasted this long is the device's, not a passing state
SLICES = 5  # time slices of a run's samples that must all show a change (slice_medians)
_MEDIAN_MOVING_RANGE_TO_SD = 0.954  # median |x_i - x_(i-1)| of a normal noise over its standard deviation


@dataclass(frozen=True)
class Band:
    """Where the next run's value falls when nothing changed (a prediction interval)."""

    center: float  # median of the most recent runs of the history, µs
    low: float
    high: float
    n: int  # history size, runs
    spread: float  # robust standard deviation of the run value, µs

    @property
    def half_pct(self) -> float:
        return (self.high - self.center) / self.center * 100 if self.center else math.inf


@dataclass(frozen=True)
class Decision:
    verdict: str  # regression | improvement | unchanged | suspect
    center: float  # baseline value the shift is measured from (the band's center), µs
    value: float  # the new run's value (median of its repetitions), µs
    shift_pct: float
    band: Band | None  # None: history too short
    history_n: int
    repeats: int  # repetition medians of the new run
    p_value: float | None
    reason: str
    limit_pct: float  # the larger of threshold and floor: a change must exceed it


def run_value(p50_us: float | None, repeat_medians_us: Sequence[float] | None = None) -> float | None:
    """A run's value for a case: the median of its repetition medians, else its p50."""
    if repeat_medians_us:
        return float(statistics.median(repeat_medians_us))
    return p50_us


def slice_medians(samples: Sequence[float], slices: int = SLICES, min_per_slice: int = 20) -> list[float]:
    """Medians of `slices` consecutive time slices of one run's samples (in measurement order);
    fewer slices when there are fewer than `min_per_slice` samples each; [] below two slices."""
    k = min(slices, len(samples) // min_per_slice)
    if k < 2:
        return []
    bounds = [round(i * len(samples) / k) for i in range(k + 1)]
    return [float(statistics.median(samples[a:b])) for a, b in zip(bounds, bounds[1:])]


def _microseconds(value: float) -> str:
    return f"{value:.4g} µs"


def noise_band(history: Sequence[float], alpha: float = 0.01, min_history: int = MIN_HISTORY,
               min_spread: float = 0.0) -> Band | None:
    """The prediction interval of one more run's value, or None with fewer than min_history runs.
    `history` oldest first. `min_spread`: the run-to-run spread the measurement method is known to
    have (same unit); a short history whose values happen to agree never makes a narrower band."""
    n = len(history)
    if n < max(min_history, 2):
        return None
    recent = history[-RECENT_RUNS:]
    center = float(statistics.median(recent))
    moving_range = statistics.median(abs(b - a) for a, b in zip(history, history[1:]))
    spread = max(min_spread, float(moving_range) / _MEDIAN_MOVING_RANGE_TO_SD)
    half = _t_quantile(1 - alpha / 2, _moving_range_df(n)) * spread * math.sqrt(1 + 1 / len(recent))
    return Band(center, center - half, center + half, n, spread)


def _moving_range_df(n: int) -> int:
    """Degrees of freedom of a spread estimated from the median moving range of n runs: about half
    the n - 1 ranges (they overlap, and a median uses them less fully than a mean). Simulated on
    normal noise at alpha 0.01, one more run then falls outside the band in 0.2-0.9 % of cases for
    n = 3..10; with n - 1 in 1.9-2.7 % for n = 4..10 (tests/test_history.py pins < 1.5 %)."""
    return max(2, (n - 1) // 2)


def decide(history: Sequence[float], new: Sequence[float], *, threshold_pct: float | None, floor_pct: float,
           alpha: float = 0.01, min_history: int = MIN_HISTORY, p_value: float | None = None,
           show: Callable[[float], str] = _microseconds, min_spread: float = 0.0,
           slices: Sequence[float] = ()) -> Decision:
    """The verdict on the new run's value against the history (see the module docstring).
    `show` prints a value in the reason (latency in µs by default; memory passes bytes);
    `min_spread`: the method's known run-to-run spread, a floor of the band's (noise_band);
    `slices`: medians of consecutive time slices of a single run's samples (slice_medians)."""
    if not history or not new:
        raise ValueError("decide needs at least one history value and one new value")
    band = noise_band(history, alpha, min_history, min_spread)
    center = band.center if band is not None else float(statistics.median(history))
    value = float(statistics.median(new))
    shift = (value - center) / center * 100
    limit = change_limit(threshold_pct, floor_pct)
    sign = 1 if shift > 0 else -1
    direction = REGRESSION if sign > 0 else IMPROVEMENT
    level = (f"the median of the last {min(len(history), RECENT_RUNS)} of {len(history)} runs" if band is not None
             else f"the history median (n={len(history)})")
    facts = [f"shift {shift:+.1f} % vs {show(center)}, {level}"]
    if len(new) > 1:
        facts.append(f"{len(new)} repetitions")
    if p_value is not None:
        facts.append(format_p(p_value))
    failed = []  # the first condition that keeps this from being a change
    if threshold_pct is not None and not abs(shift) > threshold_pct:
        failed.append(f"within threshold ±{threshold_pct:g} %")
    if not abs(shift) >= floor_pct:
        failed.append(f"under the effect floor {floor_pct:g} %")
    if band is None and p_value is not None and not p_value < alpha:
        failed.append(f"within-run test not significant ({format_p(p_value)} >= {alpha:g})")
    if band is not None:
        facts.insert(1, f"band {show(band.low)}–{show(band.high)} (±{band.half_pct:.1f} %)")
        if band.low <= value <= band.high:
            failed.insert(0, "inside the run-to-run noise band")
        again, what = (new, "repetitions") if len(new) > 1 else (slices, "time slices of the run")
        if not failed and (why := _not_persistent(again, what, center, sign, limit)):
            failed.append(why)
        verdict = UNCHANGED if failed else direction
    elif len(new) > 1:
        facts.insert(1, f"history too short for a band (<{min_history} runs)")
        if not failed and (why := _not_persistent(new, "repetitions", center, sign, limit)):
            failed.append(why)
        verdict = UNCHANGED if failed else direction
    else:
        facts.insert(1, f"history too short for a band (<{min_history} runs)")
        verdict = UNCHANGED if failed else SUSPECT
        if verdict == SUSPECT:
            failed.append("re-measure (--repeat K or --rerun-suspects) before a verdict")
    reason = "; ".join(facts + failed)
    return Decision(verdict, center, value, shift, band, len(history), len(new), p_value, reason, limit)


def change_limit(threshold_pct: float | None, floor_pct: float) -> float:
    """The shift (%) a change must exceed: the threshold, never below the effect floor."""
    return max(floor_pct, threshold_pct if threshold_pct is not None else floor_pct)


def _not_persistent(values: Sequence[float], what: str, center: float, sign: int, limit: float) -> str | None:
    """Why the values that re-measured a run do not all show its change; None when they do."""
    lagging = sum(1 for v in values if not sign * (v - center) / center * 100 > limit)
    return f"{lagging} of {len(values)} {what} within ±{limit:g} %: not a persistent change" if lagging else None


def machine_shift(shifts: Sequence[float], limit: float, min_cases: int = MACHINE_MIN_CASES) -> float | None:
    """The latency shift (%) one device's cases share in a run (their median) when it is beyond
    `limit`, else None; None with fewer than `min_cases` cases (see "The machine")."""
    if len(shifts) < min_cases:
        return None
    common = float(statistics.median(shifts))
    return common if abs(common) > limit else None


def last_run_shift(histories: Iterable[Sequence[float]], limit: float) -> float | None:
    """machine_shift of the last run of each history (oldest first) against the runs before it:
    the shift the previous run's cases shared, or None."""
    shifts = [(h[-1] / statistics.median(h[-1 - RECENT_RUNS:-1]) - 1) * 100
              for h in histories if len(h) > MIN_HISTORY]
    return machine_shift(shifts, limit)


def discount_machine(verdict: str, shift: float, common: float | None, limit: float,
                     lasting: bool = False) -> tuple[str, str | None]:
    """A case's verdict once its run's machine-wide shift `common` (%) is taken out, and why; a
    change in the machine's direction that is within `limit` beyond it becomes `suspect`, unless
    the shift has `lasting` (the device's cases shared it in a run MACHINE_STATE_MINUTES before)."""
    if common is None or verdict not in (REGRESSION, IMPROVEMENT):
        return verdict, None
    if lasting:
        return verdict, (f"the device's cases moved {common:+.1f} % together, as in the run before "
                         f"(>= {MACHINE_STATE_MINUTES} min earlier): the device changed, not a passing state")
    rest = ((1 + shift / 100) / (1 + common / 100) - 1) * 100
    if (shift > 0) == (common > 0) and abs(rest) <= limit:
        return SUSPECT, (f"the device's cases moved {common:+.1f} % together in this run (median): the machine, "
                         f"not this model ({rest:+.1f} % beyond it); re-measure (--rerun-suspects)")
    return verdict, f"{rest:+.1f} % beyond the device's machine-wide shift of {common:+.1f} %"


def pooled_spread(histories: Iterable[Sequence[float]]) -> float:
    """The pooled standard deviation of several cases' histories: the run-to-run noise they share.

    For a noise that belongs to the measurement, not the case (an RSS increase moves by the same
    few hundred KiB whatever the model: the allocator and the runtime's threads, not the model),
    every case's history estimates it: sqrt(sum of squared deviations from each case's mean /
    sum of (n_i - 1)), far more degrees of freedom than one case's 3 to 10 runs. 0 without any."""
    squares, df = 0.0, 0
    for values in histories:
        if len(values) >= 2:
            mean = statistics.fmean(values)
            squares += sum((v - mean) ** 2 for v in values)
            df += len(values) - 1
    return math.sqrt(squares / df) if df else 0.0


def format_p(p: float | None) -> str:
    """`p<0.001` when small (never `p=0`), else two significant digits."""
    if p is None:
        return ""
    return "p<0.001" if p < 0.001 else f"p={p:.2g}"


def _t_quantile(q: float, df: int) -> float:
    from scipy.stats import t  # scipy is a core dependency; imported when a band is drawn

    return float(t.ppf(q, df))
