"""Fit check: which variants of a model family a device can hold and run, and the best one.

Pure functions over facts already measured (model bytes, the TFLite-Micro arena, whether
TFLite-Micro runs it); no interpreter is touched here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.profiles import DeviceProfile, Runtime
from harness.units import human_bytes

EQUAL_ACCURACY_POINTS = 0.5  # variants closer than this count as equally accurate
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


@dataclass(frozen=True)
class Fit:
    facts: VariantFacts
    reasons: list[str] = field(default_factory=list)  # why it does not fit; empty: it fits

    @property
    def fits(self) -> bool:
        return not self.reasons

    @property
    def footprint_bytes(self) -> int:
        return self.facts.model_bytes + self.facts.activation_bytes


def check(facts: VariantFacts, device: DeviceProfile) -> Fit:
    reasons = []
    if facts.model_bytes > device.model_volume_cap:
        reasons.append(f"model {human_bytes(facts.model_bytes)} exceeds the model-volume cap "
                       f"{human_bytes(device.model_volume_cap)}")
    if device.runtime is Runtime.HARNESS_FW:
        reasons += _engine_reasons(facts)
    if device.runtime.microcontroller:
        reasons += _tflm_reasons(facts, device)
    else:
        need = facts.model_bytes + facts.activation_bytes
        if need > device.ram:
            reasons.append(f"model + activations {human_bytes(need)} exceed RAM {human_bytes(device.ram)}")
    if device.runtime is Runtime.EDGETPU and not facts.file_name.endswith("_edgetpu.tflite"):
        reasons.append("not compiled for the Edge TPU (needs a *_edgetpu.tflite variant)")
    return Fit(facts, reasons)


def _tflm_reasons(facts: VariantFacts, device: DeviceProfile) -> list[str]:
    # On a microcontroller the model stays in flash and only the arena takes RAM.
    if facts.tflm_runnable is False:
        return [f"TFLite-Micro cannot run it: {facts.tflm_error or 'unsupported'}"]
    reasons = []
    if facts.model_bytes > device.flash:
        reasons.append(f"model {human_bytes(facts.model_bytes)} exceeds flash {human_bytes(device.flash)}")
    if device.arena is not None and facts.activation_bytes > device.arena:
        reasons.append(f"arena {human_bytes(facts.activation_bytes)} exceeds the firmware's arena "
                       f"{human_bytes(device.arena)}")
    elif facts.activation_bytes > device.ram:
        reasons.append(f"arena {human_bytes(facts.activation_bytes)} exceeds RAM {human_bytes(device.ram)}")
    return reasons


def _engine_reasons(facts: VariantFacts) -> list[str]:
    reasons = []
    if facts.quantization != "int8 full-integer":
        reasons.append(f"the reference firmware's engine runs int8 full-integer models only, not {facts.quantization}")
    unsupported = sorted(set(facts.operators) - ENGINE_OPERATORS)
    if unsupported:
        reasons.append(f"operators the reference firmware's engine lacks: {', '.join(unsupported)}")
    return reasons


def best(fits: list[Fit]) -> Fit | None:
    """The most accurate variant that fits; near-equal accuracy goes to the smaller footprint."""
    candidates = [f for f in fits if f.fits]
    if not candidates:
        return None
    top = max((f.facts.accuracy for f in candidates if f.facts.accuracy is not None), default=None)
    if top is not None:
        candidates = [f for f in candidates if f.facts.accuracy is not None
                      and (top - f.facts.accuracy) * 100 < EQUAL_ACCURACY_POINTS]
    return min(candidates, key=lambda f: (f.footprint_bytes, f.facts.variant))
