"""The firmware's int8 engine (firmware/engine/) built for the host and checked byte for byte
against real TFLite-Micro (the `tflite_micro` package) on the committed models, on the
single-operator models in tests/data/ops/ (made by tools/make_op_models.py), and on
unsupported, corrupt and truncated models and too-small arenas."""

from __future__ import annotations

import ctypes
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import MODELS, REPO, require, require_tool

ENGINE = REPO / "firmware" / "engine"
OPS = REPO / "tests" / "data" / "ops"
DIGITS = MODELS / "digits-cnn"
MOBILENET = MODELS / "mobilenetv2-035-96" / "int8.tflite"
EH_OK, EH_ERR_CORRUPT, EH_ERR_UNSUPPORTED_OP, EH_ERR_UNSUPPORTED_TYPE = 0, 1, 2, 3
EH_ERR_ARENA, EH_ERR_INVALID, EH_ERR_STATE = 4, 5, 6
DTYPES = {0: np.float32, 9: np.int8, 2: np.int32, 7: np.int16, 3: np.uint8}


class Status(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("message", ctypes.c_char * 96)]


class TensorInfo(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int32), ("rank", ctypes.c_int32),
                ("dims", ctypes.c_int32 * 6), ("bytes", ctypes.c_uint32),
                ("scale", ctypes.c_float), ("zero_point", ctypes.c_int32)]


@pytest.fixture(scope="session")
def lib(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    require_tool("gcc")
    make = require_tool("make")
    out = tmp_path_factory.mktemp("ehengine")
    subprocess.run([make, "-s", "-C", str(ENGINE / "host"), f"OUT={out}"], check=True)
    so = ctypes.CDLL(str(out / "libehengine.so"))
    so.eh_load.restype = so.eh_invoke.restype = Status
    so.eh_input.restype = so.eh_output.restype = ctypes.c_void_p
    for name in ("eh_arena_used", "eh_arena_activations", "eh_input_bytes", "eh_output_bytes",
                 "eh_engine_size"):
        getattr(so, name).restype = ctypes.c_uint32
    return so


class Engine:
    """One loaded model; keeps the model, engine and arena buffers alive."""

    def __init__(self, lib: ctypes.CDLL, model: bytes, arena_bytes: int = 1 << 20) -> None:
        self.lib = lib
        self.model = ctypes.create_string_buffer(model, len(model))
        self.engine = ctypes.create_string_buffer(lib.eh_engine_size())
        self.arena = ctypes.create_string_buffer(max(arena_bytes, 1))
        self.status = lib.eh_load(self.engine, self.model, len(model), self.arena, arena_bytes)

    @property
    def code(self) -> int:
        return self.status.code

    @property
    def message(self) -> str:
        return self.status.message.decode()

    def info(self, output: bool = False) -> TensorInfo:
        info = TensorInfo()
        fn = self.lib.eh_output_info if output else self.lib.eh_input_info
        assert fn(self.engine, 0, ctypes.byref(info)) == 0
        return info

    def run(self, x: np.ndarray) -> bytes:
        assert x.nbytes == self.lib.eh_input_bytes(self.engine, 0)
        ctypes.memmove(self.lib.eh_input(self.engine, 0), x.tobytes(), x.nbytes)
        status = self.lib.eh_invoke(self.engine)
        assert status.code == EH_OK, status.message
        return ctypes.string_at(self.lib.eh_output(self.engine, 0),
                                self.lib.eh_output_bytes(self.engine, 0))

    def arena_used(self) -> int:
        return self.lib.eh_arena_used(self.engine)


def tflm(path: Path):
    from tflite_micro.python.tflite_micro import runtime
    return runtime.Interpreter.from_file(str(path), arena_size=4 << 20)


def tflm_bytes(interp, x: np.ndarray) -> bytes:
    interp.set_input(x, 0)
    interp.invoke()
    return interp.get_output(0).tobytes()


def need(path: Path) -> Path:
    require(path.is_file(), f"{path.relative_to(REPO)} is missing (tools/make_models.py)")
    return path


def random_inputs(info: TensorInfo, n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = tuple(info.dims[: info.rank])
    if DTYPES[info.type] == np.float32:
        return [rng.uniform(-1.5, 1.5, shape).astype(np.float32) for _ in range(n)]
    return [rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(n)]


def assert_identical(lib: ctypes.CDLL, path: Path, inputs: list[np.ndarray] | None = None,
                     n_random: int = 0) -> int:
    engine = Engine(lib, path.read_bytes())
    assert engine.code == EH_OK, engine.message
    interp = tflm(path)
    inputs = inputs if inputs is not None else random_inputs(engine.info(), n_random, seed=7)
    diffs = [i for i, x in enumerate(inputs) if engine.run(x) != tflm_bytes(interp, x)]
    assert not diffs, f"{path.name}: {len(diffs)}/{len(inputs)} samples differ, first {diffs[:5]}"
    return len(inputs)


@pytest.mark.parametrize("variant", ["int8", "pruned-int8", "tiny-int8"])
def test_digits_every_eval_sample_is_bit_exact(lib: ctypes.CDLL, variant: str) -> None:
    path = need(DIGITS / f"{variant}.tflite")
    x = np.load(need(DIGITS / "eval.npz"))["x"]
    info = Engine(lib, path.read_bytes()).info()
    q = np.clip(np.round(x / info.scale) + info.zero_point, -128, 127).astype(np.int8)
    assert assert_identical(lib, path, [s[None] for s in q]) == len(x) > 0


def test_mobilenet_random_inputs_are_bit_exact(lib: ctypes.CDLL) -> None:
    assert assert_identical(lib, need(MOBILENET), n_random=4) == 4


@pytest.mark.parametrize("name", ["conv_variants", "pool_pad_float_io", "add_mean",
                                  "mean_same_quant", "softmax_rows"])
def test_single_op_models_are_bit_exact(lib: ctypes.CDLL, name: str) -> None:
    assert assert_identical(lib, need(OPS / f"{name}.tflite"), n_random=40) == 40


def test_unsupported_operator_is_a_clear_error(lib: ctypes.CDLL) -> None:
    engine = Engine(lib, need(OPS / "tanh.tflite").read_bytes())
    assert (engine.code, engine.message) == (
        EH_ERR_UNSUPPORTED_OP, "unsupported operator TANH (op 28) at node 1")


@pytest.mark.parametrize("variant", ["fp32", "int8-dynamic"])
def test_float_models_are_unsupported_dtype(lib: ctypes.CDLL, variant: str) -> None:
    engine = Engine(lib, need(DIGITS / f"{variant}.tflite").read_bytes())
    assert engine.code == EH_ERR_UNSUPPORTED_TYPE
    assert re.fullmatch(r"unsupported dtype \w+ for [A-Z_0-9]+ \(op \d+\) at node \d+",
                        engine.message), engine.message


def test_truncated_and_corrupt_models_fail_cleanly(lib: ctypes.CDLL) -> None:
    model = need(DIGITS / "tiny-int8.tflite").read_bytes()
    errors = {EH_ERR_CORRUPT, EH_ERR_UNSUPPORTED_OP, EH_ERR_UNSUPPORTED_TYPE, EH_ERR_ARENA,
              EH_ERR_INVALID}
    for cut in range(0, len(model), 7):
        engine = Engine(lib, model[:cut])
        assert engine.code in errors and engine.message, (cut, engine.message)
    assert Engine(lib, b"\0" * 64).message == "not a TFLite model (no TFL3 identifier)"
    rng = np.random.default_rng(3)
    outcomes = {}
    for _ in range(400):  # random byte corruption: an error or a model that still runs
        bad = bytearray(model)
        for pos in rng.integers(0, len(model), 4):
            bad[pos] = int(rng.integers(0, 256))
        engine = Engine(lib, bytes(bad))
        if engine.code == EH_OK:
            engine.run(random_inputs(engine.info(), 1, seed=1)[0])
        else:
            assert engine.code in errors and engine.message
        outcomes[engine.code] = outcomes.get(engine.code, 0) + 1
    assert outcomes.get(EH_ERR_CORRUPT, 0) > 0, outcomes


def test_arena_too_small_is_an_error_and_exact_size_works(lib: ctypes.CDLL) -> None:
    path = need(DIGITS / "int8.tflite")
    used = Engine(lib, path.read_bytes()).arena_used()
    small = Engine(lib, path.read_bytes(), arena_bytes=used - 1)
    assert small.code == EH_ERR_ARENA
    assert re.fullmatch(rf"arena too small: need {used} bytes, have \d+", small.message)
    assert Engine(lib, path.read_bytes(), arena_bytes=64).code == EH_ERR_ARENA
    # Exactly the reported bytes (+16 for the arena's alignment) load and run bit-exact.
    exact = Engine(lib, path.read_bytes(), arena_bytes=used + 16)
    assert exact.code == EH_OK, exact.message
    x = random_inputs(exact.info(), 3, seed=5)
    interp = tflm(path)
    assert [exact.run(s) for s in x] == [tflm_bytes(interp, s) for s in x]


def test_invoke_without_a_model_is_a_state_error(lib: ctypes.CDLL) -> None:
    engine = Engine(lib, b"")
    assert engine.code != EH_OK
    status = lib.eh_invoke(engine.engine)
    assert (status.code, status.message) == (EH_ERR_STATE, b"no model loaded")
    assert lib.eh_input(engine.engine, 0) is None


@pytest.mark.parametrize("path", [DIGITS / "int8.tflite", DIGITS / "tiny-int8.tflite", MOBILENET],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_arena_is_no_larger_than_tflms(lib: ctypes.CDLL, path: Path,
                                       capfd: pytest.CaptureFixture[str]) -> None:
    ours = Engine(lib, need(path).read_bytes()).arena_used()
    capfd.readouterr()
    tflm(path).print_allocations()
    found = re.search(r"Arena allocation total (\d+) bytes", capfd.readouterr().err)
    assert found, "TFLM printed no arena total"
    theirs = int(found.group(1))
    print(f"{path.parent.name}/{path.name}: engine arena {ours} B, TFLM arena {theirs} B")
    assert 0 < ours <= theirs


def test_nan_and_infinite_float_inputs_quantize_as_tflm_does(lib: ctypes.CDLL) -> None:
    """QUANTIZE of NaN was undefined behaviour (a float-to-int cast; found by fuzz_model, input in
    tests/data/fuzz/model/): NaN now goes to the lowest value, as TFLM's cast does on this host.
    (+inf and 1e30 saturate to the highest value here; TFLM's overflowing cast gives the lowest.)"""
    path = OPS / "pool_pad_float_io.tflite"
    shape = tuple(Engine(lib, path.read_bytes()).info().dims[:4])
    x = np.resize(np.array([np.nan, -np.inf, -0.0, -1e30, 0.5], np.float32), shape)
    assert assert_identical(lib, path, [x, np.full(shape, np.nan, np.float32)]) == 2
