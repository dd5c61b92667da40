"""The white paper from a real SQLite store: files, escaping, Chromium, the PDF's pages."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.conftest import REPO, require_tool
from harness.cli import app
from harness.errors import ConfigError
from harness.report.definition import load_definition
from harness.results.store import Store
from tests.reportdata import HOSTILE, FakeDevice, fill

DEVICES = [FakeDevice("rpi5", 1.0, energy_uj=900, power_status="measured"),
           FakeDevice("jetson-orin-nano", 0.3, memory=300_000_000, energy_uj=2000, power_status="measured"),
           FakeDevice(HOSTILE, 1.2, energy_uj=700, power_status="estimated"),
           FakeDevice("qemu-aarch64", 5.0, emulated=True), FakeDevice("host", 0.5, memory=120_000_000)]
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture(scope="module")
def paper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five nights of five devices rendered through `harness report --definition`."""
    work = tmp_path_factory.mktemp("paper")
    fill(Store(str(work / "results.sqlite")), DEVICES, nights=5)
    definition = work / "paper.yaml"
    definition.write_text("title: Test paper <b>2026</b>\nperiod: {from: 2025-01-01}\nsuites: [quickstart]\n"
                          "reference: rpi5\nweights: {delay: 2}\nbootstrap: {resamples: 200}\n")
    result = CliRunner().invoke(app, ["report", "--definition", str(definition), "--out", str(work / "out"),
                                      "--store", str(work / "results.sqlite"),
                                      "--profiles", str(REPO / "device_profiles")])
    assert result.exit_code == 0, result.output
    return work / "out"


def test_files_tables_charts_and_escaping(paper: Path) -> None:
    html = (paper / "whitepaper.html").read_text()
    for section in ("cover", "summary", "methodology", "equipment", "results", "scoring", "rankings",
                    "trends", "devices", "compression", "thresholds", "appendix"):
        assert f'id="{section}"' in html
    assert "this lab&#39;s own method" in html or "this lab's own method" in html
    assert html.count("<svg") >= 4 + len(DEVICES)  # rankings, 2 Pareto, trend, one distribution per device
    assert html.count("<table") >= 10
    assert "<script" not in html and ESCAPED in html
    assert "Test paper &lt;b&gt;2026&lt;/b&gt;" in html
    svg = html[html.index("<svg"):]
    assert "<text" in svg and ESCAPED in svg  # chart labels and tooltips escape names too
    md = (paper / "summary.md").read_text()
    assert "<script>" not in md and "&lt;script&gt;" in md
    scores = pd.read_csv(paper / "scores.csv")
    assert set(scores["pool"]) == {"boards", "workstation", "emulated"}
    rpi5 = scores[scores["device"] == "rpi5"].iloc[0]
    assert rpi5["composite"] == pytest.approx(1000.0)
    assert pd.read_parquet(paper / "scores.parquet").shape == scores.shape


def test_estimated_and_emulated_are_kept_apart(paper: Path) -> None:
    scores = pd.read_csv(paper / "scores.csv").set_index("device")
    assert scores.loc[HOSTILE, "power_status"] == "estimated (not ranked)"
    assert scores.loc["qemu-aarch64", "pool"] == "emulated"
    assert scores.loc["host", "pool"] == "workstation"
    assert "power" not in scores.loc["rpi5", "covers"]  # one board lacks measured power


def chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    exe = require_tool("chromium", "chromium-browser")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp / 'chromium-profile'}", "--enable-logging=stderr", "--v=0"]
    return subprocess.run([exe, *flags, *args], capture_output=True, text=True, timeout=120)


def console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE(" in line or "Uncaught" in line]


@pytest.mark.slow
def test_chromium_console_detection_catches_a_real_error(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>console.error('deliberate'); undefinedThing();</script></body></html>")
    done = chromium("--dump-dom", page.as_uri(), tmp=tmp_path)
    assert console_errors(done.stderr), done.stderr[-2000:]


@pytest.mark.slow
def test_chromium_renders_without_console_errors(paper: Path, tmp_path: Path) -> None:
    page = (paper / "whitepaper.html").as_uri()
    dom = chromium("--dump-dom", page, tmp=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert not console_errors(dom.stderr)
    assert "<script>alert" not in dom.stdout and dom.stdout.count("<svg") >= 4
    assert dom.stdout.count("<table") >= 10
    shot = paper / "whitepaper.png"
    done = chromium("--window-size=1100,1600", f"--screenshot={shot}", page, tmp=tmp_path)
    assert done.returncode == 0 and not console_errors(done.stderr)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def pdf_pages(pdf: Path) -> list[str]:
    """The text of each page, laid out (`pdftotext -layout`, one call per page)."""
    pdftotext, pdfinfo = require_tool("pdftotext"), require_tool("pdfinfo")
    info = subprocess.run([pdfinfo, str(pdf)], capture_output=True, text=True, check=True).stdout
    count = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    return [subprocess.run([pdftotext, "-layout", "-f", str(n), "-l", str(n), str(pdf), "-"],
                           capture_output=True, text=True, check=True).stdout for n in range(1, count + 1)]


def rows_on_one_line(pages: list[str], cells: list[list[str]]) -> list[list[str]]:
    """The table rows (their cells' texts) that no single line of any page holds whole: a row
    split across two pages (or wrapped) fails this."""
    lines = [line for page in pages for line in page.splitlines()]
    return [row for row in cells if not any(all(c in line for c in row) for line in lines)]


@pytest.mark.slow
def test_pdf_has_the_expected_pages(paper: Path) -> None:
    pages = pdf_pages(paper / "whitepaper.pdf")
    assert 4 <= len(pages) <= 9 + len(DEVICES)  # one page per device, the rest flows
    assert "Test paper <b>2026</b>" in pages[0] and "Reference device" in pages[0] and "Contents" in pages[0]
    assert "Executive summary" in pages[1] and "this lab's own method" in pages[1]
    assert "Composite score" in pages[1] and "Rank" in pages[1]  # the ranking table and headline chart
    starts = {name: next(i for i, p in enumerate(pages) if i > 1 and name in p) for name in
              ("Methodology", "Equipment", "Results per dimension", "Rankings", "Nightly trends",
               "Compression", "Thresholds", "Appendix: every raw figure")}
    assert list(starts.values()) == sorted(starts.values())  # in order
    assert starts["Methodology"] == 2 and starts["Thresholds"] - starts["Results per dimension"] <= 4
    heads = [[line.strip() for line in p.splitlines() if line.strip()][:2] for p in pages]
    for device in DEVICES:  # one page per device, headed by its name (the first under "Device pages")
        assert any(device.name in head for head in heads), device.name
    assert "33.2929" not in "".join(pages) and not re.search(r"\d\.\d{5,}", "".join(pages))


TEN_MODELS = {("family-%d" % (i // 2), "fp32" if i % 2 == 0 else "int8"):
              (100.0 * (i + 1), 50_000 * (i + 1), 0.9 + 0.005 * i, "fp32") for i in range(10)}
TEN_DEVICES = [FakeDevice(f"board-{i:02d}", 0.5 + 0.2 * i, memory=30_000_000 + 1_000_000 * i,
                          energy_uj=500.0 + 40 * i, power_status="measured") for i in range(10)]


@pytest.fixture(scope="module")
def big_paper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten boards × ten models, five nights: the size of a real lab's annual paper."""
    work = tmp_path_factory.mktemp("bigpaper")
    fill(Store(str(work / "results.sqlite")), TEN_DEVICES, nights=5, models=TEN_MODELS)
    definition = work / "paper.yaml"
    definition.write_text("title: Ten by ten\nperiod: {from: 2025-01-01}\nsuites: [quickstart]\n"
                          "reference: board-00\nbootstrap: {resamples: 200}\n")
    result = CliRunner().invoke(app, ["report", "--definition", str(definition), "--out", str(work / "out"),
                                      "--store", str(work / "results.sqlite"), "--profiles", str(work)])
    assert result.exit_code == 0, result.output
    return work / "out"


@pytest.mark.slow
def test_ten_by_ten_paper_fits_30_pages_and_never_splits_a_row(big_paper: Path) -> None:
    from harness.report import numbers

    pages = pdf_pages(big_paper / "whitepaper.pdf")
    assert len(pages) <= 30, len(pages)
    assert "Executive summary" in pages[1] and all(d.name in pages[1] for d in TEN_DEVICES)
    assert "Composite score" in pages[1] and "Methodology" in pages[2]  # the summary is one page
    rows = pd.read_csv(big_paper / "results.csv")
    latest = rows[rows["run_id"] == rows["run_id"].max()]
    assert len(latest) == 100
    # the compression table's rows (device, model, bytes, p50) and the thresholds table's rows
    compression = [[r.device, f"{r.family}/{r.variant}", numbers.size_bytes(r.model_bytes),
                    numbers.duration_us(r.latency_p50_us)] for r in latest.itertuples()]
    assert rows_on_one_line(pages, compression) == []
    thresholds = [[r.device, f"{r.family}/{r.variant}", numbers.duration_us(r.latency_p50_us), "not measured"]
                  for r in latest.itertuples()]  # no profiles: memory and battery are not judged
    assert rows_on_one_line(pages, thresholds) == []
    memory = [[f"{f}/{v}", numbers.size_bytes(TEN_DEVICES[0].memory), numbers.size_bytes(TEN_DEVICES[-1].memory),
               numbers.size_bytes(size // 10)] for (f, v), (_, size, _, _) in TEN_MODELS.items()]
    assert rows_on_one_line(pages, memory) == []  # the ten-device memory table fits the page width
    for r in latest.itertuples():  # every device page lists every case of its device
        page = next(p for p in pages if r.device in [line.strip() for line in p.splitlines()[:6]])
        assert f"{r.family}/{r.variant}" in page


@pytest.mark.slow
def test_split_rows_are_detected() -> None:
    pages = ["a  b  c\nd  e", "f  g"]
    assert rows_on_one_line(pages, [["a", "c"], ["e", "f"]]) == [["e", "f"]]


@pytest.mark.slow
def test_quickstart_paper_fits_8_pages_and_lists_skipped_cases(tmp_path: Path) -> None:
    """The real quickstart on host and host-tflm (two fp variants do not fit TFLite-Micro), then
    the paper `make demo` points to: at most 8 pages, host-tflm's skipped cases with reasons."""
    import sys
    import time

    store = tmp_path / "qs.sqlite"
    run = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(REPO / "suites" / "quickstart.yaml"),
                          "--device", "host,host-tflm", "--store", str(store)],
                         capture_output=True, text=True, timeout=900, cwd=REPO)
    assert run.returncode in (0, 1), run.stderr[-2000:]
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "harness.cli", "report", "--definition",
                           str(REPO / "reports" / "quickstart.yaml"), "--store", str(store),
                           "--out", str(tmp_path / "paper")], capture_output=True, text=True, timeout=300, cwd=REPO)
    elapsed = time.perf_counter() - began
    assert done.returncode == 0, done.stderr[-2000:]
    print(f"quickstart paper rendered in {elapsed:.1f} s")
    pages = pdf_pages(tmp_path / "paper" / "whitepaper.pdf")
    assert len(pages) <= 8, len(pages)
    tflm = next(p for p in pages if "host-tflm" in p and "Latency distribution" in p)
    for variant in ("digits-cnn/fp16", "digits-cnn/int8-dynamic"):
        line = next(line for line in tflm.splitlines() if variant in line)
        assert "skipped" in line and "TFLite-Micro" in line


def test_definition_errors_name_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: x\nperiod: {from: 2026-01-01, to: 2025-01-01}\nsuites: [a]\nreference: r\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:2: field 'period': Value error|bad.yaml:2: .*before"):
        load_definition(bad)
    bad.write_text("title: x\nperiod: {from: 2026-01-01}\nsuites: [a]\nreference: r\nweights:\n  delay: -1\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:6: field 'weights.delay'"):
        load_definition(bad)
    bad.write_text("title: x\nperiod: {from: 2026-01-01}\nsuites: [a]\nreference: r\nweigths: {}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:5: unknown key 'weigths'; did you mean 'weights'"):
        load_definition(bad)
    bad.write_text("title: x\nperiod: {from: 2026-01-01}\nsuites: [a]\nreference: r\ndevices: [a]\n")
    with pytest.raises(ConfigError, match="reference 'r' is not among 'devices'"):
        load_definition(bad)


def test_shipped_definitions_load() -> None:
    annual = load_definition(REPO / "reports" / "annual-2026.yaml")
    assert annual.reference == "rpi5" and annual.period.end is not None
    quick = load_definition(REPO / "reports" / "quickstart.yaml")
    assert quick.reference == "host" and quick.suites == ["quickstart"] and quick.period.end is None


def test_no_results_is_a_clear_error(tmp_path: Path) -> None:
    definition = tmp_path / "d.yaml"
    definition.write_text("title: Empty\nperiod: {from: 2026-01-01}\nsuites: [nothing]\nreference: rpi5\n")
    Store(str(tmp_path / "s.sqlite"))  # exists, holds nothing (report never creates a store)
    result = CliRunner().invoke(app, ["report", "--definition", str(definition), "--out", str(tmp_path / "o"),
                                      "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 2
    assert "no results in the store for suites nothing" in result.output
