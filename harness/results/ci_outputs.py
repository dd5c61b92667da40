"""What CI reads from a run: JUnit XML, a Markdown summary and the exit code. Pure: rows in, text out.

JUnit: one <testcase> per device x model x check, where the checks are the result's `status`,
each threshold (`threshold <name>`) and, when the run was compared with a baseline,
`regression`. A skipped result or an unmeasured threshold is <skipped>, a model or device
failure, a missed threshold or a regression is <failure>, an infrastructure failure is <error>.

Exit codes, the most important first:
    4  a regression against the baseline
    3  an infrastructure failure (the lab failed, not the model)
    2  a configuration error (raised as ConfigError/StoreError before this is reached)
    1  a result failed or missed a threshold
    0  everything passed
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any, Iterable, Mapping

from harness.results.history import format_p
from harness.masking import mask
from harness.results.regression import MISSING, REGRESSION, TABLE_COLUMNS, CaseVerdict, Comparison, key_of, table_rows

EXIT_OK, EXIT_RESULT, EXIT_CONFIG, EXIT_INFRASTRUCTURE, EXIT_REGRESSION = 0, 1, 2, 3, 4


def is_infrastructure(row: Mapping[str, Any]) -> bool:
    return row["status"] == "not-run" or (row["status"] != "ok" and row.get("error_kind") == "infrastructure")


def exit_code(rows: Iterable[Mapping[str, Any]], comparison: Comparison | None = None) -> int:
    rows = list(rows)
    if comparison is not None and comparison.regressed:
        return EXIT_REGRESSION
    if any(is_infrastructure(r) for r in rows):
        return EXIT_INFRASTRUCTURE
    if any(r["status"] == "failed" or r.get("thresholds_passed") is False for r in rows):
        return EXIT_RESULT
    return EXIT_OK


# ------------------------------------------------------------------ JUnit XML


def junit_xml(run: Mapping[str, Any], rows: list[Mapping[str, Any]], comparison: Comparison | None = None) -> str:
    verdicts = {v.new_key: v for v in comparison.verdicts if v.new_key} if comparison else {}
    root = ET.Element("testsuites", name=f"edge-harness {run['suite']}")
    by_device: dict[str, ET.Element] = {}
    for row in rows:
        suite = by_device.get(row["device"])
        if suite is None:
            suite = by_device[row["device"]] = ET.SubElement(
                root, "testsuite", name=f"{run['suite']} on {row['device']}")
            ET.SubElement(ET.SubElement(suite, "properties"), "property", name="run_id", value=run["run_id"])
        classname = f"{row['device']}.{row['family']}.{row['variant']}"
        _status_case(suite, classname, row)
        for check in row.get("thresholds") or []:
            _threshold_case(suite, classname, check)
        if comparison is not None:
            _regression_case(suite, classname, verdicts.get(key_of(row)))
    for gone in (v for v in (comparison.verdicts if comparison else []) if v.new_key is None):
        device, family, variant = gone.base_key  # type: ignore[misc]
        suite = by_device.get(device) or ET.SubElement(root, "testsuite", name=f"{run['suite']} on {device}")
        by_device[device] = suite
        _regression_case(suite, f"{device}.{family}.{variant}", gone)
    for suite in [root, *by_device.values()]:
        _count(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _case(parent: ET.Element, classname: str, name: str, time_s: float | None = None) -> ET.Element:
    return ET.SubElement(parent, "testcase", classname=classname, name=name, time=f"{time_s or 0:.3f}")


def _status_case(suite: ET.Element, classname: str, row: Mapping[str, Any]) -> None:
    case = _case(suite, classname, "status", row.get("duration_s"))
    reason = row.get("reason") or row["status"]
    if is_infrastructure(row):
        ET.SubElement(case, "error", type="infrastructure", message=reason).text = reason
    elif row["status"] == "skipped":
        ET.SubElement(case, "skipped", message=reason)
    elif row["status"] != "ok":
        ET.SubElement(case, "failure", type=row.get("error_kind") or "failed", message=reason).text = reason


def _threshold_case(suite: ET.Element, classname: str, check: Mapping[str, Any]) -> None:
    case = _case(suite, classname, f"threshold {check['name']}")
    if check["passed"] is None:
        ET.SubElement(case, "skipped", message="not measured")
    elif not check["passed"]:
        message = f"{check['name']} = {check['value']:.4g}, limit {check['limit']:g}"
        ET.SubElement(case, "failure", type="threshold", message=message).text = message


def _regression_case(suite: ET.Element, classname: str, verdict: CaseVerdict | None) -> None:
    case = _case(suite, classname, "regression")
    if verdict is None or verdict.verdict == MISSING:
        ET.SubElement(case, "skipped", message=verdict.note if verdict else "not compared")
        return
    detail = "; ".join(_describe(c) for c in verdict.checks)
    if verdict.verdict == REGRESSION:
        ET.SubElement(case, "failure", type="regression", message=detail).text = detail
    else:
        ET.SubElement(case, "system-out").text = f"{verdict.verdict}: {detail}"


def _describe(check: Any) -> str:
    if check.change is None:
        return f"{check.metric} {check.base} -> {check.new} ({check.verdict})"
    unit = " pts" if check.metric == "accuracy" else " %"
    p = "" if check.p_value is None else f", {format_p(check.p_value)}"
    why = f": {check.note}" if check.note and check.verdict != "unchanged" else ""
    return f"{check.metric} {check.change:+.2f}{unit}{p} ({check.verdict}{why})"


def _count(suite: ET.Element) -> None:
    cases = suite.findall(".//testcase")
    for tag, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        suite.set(attr, str(sum(1 for c in cases if c.find(tag) is not None)))
    suite.set("tests", str(len(cases)))


# ------------------------------------------------------------------ Markdown

_HEADLINE = {EXIT_OK: "passed", EXIT_RESULT: "a result failed or missed a threshold",
             EXIT_INFRASTRUCTURE: "infrastructure failure", EXIT_REGRESSION: "regression"}


def markdown_summary(run: Mapping[str, Any], rows: list[Mapping[str, Any]],
                     comparison: Comparison | None = None, baseline_id: str | None = None) -> str:
    code = exit_code(rows, comparison)
    mark = "✅" if code == EXIT_OK else "❌"
    lines = [f"## edge-harness: {_md(run['suite'])} — run {_code(run['run_id'])}", "",
             f"{mark} **{_HEADLINE[code]}** (exit {code}); status {run['status']}, {len(rows)} results", ""]
    lines += _table(("device", "model", "status", "p50 ms", "p99 ms", "top-1", "Δ vs ref", "thresholds", "note"),
                    [_result_cells(r) for r in rows])
    if comparison is not None:
        counts = ", ".join(f"{comparison.count(v)} {v}" for v in ("regression", "suspect", "improvement", "unchanged", "missing"))
        lines += ["", f"### Compared with {_code(baseline_id)}", "", counts, ""]
        lines += _table(TABLE_COLUMNS, [[r[c] for c in TABLE_COLUMNS] for r in table_rows(comparison)])
    return "\n".join(lines) + "\n"


def _result_cells(r: Mapping[str, Any]) -> list[str]:
    failed = [c["name"] for c in r.get("thresholds") or [] if c["passed"] is False]
    passed = {True: "pass", False: "FAIL: " + ", ".join(failed), None: "—"}[r.get("thresholds_passed")]
    return [r["device"], f"{r['family']}/{r['variant']}", r["status"], _ms(r.get("latency_p50_us")),
            _ms(r.get("latency_p99_us")), _num(r.get("accuracy_top1"), 4),
            _num(r.get("accuracy_delta_points"), 2), passed, r.get("reason") or ""]


def _table(header: Iterable[str], rows: list[list[str]]) -> list[str]:
    header = list(header)
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return out


_MD_SPECIAL = re.compile(r"([\\`*\[\]|])")


def _md(text: Any) -> str:
    """Names come from files anyone may edit: GitHub renders HTML and Markdown in a summary, so
    both are escaped (and secrets masked), as the HTML report autoescapes."""
    plain = mask(str(text)).replace("\n", " ").replace("&", "&amp;").replace("<", "&lt;")
    return _MD_SPECIAL.sub(r"\\\1", plain)


def _code(text: Any) -> str:
    return f"`{mask(str(text)).replace('`', '')}`"


def _ms(us: float | None) -> str:
    return "—" if us is None else f"{us / 1000:.3f}"


def _num(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"
