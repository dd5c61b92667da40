"""The bad-input corpus (tests/bad_inputs/*.yaml, format in its README.md): every row runs the real
CLI in a subprocess and must end with the expected exit code and message, with no traceback and
nothing written where the row says so. Adding a case is adding a row."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import yaml

from tests.conftest import MODELS, REPO

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
ROW_KEYS = {"id", "files", "command", "env", "exit", "message", "absent", "not_created", "prepare",
            "timeout", "cwd"}


# ---------------------------------------------------------------- preparation steps
# A row names steps in `prepare:` as `name` or `{name: argument}`; each gets the temp dir.

def _copy_family(tmp: Path, family: str | None = None) -> None:
    shutil.copytree(MODELS / (family or "digits-cnn"), tmp / "models" / (family or "digits-cnn"))


def _truncate(tmp: Path, relative: str) -> None:
    file = tmp / relative
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 3])


def _remove(tmp: Path, relative: str) -> None:
    (tmp / relative).unlink()


def _copy(tmp: Path, pair: list[str]) -> None:
    shutil.copyfile(tmp / pair[0], tmp / pair[1])


def _json_del(tmp: Path, spec: dict[str, Any]) -> None:
    """{file, path: [key or index, ...]}: delete one entry of a JSON file."""
    _json_edit(tmp, spec, lambda node, key: node.pop(key))


def _json_set(tmp: Path, spec: dict[str, Any]) -> None:
    """{file, path: [key or index, ...], value}: set one entry of a JSON file."""
    _json_edit(tmp, spec, lambda node, key: node.__setitem__(key, spec["value"]))


def _json_edit(tmp: Path, spec: dict[str, Any], edit: Callable[[Any, Any], Any]) -> None:
    import json

    file = tmp / spec["file"]
    data = json.loads(file.read_text())
    node = data
    for part in spec["path"][:-1]:
        node = node[part]
    edit(node, spec["path"][-1])
    file.write_text(json.dumps(data))


def _mkdir(tmp: Path, relative: str) -> None:
    (tmp / relative).mkdir(parents=True)


def _latin1(tmp: Path, relative: str) -> None:
    """Append a byte that is not UTF-8."""
    with open(tmp / relative, "ab") as out:
        out.write("# caf\u00e9\n".encode("latin-1"))


def _fifo(tmp: Path, relative: str) -> None:
    os.mkfifo(tmp / relative)


def _big_file(tmp: Path, spec: str) -> None:
    """`name:MiB` — a file of that many MiB (sparse, so cheap)."""
    name, mib = spec.rsplit(":", 1)
    with open(tmp / name, "wb") as out:
        out.truncate(int(mib) * 2**20)


def _npz(tmp: Path, spec: dict[str, Any]) -> None:
    """{file, x: [shape], x_fill, y: [values] | y_range: [lo, hi, n], y_dtype}"""
    x = np.full(spec["x"], spec.get("x_fill", 0.0), dtype=np.float32)
    if "y_range" in spec:
        lo, hi, n = spec["y_range"]
        y = np.resize(np.arange(lo, hi), n)
    else:
        y = np.array(spec["y"])
    np.savez(tmp / spec["file"], x=x, y=y.astype(spec.get("y_dtype", "int64")))


def _custom_op(tmp: Path, relative: str) -> None:
    """The tiny digits model with its first operator turned into a custom op 'MyVendorOp'."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    data = (MODELS / "digits-cnn" / "tiny-int8.tflite").read_bytes()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    code = model.operatorCodes[0]
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    code.customCode = "MyVendorOp"
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    (tmp / relative).write_bytes(bytes(builder.Output()))


def _store_with_run(tmp: Path, name: str = "results.sqlite") -> None:
    """A store holding one small complete run `run-1` (one result on `host`)."""
    from harness.results.store import Store

    store = Store(str(tmp / name))
    store.start_run({"run_id": "run-1", "suite": "corpus", "devices": ["host"]})
    env = store.record_environment("run-1", "host", {"controller": "corpus"})
    store.record_result({"run_id": "run-1", "device": "host", "family": "digits-cnn", "variant": "int8",
                         "status": "ok", "environment_id": env, "latency_p50_us": 100.0},
                        [100.0 + k for k in range(30)])
    store.finish_run("run-1", "complete")


def _sqlite_exec(tmp: Path, spec: dict[str, str]) -> None:
    """One SQL statement on a SQLite file (made when missing): a store from another program or version."""
    import sqlite3

    with sqlite3.connect(tmp / spec["file"]) as conn:
        conn.execute(spec["sql"])


PREPARE: dict[str, Callable[..., None]] = {
    "copy-family": _copy_family, "truncate": _truncate, "fifo": _fifo, "big-file": _big_file,
    "npz": _npz, "remove": _remove, "copy": _copy, "json-del": _json_del, "json-set": _json_set,
    "mkdir": _mkdir, "latin1": _latin1, "custom-op": _custom_op, "store-with-run": _store_with_run,
    "sqlite-exec": _sqlite_exec,
}


# ---------------------------------------------------------------- the corpus

def _expand(value: Any, tmp: Path) -> Any:
    if isinstance(value, str):
        return value.replace("{tmp}", str(tmp)).replace("{repo}", str(REPO))
    if isinstance(value, list):
        return [_expand(v, tmp) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v, tmp) for k, v in value.items()}
    return value


def _file_text(spec: str | dict[str, Any], templates: dict[str, str]) -> str:
    """A file's text: literal, or a template with top-level keys set (block and all), dropped
    or appended to."""
    if isinstance(spec, str):
        return spec
    blocks: list[tuple[str, list[str]]] = []  # (top-level key, its lines)
    for line in templates[spec["template"]].splitlines():
        if line[:1] in (" ", "-", "#") and blocks:
            blocks[-1][1].append(line)
        else:
            blocks.append((line.split(":", 1)[0], [line]))
    drop = set(spec.get("drop") or [])
    for key, value in (spec.get("set") or {}).items():
        replaced = [(k, [f"{k}: {value}"] if k == key else lines) for k, lines in blocks]
        blocks = replaced if any(k == key for k, _ in blocks) else [*blocks, (key, [f"{key}: {value}"])]
    text = "\n".join(line for key, lines in blocks if key not in drop for line in lines)
    return text + "\n" + spec.get("append", "")


def load_rows() -> list[Any]:
    params = []
    for corpus_file in sorted(CORPUS.glob("*.yaml")):
        doc = yaml.safe_load(corpus_file.read_text())
        defaults, templates = doc.get("defaults") or {}, doc.get("templates") or {}
        for row in doc["cases"]:
            unknown = set(row) - ROW_KEYS
            assert not unknown, f"{corpus_file.name} {row.get('id')}: unknown keys {unknown}"
            merged = {**defaults, **row, "_templates": templates}
            params.append(pytest.param(merged, id=f"{corpus_file.stem}/{row['id']}"))
    return params


ROWS = load_rows()


def test_corpus_ids_are_unique() -> None:
    ids = [p.id for p in ROWS]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


@pytest.mark.parametrize("row", ROWS)
def test_bad_input(row: dict[str, Any], tmp_path: Path) -> None:
    templates = row["_templates"]
    for name, spec in (row.get("files") or {}).items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_expand(_file_text(spec, templates), tmp_path))
    for step in row.get("prepare") or []:  # after the files: a step may damage one of them
        name, arg = next(iter(step.items())) if isinstance(step, dict) else (step, None)
        PREPARE[name](tmp_path, *([_expand(arg, tmp_path)] if arg is not None else []))
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_HARNESS_")}
    env.update({"XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
                "COLUMNS": "200", "PYTHONPATH": str(REPO)})
    env.update(_expand(row.get("env") or {}, tmp_path))
    argv = [sys.executable, "-m", "harness.cli", *map(str, _expand(row["command"], tmp_path))]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=row.get("timeout", 90),
                          cwd=_expand(row.get("cwd", "{tmp}"), tmp_path), stdin=subprocess.DEVNULL)
    output = done.stdout + done.stderr
    shown = f"$ {' '.join(argv[3:])}\n{output}"
    assert "Traceback" not in output, shown
    assert done.returncode == row.get("exit", 2), shown
    if row.get("exit", 2) == 2:  # ours ("error: ...") or click's usage error
        assert any(line.startswith("error: ") for line in done.stderr.splitlines()) or "Usage:" in output, shown
    for fragment in _expand(row.get("message") or [], tmp_path):
        assert fragment in output, f"{fragment!r} missing\n{shown}"
    for fragment in _expand(row.get("absent") or [], tmp_path):
        assert fragment not in output, f"{fragment!r} must not be shown\n{shown}"
    for path in _expand(row.get("not_created") or [], tmp_path):
        assert not Path(path).exists(), f"{path} written on bad input\n{shown}"
