"""The Python loaders of untrusted files under Hypothesis: device profiles, suites, model
manifests and .tflite models, mutated both as bytes and as structure (a real file with one
field replaced, removed or added). Each must load or raise the project's own error
(ConfigError / ModelError, which the CLI prints as one line); any other exception is a
traceback a user would see, and fails here with the input Hypothesis shrank it to.

Examples per test: 150 here; `HYPOTHESIS_PROFILE=fuzz` (tools/fuzz.sh) runs 5000."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from harness.errors import ConfigError, ModelError
from harness.models.manifest import load_manifest
from harness.models.tflite_model import read_model
from harness.config.profiles import load_profile
from harness.config.suites import load_suite
from tests.conftest import MODELS, REPO

settings.register_profile("default-loaders", max_examples=150, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default-loaders"))

PROFILES = sorted((REPO / "device_profiles").glob("*.yaml"))
SUITES = sorted((REPO / "suites").glob("*.yaml"))
SMALL_MODELS = [MODELS / "digits-cnn" / "tiny-int8.tflite", *sorted((REPO / "tests" / "data" / "ops").glob("*.tflite"))]
WORK = Path(tempfile.mkdtemp(prefix="loader-fuzz-"))

# Values a careless edit or a hostile file puts where a field was.
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.sampled_from(["1 ms", "2 MW", "1e400 GiB", ".inf", "-1 s", "0 s", "512 KiB", "ssh://a@b:0",
                     "serial:///dev/ttyNOPE0", "qemu://nosuch", "../../etc/passwd", "", "∞", "nan"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)


def paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path of a YAML document (where a mutation may land)."""
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += paths(value, (*prefix, i))
    return found


def mutate(data: Any, where: tuple, action: str, value: Any) -> Any:
    """`data` with the node at `where` replaced, deleted, or given an extra key."""
    if not where:
        return value
    parent = data
    for key in where[:-1]:
        parent = parent[key]
    last = where[-1]
    if action == "replace":
        parent[last] = value
    elif action == "delete":
        del parent[last]
    elif isinstance(parent[last], dict):
        parent[last][f"unknown_{len(parent[last])}"] = value
    else:
        parent[last] = [parent[last], value]
    return data


@st.composite
def mutated_documents(draw: st.DrawFn, files: list[Path]) -> tuple[Path, str]:
    source = draw(st.sampled_from(files))
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(data) or [()]))
        try:
            data = mutate(data, where, draw(st.sampled_from(["replace", "delete", "add"])), draw(values))
        except (KeyError, IndexError, TypeError):  # the path went away with an earlier mutation
            pass
    return source, yaml.safe_dump(data, allow_unicode=True)


@st.composite
def mutated_text(draw: st.DrawFn, files: list[Path]) -> tuple[Path, str]:
    """Text edits: a slice deleted, duplicated or replaced by arbitrary characters."""
    source = draw(st.sampled_from(files))
    text = source.read_text(encoding="utf-8")
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, min(len(text), start + 80)))
    insert = draw(st.one_of(st.text(max_size=30), st.just(text[start:end] * 2),
                            st.sampled_from(["&a [1]\n", "*a", "!!python/object:os.system ''", "\t", ": :", "\x00"])))
    return source, text[:start] + insert + text[end:]


def names_the_file(exc: ConfigError) -> bool:
    """Every error names the file (several come as "N errors:" and one per line)."""
    lines = str(exc).splitlines()
    if len(lines) > 1 and lines[0].endswith("errors:"):
        lines = lines[1:]
    return all(line.strip().startswith(str(WORK)) for line in lines)


def write(name: str, text: str) -> Path:
    path = WORK / name
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


@pytest.mark.parametrize("strategy", [mutated_documents, mutated_text], ids=["structure", "text"])
def test_mutated_profiles_load_or_raise_config_error(strategy: Any) -> None:
    @given(strategy(PROFILES))
    def check(case: tuple[Path, str]) -> None:
        source, text = case
        try:
            load_profile(write(source.name, text))
        except ConfigError as exc:
            assert names_the_file(exc), exc
    check()


@pytest.mark.parametrize("strategy", [mutated_documents, mutated_text], ids=["structure", "text"])
def test_mutated_suites_load_or_raise_config_error(strategy: Any) -> None:
    # The suite's model paths are relative to it: the mutants live beside the real suites' models.
    (WORK / "suites").mkdir(exist_ok=True)
    link = WORK / "models"
    if not link.exists():
        link.symlink_to(MODELS)

    @given(strategy(SUITES))
    def check(case: tuple[Path, str]) -> None:
        source, text = case
        try:
            load_suite(write(f"suites/{source.name}", text))
        except ConfigError as exc:
            assert str(exc), exc
    check()


@given(st.one_of(
    st.binary(max_size=200),
    st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
                 lambda inner: st.one_of(st.lists(inner, max_size=3),
                                         st.dictionaries(st.text(max_size=10), inner, max_size=3)),
                 max_leaves=10).map(lambda v: json.dumps(v).encode()),
    st.builds(lambda key, value: _manifest_with(key, value), st.sampled_from(["family", "variants", "dataset"]),
              values.filter(lambda v: not (isinstance(v, float) and math.isnan(v))))))
def test_mutated_manifests_load_or_raise_config_error(data: bytes) -> None:
    family = WORK / "family"
    family.mkdir(exist_ok=True)
    (family / "manifest.json").write_bytes(data)
    try:
        load_manifest(family)
    except ConfigError as exc:
        assert "manifest.json" in str(exc), exc


def _manifest_with(key: str, value: Any) -> bytes:
    manifest = json.loads((MODELS / "digits-cnn" / "manifest.json").read_text())
    manifest[key] = value
    return json.dumps(manifest, allow_nan=True).encode()


@st.composite
def mutated_models(draw: st.DrawFn) -> bytes:
    """A small real model with bytes overwritten, a slice cut out, or truncated."""
    data = bytearray(draw(st.sampled_from(SMALL_MODELS)).read_bytes())
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data) - 1))
        data[at:at + 4] = draw(st.binary(min_size=1, max_size=4))
    if draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data)))]
    return bytes(data)


@given(st.one_of(mutated_models(), st.binary(max_size=64).map(lambda b: b[:4] + b"TFL3" + b[4:])))
def test_mutated_models_read_or_raise_model_error(data: bytes) -> None:
    assume(len(data) > 0)
    path = WORK / "mutant.tflite"
    path.write_bytes(data)
    try:
        read_model(path)
    except ModelError as exc:
        assert str(exc).startswith(str(path)), exc
