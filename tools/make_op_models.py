#!/usr/bin/env python3
"""Generate the small single-purpose .tflite models under tests/data/ops/.

Dev-only (needs TensorFlow, e.g. /tmp/tfvenv/bin/python tools/make_op_models.py); the
committed outputs let tests/test_firmware_engine.py check every operator and option of the
firmware engine (firmware/engine/) against TFLite-Micro without TensorFlow installed.
Weights are random but seeded, so a rerun with the same TF version gives the same files.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "ops"


def convert(model: keras.Model, int8_io: bool = True, int8: bool = True) -> bytes:
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        shape = (1, *model.input_shape[1:])
        rng = np.random.default_rng(1)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: (
            [rng.uniform(-1, 1, shape).astype(np.float32)] for _ in range(64))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if int8_io:
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
    return conv.convert()


def build(shape: tuple[int, ...], body: Callable) -> keras.Model:
    inp = keras.Input(shape=shape, batch_size=1)
    return keras.Model(inp, body(inp))


def conv_variants(x):
    x = layers.Conv2D(6, 3, strides=2, padding="same", activation="relu6")(x)
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, dilation_rate=2, padding="same")(x)
    x = layers.Conv2D(8, (2, 3), strides=(1, 2), padding="valid", activation="relu")(x)
    return layers.Conv2D(4, 1, groups=2)(x)


def pool_pad(x):
    x = layers.ZeroPadding2D(((1, 2), (2, 1)))(x)
    x = layers.AveragePooling2D(3, strides=2, padding="same")(x)
    x = layers.MaxPool2D(2, strides=1, padding="valid")(x)
    return layers.AveragePooling2D(2, padding="valid")(x)


def add_mean(x):
    from keras import ops
    y = layers.Conv2D(4, 1)(x)
    x = layers.Add()([x, y])
    x = layers.ReLU()(ops.add(x, np.linspace(-0.5, 0.5, 4, dtype=np.float32)))  # broadcast
    k = ops.mean(x, axis=[1, 2], keepdims=True)  # TFLM's 4-D special case
    m = ops.mean(x, axis=[2])  # general quantized mean
    return layers.Add()([layers.Flatten()(k), layers.Dense(4)(layers.Flatten()(m))])


def mean_rows(x):
    from keras import ops
    x = layers.Conv2D(3, 1)(x)
    return layers.Dense(4)(layers.Flatten()(ops.mean(x, axis=[1])))


def same_quant_mean(data: bytes) -> bytes:
    """Give every MEAN output its input's quantization: TFLM's plain integer-mean path."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    graph = model.subgraphs[0]
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        if max(code.builtinCode, code.deprecatedBuiltinCode) == schema.BuiltinOperator.MEAN:
            src, dst = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
            dst.quantization.scale = list(src.quantization.scale)
            dst.quantization.zeroPoint = list(src.quantization.zeroPoint)
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def softmax_rows(x):
    return layers.Softmax()(layers.Dense(7)(x))


def tanh(x):
    return layers.Dense(4, activation="tanh")(x)


# name: (input shape without batch, graph body, convert() options + optional "patch").
MODELS: dict[str, tuple[tuple[int, ...], Callable, dict]] = {
    "conv_variants": ((11, 10, 4), conv_variants, {}),
    "pool_pad_float_io": ((9, 9, 3), pool_pad, {"int8_io": False}),
    "add_mean": ((6, 5, 4), add_mean, {}),
    "softmax_rows": ((3, 5), softmax_rows, {}),
    "mean_same_quant": ((4, 6, 3), mean_rows, {"patch": same_quant_mean}),
    "tanh": ((8,), tanh, {}),
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    for name, (shape, body, kw) in MODELS.items():
        patch = kw.pop("patch", None)
        data = convert(build(shape, body), **kw)
        data = patch(data) if patch else data
        (OUT / f"{name}.tflite").write_bytes(data)
        print(f"{name}.tflite {len(data)} bytes")


if __name__ == "__main__":
    main()
