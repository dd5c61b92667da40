"""The run report: results first, compact at 1400 px, a latency chart per case, neutral
skipped / not measured, failures red, power 'not measured' once per device — checked in the
HTML and in headless Chromium (layout measured in the browser itself)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.report.render import render_run_report
from harness.results.store import Store
from tests.reportdata import HOSTILE, FakeDevice, fill
from tests.test_whitepaper import chromium, console_errors

DEVICES = [FakeDevice("rpi5", 1.0, energy_uj=900, power_status="measured"), FakeDevice(HOSTILE, 1.5)]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("runreport")
    store = Store(str(work / "results.sqlite"))
    run_id = fill(store, DEVICES, nights=1)[0]
    base = {"run_id": run_id, "device": HOSTILE, "family": "digits-cnn", "reference_variant": "fp32",
            "runtime": "tflm", "emulated": False, "model_bytes": 50_000, "power_status": "not measured"}
    store.record_result({**base, "variant": "fp16", "status": "skipped",
                         "reason": "TFLite-Micro cannot run it: TFLM failed to allocate tensors"})
    store.record_result({**base, "variant": "int8-dynamic", "status": "failed", "reason": "board hung <b>twice</b>"})
    return render_run_report(store, run_id, work / "out")


def test_results_come_first_and_every_case_has_a_chart(report: Path) -> None:
    html = report.read_text()
    assert html.index('id="results"') < html.index('id="environment"')
    ok_cases = 5 * len(DEVICES)
    assert html.count("latency distribution</title>") == ok_cases  # one histogram per measured case
    assert html.count("<details>") == ok_cases
    for mark in ("p50 ", "p90 ", "p99 "):
        assert html.count(f">{mark}") >= ok_cases
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "board hung &lt;b&gt;twice&lt;/b&gt;" in html


def test_skipped_neutral_failed_red_power_once(report: Path) -> None:
    html = report.read_text()
    assert re.search(r'<span class="st-skipped">skipped</span>', html)
    assert '<span class="fail">failed</span>' in html
    results = html[html.index('id="results"'):html.index("Power and battery")]
    assert "— ms" not in html and "not measured</span></td>" not in results
    # the device without a meter: one line in Results, one in Power, not one per case
    assert html.count(f"Power on {HOSTILE.replace('<', '&lt;').replace('>', '&gt;')}") == 1
    assert html.count("no power meter in the device profile") == 2


MEASURE = """<script>
window.addEventListener('load', () => {
  const tables = [...document.querySelectorAll('table.results')].slice(0, 2);
  const out = tables.map(t => {
    const rows = [...t.querySelectorAll('tr:not(.more)')].filter(r => !r.querySelector('td.reason'));
    const heights = rows.map(r => r.getBoundingClientRect().height);
    return {width: t.getBoundingClientRect().right, tallest: Math.max(...heights), lowest: Math.min(...heights)};
  });
  const results = document.getElementById('results').getBoundingClientRect().top;
  document.body.setAttribute('data-measured', JSON.stringify({tables: out, results: results,
    viewport: window.innerWidth, svgs: document.querySelectorAll('svg').length}));
});
</script>"""


@pytest.mark.slow
def test_chromium_layout_fits_1400_px_without_wrapping(report: Path, tmp_path: Path) -> None:
    probe = report.with_name("probe.html")
    probe.write_text(report.read_text().replace("</body>", MEASURE + "</body>"))
    dom = chromium("--window-size=1400,1000", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri(), tmp=tmp_path)
    assert dom.returncode == 0 and not console_errors(dom.stderr), dom.stderr[-2000:]
    found = re.search(r"data-measured=\"([^\"]+)\"", dom.stdout)
    assert found, dom.stdout[-2000:]
    measured = json.loads(found.group(1).replace("&quot;", '"'))
    assert measured["results"] < 300  # results begin on the first screen
    for table in measured["tables"]:
        assert table["width"] <= 1400
        assert table["tallest"] < 1.6 * table["lowest"]  # no value wrapped onto a second line
    shot = tmp_path / "run.png"
    done = chromium("--window-size=1400,1000", f"--screenshot={shot}", report.as_uri(), tmp=tmp_path)
    assert done.returncode == 0 and not console_errors(done.stderr)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_utilization_and_accelerator_busy_are_shown_with_their_method(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "results.sqlite"))
    run_id = fill(store, DEVICES[:1], nights=1)[0]
    rows = [r for r in store.results(run_id) if r["status"] == "ok"]
    with store.engine.begin() as conn:  # two measured cases: one with a CPU and an accelerator figure
        from harness.results.store import results
        conn.execute(results.update().where(results.c.id == rows[0]["id"]).values(
            cpu_utilization=0.42, board_busy_fraction=0.61, utilization_method="process CPU time / wall",
            accelerator_busy_fraction=0.25, accelerator_method="sysfs /sys/devices/gpu.0/load"))
        conn.execute(results.update().where(results.c.id == rows[1]["id"]).values(
            accelerator_method="not measured: tegrastats not found"))
    html = render_run_report(store, run_id, tmp_path / "out").read_text()
    assert "42.0 % of the cores used; board busy 61.0 % (process CPU time / wall)" in html
    assert "25.0 % (sysfs /sys/devices/gpu.0/load)" in html
    assert "not measured: tegrastats not found" in html
    assert html.count("<th>compute utilization</th><td>not measured</td>") == len(rows) - 1
