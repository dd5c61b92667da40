"""Evaluation datasets in the formats users already have, checked against the model before a run.

    NAME.npz                      arrays `x` (N, *input shape without batch) and `y` (N,) integer labels
    NAME_x.npy + NAME_y.npy       the same two arrays as a pair of .npy files (or x.npy + y.npy)
    FOLDER/y_labels.csv           MLPerf Tiny runner format: rows `file, classes, class, bytes_to_send,
                                  stride`; each file a raw .bin of the model's input tensor bytes

`x` is float (quantized with the model's input scale and zero point) or exactly the model's input
dtype (sent as is: raw int8 .bin files of an int8 model). Every check names the file: labels
that are not integers, out of the model's class range or not one per sample; inputs that are not
finite, of the wrong dtype or shape; a sha256 or sample count that differs from the manifest.
The runners read .npz only: other formats are converted once into the cache, keyed by sha256.
Documented in docs/datasets.md.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from harness.errors import ConfigError
from harness.locations import cache_dir

LABELS_CSV = "y_labels.csv"
CSV_COLUMNS = ("file", "classes", "class", "bytes_to_send", "stride")
CONVERT_VERSION = "v1"
TINY_WIRE_CONVERSIONS = ("vww01", "ic01", "ad01")  # Tiny .bin files that are not the int8 tensor (kws01 is)


@dataclass(frozen=True)
class ModelIO:
    """What a dataset is checked against: the model's first input and its class count."""

    shape: tuple[int, ...]  # with the batch dimension
    dtype: str
    classes: int


@dataclass(frozen=True)
class Dataset:
    path: Path  # what the user named
    x: np.ndarray
    y: np.ndarray
    sha256: str
    files: tuple[Path, ...]  # the files read, for messages
    classes: int | None = None  # what the dataset itself says (y_labels.csv's `classes` column)


def find_dataset(directory: Path) -> Path | None:
    """The evaluation set of a model folder that has no manifest, if there is exactly one."""
    npz = sorted(directory.glob("*.npz"))
    if (directory / "eval.npz").is_file():
        return directory / "eval.npz"
    if len(npz) == 1:
        return npz[0]
    pairs = [p for p in sorted(directory.glob("*.npy")) if _y_of(p) is not None and _y_of(p).is_file()]
    if len(pairs) == 1:
        return pairs[0]
    tiny = [d for d in (directory, *sorted(p for p in directory.iterdir() if p.is_dir()))
            if (d / LABELS_CSV).is_file()]
    return tiny[0] if len(tiny) == 1 else None


def _y_of(x_file: Path) -> Path | None:
    """x.npy -> y.npy, eval_x.npy -> eval_y.npy."""
    stem = x_file.stem
    if stem == "x":
        return x_file.with_name("y.npy")
    if stem.endswith("_x"):
        return x_file.with_name(stem[:-2] + "_y.npy")
    return None


def read(path: Path) -> Dataset:
    """Any supported format; a file that cannot be read as one is a ConfigError naming it."""
    if path.is_dir():
        if (path / LABELS_CSV).is_file():
            return _read_tiny(path / LABELS_CSV)
        if (path / "x.npy").is_file():
            return _read_pair(path / "x.npy")
        raise ConfigError(f"{path}: a dataset folder needs {LABELS_CSV} (MLPerf Tiny) or x.npy + y.npy")
    if path.name == LABELS_CSV:
        return _read_tiny(path)
    if path.suffix == ".npy":
        return _read_pair(path)
    if not path.is_file():
        raise ConfigError(f"{path}: dataset not found")
    try:
        data = path.read_bytes()
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            x, y = arrays["x"], arrays["y"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{path}: not a dataset with arrays 'x' and 'y' ({type(exc).__name__}: {exc})") from None
    return Dataset(path, x, y, hashlib.sha256(data).hexdigest(), (path,))


def _read_pair(x_file: Path) -> Dataset:
    y_file = _y_of(x_file)
    if y_file is None:
        raise ConfigError(f"{x_file}: a .npy dataset is a pair NAME_x.npy + NAME_y.npy (or x.npy + y.npy)")
    arrays = []
    for file in (x_file, y_file):
        try:
            arrays.append(np.load(file, allow_pickle=False))
        except (OSError, ValueError, EOFError) as exc:
            raise ConfigError(f"{file}: not a .npy array: {exc}") from None
    return Dataset(x_file, arrays[0], arrays[1], _sha256_files((x_file, y_file)), (x_file, y_file))


def _read_tiny(labels: Path) -> Dataset:
    try:
        rows = [r for r in csv.reader(labels.read_text(encoding="utf-8").splitlines()) if r and r[0].strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{labels}: cannot read: {exc}") from None
    if rows and rows[0][0].strip().lower() in ("file", "filename"):
        rows = rows[1:]  # a header row
    if not rows:
        raise ConfigError(f"{labels}: no rows; expected `{', '.join(CSV_COLUMNS)}`")
    inputs, labels_out, classes, files = [], [], set(), [labels]
    for number, row in enumerate(rows, 1):
        where = f"{labels}: row {number}"
        if len(row) != len(CSV_COLUMNS):
            raise ConfigError(f"{where}: {len(row)} columns; expected {len(CSV_COLUMNS)}: {', '.join(CSV_COLUMNS)}")
        name, n_classes, label, to_send, stride = (c.strip() for c in row)
        n_classes_i, to_send_i, _ = (_int(v, where, col) for v, col in
                                     ((n_classes, "classes"), (to_send, "bytes_to_send"), (stride, "stride")))
        labels_out.append(_label(label, where))
        classes.add(n_classes_i)
        file = labels.parent / name
        try:
            raw = file.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{where}: {file}: {exc.strerror}") from None
        if len(raw) < to_send_i:
            raise ConfigError(f"{file}: {len(raw)} bytes, but {labels.name} says bytes_to_send {to_send_i}")
        inputs.append(raw[:to_send_i])
        files.append(file)
    if len(classes) != 1:
        raise ConfigError(f"{labels}: rows disagree on the number of classes: {sorted(classes)}")
    if len({len(b) for b in inputs}) != 1:
        raise ConfigError(f"{labels}: rows disagree on bytes_to_send")
    x = np.frombuffer(b"".join(inputs), dtype=np.uint8).reshape(len(inputs), -1)
    y = np.asarray(labels_out, dtype=np.int64)
    return Dataset(labels, x, y, _sha256_files(files), tuple(files), classes.pop())


def _int(value: str, where: str, column: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{where}: {column} {value!r} is not an integer") from None
    if number < (0 if column == "class" else 1):
        raise ConfigError(f"{where}: {column} {number} is out of range")
    return number


def _label(value: str, where: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{where}: class {value!r} is not an integer label") from None


def _sha256_files(files: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.read_bytes())
    return digest.hexdigest()


def dataset_sha256(path: Path) -> str:
    """What a manifest's dataset.sha256 holds: the file's sha256, or that of its files in order
    (x then y; y_labels.csv then each .bin in row order)."""
    return read(path).sha256


def check(data: Dataset, model: ModelIO, model_name: str, *, sha256: str | None = None,
          samples: int | None = None, classes: int | None = None, tiny_benchmark: str | None = None) -> np.ndarray:
    """The inputs as the model takes them; every mismatch is a ConfigError naming the file."""
    where = str(data.path)
    x, y = data.x, data.y
    if y.ndim != 1:
        raise ConfigError(f"{where}: labels y must be one integer per sample, got shape {list(y.shape)}")
    if y.dtype.kind not in "iu":
        raise ConfigError(f"{where}: labels y must be integers (class indices), got {y.dtype}")
    if len(x) != len(y):
        raise ConfigError(f"{where}: {len(x)} inputs but {len(y)} labels")
    if len(y) == 0:
        raise ConfigError(f"{where}: no samples")
    n_classes = model.classes
    for says, claimed in (("the manifest says", classes), ("its classes column says", data.classes)):
        if claimed is not None and claimed != n_classes:
            raise ConfigError(f"{where}: {says} {claimed} classes but {model_name} outputs {n_classes}")
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= n_classes):
        bad = int(y.max()) if int(y.max()) >= n_classes else int(y.min())
        raise ConfigError(f"{where}: label {bad} is out of range for {model_name}'s {n_classes} classes (0..{n_classes - 1})")
    x = _as_model_input(data, x, model, model_name, tiny_benchmark)
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x).reshape(len(x), -1).all(axis=1))[0])
        raise ConfigError(f"{where}: sample {bad} has NaN or infinite inputs")
    if samples is not None and samples != len(y):  # the manifest last: a content error says more
        raise ConfigError(f"{where}: {len(y)} samples, but the manifest says {samples}")
    if sha256 is not None and sha256 != data.sha256:
        raise ConfigError(f"{where}: sha256 {data.sha256[:16]}… differs from the manifest's {sha256[:16]}…; "
                          "the dataset changed since its manifest was written")
    return x


def _tiny_wire(x: np.ndarray, benchmark: str, model: ModelIO) -> np.ndarray:
    """An MLPerf Tiny benchmark's .bin bytes as its firmware's th_load_tensor reads them: uint8
    pixels minus 128 (vww01, ic01), little-endian float32 (ad01; quantized like any float input)."""
    if benchmark == "ad01":
        x = np.ascontiguousarray(x).view("<f4").astype(np.float32)
    else:
        x = (x.astype(np.int16) - 128).astype(np.int8)
    return x.reshape(len(x), *model.shape[1:]) if x.shape[1] == int(np.prod(model.shape[1:])) else x


def _as_model_input(data: Dataset, x: np.ndarray, model: ModelIO, model_name: str,
                    tiny_benchmark: str | None = None) -> np.ndarray:
    where, want = str(data.path), np.dtype(model.dtype)
    if data.files[0].name == LABELS_CSV and tiny_benchmark in TINY_WIRE_CONVERSIONS:
        x = _tiny_wire(x, tiny_benchmark, model)
    elif data.files[0].name == LABELS_CSV:  # raw bytes: the model's input tensor as it is sent
        per_sample = int(np.prod(model.shape[1:])) * want.itemsize
        if x.shape[1] != per_sample:
            raise ConfigError(f"{where}: bytes_to_send {x.shape[1]} but {model_name} takes {per_sample} bytes "
                              f"({list(model.shape)} {want})")
        x = np.ascontiguousarray(x).view(want).reshape(len(x), *model.shape[1:])
    if x.dtype.kind not in "fiu":
        raise ConfigError(f"{where}: inputs x of dtype {x.dtype}; expected float or {want}")
    if x.dtype.kind in "iu" and x.dtype != want:
        raise ConfigError(f"{where}: inputs x are {x.dtype} but {model_name} takes {want}; give float inputs "
                          f"(quantized with the model's scale) or {want}")
    if tuple(x.shape[1:]) != tuple(model.shape[1:]):
        raise ConfigError(f"{where}: samples of shape {list(x.shape[1:])} do not match {model_name} "
                          f"input {list(model.shape)}")
    return x


def prepare(path: Path, model: ModelIO, model_name: str, tiny_benchmark: str | None = None,
            **expected: Any) -> Path:
    """Check the dataset at `path` against a model; the .npz the runners read (the file itself,
    or a conversion cached by sha256). `tiny_benchmark`: the model's MLPerf Tiny id, which says
    how its Tiny .bin files are to be read."""
    data = read(path)
    x = check(data, model, model_name, tiny_benchmark=tiny_benchmark, **expected)
    if path.suffix == ".npz" and x is data.x:
        return path
    tag = f"-{tiny_benchmark}" if tiny_benchmark in TINY_WIRE_CONVERSIONS else ""
    target = cache_dir() / "datasets" / f"{data.sha256}-{x.dtype}{tag}-{CONVERT_VERSION}.npz"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp.npz")
        np.savez(tmp, x=x, y=data.y.astype(np.int64))
        tmp.replace(target)
    return target
