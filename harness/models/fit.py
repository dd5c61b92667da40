"""Fit check and variant selection: which variants of a model family a device can hold and run,
and which one it should run ("select the model version for the device").

Pure functions over facts already known (model bytes, MACs, the TFLite-Micro arena, whether
TFLite-Micro runs it) and what the store measured on the device; no interpreter is touched here.
A figure that is not a measurement says so: activations from the model are an upper bound, a
latency from MACs and TOPS is an estimate (a lower bound: peak TOPS).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.measures import memory
from harness.config.profiles import DeviceProfile, Runtime, Tier
from harness.config.units import human_bytes

# Accuracy, in points of top-1 (or of the task's headline metric), a device class trades for a
# smaller model: variants this close to the most accurate one count as equally accurate and the
# smallest of them wins. The seed's classes optimise for different things (flagship: speed;
# wearable: a light architecture; IoT: the smallest weights), so the tolerance widens as the
# class shrinks.
TIER_TOLERANCE_POINTS = {Tier.WORKSTATION: 0.5, Tier.FLAGSHIP: 0.5, Tier.MID_RANGE: 1.0,
                         Tier.WEARABLE: 2.0, Tier.IOT: 3.0}
# What the reference firmware's engine executes (firmware/engine/README.md): int8 only.
ENGINE_OPERATORS = frozenset({
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "ADD",
    "RESHAPE", "SOFTMAX", "MEAN", "PAD", "PADV2", "QUANTIZE", "DEQUANTIZE"})


@dataclass(frozen=True)
class VariantFacts:
    family: str
    variant: str
    file_name: str
    model_bytes: int
    quantization: str  # float32 | float16 | int8 dynamic-range | int8 full-integer
    accuracy: float | None  # from the manifest (host LiteRT); None for latency-only models
    activation_bytes: int  # the TFLite-Micro arena when known, else an upper bound
    tflm_runnable: bool | None  # None: not probed
    tflm_error: str | None = None
    operators: tuple[str, ...] = ()
    macs: int = 0
    activation_bound: bool = False  # True: activation_bytes is an upper bound (no reuse), a guess
    model_format: str = "tflite"  # harness/models/formats.py
    accuracy_metric: str = "top-1"  # what `accuracy` is: top-1, or the task's headline (a detector's AUC)

    @property
    def activation_label(self) -> str:
        if self.activation_bound:
            return f"≤ {human_bytes(self.activation_bytes)} (upper bound)"
        return f"{human_bytes(self.activation_bytes)} (TFLite-Micro arena)"


@dataclass(frozen=True)
class Measured:
    """What the store measured for this device and variant (the same model file, by sha256)."""

    run_id: str
    latency_p50_us: float | None
    working_memory: memory.WorkingMemory | None


@dataclass(frozen=True)
class Latency:
    ms: float
    measured: bool  # False: estimated from MACs at the profile's peak TOPS (a lower bound)
    detail: str

    @property
    def label(self) -> str:
        value = f"{self.ms:.3g} ms" if self.ms >= 1 else f"{self.ms * 1000:.3g} µs"
        return f"{value} (measured, {self.detail})" if self.measured else f"≥ {value} (estimated: {self.detail})"


@dataclass(frozen=True)
class Fit:
    facts: VariantFacts
    reasons: list[str] = field(default_factory=list)  # why it does not fit; empty: it fits

    @property
    def fits(self) -> bool:
        return not self.reasons


def check(facts: VariantFacts, device: DeviceProfile, measured: Measured | None = None) -> Fit:
    """Does it fit? A working memory the store measured on this device replaces the estimate."""
    reasons = []
    if facts.model_bytes > device.model_volume_cap:
        reasons.append(f"model {human_bytes(facts.model_bytes)} exceeds the model-volume cap "
                       f"{human_bytes(device.model_volume_cap)}")
    if not _reads(device.runtime, facts.model_format):  # nothing else about it matters
        return Fit(facts, [*reasons, f"{device.runtime.value} reads no {facts.model_format} models, and "
                                     "this board has no other runtime for them"])
    if device.runtime is Runtime.HARNESS_FW:
        reasons += _engine_reasons(facts)
    wm = measured.working_memory if measured is not None else None
    if device.runtime.microcontroller:
        reasons += _tflm_reasons(facts, device, wm if wm and wm.method == memory.ARENA else None)
    elif wm is not None and wm.method == memory.RSS_INCREASE:
        if wm.bytes > device.ram:
            reasons.append(f"working memory {wm.label}, measured, exceeds RAM {human_bytes(device.ram)}")
    else:
        need = facts.model_bytes + facts.activation_bytes
        if need > device.ram:
            bound = " (activations: upper bound, not measured)" if facts.activation_bound else ""
            reasons.append(f"model + activations {human_bytes(need)}{bound} exceed RAM {human_bytes(device.ram)}")
    if device.runtime is Runtime.EDGETPU and not facts.file_name.endswith("_edgetpu.tflite"):
        reasons.append("not compiled for the Edge TPU (needs a *_edgetpu.tflite variant)")
    return Fit(facts, reasons)


def _reads(runtime: Runtime, model_format: str) -> bool:
    if runtime is Runtime.HARNESS_FW:
        return model_format == "tflite"  # the firmware engine parses flatbuffers only
    from harness.runtimes.adapters import runtime_for

    return runtime_for(runtime.value, model_format) is not None


def _tflm_reasons(facts: VariantFacts, device: DeviceProfile, arena: memory.WorkingMemory | None) -> list[str]:
    # On a microcontroller the model stays in flash and only the arena takes RAM.
    if facts.tflm_runnable is False and arena is None:
        return [f"TFLite-Micro cannot run it: {facts.tflm_error or 'unsupported'}"]
    reasons = []
    if facts.model_bytes > device.flash:
        reasons.append(f"model {human_bytes(facts.model_bytes)} exceeds flash {human_bytes(device.flash)}")
    limit, where = (device.arena, "the firmware's arena") if device.arena is not None else (device.ram, "RAM")
    if arena is not None and arena.bytes > limit:
        reasons.append(f"arena {human_bytes(arena.bytes)} (measured on the device) exceeds {where} {human_bytes(limit)}")
    elif arena is None and facts.activation_bytes > limit:
        reasons.append(f"arena {facts.activation_label} exceeds {where} {human_bytes(limit)}")
    return reasons


def _engine_reasons(facts: VariantFacts) -> list[str]:
    reasons = []
    if facts.quantization != "int8 full-integer":
        reasons.append(f"the reference firmware's engine runs int8 full-integer models only, not {facts.quantization}")
    unsupported = sorted(set(facts.operators) - ENGINE_OPERATORS)
    if unsupported:
        reasons.append(f"operators the reference firmware's engine lacks: {', '.join(unsupported)}")
    return reasons


def latency(facts: VariantFacts, device: DeviceProfile, measured: Measured | None) -> Latency | None:
    """The p50 the store measured on this device, else a lower bound from MACs at peak TOPS
    (one multiply-accumulate = 2 operations), else None."""
    if measured is not None and measured.latency_p50_us is not None:
        return Latency(measured.latency_p50_us / 1000, True, f"p50 of run {measured.run_id}")
    if device.compute_tops and facts.macs:
        ms = 2 * facts.macs / (device.compute_tops * 1e12) * 1000
        return Latency(ms, False, f"2 × {facts.macs / 1e6:.3g} M MACs at the profile's peak "
                                  f"{device.compute_tops:g} TOPS")
    return None


@dataclass
class Selection:
    chosen: Fit | None
    rule: str
    lost: dict[str, str]  # variant -> why it lost (variants that fit but were not chosen)
    latencies: dict[str, Latency | None]


def select(fits: list[Fit], device: DeviceProfile, budget_ms: float | None,
           latencies: dict[str, Latency | None]) -> Selection:
    """Among the variants that fit and meet the latency budget, the most accurate; variants
    within the tier's tolerance of it count as equally accurate, and of those the smallest
    model (bytes deployed) wins, then the lower latency."""
    tolerance = TIER_TOLERANCE_POINTS[device.tier]
    rule = (f"{device.tier.value} tier: variants that fit (model-volume cap {human_bytes(device.model_volume_cap)}, "
            f"RAM {human_bytes(device.ram)}, runtime {device.runtime.value})"
            + (f" and whose p50 is within the latency budget of {budget_ms:g} ms" if budget_ms else "")
            + f"; of those the most accurate, where variants within {tolerance:g} accuracy points of it "
              f"(this tier's tolerance) count as equally accurate and the smallest model wins, "
              f"then the lower latency")
    lost: dict[str, str] = {}
    candidates = []
    for f in (f for f in fits if f.fits):
        lat = latencies.get(f.facts.variant)
        if budget_ms is not None and lat is not None and lat.ms > budget_ms:
            lost[f.facts.variant] = f"p50 {lat.label} exceeds the latency budget of {budget_ms:g} ms"
        else:
            candidates.append(f)
    top = max((f for f in candidates if f.facts.accuracy is not None),
              key=lambda f: (f.facts.accuracy, -f.facts.model_bytes), default=None)
    if top is not None:
        best_acc = top.facts.accuracy or 0.0
        kept = []
        for f in candidates:
            if f.facts.accuracy is None:
                lost[f.facts.variant] = "no accuracy known while other variants have one"
            elif (best_acc - f.facts.accuracy) * 100 > tolerance:
                lost[f.facts.variant] = (f"{f.facts.accuracy_metric} {f.facts.accuracy:.2%} is {(best_acc - f.facts.accuracy) * 100:.2f} "
                                         f"points below {top.facts.variant} ({best_acc:.2%}), beyond this tier's "
                                         f"tolerance of {tolerance:g} points")
            else:
                kept.append(f)
        candidates = kept

    def order(f: Fit) -> tuple[int, float, str]:
        lat = latencies.get(f.facts.variant)
        return (f.facts.model_bytes, lat.ms if lat is not None else float("inf"), f.facts.variant)

    chosen = min(candidates, key=order, default=None)
    for f in candidates:
        if chosen is not None and f is not chosen:
            lost[f.facts.variant] = _lost_to(f, chosen, latencies)
    return Selection(chosen, rule, lost, latencies)


def _lost_to(f: Fit, chosen: Fit, latencies: dict[str, Latency | None]) -> str:
    mine, theirs = f.facts, chosen.facts
    if mine.model_bytes != theirs.model_bytes:
        return (f"as accurate (within the tolerance) but a larger model: {human_bytes(mine.model_bytes)} "
                f"vs {theirs.variant}'s {human_bytes(theirs.model_bytes)}")
    a, b = latencies.get(mine.variant), latencies.get(theirs.variant)
    if a is not None and b is not None and a.ms != b.ms:
        return f"same model bytes as {theirs.variant}, slower: {a.label} vs {b.label}"
    return f"same model bytes and latency as {theirs.variant}; the name decides"
