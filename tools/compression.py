"""The compression techniques both model generators apply (tools/make_models.py's digits CNN,
tools/make_wearable.py's heart-rhythm detector): channel pruning, distillation, the search grid.

Dev-only (TensorFlow). Each works on plain conv stacks: Conv2D layers (pooling between them),
Flatten, an optional hidden Dense, the output Dense, Softmax — the ops the firmware engine runs.
"""
from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import layers

Weights = list[np.ndarray]


def _largest_l1(kernel: np.ndarray, axes: tuple[int, ...], count: int) -> np.ndarray:
    """Indices (sorted) of the `count` output units with the largest L1 norm; ties by index."""
    return np.sort(np.argsort(-np.abs(kernel).sum(axis=axes), kind="stable")[:max(1, count)])


def channel_prune_weights(model: keras.Model, keep: float, dense_keep: float) -> tuple[list[Weights], list[Weights]]:
    """Structured pruning: per conv layer keep the `keep` share of output channels with the
    largest L1 norm (and the matching input channels of the next conv), then the first Dense's
    rows of the kept channels and, with a hidden Dense, its `dense_keep` share of units.
    Returns the (conv, dense) weights of the narrower net, in layer order: the kernels are
    deleted, not zeroed, so the file, the MACs and the latency shrink."""
    convs = [lay for lay in model.layers if isinstance(lay, layers.Conv2D)]
    denses = [lay for lay in model.layers if isinstance(lay, layers.Dense)]
    conv_w: list[Weights] = []
    prev: np.ndarray | None = None
    for conv in convs:
        k, b = conv.get_weights()
        sel = _largest_l1(k, (0, 1, 2), round(keep * k.shape[3]))
        conv_w.append([(k if prev is None else k[:, :, prev])[..., sel], b[sel]])
        prev = sel
    assert prev is not None, "no Conv2D layer to prune"
    k0, b0 = denses[0].get_weights()
    channels = convs[-1].get_weights()[1].size
    spatial = k0.shape[0] // channels  # Flatten order: (height, width, channels)
    rows = (np.arange(spatial)[:, None] * channels + prev[None, :]).reshape(-1)
    if len(denses) == 1:
        return conv_w, [[k0[rows], b0]]
    units = _largest_l1(k0, (0,), round(dense_keep * k0.shape[1]))
    k1, b1 = denses[1].get_weights()
    return conv_w, [[k0[rows][:, units], b0[units]], [k1[units], b1]]


def set_weights(model: keras.Model, conv_w: Sequence[Weights], dense_w: Sequence[Weights]) -> None:
    """Load channel_prune_weights' output into a net of the pruned shape."""
    convs = [lay for lay in model.layers if isinstance(lay, layers.Conv2D)]
    denses = [lay for lay in model.layers if isinstance(lay, layers.Dense)]
    for layer, w in zip([*convs, *denses], [*conv_w, *dense_w], strict=True):
        layer.set_weights(w)


def distil(logits: keras.Model, teacher_logits: np.ndarray, x: np.ndarray, y: np.ndarray, epochs: int,
           lr: float, batch: int, seed: int, temperature: float = 3.0, alpha: float = 0.5) -> None:
    """Hinton et al.: alpha x hard-label CE + (1 - alpha) x T^2 x KL(teacher_T || student_T).

    `logits` is the student up to (not including) its Softmax; with alpha = 1 the teacher's
    term vanishes and the same loop trains the no-teacher control: the only difference
    between a distilled student and its control is the teacher's soft targets."""
    soft = tf.nn.softmax(teacher_logits / temperature).numpy().astype(np.float32)
    opt, order = keras.optimizers.Adam(lr), np.random.default_rng(seed)

    @tf.function  # one graph per batch shape: the eager loop is ~10x slower on these small nets
    def step(xb: tf.Tensor, yb: tf.Tensor, sb: tf.Tensor) -> None:
        with tf.GradientTape() as tape:
            z = logits(xb, training=True)
            hard = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(yb, z))
            kl = tf.reduce_mean(tf.reduce_sum(sb * (tf.math.log(sb + 1e-9) - tf.nn.log_softmax(z / temperature)),
                                              axis=1))
            loss = alpha * hard + (1 - alpha) * temperature ** 2 * kl
        grads = tape.gradient(loss, logits.trainable_variables)
        opt.apply_gradients(zip(grads, logits.trainable_variables))

    for _ in range(epochs):
        idx = order.permutation(len(x))
        for start in range(0, len(x), batch):
            b = idx[start:start + batch]
            step(x[b], y[b], soft[b])


def search_grid(widths: Sequence[int], depths: Sequence[int]) -> list[tuple[str, list[int]]]:
    """The architecture search's candidates: (name, conv channels per block), the channels
    doubling per block from the first block's width; named w{width}-d{depth}."""
    return [(f"w{w}-d{d}", [w * 2 ** i for i in range(d)]) for d in depths for w in widths]


def technique(entry: dict[str, Any], name: str, derived_from: str | None) -> dict[str, Any]:
    """A manifest variant entry with the matrix's `technique` and (optional) `derived_from`."""
    return {**entry, "technique": name, **({"derived_from": derived_from} if derived_from else {})}
