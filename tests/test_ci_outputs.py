"""CI outputs: JUnit XML (one test case per device x model x check), the Markdown summary and the
exit codes that tell a regression (4), an infrastructure failure (3), a configuration error (2)
and a failed result or threshold (1) apart."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.results import ci_outputs
from harness.cli import app
from harness.results.regression import compare_runs
from tests.conftest import REPO
from tests.suite_files import write_suite

RUN = {"run_id": "r2", "suite": "nightly", "status": "complete"}


def row(rid: int, variant: str, status: str = "ok", error_kind: str | None = None, reason: str | None = None,
        checks: list | None = None, **extra: object) -> dict:
    checks = checks if checks is not None else [
        {"name": "latency_p50_ms", "limit": 200, "value": 1.0, "passed": True},
        {"name": "memory_fraction_of_ram", "limit": 0.6, "value": 0.1, "passed": True}]
    passed = None if all(c["passed"] is None for c in checks) else all(c["passed"] is not False for c in checks)
    return {"id": rid, "device": "board-1", "family": "digits-cnn", "variant": variant, "status": status,
            "error_kind": error_kind, "reason": reason, "thresholds": checks, "thresholds_passed": passed,
            "latency_p50_us": 1000.0, "latency_p99_us": 1200.0, "accuracy_top1": 0.97,
            "accuracy_delta_points": 0.0, "duration_s": 1.5, "runtime": "litert", **extra}


# Five earlier runs of fp32: a steady history whose noise band is a few µs wide.
STEADY = {"latency": {("board-1", "digits-cnn", "fp32"): [1000.0, 1002.0, 998.0, 1001.0, 999.0]}}
NOT_MEASURED = [{"name": "latency_p50_ms", "limit": 200, "value": None, "passed": None}]
MIXED = [
    row(1, "fp32"),
    row(2, "int8", checks=[{"name": "latency_p50_ms", "limit": 0.5, "value": 1.0, "passed": False}]),
    row(3, "tiny-int8", "skipped", "device", "model 2.1 MB > model cap 1 MB", NOT_MEASURED),
    row(4, "fp16", "failed", "model", "operator CUSTOM unsupported", NOT_MEASURED),
    row(5, "pruned-int8", "failed", "infrastructure", "board did not answer within 30 s", NOT_MEASURED),
]


def test_exit_codes_most_important_first() -> None:
    ok = [row(1, "fp32")]
    assert ci_outputs.exit_code(ok) == 0
    assert ci_outputs.exit_code(MIXED[:2]) == 1  # a missed threshold
    assert ci_outputs.exit_code([MIXED[0], MIXED[3]]) == 1  # a model failure is a result
    assert ci_outputs.exit_code([MIXED[0], MIXED[2]]) == 0  # skipped (does not fit) is not a failure
    assert ci_outputs.exit_code(MIXED) == 3  # an infrastructure failure outranks a result failure
    assert ci_outputs.exit_code([row(1, "fp32", "not-run", reason="board bad")]) == 3
    samples = {1: [1000.0] * 30, 11: [2000.0 + i for i in range(30)]}
    regressed = compare_runs([row(1, "fp32")], [row(11, "fp32", latency_p50_us=2014.5)], samples, histories=STEADY)
    assert ci_outputs.exit_code(MIXED, regressed) == 4  # a regression outranks everything


def test_junit_one_case_per_device_model_check() -> None:
    new = [row(11, "fp32", latency_p50_us=1492.9), *MIXED[1:]]
    samples = {1: [1000.0 + i for i in range(30)], 11: [1500.0 + i for i in range(30)]}
    comparison = compare_runs([row(1, "fp32"), row(6, "gone-variant")], new, samples, histories=STEADY)
    root = ET.fromstring(ci_outputs.junit_xml(RUN, new, comparison))
    cases = root.findall(".//testcase")
    # 5 results x (status + regression) + their threshold checks (2 + 1 + 1 + 1 + 1) + 1 gone case
    assert len(cases) == 5 * 2 + 6 + 1 and root.get("tests") == str(len(cases))
    by_name = {(c.get("classname"), c.get("name")): c for c in cases}
    fp32 = "board-1.digits-cnn.fp32"
    assert by_name[(fp32, "regression")].find("failure").get("type") == "regression"
    assert "latency +49.29 %" in by_name[(fp32, "regression")].find("failure").get("message")
    assert by_name[(fp32, "status")].find("*") is None  # passed
    int8 = by_name[("board-1.digits-cnn.int8", "threshold latency_p50_ms")].find("failure")
    assert int8.get("type") == "threshold" and "limit 0.5" in int8.get("message")
    assert by_name[("board-1.digits-cnn.tiny-int8", "status")].find("skipped").get("message").startswith("model 2.1 MB")
    assert by_name[("board-1.digits-cnn.fp16", "status")].find("failure").get("type") == "model"
    infra = by_name[("board-1.digits-cnn.pruned-int8", "status")].find("error")
    assert infra.get("type") == "infrastructure" and "did not answer" in infra.text
    assert by_name[("board-1.digits-cnn.pruned-int8", "regression")].find("skipped") is not None
    assert by_name[("board-1.digits-cnn.gone-variant", "regression")].find("skipped").get("message").startswith("gone")
    assert (root.get("failures"), root.get("errors")) == ("3", "1")  # regression, threshold, model
    assert root.find("testsuite/properties/property").get("value") == "r2"


def test_junit_escapes_untrusted_text() -> None:
    nasty = row(1, "fp32", "failed", "model", 'bad <op> & "quote" ]]>', NOT_MEASURED)
    root = ET.fromstring(ci_outputs.junit_xml(RUN, [nasty]))
    assert root.find(".//failure").get("message") == 'bad <op> & "quote" ]]>'


def test_markdown_summary() -> None:
    samples = {1: [1000.0] * 30, 11: [1000.0] * 30}
    comparison = compare_runs([row(1, "fp32")], [row(11, "fp32")], samples, histories=STEADY)
    text = ci_outputs.markdown_summary(RUN, MIXED, comparison, "r1")
    assert text.startswith("## edge-harness: nightly — run `r2`")
    assert "**infrastructure failure** (exit 3)" in text
    assert "| board-1 | digits-cnn/int8 | ok | 1.000 | 1.200 | 0.9700 | 0.00 | FAIL: latency_p50_ms |" in text
    assert "### Compared with `r1`" in text and "0 regression, 0 suspect, 0 improvement, 1 unchanged" in text
    piped = ci_outputs.markdown_summary(RUN, [row(1, "fp32", "failed", "model", "a | b\nc", NOT_MEASURED)])
    assert "a \\| b c" in piped


# ------------------------------------------------------------------ `harness run` end to end

cli = CliRunner()


def run(suite: Path, tmp: Path, *extra: str) -> tuple[int, str]:
    result = cli.invoke(app, ["run", str(suite), "--device", "host", "--store", str(tmp / "r.sqlite"),
                              "--profiles", str(REPO / "device_profiles"), *extra])
    return result.exit_code, result.output


@pytest.mark.slow
def test_run_writes_junit_and_markdown_and_exits_1_on_a_threshold(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, families={"digits-cnn": ["fp32", "int8"]}, extra="thresholds:\n  latency_ms: 0.0001\n")
    junit, md = tmp_path / "ci" / "junit.xml", tmp_path / "ci" / "summary.md"
    code, out = run(suite, tmp_path, "--junit", str(junit), "--markdown", str(md))
    assert code == 1, out
    root = ET.parse(junit).getroot()
    failures = root.findall(".//failure[@type='threshold']")
    assert len(failures) == 2 and root.get("failures") == "2" and root.get("errors") == "0"
    assert "a result failed or missed a threshold** (exit 1)" in md.read_text()


@pytest.mark.slow
def test_run_exits_3_on_an_infrastructure_failure(tmp_path: Path) -> None:
    # A case deadline shorter than starting the measurement agent: a real timeout, retried, then stored.
    suite = write_suite(tmp_path, families={"digits-cnn": ["fp32"]}).read_text().replace("timeout: 120 s", "timeout: 0.05 s")
    path = tmp_path / "timeout.yaml"
    path.write_text(suite)
    junit = tmp_path / "junit.xml"
    code, out = run(path, tmp_path, "--junit", str(junit))
    assert code == 3, out
    error = ET.parse(junit).getroot().find(".//testcase[@name='status']/error")
    assert error.get("type") == "infrastructure" and "0.05 s" in error.get("message")


def test_run_exits_2_on_a_configuration_error(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, families={"digits-cnn": ["fp32"]})
    code, out = run(suite, tmp_path, "--shard", "9/8")
    assert code == 2 and "--shard '9/8'" in out
    code, out = run(suite, tmp_path, "--resume", "x", "--run-id", "y")
    assert code == 2 and "exclude each other" in out


def test_markdown_escapes_names_and_masks_secrets() -> None:
    """Names come from files anyone may edit; GitHub renders HTML in a job summary."""
    run = {**RUN, "suite": "<script>alert(1)</script>"}
    rows = [{**MIXED[0], "family": "<img src=x onerror=alert(1)>", "variant": "a|b",
             "reason": "ssh://root:hunter2@10.0.0.9: refused"}]
    text = ci_outputs.markdown_summary(run, rows)
    assert "<script>" not in text and "<img" not in text and "hunter2" not in text
    assert "&lt;script>alert(1)&lt;/script>" in text and r"a\|b" in text
    assert r"root:\*\*\*\*@" in text  # masked, then escaped
