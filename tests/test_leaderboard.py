"""The annual leaderboard from a real SQLite store: medians, movement, new entrants, escaping."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.store import Store
from tests.reportdata import HOSTILE

UTC = dt.timezone.utc


def night(store: Store, when: dt.datetime, p50: dict[str, float]) -> None:
    run_id = store.start_run({"run_id": f"n-{when:%Y%m%d}", "suite": "nightly", "started_at": when,
                              "devices": list(p50)})
    for device, value in p50.items():
        store.record_result({"run_id": run_id, "device": device, "family": "f", "variant": "int8",
                             "status": "ok", "runtime": "litert", "emulated": False, "latency_p50_us": value,
                             "model_bytes": 1000, "rss_peak_bytes": 1000, "accuracy_top1": 0.9,
                             "power_status": "not measured"})
    store.finish_run(run_id, "complete")


@pytest.fixture
def board(tmp_path: Path) -> tuple[Path, Path]:
    store = Store(str(tmp_path / "s.sqlite"))
    # 2025: a is fastest, b second. 2026: b overtakes a; the hostile newcomer enters.
    for day in (1, 2, 3):
        night(store, dt.datetime(2025, 3, day, tzinfo=UTC), {"ref": 100, "a": 25, "b": 50})
    for day, a in ((1, 100), (2, 300), (3, 200)):  # a's median over 2026: 200
        night(store, dt.datetime(2026, 3, day, tzinfo=UTC), {"ref": 100, "a": a, "b": 20, HOSTILE: 40})
    night(store, dt.datetime(2027, 1, 1, tzinfo=UTC), {"ref": 100, "a": 1, "b": 1})  # not 2026
    definition = tmp_path / "annual.yaml"
    definition.write_text("title: Annual\nperiod: {from: 2026-01-01, to: 2026-12-31}\nsuites: [nightly]\n"
                          "reference: ref\nweights: {delay: 1, power: 0, precision: 0, volume: 0}\n")
    return tmp_path, definition


def test_leaderboard_medians_movement_and_new_entrants(board: tuple[Path, Path]) -> None:
    tmp, definition = board
    result = CliRunner().invoke(app, ["leaderboard", "--year", "2026", "--definition", str(definition),
                                      "--store", str(tmp / "s.sqlite"), "--out", str(tmp / "out")])
    assert result.exit_code == 0, result.output
    assert "the median, per device × model, of every successful nightly result of 2026" in result.output
    md = (tmp / "out" / "leaderboard.md").read_text()
    rows = {line.split(" | ")[2]: line for line in md.splitlines() if line.startswith("| ") and "---" not in line}
    # b: 100/20 → 5000, up from 2nd; hostile: 2500, new; ref 1000, third both years; a: median 200
    # → 500, but its nights (100, 200, 300) give an interval reaching 1000: tied with ref
    assert rows["b"].startswith("| 1 | ▲1 | b |") and "| 5000 |" in rows["b"]
    escaped = "&lt;script&gt;alert\\(1\\)&lt;/script&gt;"
    assert rows[escaped].startswith(f"| 2 | new | {escaped} |") and "| 2500 |" in rows[escaped]
    assert rows["ref"].startswith("| =3 | = | ref |") and "| 1000 |" in rows["ref"]
    assert rows["a"].startswith("| =3 | ▼2 | a |") and "| 500 | 333–1000 |" in rows["a"]
    html = (tmp / "out" / "leaderboard.html").read_text()
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<svg") == 1 and "<table" in html and "new</span>" in html


def test_leaderboard_without_the_reference_is_a_clear_error(board: tuple[Path, Path]) -> None:
    tmp, definition = board
    result = CliRunner().invoke(app, ["leaderboard", "--year", "2024", "--definition", str(definition),
                                      "--store", str(tmp / "s.sqlite"), "--out", str(tmp / "out")])
    assert result.exit_code == 2
    assert "reference device 'ref' has no successful result of suites nightly in 2024" in result.output
