"""`harness dashboard` on a store of 90 nights × 8 devices × 10 models: the site's pages, the
same verdicts as `harness compare`, hostile names escaped in HTML, SVG and embedded JSON, and
the pages in headless Chromium (no console errors, the filters' script ran)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from harness.results import history as run_history
from harness.results.regression import Criteria
from harness.report.dashboard import Night, compare_rule, judge, page_json, slug
from harness.results.store import Store
from tests.conftest import REPO
from tests.reportdata import HOSTILE, FakeDevice, fill
from tests.test_whitepaper import chromium, console_errors

MODELS = {(f"family-{i // 2}", "fp32" if i % 2 == 0 else "int8"): (100.0 * (i + 1), 50_000 * (i + 1), 0.9, "fp32")
          for i in range(10)}
STEP_NIGHT = 60
NAMES = ["rpi5", "jetson-orin-nano", "coral-dev-board", "esp32-s3", "rpi4", "host", HOSTILE, "qemu-aarch64"]
DEVICES = [FakeDevice(n, 0.5 + 0.2 * i, slower_from=STEP_NIGHT if n == "jetson-orin-nano" else None)
           for i, n in enumerate(NAMES)]


def harness(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          timeout=600, cwd=REPO)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    work = tmp_path_factory.mktemp("dashboard")
    store = Store(str(work / "results.sqlite"))
    sa.event.listen(store.engine, "connect", lambda conn, _: conn.execute("PRAGMA synchronous=OFF"))
    store.engine.dispose()  # test data only: no fsync per row (90 x 80 results)
    runs = fill(store, DEVICES, nights=90, models=MODELS, samples=20)
    with store.engine.begin() as conn:  # each result recorded on its night, as a nightly lab would
        conn.execute(sa.text("UPDATE results SET recorded_at = "
                             "(SELECT started_at FROM runs WHERE runs.run_id = results.run_id)"))
    done = harness("dashboard", "--out", str(work / "site"), "--store", str(work / "results.sqlite"),
                   "--profiles", str(REPO / "device_profiles"))
    assert done.returncode == 0, done.stderr[-3000:]
    return work / "site", work / "results.sqlite", runs


def bench(site: Path, device: str, family: str, variant: str) -> str:
    return (site / "bench" / f"{slug(device, family, variant)}.html").read_text()


@pytest.mark.slow
def test_every_benchmark_has_a_page_and_every_point_its_run_report(site: tuple[Path, Path, list[str]]) -> None:
    root, _, runs = site
    index = (root / "index.html").read_text()
    assert index.count("<svg") == len(DEVICES) * len(MODELS)  # a sparkline per benchmark
    assert len(list((root / "bench").glob("*.html"))) == len(DEVICES) * len(MODELS)
    page = bench(root, "rpi5", "family-0", "fp32")
    links = re.findall(r'<a href="(\.\./runs/[^"]+)" class="point', page)
    assert len(links) == 90
    for link in {links[0], links[-1]}:
        assert (root / "bench" / link).resolve().is_file()
    assert "noise band" in page and 'class="band"' in page


@pytest.mark.slow
def test_change_points_agree_with_harness_compare(site: tuple[Path, Path, list[str]]) -> None:
    """The step at night 60 on jetson-orin-nano, every model 30 % slower: that night every case of
    the device moved together, which one run cannot tell from a passing machine state (suspect in
    the dashboard and in `harness compare`, exit 0); the next night it has lasted a day: a
    regression in both (exit 4). A quiet night on rpi5: unchanged in both."""
    root, db, runs = site
    page = bench(root, "jetson-orin-nano", "family-0", "fp32")

    def night(i: int) -> str:
        day = runs[i][len("night-"):len("night-") + 8]
        return f"{day[:4]}-{day[4:6]}-{day[6:]}"

    changes = page[page.index("Change points"):page.index("Every night")]
    assert f"<td>{night(STEP_NIGHT + 1)}</td><td class=\"regression\">regression</td>" in changes
    row = re.search(rf"<tr><td>{night(STEP_NIGHT)}</td>.*?</tr>", page[page.index("Every night"):], re.S)
    assert row and 'class="suspect"' in row.group(0) and "the machine, not this model" in row.group(0)
    first = harness("compare", runs[STEP_NIGHT - 1], runs[STEP_NIGHT], "--store", str(db), "--json")
    verdicts = {tuple(v["new_key"]): v for v in json.loads(first.stdout)["verdicts"] if v["new_key"]}
    jetson = verdicts[("jetson-orin-nano", "family-0", "fp32")]
    assert jetson["verdict"] == "suspect" and "together in this run" in json.dumps(jetson), first.stdout[-3000:]
    lasted = harness("compare", runs[STEP_NIGHT], runs[STEP_NIGHT + 1], "--store", str(db))
    assert lasted.returncode == 4 and "the device changed" in lasted.stdout.replace("\n", " "), lasted.stdout[-3000:]
    quiet = bench(root, "rpi5", "family-0", "fp32")
    assert "No change detected" in quiet
    same = harness("compare", runs[30], runs[31], "--store", str(db))
    assert "rpi5" in same.stdout and same.returncode in (0, 1), same.stdout[-3000:]
    rpi5 = [line for line in same.stdout.splitlines() if "rpi5" in line and "family-0/fp32" in line]
    assert rpi5 and not any("regression" in line for line in rpi5)


@pytest.mark.slow
def test_hostile_names_are_escaped_in_html_svg_and_json(site: tuple[Path, Path, list[str]]) -> None:
    root, _, _ = site
    index = (root / "index.html").read_text()
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert HOSTILE not in index.replace('<script type="application/json" id="benchmarks">', "")
    blob = re.search(r'<script type="application/json" id="benchmarks">(.*?)</script>', index, re.S).group(1)
    assert "<" not in blob and ">" not in blob
    assert HOSTILE in {b["device"] for b in json.loads(blob)}  # the JSON still carries the real name
    assert escaped in index  # table cells and the sparkline's SVG title
    page = bench(root, HOSTILE, "family-0", "fp32")
    assert HOSTILE not in page and escaped in page
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert escaped in svg


def test_nights_are_judged_like_compare_and_a_regressed_run_never_becomes_history() -> None:
    """Synthetic nights through the dashboard's judge() with the compare rule: a 30 % step is a
    regression; the run marked `regressed` is shown but stays out of the next nights' history;
    a night of another environment is judged against its own environment's nights."""
    def nights(values: list[float], good: list[bool] | None = None, fps: list[str] | None = None) -> list[Night]:
        return [Night(f"2026-01-{i + 1:02d}", f"r{i}", v, good=(good or [True] * len(values))[i],
                      fingerprint=(fps or ["a"] * len(values))[i]) for i, v in enumerate(values)]

    quiet = [100.0, 101.0, 99.0, 100.5, 99.5, 100.2, 99.8, 100.1, 99.9, 100.3]
    series = nights(quiet + [130.0, 100.4], good=[True] * 10 + [False, True])
    judge(series, compare_rule())
    assert [n.verdict for n in series[10:]] == ["regression", "unchanged"]
    assert series[11].band is not None and series[11].band.n == 10  # the regressed night left out
    assert "shift +29.9 %" in series[10].reason and series[0].reason == "first night: no history"
    expected = run_history.decide(quiet, [130.0], threshold_pct=Criteria().latency_pct,
                                  floor_pct=Criteria().min_effect_pct, alpha=Criteria().alpha)
    assert series[10].reason == expected.reason  # the very rule of harness compare
    other = nights(quiet + [200.0, 201.0, 199.0, 200.5], fps=["a"] * 10 + ["b"] * 4)
    judge(other, compare_rule())
    assert other[10].verdict == "regression" and other[13].band is not None and other[13].band.n == 3


def test_page_json_cannot_close_its_script_element() -> None:
    text = str(page_json({"d": "</script><!--<script>&\u2028"}))
    assert "</" not in text and "<!--" not in text and "&" not in text.replace("\\u0026", "")
    assert json.loads(text) == {"d": "</script><!--<script>&\u2028"}


@pytest.mark.slow
def test_chromium_renders_the_site_without_errors(site: tuple[Path, Path, list[str]], tmp_path: Path) -> None:
    root, _, _ = site
    dom = chromium("--virtual-time-budget=5000", "--dump-dom", (root / "index.html").as_uri(), tmp=tmp_path)
    assert dom.returncode == 0 and not console_errors(dom.stderr), dom.stderr[-2000:]
    assert "80 of 80 shown" in dom.stdout  # the filter script ran
    assert dom.stdout.count("<option") >= 1 + len(DEVICES)  # device options filled in, as text
    assert "<script>alert(1)</script></option>" not in dom.stdout
    page = root / "bench" / f"{slug('jetson-orin-nano', 'family-0', 'fp32')}.html"
    shot = tmp_path / "bench.png"
    done = chromium("--window-size=1200,900", f"--screenshot={shot}", page.as_uri(), tmp=tmp_path)
    assert done.returncode == 0 and not console_errors(done.stderr)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = chromium("--dump-dom", (root / "bench" / re.search(
        r'<a href="(\.\./runs/[^"]+)"', page.read_text()).group(1)).resolve().as_uri(), tmp=tmp_path)
    assert report.returncode == 0 and not console_errors(report.stderr) and 'id="results"' in report.stdout
