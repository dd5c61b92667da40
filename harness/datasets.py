"""Checks of an evaluation dataset (.npz with arrays `x` and `y`) before anything is measured.

Accuracy computed from labels the model cannot produce (50-59 for 10 classes, negative or
fractional labels) or from NaN inputs is not a measurement: such a set is refused as a
configuration error naming the file, so no run ever reports `ok` with a meaningless top-1.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from harness.errors import ConfigError


def check_npz(path: Path, input_shape: tuple[int, ...] | list[int], num_classes: int | None,
              model_name: str = "the model") -> None:
    """Refuse a dataset whose accuracy could not be computed honestly (ConfigError)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            x, y = data["x"], data["y"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{path}: not a dataset with arrays 'x' and 'y' ({type(exc).__name__}: {exc})") from None
    check_arrays(path, x, y, input_shape, num_classes, model_name)


def check_arrays(path: Path, x: np.ndarray, y: np.ndarray, input_shape: tuple[int, ...] | list[int],
                 num_classes: int | None, model_name: str = "the model") -> None:
    if tuple(x.shape[1:]) != tuple(input_shape[1:]) or x.shape[0] != len(y):
        raise ConfigError(f"{path}: samples of shape {list(x.shape[1:])} do not match "
                          f"{model_name} input {list(input_shape)}")
    if len(y) == 0:
        raise ConfigError(f"{path}: no samples")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        bad = int(np.count_nonzero(~np.isfinite(x).reshape(len(x), -1).all(axis=1)))
        raise ConfigError(f"{path}: {bad} of {len(x)} samples hold NaN or infinite inputs")
    if y.dtype.kind not in "iu":
        raise ConfigError(f"{path}: labels 'y' are {y.dtype}, not integer class indices")
    if num_classes is not None and ((y < 0).any() or (y >= num_classes).any()):
        raise ConfigError(f"{path}: labels range {int(y.min())}..{int(y.max())}, outside the model's "
                          f"{num_classes} classes 0..{num_classes - 1}")
