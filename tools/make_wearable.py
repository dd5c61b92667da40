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
beats, ST elevation as anomalies) is generated from a fixed seed: 32 Hz, 4 s windows.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_models as mm  # noqa: E402  (environment flags, conversion and manifest helpers)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

SEED = 1
FS = 32  # Hz
WINDOW = 128  # samples: 4 s
SHAPE = (1, WINDOW, 1)
DECISION_THRESHOLD = 0.5  # the search's candidates; wearable-hr's is calibrated (TARGET_FAR)
TARGET_FAR = 0.03  # wearable-hr: the threshold flags 3 % of the calibration set's normal windows
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


def distil(student: keras.Model, teacher: keras.Model, x: np.ndarray, y: np.ndarray, epochs: int,
           temperature: float = 3.0, alpha: float = 0.5, lr: float = 2e-3) -> None:
    """Hinton et al.: alpha x hard-label CE + (1 - alpha) x T^2 x KL(teacher_T || student_T)."""
    soft_teacher = tf.nn.softmax(logits_of(teacher).predict(x, verbose=0) / temperature).numpy()
    head = logits_of(student)
    opt = keras.optimizers.Adam(lr)
    order = np.random.default_rng(SEED)
    for _ in range(epochs):
        idx = order.permutation(len(x))
        for start in range(0, len(x), 64):
            b = idx[start:start + 64]
            with tf.GradientTape() as tape:
                z = head(x[b], training=True)
                hard = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y[b], z))
                soft = tf.reduce_mean(tf.reduce_sum(
                    soft_teacher[b] * (tf.math.log(soft_teacher[b] + 1e-9)
                                       - tf.nn.log_softmax(z / temperature)), axis=1))
                loss = alpha * hard + (1 - alpha) * temperature ** 2 * soft
            grads = tape.gradient(loss, head.trainable_variables)
            opt.apply_gradients(zip(grads, head.trainable_variables))


def channel_prune(model: keras.Model, keep: float, dense_keep: float) -> keras.Model:
    """Structured pruning: per conv layer keep the output channels with the largest L1 norm
    (and the matching input channels of the next layer); the Dense hidden units likewise."""
    convs = [l for l in model.layers if isinstance(l, layers.Conv2D)]
    denses = [l for l in model.layers if isinstance(l, layers.Dense)]
    kept, prev = [], None
    for conv in convs:
        k, b = conv.get_weights()
        order = np.argsort(-np.abs(k).sum(axis=(0, 1, 2)), kind="stable")
        sel = np.sort(order[: max(1, round(keep * k.shape[3]))])
        kept.append((k[:, :, prev if prev is not None else slice(None)][..., sel], b[sel]))
        prev = sel
    hidden = denses[0] if len(denses) > 1 else None
    small = net([len(b) for _, b in kept], 0 if hidden is None else max(1, round(dense_keep * hidden.units)), None)
    for conv, (k, b) in zip([l for l in small.layers if isinstance(l, layers.Conv2D)], kept):
        conv.set_weights([k, b])
    # Flatten order is (width, channels): keep the kept channels' rows of the first Dense.
    spatial = next(l for l in model.layers if isinstance(l, layers.Flatten)).input.shape[2]
    rows = (np.arange(spatial)[:, None] * len(convs[-1].get_weights()[1]) + prev[None, :]).reshape(-1)
    small_denses = [l for l in small.layers if isinstance(l, layers.Dense)]
    k0, b0 = denses[0].get_weights()
    if hidden is not None:
        units = np.sort(np.argsort(-np.abs(k0).sum(axis=0), kind="stable")[: small_denses[0].units])
        small_denses[0].set_weights([k0[rows][:, units], b0[units]])
        k1, b1 = denses[1].get_weights()
        small_denses[1].set_weights([k1[units], b1])
    else:
        small_denses[0].set_weights([k0[rows], b0])
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


def far_auc(score: np.ndarray, y: np.ndarray, threshold: float) -> tuple[float, float]:
    from sklearn.metrics import roc_auc_score

    return float(np.mean(score[y == 0] >= threshold)), float(roc_auc_score(y, score))


def calibrated_threshold(model: keras.Model, x_cal: np.ndarray, y_cal: np.ndarray) -> float:
    """The score above which TARGET_FAR of the calibration set's normal windows lie, rounded up
    to 0.01: the band's operating point, chosen on data the eval set does not contain."""
    normal = model.predict(x_cal[y_cal == 0], verbose=0)[:, 1]
    return round(float(np.ceil(np.quantile(normal, 1 - TARGET_FAR) * 100)) / 100, 2)


class Family:
    """Collects variants of one family and writes them with the shared helpers."""

    def __init__(self, out_dir: Path, x_rep: np.ndarray, x_ev: np.ndarray, y_ev: np.ndarray) -> None:
        self.out_dir, self.x_rep, self.x_ev, self.y_ev = out_dir, x_rep, x_ev, y_ev
        self.threshold = DECISION_THRESHOLD
        self.eval_path = out_dir / "eval.npz"
        self.eval_bytes = mm.write_npz(self.eval_path, x=x_ev, y=y_ev)
        self.variants: list[dict[str, Any]] = []

    def add(self, name: str, mode: str, model: keras.Model, desc: str, technique: str,
            derived_from: str | None) -> dict[str, Any]:
        model = batch1(model)
        data = mm.convert(model, mode, self.x_rep)
        mm.check_static(data, (1, *SHAPE))
        far, auc = far_auc(scores_of(data, self.x_ev), self.y_ev, self.threshold)
        v = mm.variant(self.out_dir, name, mode, data, model, None, f"{desc} (host FAR {far:.3f}, AUC {auc:.3f})",
                       None)
        v.update(technique=technique, **({"derived_from": derived_from} if derived_from else {}))
        self.variants.append(v)
        return v

    def write(self, family: str, reference: str) -> None:
        for v in self.variants:
            v["host_accuracy"] = None  # a detector: its metrics are FAR/AUC, in the description
        mm.write_manifest(self.out_dir, {
            "family": family, "task": "anomaly-detection", "decision_threshold": self.threshold,
            "num_classes": 2, "input_shape": [1, *SHAPE],
            "dataset": {"file": "eval.npz", "sha256": mm.sha256(self.eval_bytes), "samples": len(self.y_ev),
                        "source": SOURCE},
            "reference_variant": reference, "generator": {**mm.generator_info(), "script": "tools/make_wearable.py",
                                                           "seed": SEED},
            "variants": self.variants})


def make_wearable(out_dir: Path, data: tuple[np.ndarray, ...]) -> None:
    x_tr, y_tr, x_small, y_small, x_ev, y_ev, x_cal, y_cal = data
    fam = Family(out_dir, x_tr[:300], x_ev, y_ev)
    keras.utils.set_random_seed(SEED)
    teacher = net([32, 64, 64], 64, None)
    fit(teacher, x_tr, y_tr, epochs=12)
    fam.threshold = calibrated_threshold(teacher, x_cal, y_cal)
    print(f"  decision threshold {fam.threshold} (fp32 teacher at {TARGET_FAR:.0%} FAR on the calibration set)")
    fam.add("fp32", "fp32", teacher, "teacher: 3 conv blocks (32, 64, 64) + Dense 64, float32", "baseline", None)
    pruned = channel_prune(teacher, keep=0.5, dense_keep=0.5)
    fit(pruned, x_tr, y_tr, epochs=4, lr=5e-4)  # fine-tune the narrower net
    fam.add("pruned", "fp32", pruned, "50 % of conv channels and Dense units removed (L1 norm) + fine-tuned, "
            "float32", "pruning", "fp32")
    fam.add("int8", "int8", pruned, "the pruned net, full-integer int8", "quantization", "pruned")
    keras.utils.set_random_seed(SEED)
    student = net([8, 16], 0, None)
    distil(student, teacher, x_small, y_small, epochs=30)
    fam.add("distilled-int8", "int8", student, "student (8, 16 channels, no hidden Dense) distilled from the fp32 "
            "teacher's soft targets (T=3) on a 600-window subset, int8", "distillation", "int8")
    keras.utils.set_random_seed(SEED)
    alone = net([8, 16], 0, None)
    fit(alone, x_small, y_small, epochs=30)
    fam.add("student-int8", "int8", alone, "the same student trained on the same subset without the teacher, int8",
            "no-distillation", "int8")
    fam.write("wearable-hr", "fp32")


def make_nas(out_dir: Path, data: tuple[np.ndarray, ...]) -> None:
    x_tr, y_tr, _, _, x_ev, y_ev, _, _ = data
    fam = Family(out_dir, x_tr[:300], x_ev, y_ev)
    for depth in (1, 2, 3):
        for width in (4, 8, 16):
            keras.utils.set_random_seed(SEED)
            widths = [width * 2 ** i for i in range(depth)]
            model = net(widths, 0, None)
            fit(model, x_tr, y_tr, epochs=6)  # briefly trained: the search's proxy
            fam.add(f"w{width}-d{depth}", "int8", model, f"candidate: {depth} conv block(s) {widths}, 6 epochs, int8",
                    "architecture-search", None)
    fam.write("wearable-hr-nas", "w16-d3")


# ------------------------------------------------- the digits CNN, compressed
def digits_net(widths: tuple[int, int, int], dense: int, tiny: bool = False) -> list[layers.Layer]:
    """make_models.digits_layers with the channel counts as parameters (tiny: its Conv(8) student)."""
    if tiny:
        return mm.digits_layers(tiny=True)
    return [layers.Conv2D(widths[0], 3, activation="relu", padding="same"),
            layers.Conv2D(widths[1], 3, activation="relu", padding="same"), layers.MaxPool2D(),
            layers.Conv2D(widths[2], 3, activation="relu", padding="same"), layers.Flatten(),
            layers.Dropout(0.3), layers.Dense(dense, activation="relu"), layers.Dropout(0.3),
            layers.Dense(10), layers.Softmax()]


def digits_channel_prune(teacher: keras.Model, keep: float) -> list[layers.Layer]:
    """Keep the `keep` share of each conv's output channels (largest L1 norm) and of the hidden
    Dense units, with the matching input rows of the next layer: a narrower, smaller network."""
    convs = [l for l in teacher.layers if isinstance(l, layers.Conv2D)]
    denses = [l for l in teacher.layers if isinstance(l, layers.Dense)]
    weights, prev = [], None
    for conv in convs:
        k, b = conv.get_weights()
        sel = np.sort(np.argsort(-np.abs(k).sum(axis=(0, 1, 2)), kind="stable")[: round(keep * k.shape[3])])
        weights.append([(k if prev is None else k[:, :, prev])[..., sel], b[sel]])
        prev = sel
    k0, b0 = denses[0].get_weights()
    spatial = k0.shape[0] // len(convs[-1].get_weights()[1])  # Flatten: (h, w, channels) order
    rows = (np.arange(spatial)[:, None] * len(convs[-1].get_weights()[1]) + prev[None, :]).reshape(-1)
    units = np.sort(np.argsort(-np.abs(k0).sum(axis=0), kind="stable")[: round(keep * k0.shape[1])])
    k1, b1 = denses[1].get_weights()
    weights += [[k0[rows][:, units], b0[units]], [k1[units], b1]]
    small = digits_net(tuple(len(w[1]) for w in weights[:3]), len(units))
    mm.stack(small, (8, 8, 1), 1)  # builds the layers
    for layer, w in zip([l for l in small if isinstance(l, (layers.Conv2D, layers.Dense))], weights):
        layer.set_weights(w)
    return small


def digits_distil(student: list[layers.Layer], teacher: keras.Model, x: np.ndarray, y: np.ndarray,
                  epochs: int, lr: float, temperature: float = 3.0, alpha: float = 0.5) -> None:
    """The tiny digits net trained on the teacher's softened outputs plus the hard labels."""
    logits = mm.stack(student[:-1], (8, 8, 1), None)  # before Softmax
    t_logits = mm.stack([l for l in teacher.layers[1:-1]], (8, 8, 1), None).predict(x, verbose=0)
    soft = tf.nn.softmax(t_logits / temperature).numpy()
    opt, order = keras.optimizers.Adam(lr), np.random.default_rng(mm.SEED)
    for _ in range(epochs):
        idx = order.permutation(len(x))
        for start in range(0, len(x), 32):
            b = idx[start:start + 32]
            with tf.GradientTape() as tape:
                z = logits(x[b], training=True)
                hard = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y[b], z))
                kl = tf.reduce_mean(tf.reduce_sum(soft[b] * (tf.math.log(soft[b] + 1e-9)
                                                             - tf.nn.log_softmax(z / temperature)), axis=1))
                loss = alpha * hard + (1 - alpha) * temperature ** 2 * kl
            grads = tape.gradient(loss, logits.trainable_variables)
            opt.apply_gradients(zip(grads, logits.trainable_variables))


def make_digits_compress(out_dir: Path, _data: Any) -> None:
    """Beside models/digits-cnn (untouched): its fp32 teacher re-trained bit-identically, then
    channel-pruned and distilled variants; the reference and the no-teacher control are
    digits-cnn's own files, named by relative path."""
    x_tr, x_ev, y_tr, y_ev = mm.load_digits_split()
    shape, ev = (8, 8, 1), out_dir / "eval.npz"
    eval_bytes = mm.write_npz(ev, x=x_ev, y=y_ev)
    keras.utils.set_random_seed(mm.SEED)
    base = mm.digits_layers(tiny=False)
    mm.train(mm.stack(base, shape, None), x_tr, y_tr, epochs=40, lr=1e-3)
    teacher = mm.stack(base, shape, 1)
    digits = json.loads((out_dir.parent / "digits-cnn" / "manifest.json").read_text())
    ref = {v["name"]: v for v in digits["variants"]}
    assert mm.sha256(mm.convert(teacher, "fp32")) == ref["fp32"]["sha256"], "teacher differs from digits-cnn/fp32"
    variants: list[dict[str, Any]] = []
    for name, technique, derived in (("fp32", "baseline", None), ("int8", "quantization", "fp32"),
                                     ("tiny-int8", "no-distillation", "int8")):
        variants.append({**ref[name], "file": f"../digits-cnn/{ref[name]['file']}", "technique": technique,
                         **({"derived_from": derived} if derived else {})})

    def add(name: str, layers_: list[layers.Layer], desc: str, technique: str, derived: str) -> None:
        model = mm.stack(layers_, shape, 1)
        data = mm.convert(model, "int8", x_tr)
        mm.check_static(data, (1, *shape))
        v = mm.variant(out_dir, name, "int8", data, model, mm.host_accuracy(data, x_ev, y_ev), desc, ev)
        variants.append({**v, "technique": technique, "derived_from": derived})

    pruned = digits_channel_prune(teacher, keep=0.5)
    mm.train(mm.stack(pruned, shape, None), x_tr, y_tr, epochs=15, lr=5e-4)
    add("channel-pruned-int8", pruned, "50 % of conv channels and Dense units removed (L1 norm) + fine-tuned, "
        "full-integer int8: the file and the MACs shrink", "pruning", "int8")
    keras.utils.set_random_seed(mm.SEED)
    student = mm.digits_layers(tiny=True)
    digits_distil(student, teacher, x_tr, y_tr, epochs=60, lr=3e-3)
    add("distilled-int8", student, "tiny-int8's architecture and schedule, distilled from the fp32 teacher "
        "(T=3, alpha 0.5), int8", "distillation", "int8")
    mm.write_manifest(out_dir, {
        "family": "digits-cnn-compress", "task": "image-classification", "num_classes": 10,
        "input_shape": [1, *shape],
        "dataset": {"file": "eval.npz", "sha256": mm.sha256(eval_bytes), "samples": len(y_ev),
                    "source": mm.DIGITS_SOURCE},
        "reference_variant": "fp32", "generator": {**mm.generator_info(), "script": "tools/make_wearable.py"},
        "variants": variants})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=mm.REPO / "models")
    ap.add_argument("--only", choices=["wearable", "nas", "digits"])
    args = ap.parse_args()
    tf.config.experimental.enable_op_determinism()
    keras.config.disable_interactive_logging()
    rng = np.random.default_rng(SEED)
    x_ev, y_ev = dataset(rng, 400, 0.25)
    x_tr, y_tr = dataset(rng, 3000, 0.3)
    x_cal, y_cal = dataset(rng, 1000, 0.3)
    data = (x_tr, y_tr, x_tr[:600], y_tr[:600], x_ev, y_ev, x_cal, y_cal)
    makers: dict[str, tuple[str, Callable[[Path, tuple[np.ndarray, ...]], None]]] = {
        "wearable": ("wearable-hr", make_wearable), "nas": ("wearable-hr-nas", make_nas),
        "digits": ("digits-cnn-compress", make_digits_compress)}
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
