#!/usr/bin/env python3
"""Generate the seed's wearable case and its compression matrix as committed model families.

Dev-only (TensorFlow, the `models` extra), a separate entry point so tools/make_models.py's
families stay bit-identical. Writes:

  models/wearable-hr/      a 1-D heart-rhythm anomaly detector on a synthetic ECG-like set:
                           fp32 (teacher) -> pruned (channel pruning, fp32) -> int8 (pruned, int8)
                           -> distilled-int8 (small student, soft targets from the teacher), and
                           student-int8 (the same student trained without the teacher)
  models/wearable-hr-nas/  a small architecture search: 9 width x depth candidates, briefly
                           trained (6 epochs), int8; each one a variant

The dataset (normal sinus rhythms; tachycardia, bradycardia, irregular rhythm, premature wide
beats, ST elevation as anomalies) is generated from a fixed seed: 32 Hz, 4 s windows, in three
splits (SIZES): train, validation (each variant's decision threshold, TARGET_FAR) and eval (the
committed eval.npz the harness measures).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_models as mm  # noqa: E402  (environment flags, conversion and manifest helpers)
import compression  # noqa: E402  (pruning, distillation, search: shared with make_models.py)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

SEED = 1
FS = 32  # Hz
WINDOW = 128  # samples: 4 s
SHAPE = (1, WINDOW, 1)
# Each variant's decision threshold: the lowest (best recall) whose false-alarm rate on the
# validation split is at most TARGET_FAR. 3 %, not the seed's 5 % limit: the eval set's FAR is an
# estimate (750 normal windows: a standard error of 0.8 points at 5 %), so the operating point
# keeps two standard errors of room.
TARGET_FAR = 0.03
SIZES = {"eval": (1000, 0.25), "train": (12000, 0.3), "validation": (2000, 0.3)}  # windows, anomaly share
SOURCE = (f"synthetic ECG-like windows ({FS} Hz, {WINDOW / FS:.0f} s) from tools/make_wearable.py, seed {SEED}: "
          "label 1 = anomaly (tachycardia, bradycardia, irregular rhythm, premature wide beats, ST elevation)")
# P, Q, R, S, T waves: (offset s, amplitude, width s)
WAVES = ((-0.2, 0.15, 0.03), (-0.04, -0.12, 0.015), (0.0, 1.0, 0.02), (0.04, -0.25, 0.015), (0.26, 0.3, 0.05))
KINDS = ("tachycardia", "bradycardia", "irregular", "premature", "st-elevation")


# ------------------------------------------------------------------- the data
def beat(t: np.ndarray, centre: float, amp: float, waves=WAVES, st: float = 0.0) -> np.ndarray:
    out = np.zeros_like(t)
    for offset, a, w in waves:
        out += a * amp * np.exp(-0.5 * ((t - centre - offset) / w) ** 2)
    if st:
        out += st * amp * ((t > centre + 0.05) & (t < centre + 0.22))
    return out


def window(rng: np.random.Generator, kind: str | None) -> np.ndarray:
    t = np.arange(WINDOW) / FS
    hr = rng.uniform(50, 112)
    if kind == "tachycardia":
        hr = rng.uniform(108, 170)
    elif kind == "bradycardia":
        hr = rng.uniform(30, 52)
    rr_mean = 60 / hr
    amp = rng.uniform(0.7, 1.3)
    sig = np.zeros(WINDOW)
    centre = -rng.uniform(0, rr_mean)
    premature = rng.integers(1, 4) if kind == "premature" else -1
    st = rng.uniform(0.08, 0.3) * rng.choice([-1, 1]) if kind == "st-elevation" else 0.0
    n = 0
    while centre < WINDOW / FS + 1:
        waves = WAVES
        if kind == "irregular":
            waves = WAVES[1:]  # no P wave, as in atrial fibrillation
        if n == premature:
            waves = ((-0.04, -0.15, 0.04), (0.0, 1.1, 0.04), (0.1, -0.4, 0.05), (0.3, -0.25, 0.07))
        sig += beat(t, centre, amp, waves, st)
        rr = rr_mean * rng.uniform(0.6, 1.4) if kind == "irregular" else rr_mean * rng.normal(1, 0.04)
        if n + 1 == premature:
            rr *= 0.55
        centre += rr
        n += 1
    wander = rng.uniform(0, 0.15) * np.sin(2 * np.pi * rng.uniform(0.1, 0.35) * t + rng.uniform(0, 6.3))
    noise = rng.normal(0, rng.uniform(0.03, 0.15), WINDOW)
    return (sig + wander + noise).astype(np.float32)


def dataset(rng: np.random.Generator, n: int, anomaly_share: float) -> tuple[np.ndarray, np.ndarray]:
    y = (rng.random(n) < anomaly_share).astype(np.int64)
    x = np.stack([window(rng, KINDS[rng.integers(len(KINDS))] if label else None) for label in y])
    x = np.round(x * 128) / 128  # 1/128 steps: an eval file of a few hundred KB at most
    return x.reshape(n, *SHAPE).astype(np.float32), y


# ----------------------------------------------------------------- the models
def net(widths: list[int], dense: int, batch: int | None) -> keras.Model:
    """Conv(1xk) + MaxPool blocks, Flatten, Dense, 2-way Softmax: the firmware engine's ops."""
    x = inp = keras.Input(shape=SHAPE, batch_size=batch)
    for i, w in enumerate(widths):
        x = layers.Conv2D(w, (1, 7 if i == 0 else 5), padding="same", activation="relu")(x)
        x = layers.MaxPool2D((1, 4 if len(widths) < 3 else 2))(x)
    x = layers.Flatten()(x)
    if dense:
        x = layers.Dense(dense, activation="relu")(x)
    x = layers.Dense(2, name="logits")(x)
    return keras.Model(inp, layers.Softmax()(x))


def fit(model: keras.Model, x: np.ndarray, y: np.ndarray, epochs: int, lr: float = 2e-3) -> None:
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy",
                  jit_compile=False)
    model.fit(x, y, batch_size=64, epochs=epochs, verbose=0)


def logits_of(model: keras.Model) -> keras.Model:
    return keras.Model(model.input, model.get_layer("logits").output)


def channel_prune(model: keras.Model, keep: float, dense_keep: float) -> keras.Model:
    """The narrower net of tools/compression.py's structured pruning, with the kept weights."""
    convs, denses = compression.channel_prune_weights(model, keep, dense_keep)
    small = net([len(b) for _, b in convs], len(denses[0][1]) if len(denses) > 1 else 0, None)
    compression.set_weights(small, convs, denses)
    return small


def batch1(model: keras.Model) -> keras.Model:
    """The same net with a static batch of 1: microcontrollers cannot resize tensors."""
    widths = [l.filters for l in model.layers if isinstance(l, layers.Conv2D)]
    denses = [l for l in model.layers if isinstance(l, layers.Dense)]
    copy = net(widths, denses[0].units if len(denses) > 1 else 0, 1)
    copy.set_weights(model.get_weights())
    return copy


def scores_of(data: bytes, x: np.ndarray) -> np.ndarray:
    """The anomaly score (softmax column 1, dequantized) under LiteRT, as the harness reads it."""
    it = mm.Interpreter(model_content=data)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    scale, zero = out["quantization"]
    result = []
    for sample in x:
        it.set_tensor(inp["index"], mm.quantize_input(sample[None], inp))
        it.invoke()
        raw = it.get_tensor(out["index"])[0].astype(np.float64)
        result.append(((raw - zero) * scale if scale else raw)[1])
    return np.array(result)


def detection(score: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    return {"far": float(np.mean(score[y == 0] >= threshold)), "recall": float(np.mean(score[y == 1] >= threshold)),
            "auc": float(roc_auc_score(y, score))}


def operating_point(score: np.ndarray, y: np.ndarray) -> float:
    """The lowest threshold on a 0.001 grid (the best recall) whose false-alarm rate on these
    windows, the validation split, is at most TARGET_FAR: chosen on data the eval set does not
    contain, with the model's own scores as the harness reads them (LiteRT, dequantized)."""
    grid = np.round(np.arange(0, 1.001, 0.001), 3)
    far = np.array([np.mean(score[y == 0] >= t) for t in grid])
    return float(grid[np.argmax(far <= TARGET_FAR)])


class Family:
    """Collects variants of one family and writes them with the shared helpers."""

    def __init__(self, out_dir: Path, data: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        self.out_dir, self.x_rep = out_dir, data["train"][0][:300]
        (self.x_ev, self.y_ev), self.val = data["eval"], data["validation"]
        self.eval_path = out_dir / "eval.npz"
        self.eval_bytes = mm.write_npz(self.eval_path, x=self.x_ev, y=self.y_ev)
        self.variants: list[dict[str, Any]] = []

    def add(self, name: str, mode: str, model: keras.Model, desc: str, technique: str,
            derived_from: str | None) -> dict[str, Any]:
        model = batch1(model)
        data = mm.convert(model, mode, self.x_rep)
        mm.check_static(data, (1, *SHAPE))
        threshold = operating_point(scores_of(data, self.val[0]), self.val[1])
        m = detection(scores_of(data, self.x_ev), self.y_ev, threshold)
        print(f"  {name}: threshold {threshold:.3f} (validation FAR <= {TARGET_FAR:.0%}); eval FAR {m['far']:.3f}, "
              f"recall {m['recall']:.3f}, AUC {m['auc']:.3f}")
        v = mm.variant(self.out_dir, name, mode, data, model, None,
                       f"{desc} (host FAR {m['far']:.3f}, recall {m['recall']:.3f}, AUC {m['auc']:.3f})", None)
        v.update(decision_threshold=threshold)
        self.variants.append(compression.technique(v, technique, derived_from))
        return v

    def write(self, family: str, reference: str) -> None:
        for v in self.variants:
            v["host_accuracy"] = None  # a detector: its metrics are FAR/AUC, in the description
        mm.write_manifest(self.out_dir, {
            "family": family, "task": "anomaly-detection",
            "decision_threshold": next(v for v in self.variants if v["name"] == reference)["decision_threshold"],
            "num_classes": 2, "input_shape": [1, *SHAPE],
            "dataset": {"file": "eval.npz", "sha256": mm.sha256(self.eval_bytes), "samples": len(self.y_ev),
                        "source": SOURCE},
            "reference_variant": reference, "generator": {**mm.generator_info(), "script": "tools/make_wearable.py",
                                                           "seed": SEED},
            "variants": self.variants})


def make_wearable(out_dir: Path, data: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    x_tr, y_tr = data["train"]
    x_small, y_small = x_tr[:600], y_tr[:600]  # the students' labelled data: what distillation is for
    fam = Family(out_dir, data)
    keras.utils.set_random_seed(SEED)
    teacher = net([32, 64, 64], 64, None)
    fit(teacher, x_tr, y_tr, epochs=12)
    fam.add("fp32", "fp32", teacher, "teacher: 3 conv blocks (32, 64, 64) + Dense 64, float32", "baseline", None)
    pruned = channel_prune(teacher, keep=0.5, dense_keep=0.5)
    fit(pruned, x_tr, y_tr, epochs=4, lr=5e-4)  # fine-tune the narrower net
    fam.add("pruned", "fp32", pruned, "50 % of conv channels and Dense units removed (L1 norm) + fine-tuned, "
            "float32", "pruning", "fp32")
    fam.add("int8", "int8", pruned, "the pruned net, full-integer int8", "quantization", "pruned")
    keras.utils.set_random_seed(SEED)
    student = net([8, 16], 0, None)
    teacher_logits = logits_of(teacher).predict(x_small, verbose=0)
    compression.distil(logits_of(student), teacher_logits, x_small, y_small, epochs=30, lr=2e-3, batch=64, seed=SEED)
    fam.add("distilled-int8", "int8", student, "student (8, 16 channels, no hidden Dense) distilled from the fp32 "
            "teacher's soft targets (T=3) on a 600-window subset, int8", "distillation", "int8")
    keras.utils.set_random_seed(SEED)
    alone = net([8, 16], 0, None)
    compression.distil(logits_of(alone), teacher_logits, x_small, y_small, epochs=30, lr=2e-3, batch=64, seed=SEED,
                       alpha=1.0)  # hard labels only: the teacher's term is zero
    fam.add("student-int8", "int8", alone, "the same student, subset, loop and schedule without the teacher, int8",
            "no-distillation", "int8")
    fam.write("wearable-hr", "fp32")


def make_nas(out_dir: Path, data: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    x_tr, y_tr = data["train"]
    fam = Family(out_dir, data)
    for name, widths in compression.search_grid(widths=(4, 8, 16), depths=(1, 2, 3)):
        keras.utils.set_random_seed(SEED)
        model = net(widths, 0, None)
        fit(model, x_tr, y_tr, epochs=6)  # briefly trained: the search's proxy
        fam.add(name, "int8", model, f"candidate: {len(widths)} conv block(s) {widths}, 6 epochs, int8",
                "architecture-search", None)
    fam.write("wearable-hr-nas", "w16-d3")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=mm.REPO / "models")
    ap.add_argument("--only", choices=["wearable", "nas"])
    args = ap.parse_args()
    tf.config.experimental.enable_op_determinism()
    keras.config.disable_interactive_logging()
    rng = np.random.default_rng(SEED)
    data = {split: dataset(rng, n, share) for split, (n, share) in SIZES.items()}  # in this order: seeded
    makers: dict[str, tuple[str, Callable[[Path, dict[str, tuple[np.ndarray, np.ndarray]]], None]]] = {
        "wearable": ("wearable-hr", make_wearable), "nas": ("wearable-hr-nas", make_nas)}
    for key, (family, make) in makers.items():
        if args.only in (None, key):
            out_dir = args.out / family
            out_dir.mkdir(parents=True, exist_ok=True)
            t0 = time.monotonic()
            print(f"== {family}")
            make(out_dir, data)
            print(f"== {family} done in {time.monotonic() - t0:.0f}s")


if __name__ == "__main__":
    main()
