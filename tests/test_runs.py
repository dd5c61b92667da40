"""Runs you can find: `harness runs`, run references everywhere, results filters and formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from harness import api
from harness.cli import app
from tests.conftest import MODELS, REPO

cli = CliRunner()
PROFILES = ["--profiles", str(REPO / "device_profiles")]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Two runs: the digits tiny model alone, then two digits variants with their dataset."""
    folder = tmp_path_factory.mktemp("runs")
    store = str(folder / "r.sqlite")
    for models in ([MODELS / "digits-cnn" / "tiny-int8.tflite"],
                   [MODELS / "digits-cnn" / "tiny-int8.tflite", MODELS / "digits-cnn" / "int8.tflite"]):
        result = cli.invoke(app, ["run", *map(str, models), "--device", "host", "--store", store, *PROFILES])
        assert result.exit_code == 0, result.output
    return store


def invoke(*args: str) -> tuple[int, str]:
    result = cli.invoke(app, list(args))
    return result.exit_code, result.output


def run_ids(db: str) -> list[str]:
    return list(api.runs(db)["run_id"])  # newest first


@pytest.mark.parametrize("command", [
    ["results", "--run", "{ref}"],
    ["report", "--run", "{ref}", "--out", "{tmp}/report"],
    ["compare", "{ref}", "latest"],
    ["compare", "latest", "{ref}"],
    ["run", str(MODELS / "digits-cnn" / "tiny-int8.tflite"), "--device", "host", "--resume", "{ref}", *PROFILES],
    ["run", str(MODELS / "digits-cnn" / "tiny-int8.tflite"), "--device", "host", "--baseline", "{ref}", *PROFILES],
])
def test_unknown_run_exits_2_everywhere(db: str, tmp_path: Path, command: list[str]) -> None:
    before = run_ids(db)
    args = [a.format(ref="nope", tmp=tmp_path) for a in command]
    code, out = invoke(*args, "--store", db)
    assert code == 2 and "no run 'nope'" in out, out
    assert run_ids(db) == before  # nothing written


@pytest.mark.parametrize("ref", ["latest", "prefix", "full"])
@pytest.mark.parametrize("command", [["results", "--run", "{ref}", "--format", "json"],
                                     ["report", "--run", "{ref}", "--out", "{tmp}/report"],
                                     ["compare", "{ref}", "{ref}", "--json"]])
def test_run_references_everywhere(db: str, tmp_path: Path, ref: str, command: list[str]) -> None:
    newest = run_ids(db)[0]
    value = {"latest": "latest", "prefix": newest[:-3], "full": newest}[ref]
    code, out = invoke(*[a.format(ref=value, tmp=tmp_path) for a in command], "--store", db)
    assert code == 0, out
    if command[0] == "results":
        assert json.loads(out)["run"]["run_id"] == newest


def test_ambiguous_prefix_names_the_candidates(db: str) -> None:
    code, out = invoke("results", "--run", "2", "--store", db)
    assert code == 2 and "ambiguous" in out and all(r in out for r in run_ids(db))


def test_runs_lists_counts_and_filters(db: str) -> None:
    code, out = invoke("runs", "--json", "--store", db)
    assert code == 0, out
    listed = json.loads(out)
    assert [r["ok"] for r in listed] == [2, 1] and all(r["status"] == "complete" for r in listed)
    assert listed[0]["devices"] == ["host"] and listed[0]["duration_s"] > 0
    code, out = invoke("runs", "--json", "--device", "rpi4", "--store", db)
    assert json.loads(out) == []
    code, out = invoke("runs", "--store", db)
    assert code == 0 and run_ids(db)[0] in out


@pytest.mark.parametrize("filters, expected", [
    ([], {"int8", "tiny-int8"}),
    (["--family", "digits-cnn", "--status", "ok"], {"int8", "tiny-int8"}),
    (["--device", "rpi4"], set()),
    (["--status", "failed"], set()),
])
def test_results_filters(db: str, filters: list[str], expected: set[str]) -> None:
    code, out = invoke("results", "--format", "json", *filters, "--store", db)
    assert code == 0, out
    assert {r["variant"] for r in json.loads(out)["results"]} == expected


def test_results_formats(db: str, tmp_path: Path) -> None:
    for fmt in ("csv", "markdown", "json", "parquet"):
        code, out = invoke("results", "--format", fmt, "-o", str(tmp_path / f"r.{fmt}"), "--store", db)
        assert code == 0, out
    assert list(pd.read_csv(tmp_path / "r.csv")["variant"]) == ["tiny-int8", "int8"]
    assert (tmp_path / "r.markdown").read_text().count("| host |") == 2
    frame = pd.read_parquet(tmp_path / "r.parquet")
    assert str(frame["latency_p50_us"].dtype) == "Float64" and str(frame["emulated"].dtype) == "boolean"
    assert invoke("results", "--format", "parquet", "--store", db)[0] == 2  # binary needs --output
    assert invoke("results", "--format", "xml", "--store", db)[0] == 2


def test_api_results_are_typed(db: str) -> None:
    frame = api.results(db, run="latest", family="digits-cnn")
    assert len(frame) == 2
    assert str(frame["latency_n"].dtype) == "Int64" and str(frame["accuracy_top1"].dtype) == "Float64"
    assert str(frame["recorded_at"].dtype).startswith("datetime64") and str(frame["device"].dtype) == "string"
    assert frame["arena_bytes"].isna().all()  # not measured on LiteRT: <NA>, never 0


def test_version_names_runtimes() -> None:
    out = subprocess.run([sys.executable, "-m", "harness.cli", "--version"], capture_output=True, text=True,
                         check=True).stdout
    assert out.startswith("edge-harness 0.") and "ai-edge-litert" in out and "tflite-micro" in out


def test_notebook_example_runs(db: str) -> None:
    done = subprocess.run([sys.executable, str(REPO / "examples" / "notebook_results.py"), db],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "tiny-int8" in done.stdout and "Float64" in done.stdout


def test_unwritable_output_is_one_line_not_a_traceback(db: str, tmp_path: Path) -> None:
    target = tmp_path / "no-such-dir" / "r.csv"
    done = subprocess.run([sys.executable, "-m", "harness.cli", "results", "--format", "csv", "-o", str(target),
                           "--store", db], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip() == f"error: {target}: No such file or directory"
