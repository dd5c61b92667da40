"""JSON Schema export: every shipped profile, suite and manifest validates against `harness schema`,
misspelt keys do not, and the docs name every field."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from harness.cli import app
from harness.config.schemas import models
from tests.conftest import MODELS, REPO

cli = CliRunner()


def schema(kind: str) -> dict:
    result = cli.invoke(app, ["schema", kind])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


FILES = {"profile": sorted((REPO / "device_profiles").glob("*.yaml")),
         "suite": sorted((REPO / "suites").glob("*.yaml")),
         "manifest": sorted(MODELS.glob("*/manifest.json"))}


@pytest.mark.parametrize("kind", FILES)
def test_shipped_files_validate(kind: str) -> None:
    validator = jsonschema.Draft202012Validator(schema(kind))
    assert FILES[kind]
    for path in FILES[kind]:
        data = yaml.safe_load(path.read_text())  # JSON is YAML
        errors = [e.message for e in validator.iter_errors(data)]
        assert not errors, f"{path}: {errors}"


@pytest.mark.parametrize("kind, data", [
    ("profile", {"name": "x", "modle_volume_cap": "1 MB"}),
    ("suite", {"name": "x", "models": [{"path": "m"}], "treshold": {}}),
    ("manifest", {"variants": [{"name": "int8", "host_accuracy": 97.5}]}),
    ("suite", {"name": "x", "models": [{"path": "m"}], "run": {"timeout": "soon"}}),
])
def test_bad_files_do_not_validate(kind: str, data: dict) -> None:
    assert list(jsonschema.Draft202012Validator(schema(kind)).iter_errors(data))


def test_unknown_schema_exits_2() -> None:
    result = cli.invoke(app, ["schema", "board"])
    assert result.exit_code == 2 and "profile, suite, manifest" in result.output


@pytest.mark.parametrize("kind, doc", [("profile", "profiles.md"), ("suite", "suites.md"), ("manifest", "manifest.md")])
def test_docs_name_every_field(kind: str, doc: str) -> None:
    text = (REPO / "docs" / doc).read_text()
    missing = [f for f in models()[kind].model_fields if f"`{f}" not in text and f" {f}`" not in text
               and f", {f}" not in text and f"`{f}`" not in text]
    assert not missing, f"docs/{doc} does not describe {missing}"
