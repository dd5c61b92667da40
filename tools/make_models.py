#!/usr/bin/env python3
"""Generate the committed .tflite model families under models/.

Dev-only tool: it needs TensorFlow (the `models` extra); the harness package
never imports TF. Writes, per family, the variants plus a manifest.json:

  models/digits-cnn/           CNN trained on sklearn's digits + eval.npz
  models/digits-cnn-compress/  its compression matrix: channel-pruned, distilled and the
                               distillation's control (the same student without the teacher)
  models/digits-cnn-nas/       a small architecture search over width x depth, briefly trained
  models/mobilenetv2-035-96/   random-weight MobileNetV2 latency workload
  models/mobilenetv2-035-96-head/  the same with 15 % more MACs (a slowdown to detect)

If `tflite_micro` is importable, every variant is also tried under real
TFLite-Micro (in a subprocess: TFLM aborts the process on models it rejects).
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.metadata as md
import importlib.util
import io
import json
import os
import subprocess
import sys
import time
import warnings
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # oneDNN reorders float sums: off for reruns

import compression  # noqa: E402  (tools/compression.py: pruning, distillation, search)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402
from keras import layers  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from tensorflow.lite.python import schema_py_generated as schema  # noqa: E402

SEED = 0
HEAD_CHANNELS = 139  # mobilenetv2-035-96-head: +15 % MACs over mobilenetv2-035-96/fp32
REPO = Path(__file__).resolve().parent.parent
# The project's own microcontroller engine implements exactly these builtins.
ENGINE_OPS = frozenset({
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "ADD",
    "RESHAPE", "SOFTMAX", "MEAN", "PAD", "QUANTIZE", "DEQUANTIZE"})
OP_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
# mode -> (weights, activations, io dtype) as recorded in the manifest.
DTYPES = {"fp32": ("float32",) * 3, "fp16": ("float16", "float32", "float32"),
          "dynamic": ("int8", "float32", "float32"), "int8": ("int8",) * 3}
# Expected: int8 I/O on a Keras model carries no input stats; the converter calibrates them.
warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
DIGITS_SHAPE = (8, 8, 1)
DIGITS_SOURCE = "sklearn.datasets.load_digits, stratified 20% hold-out, random_state=0, pixels/16"


# ---------------------------------------------------------------- conversion
def convert(model: keras.Model, mode: str, rep: np.ndarray | None = None) -> bytes:
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode != "fp32":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "fp16":
        conv.target_spec.supported_types = [tf.float16]
    elif mode == "int8":  # full integer, int8 in/out: what TFLite-Micro runs
        assert rep is not None
        conv.representative_dataset = lambda: ([x[None]] for x in rep)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    return conv.convert()


def op_counts(data: bytes) -> Counter[str]:
    m = schema.Model.GetRootAsModel(data, 0)
    codes = [m.OperatorCodes(i) for i in range(m.OperatorCodesLength())]
    names = [OP_NAMES[max(c.BuiltinCode(), c.DeprecatedBuiltinCode())] for c in codes]
    g = m.Subgraphs(0)
    return Counter(names[g.Operators(i).OpcodeIndex()] for i in range(g.OperatorsLength()))


def check_static(data: bytes, shape: tuple[int, ...]) -> None:
    """Microcontrollers can't resize tensors: every shape must be fully static."""
    it = Interpreter(model_content=data)
    assert tuple(it.get_input_details()[0]["shape"]) == shape
    dynamic = [t["name"] for t in it.get_tensor_details() if -1 in t["shape_signature"]]
    assert not dynamic, f"dynamic-shape tensors: {dynamic}"


def quantize_input(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    if detail["dtype"] != np.int8:
        return x.astype(detail["dtype"])
    scale, zp = detail["quantization"]
    return np.clip(np.round(x / scale + zp), -128, 127).astype(np.int8)


def host_accuracy(data: bytes, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 under LiteRT, the runtime the harness uses on the host."""
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    preds = []
    for sample in x:
        it.set_tensor(inp["index"], quantize_input(sample[None], inp))
        it.invoke()
        preds.append(np.argmax(it.get_tensor(out["index"])[0]))  # argmax survives int8 dequant
    return round(float(np.mean(np.array(preds) == y)), 4)


# Runs in a child process; prints JSON {"accuracy": float | None}.
TFLM_CHILD = r"""
import json, sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
path, eval_path = sys.argv[1], sys.argv[2]
it = runtime.Interpreter.from_file(path, arena_size=64 * 1024 * 1024)
d = it.get_input_details(0)
def prep(x):
    if d["dtype"] != np.int8:
        return x.astype(d["dtype"])
    s, z = d["quantization_parameters"]["scales"][0], d["quantization_parameters"]["zero_points"][0]
    return np.clip(np.round(x / s + z), -128, 127).astype(np.int8)
ev = np.load(eval_path) if eval_path else None
xs = ev["x"] if ev is not None else np.random.default_rng(0).uniform(-1, 1, (1, *d["shape"][1:]))
hits = 0
for i, x in enumerate(xs):
    it.set_input(prep(x[None].astype(np.float32)), 0); it.invoke()
    hits += ev is not None and int(np.argmax(it.get_output(0)[0]) == ev["y"][i])
print(json.dumps({"accuracy": round(hits / len(xs), 4) if ev is not None else None}))
"""


def tflm_check(path: Path, eval_path: Path | None) -> str:
    """'ok', 'ok acc=…', or why TFLite-Micro refused/aborted; '-' when not installed."""
    if importlib.util.find_spec("tflite_micro") is None:
        return "-"
    proc = subprocess.run([sys.executable, "-c", TFLM_CHILD, str(path), str(eval_path or "")],
                          check=False, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:  # TFLM's own complaint is the first stderr line
        why = (proc.stderr.strip().splitlines() or ["no message"])[0].rsplit("/", 1)[-1]
        rc = f"signal {-proc.returncode}" if proc.returncode < 0 else f"rc={proc.returncode}"
        return f"FAIL {rc}: {why[:90]}"
    acc = json.loads(proc.stdout.strip().splitlines()[-1])["accuracy"]
    return "ok" if acc is None else f"ok acc={acc:.4f}"


# ------------------------------------------------------------------ artefacts
def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_npz(path: Path, **arrays: np.ndarray) -> bytes:
    """np.savez_compressed, then pin the zip timestamps so reruns are byte-identical."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(zipfile.ZipInfo(info.filename, (1980, 1, 1, 0, 0, 0)),
                         src.read(info.filename), zipfile.ZIP_DEFLATED)
    path.write_bytes(out.getvalue())
    return out.getvalue()


def variant(out_dir: Path, name: str, mode: str, data: bytes, model: keras.Model,
            accuracy: float | None, description: str, eval_path: Path | None) -> dict[str, Any]:
    path = out_dir / f"{name}.tflite"
    path.write_bytes(data)
    ops = op_counts(data)
    print(f"  {name:13s} ops: {', '.join(f'{k}x{v}' for k, v in sorted(ops.items()))}")
    if mode == "int8":
        assert set(ops) <= ENGINE_OPS, f"{name}: ops outside the engine: {set(ops) - ENGINE_OPS}"
    tflm = tflm_check(path, eval_path)
    if mode == "int8" and tflm.startswith("FAIL"):
        raise SystemExit(f"{name}: TFLite-Micro cannot run it: {tflm}")
    weights, acts, io_dtype = DTYPES[mode]
    return {"name": name, "file": path.name, "sha256": sha256(data), "bytes": len(data),
            "gzip_bytes": len(gzip.compress(data, compresslevel=9, mtime=0)),
            "weights": weights, "activations": acts, "io_dtype": io_dtype,
            "sparsity": kernel_sparsity(model), "params": model.count_params(),
            "host_accuracy": accuracy, "description": description, "_tflm": tflm}


def write_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    print(f"  {'variant':13s} {'bytes':>9} {'gzip':>9} {'sparse':>6} {'acc':>7}  tflm")
    for v in manifest["variants"]:
        acc = "-" if v["host_accuracy"] is None else f"{v['host_accuracy']:.4f}"
        print(f"  {v['name']:13s} {v['bytes']:>9,} {v['gzip_bytes']:>9,} {v['sparsity']:>6.3f} "
              f"{acc:>7}  {v.pop('_tflm', '-')}")  # '-': a file of another family
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def generator_info() -> dict[str, Any]:
    return {"script": "tools/make_models.py", "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "ai_edge_litert": md.version("ai-edge-litert"), "seed": SEED}


# -------------------------------------------------------------------- models
def stack(stack_layers: list[layers.Layer], shape: tuple[int, ...], batch: int | None) -> keras.Model:
    """Functional model over shared layers: train batched, export with batch 1."""
    x = inp = keras.Input(shape=shape, batch_size=batch)
    for layer in stack_layers:
        x = layer(x)
    return keras.Model(inp, x)


def digits_layers(tiny: bool = False, widths: Sequence[int] = (16, 32, 32), dense: int = 64) -> list[layers.Layer]:
    """The digits CNN: 3x3 convs of `widths` channels (max-pooled after the second, or after the
    only one), Dense(`dense`), Dense(10); tiny: a Conv2D(8) + Dense student."""
    if tiny:
        return [layers.Conv2D(8, 3, activation="relu"), layers.MaxPool2D(), layers.Flatten(),
                layers.Dense(10), layers.Softmax()]
    out: list[layers.Layer] = []
    for i, width in enumerate(widths):
        out.append(layers.Conv2D(width, 3, activation="relu", padding="same"))
        if i == min(1, len(widths) - 1):
            out.append(layers.MaxPool2D())
    return [*out, layers.Flatten(), layers.Dropout(0.3), layers.Dense(dense, activation="relu"),
            layers.Dropout(0.3), layers.Dense(10), layers.Softmax()]  # Dropout: a no-op once exported


def kernels(model: keras.Model) -> list[Any]:
    """Conv/dense weight tensors, recursing into nested models (MobileNetV2 is one layer)."""
    out = []
    for lay in model.layers:
        if isinstance(lay, keras.Model):
            out += kernels(lay)
        elif isinstance(lay, (layers.Conv2D, layers.DepthwiseConv2D, layers.Dense)):
            out.append(lay.kernel)
    return out


def kernel_sparsity(model: keras.Model) -> float:
    ks = [k.numpy() for k in kernels(model)]
    return round(float(sum(int((k == 0).sum()) for k in ks) / sum(k.size for k in ks)), 4)


def train(model: keras.Model, x: np.ndarray, y: np.ndarray, epochs: int, lr: float,
          callbacks: list[keras.callbacks.Callback] | None = None) -> None:
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=False)
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, callbacks=callbacks)


class KeepPruned(keras.callbacks.Callback):
    """Re-applies the magnitude masks after every step so pruned weights stay exactly 0."""

    def __init__(self, masks: list[tuple[Any, np.ndarray]]) -> None:
        super().__init__()
        self.masks = masks

    def apply(self) -> None:
        for kernel, mask in self.masks:
            kernel.assign(kernel * mask)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.apply()


def magnitude_masks(model: keras.Model, sparsity: float) -> list[tuple[Any, np.ndarray]]:
    """Per layer, zero the `sparsity` fraction of kernel weights with the smallest |w|."""
    masks = []
    for kernel in kernels(model):
        w = np.abs(kernel.numpy())
        mask = np.ones(w.size, np.float32)
        mask[np.argsort(w, axis=None, kind="stable")[: round(sparsity * w.size)]] = 0
        masks.append((kernel, mask.reshape(w.shape)))
    return masks


def load_digits_split() -> tuple[np.ndarray, ...]:
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]
    return tuple(train_test_split(x, d.target.astype(np.int64), test_size=0.2,
                                  random_state=SEED, stratify=d.target))


# ------------------------------------------------------------------ families
def make_digits(out_dir: Path, prune_to: float = 0.75) -> None:
    x_tr, x_ev, y_tr, y_ev = load_digits_split()
    shape, ev = (8, 8, 1), out_dir / "eval.npz"
    eval_bytes = write_npz(ev, x=x_ev, y=y_ev)

    def add(name: str, mode: str, model: keras.Model, desc: str) -> None:
        data = convert(model, mode, x_tr)
        check_static(data, (1, *shape))
        acc = host_accuracy(data, x_ev, y_ev)
        variants.append(variant(out_dir, name, mode, data, model, acc, desc, ev))

    variants: list[dict[str, Any]] = []
    base, m1 = digits_teacher(x_tr, y_tr)
    m1.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])  # for evaluate()
    add("fp32", "fp32", m1, "float32 baseline")
    add("fp16", "fp16", m1, "float16 weights, float32 compute")
    add("int8-dynamic", "dynamic", m1, "int8 dynamic-range weights, float32 activations and I/O")
    add("int8", "int8", m1, "full-integer int8 (int8 I/O), TFLite-Micro compatible")

    # Prune the trained net, then fine-tune with the zeros held (0.886 -> 0.969 with it).
    keep = KeepPruned(magnitude_masks(m1, prune_to))
    keep.apply()
    print(f"  pruned, before fine-tuning: keras acc {m1.evaluate(x_ev, y_ev, verbose=0)[1]:.4f}")
    train(stack(base, shape, None), x_tr, y_tr, epochs=15, lr=5e-4, callbacks=[keep])
    add("pruned-int8", "int8", m1,
        f"{prune_to:.0%} per-layer magnitude-pruned + fine-tuned, full-integer int8")

    keras.utils.set_random_seed(SEED)
    tiny = digits_layers(tiny=True)
    train(stack(tiny, shape, None), x_tr, y_tr, epochs=60, lr=3e-3)
    add("tiny-int8", "int8", stack(tiny, shape, 1), "tiny Conv2D(8)+Dense net, full-integer int8")

    acc = {v["name"]: v["host_accuracy"] for v in variants}
    assert acc["fp32"] - acc["int8"] <= 0.01, f"int8 lost >1 point: {acc}"
    write_manifest(out_dir, {
        "family": "digits-cnn", "task": "image-classification", "num_classes": 10,
        "input_shape": [1, *shape],
        "dataset": {"file": "eval.npz", "sha256": sha256(eval_bytes), "samples": len(y_ev),
                    "source": DIGITS_SOURCE},
        "reference_variant": "fp32", "generator": generator_info(), "variants": variants})


def digits_teacher(x_tr: np.ndarray, y_tr: np.ndarray) -> tuple[list[layers.Layer], keras.Model]:
    """The digits CNN as digits-cnn/fp32 has it (seeded: bit-identical on every rerun): its layers
    and the batch-1 model over them."""
    keras.utils.set_random_seed(SEED)
    base = digits_layers()
    train(stack(base, DIGITS_SHAPE, None), x_tr, y_tr, epochs=40, lr=1e-3)
    return base, stack(base, DIGITS_SHAPE, 1)


class DigitsFamily:
    """A digits family beside models/digits-cnn: its own eval.npz (the same split), int8 variants
    measured like digits-cnn's, and digits-cnn's own files referenced by relative path."""

    def __init__(self, out_dir: Path, x_rep: np.ndarray, x_ev: np.ndarray, y_ev: np.ndarray) -> None:
        self.out_dir, self.x_rep, self.x_ev, self.y_ev = out_dir, x_rep, x_ev, y_ev
        self.eval_path = out_dir / "eval.npz"
        self.eval_bytes = write_npz(self.eval_path, x=x_ev, y=y_ev)
        self.digits = {v["name"]: v for v in
                       json.loads((out_dir.parent / "digits-cnn" / "manifest.json").read_text())["variants"]}
        self.variants: list[dict[str, Any]] = []

    def reference(self, name: str, technique: str, derived_from: str | None) -> None:
        v = self.digits[name]
        self.variants.append(compression.technique({**v, "file": f"../digits-cnn/{v['file']}"}, technique,
                                                   derived_from))

    def add(self, name: str, model_layers: list[layers.Layer], desc: str, technique: str,
            derived_from: str | None) -> None:
        model = stack(model_layers, DIGITS_SHAPE, 1)
        data = convert(model, "int8", self.x_rep)
        check_static(data, (1, *DIGITS_SHAPE))
        v = variant(self.out_dir, name, "int8", data, model, host_accuracy(data, self.x_ev, self.y_ev), desc,
                    self.eval_path)
        self.variants.append(compression.technique(v, technique, derived_from))

    def write(self, family: str, reference: str) -> None:
        write_manifest(self.out_dir, {
            "family": family, "task": "image-classification", "num_classes": 10,
            "input_shape": [1, *DIGITS_SHAPE],
            "dataset": {"file": "eval.npz", "sha256": sha256(self.eval_bytes), "samples": len(self.y_ev),
                        "source": DIGITS_SOURCE},
            "reference_variant": reference, "generator": generator_info(), "variants": self.variants})


def make_digits_compress(out_dir: Path) -> None:
    """digits-cnn's fp32 teacher (retrained bit-identically, checked against its sha256),
    channel-pruned beside the unstructured pruned-int8, and a distilled student beside the same
    student trained by the same loop without the teacher."""
    x_tr, x_ev, y_tr, y_ev = load_digits_split()
    fam = DigitsFamily(out_dir, x_tr, x_ev, y_ev)
    base, teacher = digits_teacher(x_tr, y_tr)
    assert sha256(convert(teacher, "fp32")) == fam.digits["fp32"]["sha256"], "teacher differs from digits-cnn/fp32"
    fam.reference("fp32", "baseline", None)
    fam.reference("int8", "quantization", "fp32")
    fam.reference("pruned-int8", "pruning", "int8")

    convs, denses = compression.channel_prune_weights(teacher, keep=0.5, dense_keep=0.5)
    narrow = digits_layers(widths=[len(b) for _, b in convs], dense=len(denses[0][1]))
    compression.set_weights(stack(narrow, DIGITS_SHAPE, 1), convs, denses)
    print(f"  channel-pruned, before fine-tuning: keras acc {keras_accuracy(narrow, x_ev, y_ev):.4f}")
    train(stack(narrow, DIGITS_SHAPE, None), x_tr, y_tr, epochs=15, lr=5e-4)  # as pruned-int8's
    fam.add("channel-pruned-int8", narrow, "50 % of conv channels and Dense units removed (largest L1 norm "
            "kept) + fine-tuned, full-integer int8: the file, MACs and latency shrink", "pruning", "int8")

    teacher_logits = stack(base[:-1], DIGITS_SHAPE, None).predict(x_tr, verbose=0)
    for name, alpha, technique, desc in (
            ("distilled-int8", 0.5, "distillation", "tiny student (Conv2D(8) + Dense) distilled from the fp32 "
             "teacher's soft targets (T=3, alpha 0.5), full-integer int8"),
            ("student-int8", 1.0, "no-distillation", "the same student, loop and schedule without the teacher "
             "(hard labels only): distilled-int8's control, full-integer int8")):
        keras.utils.set_random_seed(SEED)
        student = digits_layers(tiny=True)
        compression.distil(stack(student[:-1], DIGITS_SHAPE, None), teacher_logits, x_tr, y_tr, epochs=60,
                           lr=3e-3, batch=32, seed=SEED, alpha=alpha)
        fam.add(name, student, desc, technique, "int8")
    fam.write("digits-cnn-compress", "fp32")


def make_digits_nas(out_dir: Path) -> None:
    """A small architecture search: width x depth candidates, each briefly trained (15 epochs),
    int8, against the hand-designed digits-cnn/int8. The candidates are scored on the eval split
    the harness measures; a search that picks one should hold out its own validation split."""
    x_tr, x_ev, y_tr, y_ev = load_digits_split()
    fam = DigitsFamily(out_dir, x_tr, x_ev, y_ev)
    fam.reference("int8", "baseline", None)
    for name, widths in compression.search_grid(widths=(4, 8, 16), depths=(1, 2, 3)):
        keras.utils.set_random_seed(SEED)
        candidate = digits_layers(widths=widths, dense=32)
        train(stack(candidate, DIGITS_SHAPE, None), x_tr, y_tr, epochs=15, lr=2e-3)
        fam.add(name, candidate, f"candidate: {len(widths)} conv layer(s) {widths} + Dense 32, 15 epochs, "
                "full-integer int8", "architecture-search", None)
    fam.write("digits-cnn-nas", "int8")


def keras_accuracy(model_layers: list[layers.Layer], x: np.ndarray, y: np.ndarray) -> float:
    probs = stack(model_layers, DIGITS_SHAPE, None).predict(x, verbose=0)
    return float(np.mean(np.argmax(probs, axis=1) == y))


def recalibrate_bn(model: keras.Model, x: np.ndarray) -> None:
    """Data-dependent init: set each BatchNorm's moving stats to its real input stats.

    With random weights and default BN stats MobileNetV2's activations shrink to ~1e-10
    by the last block: all-zero outputs, degenerate int8 scales, and an int8 softmax
    that aborts TFLite-Micro. Normalised, every layer sees unit-scale activations.
    """
    for bn in [lay for lay in model.layers if isinstance(lay, layers.BatchNormalization)]:
        h = keras.ops.convert_to_numpy(keras.Model(model.input, bn.input)(x, training=False))
        bn.moving_mean.assign(h.mean(axis=(0, 1, 2)))
        bn.moving_variance.assign(h.var(axis=(0, 1, 2)))


def mobilenet(head_channels: int = 0) -> tuple[keras.Model, np.ndarray]:
    """MobileNetV2 alpha 0.35 at 96x96, BN recalibrated; with head_channels, a 1x1 conv head
    of that many channels on the 3x3x1280 features (more MACs, same input and output)."""
    shape = (96, 96, 3)
    keras.utils.set_random_seed(SEED)
    rep = np.random.default_rng(SEED).uniform(-1, 1, (32, *shape)).astype(np.float32)
    base = keras.applications.MobileNetV2(input_shape=shape, alpha=0.35, include_top=False, weights=None)
    recalibrate_bn(base, rep)  # on a batched copy; the exported model below is batch 1
    inp = keras.Input(shape=shape, batch_size=1)
    x = base(inp)
    if head_channels:
        x = layers.Conv2D(head_channels, 1, activation="relu6")(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, layers.Softmax()(layers.Dense(10)(x))), rep


def make_mobilenet(out_dir: Path) -> None:
    model, rep = mobilenet()
    variants = []
    note = "random weights, BN stats recalibrated on seeded uniform[-1,1] inputs"
    for name, mode, desc in [("fp32", "fp32", f"float32 latency workload; {note}"),
                             ("int8", "int8", f"full-integer int8 (int8 I/O) latency workload; {note}")]:
        data = convert(model, mode, rep)
        check_static(data, (1, 96, 96, 3))
        variants.append(variant(out_dir, name, mode, data, model, None, desc, None))
    write_manifest(out_dir, {
        "family": "mobilenetv2-035-96", "task": "latency", "num_classes": 10,
        "input_shape": [1, 96, 96, 3], "dataset": None, "reference_variant": "fp32",
        "generator": generator_info(), "variants": variants})


def make_mobilenet_head(out_dir: Path) -> None:
    """A heavier release of the MobileNetV2 workload: +15 % MACs (10.67 M -> 12.26 M) from a
    139-channel 1x1 conv head. benchmarks/regression_power.py swaps it in for
    mobilenetv2-035-96/fp32 to check that a real slowdown is detected."""
    model, rep = mobilenet(head_channels=HEAD_CHANNELS)
    data = convert(model, "fp32", rep)
    check_static(data, (1, 96, 96, 3))
    desc = (f"mobilenetv2-035-96 fp32 plus a {HEAD_CHANNELS}-channel 1x1 conv head: 15 % more MACs; "
            "random weights, BN stats recalibrated on seeded uniform[-1,1] inputs")
    write_manifest(out_dir, {
        "family": "mobilenetv2-035-96-head", "task": "latency", "num_classes": 10,
        "input_shape": [1, 96, 96, 3], "dataset": None, "reference_variant": "fp32",
        "generator": generator_info(),
        "variants": [variant(out_dir, "fp32", "fp32", data, model, None, desc, None)]})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "models")
    ap.add_argument("--only", choices=["digits", "digits-compress", "digits-nas", "mobilenet", "mobilenet-head"])
    args = ap.parse_args()
    tf.config.experimental.enable_op_determinism()
    keras.config.disable_interactive_logging()  # silences the converter's per-export chatter
    families = {"digits": ("digits-cnn", make_digits),
                "digits-compress": ("digits-cnn-compress", make_digits_compress),
                "digits-nas": ("digits-cnn-nas", make_digits_nas),
                "mobilenet": ("mobilenetv2-035-96", make_mobilenet),
                "mobilenet-head": ("mobilenetv2-035-96-head", make_mobilenet_head)}
    for key, (family, make) in families.items():
        if args.only in (None, key):
            out_dir = args.out / family
            out_dir.mkdir(parents=True, exist_ok=True)
            t0 = time.monotonic()
            print(f"== {family}")
            make(out_dir)
            print(f"== {family} done in {time.monotonic() - t0:.0f}s")


if __name__ == "__main__":
    main()
