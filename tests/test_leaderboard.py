"""The annual leaderboard from a real SQLite store: medians, movement, new entrants, escaping."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.results.store import Store
from tests.reportdata import HOSTILE

UTC = dt.timezone.utc


def night(store: Store, when: dt.datetime, p50: dict[str, float]) -> None:
    results_at(store, when, p50, f"n-{when:%Y%m%d}")


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
    assert "the median, per device × model, of every night's successful result of 2026" in result.output
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


# ------------------------------------------------------------------ nights, intervals, reference, terminal


def results_at(store: Store, when: dt.datetime, p50: dict[str, float], run_id: str) -> None:
    store.start_run({"run_id": run_id, "suite": "nightly", "started_at": when, "devices": list(p50)})
    for device, value in p50.items():
        store.record_result({"run_id": run_id, "device": device, "family": "f", "variant": "int8",
                             "status": "ok", "runtime": "litert", "emulated": False, "latency_p50_us": value,
                             "model_bytes": 1000, "rss_peak_bytes": 1000, "accuracy_top1": 0.9,
                             "power_status": "not measured"})
    store.finish_run(run_id, "complete")


def leaderboard(tmp: Path, *extra: str, timezone: str = "UTC", reference: str = "ref",
                store: str | None = None) -> tuple[int, str, str]:
    definition = tmp / "annual.yaml"
    definition.write_text(f"title: Annual\nperiod: {{from: 2026-01-01, to: 2026-12-31}}\nsuites: [nightly]\n"
                          f"reference: {reference}\ntimezone: {timezone}\n"
                          "weights: {delay: 1, power: 0, precision: 0, volume: 0}\n")
    result = CliRunner().invoke(app, ["leaderboard", "--year", "2026", "--definition", str(definition),
                                      "--store", store or str(tmp / "s.sqlite"), "--out", str(tmp / "out"), *extra])
    md = (tmp / "out" / "leaderboard.md").read_text() if result.exit_code == 0 else ""
    return result.exit_code, result.output, md


def md_rows(md: str) -> dict[str, list[str]]:
    """device -> [rank, move, device, tier, composite, interval, nights, covers]"""
    return {cells[2]: cells for line in md.splitlines() if line.startswith("| ") and "---" not in line
            for cells in [[c.strip() for c in line.strip("|").split("|")]] if cells[0] != "rank"}


def test_several_runs_in_one_night_count_once_the_last_good_one(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "s.sqlite"))
    # three manual runs on one day: one night, and the last (200) counts, not the median of the three
    for hour, a in ((9, 100), (14, 300), (16, 200)):
        results_at(store, dt.datetime(2026, 3, 1, hour, tzinfo=UTC), {"ref": 100, "a": a}, f"r{hour}")
    # a later run whose result for `a` failed: the night's last *good* result still counts
    results_at(store, dt.datetime(2026, 3, 1, 20, tzinfo=UTC), {"ref": 100}, "r20")
    store.record_result({"run_id": "r20", "device": "a", "family": "f", "variant": "int8", "status": "failed",
                         "runtime": "litert", "emulated": False, "reason": "board hung"})
    code, output, md = leaderboard(tmp_path)
    assert code == 0, output
    rows = md_rows(md)
    assert rows["a"][4] == "500" and rows["a"][6] == "1" and rows["ref"][6] == "1"  # 100/200 x 1000


@pytest.mark.parametrize(("timezone", "nights"), [("UTC", "3"), ("Europe/Berlin", "2"), ("America/New_York", "1")])
def test_a_night_is_a_calendar_date_in_the_labs_time_zone(tmp_path: Path, timezone: str, nights: str) -> None:
    store = Store(str(tmp_path / "s.sqlite"))
    # 1 March 23:30 and 2 March 00:30 UTC: two dates in UTC; one in Berlin (00:30 and 01:30 on
    # 2 March) and one in New York (18:30 and 19:30 on 1 March). 1 January 02:00 UTC is a night of
    # 2026 in UTC and Berlin, but 31 December 2025 in New York: not in the year at all.
    results_at(store, dt.datetime(2026, 3, 1, 23, 30, tzinfo=UTC), {"ref": 100, "a": 50}, "late")
    results_at(store, dt.datetime(2026, 3, 2, 0, 30, tzinfo=UTC), {"ref": 100, "a": 50}, "early")
    results_at(store, dt.datetime(2026, 1, 1, 2, 0, tzinfo=UTC), {"ref": 100, "a": 50}, "new-year")
    code, output, md = leaderboard(tmp_path, timezone=timezone)
    assert code == 0, output
    assert md_rows(md)["a"][6] == nights and f"a calendar date in {timezone}" in " ".join(output.split())


def test_an_unknown_time_zone_is_a_clear_error(tmp_path: Path) -> None:
    Store(str(tmp_path / "s.sqlite"))
    code, output, _ = leaderboard(tmp_path, timezone="Mars/Olympus")
    assert code == 2 and "unknown time zone 'Mars/Olympus'" in output and "annual.yaml:5" in output


def test_an_interval_from_fewer_than_3_nights_is_marked(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "s.sqlite"))
    for day in (1, 2, 3):
        p50 = {"ref": 100, "a": 40 + day, "b": 80 + day}
        if day == 3:
            del p50["b"]  # b: two nights only
        results_at(store, dt.datetime(2026, 3, day, 22, tzinfo=UTC), p50, f"n{day}")
    code, output, md = leaderboard(tmp_path)
    assert code == 0, output
    rows = md_rows(md)
    assert rows["b"][6] == "2" and rows["b"][5].endswith("(2 nights: too few for an interval)")
    assert rows["a"][6] == "3" and "too few" not in rows["a"][5]
    printed = next(line for line in output.splitlines() if line.startswith("│") and " b " in line)
    assert "(2 nights: too few for an interval)" in printed
    assert "2 nights: too few" in (tmp_path / "out" / "leaderboard.html").read_text()


def test_the_ranking_table_is_printed_in_the_terminal(board: tuple[Path, Path]) -> None:
    tmp, definition = board
    result = CliRunner().invoke(app, ["leaderboard", "--year", "2026", "--definition", str(definition),
                                      "--store", str(tmp / "s.sqlite"), "--out", str(tmp / "out")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(line for line in lines if "rank" in line and "device" in line)
    assert [w for w in header.replace("┃", " ").replace("│", " ").split()] == [
        "rank", "device", "tier", "score", "interval", "movement", "nights"]
    table = {cells[1]: cells for line in lines if line.startswith("│")
             for cells in [[c.strip() for c in line.strip("│").split("│")]]}
    assert table["b"] == ["1", "b", "unknown", "5000", "5000–5000", "▲1", "3"]
    assert table["a"] == ["=3", "a", "unknown", "500", "333–1000", "▼2", "3"]
    assert table[HOSTILE][:2] == ["2", HOSTILE]  # printed as named, not as rich markup


def test_a_reference_without_results_names_the_devices_that_have_some(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "s.sqlite"))
    for day in (1, 2, 3):
        results_at(store, dt.datetime(2026, 3, day, 22, tzinfo=UTC), {"host": 100, "host-tflm": 3000},
                   f"n{day}")
    # asked for on the command line: an error that names the devices with results and the option
    code, output, _ = leaderboard(tmp_path, "--reference", "rpi5", reference="host")
    assert code == 2
    assert ("reference device 'rpi5' (--reference) has no successful result of suites nightly in 2026; "
            "devices with results: host, host-tflm") in " ".join(output.split())
    # the definition's reference (rpi5) has none: the device with results on the most models, said so
    code, output, md = leaderboard(tmp_path, reference="rpi5")
    assert code == 0, output
    said = " ".join(output.split())
    assert "The definition's reference device 'rpi5' has no successful result of suites nightly in 2026" in said
    assert "scores are against 'host'" in said and "host, host-tflm" in said and "--reference DEVICE" in said
    assert "Reference: **host** = 1000" in md and "reference DEVICE" in md
    assert md_rows(md)["host"][4] == "1000" and md_rows(md)["host\\-tflm"][4] == "33"
    code, output, md = leaderboard(tmp_path, "--reference", "host-tflm", reference="rpi5")
    assert code == 0 and md_rows(md)["host"][4] == "30000" and "note:" not in output


@pytest.mark.slow
def test_the_readme_tour_command_works_after_a_quickstart_run(tmp_path: Path) -> None:
    """`make demo` then `harness leaderboard --year 2026`: only `host` has results, the annual
    definition's reference is rpi5. The command ranks against host and says why."""
    from tests.conftest import REPO
    from tests.suite_files import write_suite

    suite = write_suite(tmp_path, families={"digits-cnn": ["int8"]}, name="quickstart")  # the suite's name
    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    run = CliRunner().invoke(app, ["run", str(suite), "--device", "host", "--store", db,
                                   "--profiles", str(REPO / "device_profiles")])
    assert run.exit_code in (0, 1), run.output
    year = Store(db).runs()[0]["started_at"].year
    result = CliRunner().invoke(app, ["leaderboard", "--year", str(year), "--definition",
                                      str(REPO / "reports" / "annual-2026.yaml"), "--store", db,
                                      "--profiles", str(REPO / "device_profiles"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "reference device 'rpi5' has no successful result of suites quickstart" in said
    assert "scores are against 'host'" in said and "--reference DEVICE" in said
    row = next(line for line in result.output.splitlines() if line.startswith("│") and " host " in line)
    assert [c.strip() for c in row.strip("│").split("│")] == [
        "1", "host", "workstation", "1000", "1000–1000 (1 night: too few for an interval)", "new", "1"]


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'any.sqlite'}"
    from tests.pg_server import PostgresServer

    server = PostgresServer().start()
    request.addfinalizer(server.stop)
    return server.new_database()


def test_the_last_good_result_of_each_night_with_nulls_on_sqlite_and_postgres(tmp_path: Path, any_store: str) -> None:
    """The SQL joins each group's run ids and figures into aligned strings: a NULL (energy not
    measured that run) must not shift them, on either database."""
    store = Store(any_store)
    berlin_night = [(dt.datetime(2026, 3, 1, 22, 0, tzinfo=UTC), 400.0, None),  # 23:00 in Berlin
                    (dt.datetime(2026, 3, 1, 23, 30, tzinfo=UTC), 200.0, 7.0)]  # 00:30 on 2 March
    nights = [(dt.datetime(2026, 3, 2, 21, 0, tzinfo=UTC), 100.0, 5.0),  # 22:00 on 2 March: same night as 00:30
              *berlin_night, (dt.datetime(2026, 3, 3, 20, 0, tzinfo=UTC), 300.0, None)]
    for i, (when, p50, energy) in enumerate(sorted(nights)):
        run_id = f"r{i}"
        store.start_run({"run_id": run_id, "suite": "nightly", "started_at": when, "devices": ["ref", "a"]})
        for device, value in (("ref", 100.0), ("a", p50)):
            store.record_result({"run_id": run_id, "device": device, "family": "f", "variant": "int8",
                                 "status": "ok", "runtime": "litert", "emulated": False, "latency_p50_us": value,
                                 "model_bytes": 1000, "rss_peak_bytes": 1000, "accuracy_top1": 0.9,
                                 "energy_uj": energy if device == "a" else 10.0,
                                 "power_status": "not measured" if energy is None and device == "a" else "measured"})
        store.finish_run(run_id, "complete")
    from harness.report.definition import ReportDefinition
    from harness.report.leaderboard import year_rows

    definition = ReportDefinition.model_validate({"title": "t", "period": {"from": "2026-01-01"}, "suites": ["nightly"],
                                                  "reference": "ref", "timezone": "Europe/Berlin"})
    rows, sets = year_rows(store, definition, 2026)
    a = next(r for r in rows if r["device"] == "a")
    # Berlin nights: 1 March (400), 2 March (200 at 00:30, then 100 at 22:00: the last counts), 3 March (300)
    assert a["nights"] == 3 and sorted(sets[("a", "f", "int8")]) == [100.0, 300.0, 400.0]
    assert a["latency_p50_us"] == 300.0 and a["energy_uj"] == 5.0  # energy measured on one kept night only
    code, output, md = leaderboard(tmp_path, timezone="Europe/Berlin", store=any_store)
    assert code == 0, output
    assert md_rows(md)["a"][6] == "3" and md_rows(md)["a"][4] == "333"
