"""Machine conditions recorded with every result (harness/lab/conditions.py) and the busy warning."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from typer.testing import CliRunner

from harness.lab import conditions
from harness.cli import app
from harness.lab.conditions import Snapshot
from harness.results.store import Store
from tests.conftest import REPO
from tests.suite_files import write_suite


@contextmanager
def another_harness_run() -> Iterator[int]:
    """A process that looks like someone else's `harness run`: started through a shell that exits,
    so it is not this test's child (this process's own children are its measurements)."""
    shell = subprocess.run(["sh", "-c", f"'{sys.executable}' -c 'import time; time.sleep(120)' harness run x.yaml "
                                        ">/dev/null 2>&1 & echo $!"], capture_output=True, text=True, check=True)
    pid = int(shell.stdout)
    try:
        yield pid
    finally:
        os.kill(pid, signal.SIGKILL)


def test_conditions_between_two_snapshots() -> None:
    before = Snapshot(at=100.0, load_1m=0.4, cpu_busy_s=50.0, cpu_total_s=400.0, own_cpu_s=3.0, throttle_events=7)
    after = Snapshot(at=102.0, load_1m=0.6, cpu_busy_s=54.0, cpu_total_s=404.0, own_cpu_s=5.0, throttle_events=9)
    found = conditions.around(before, after)
    c = found["controller"]
    assert c["load_before"] == 0.4 and c["load_after"] == 0.6
    assert c["others_cores"] == 1.0  # 4 CPU-seconds in 2 s, 2 of them the measurement's own
    assert c["throttle_events"] == 2 and "CPU throttled (2 events)" in found["busy"]
    assert c["cpu_count"] >= 1 and isinstance(c["harness_runs"], int)


def test_busy_reasons() -> None:
    quiet = {"load_before": 0.8, "load_after": 1.1, "cpu_count": 4, "others_cores": 0.2, "harness_runs": 0,
             "throttle_events": 0}
    assert conditions.busy_reasons(quiet) == []
    loaded = {**quiet, "load_after": 6.3, "others_cores": 1.6, "harness_runs": 2, "throttle_events": None}
    assert conditions.busy_reasons(loaded) == ["load average 6.3 on 4 cores", "other processes used 1.6 of 4 cores",
                                               "2 other harness run(s) in flight"]
    # On 2 cores half a core of others is busy; on 16, others must take half of the 15 free cores.
    assert conditions.busy_reasons({**quiet, "cpu_count": 2, "others_cores": 0.5})
    assert not conditions.busy_reasons({**quiet, "cpu_count": 16, "others_cores": 6.0})


def test_merge_repetitions_and_summary() -> None:
    def part(load: float, busy: list[str]) -> dict:
        return {"controller": {"load_before": load, "load_after": load + 1, "cpu_count": 2, "others_cores": load,
                               "cpu_freq_khz": None, "cpu_governor": None, "harness_runs": 0,
                               "throttle_events": None}, "busy": busy}

    merged = conditions.merge([part(0.2, []), part(1.5, ["x"]), part(0.3, ["x", "y"])])
    assert merged["controller"]["load_before"] == 0.2 and merged["controller"]["load_after"] == 1.3
    assert merged["controller"]["others_cores"] == 1.5 and merged["busy"] == ["x", "y"]
    assert merged["repetitions"] == 3
    rows = [{"conditions": {"busy": ["x"]}}, {"conditions": {"busy": []}}, {"conditions": None}]
    assert conditions.busy_summary(rows).startswith("host busy during 1 of 2 measured cases (x)")
    assert conditions.busy_summary(rows[1:]) is None


def test_another_harness_run_is_seen() -> None:
    with another_harness_run() as pid:
        assert pid in conditions.harness_run_pids()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "harness", "run", "x.yaml"])
    try:
        assert child.pid not in conditions.harness_run_pids()  # our own child: a measurement of ours
    finally:
        child.kill()
        child.wait()


def test_run_records_conditions_repetitions_and_warns_when_busy(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, families={"digits-cnn": ["tiny-int8"]})
    db = str(tmp_path / "r.sqlite")
    with another_harness_run():
        result = CliRunner().invoke(app, ["run", str(suite), "--device", "host", "--store", db, "--repeat", "3",
                                          "--profiles", str(REPO / "device_profiles")])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "warning: host busy before the run" in out and "other harness run(s) in flight" in out
    assert "warning: host busy during 1 of 1 measured cases" in out
    row = Store(db).results()[0]
    c = row["conditions"]
    assert {"load_before", "load_after", "others_cores", "cpu_count", "harness_runs", "throttle_events",
            "cpu_freq_khz", "cpu_governor"} <= set(c["controller"])
    assert c["controller"]["harness_runs"] >= 1 and c["repetitions"] == 3 and c["busy"]
    assert "temperature_c" in c  # the board's own, from its agent
    medians = row["latency_repeat_p50_us"]
    assert len(medians) == 3 and all(m > 0 for m in medians)
    assert row["latency_n"] == len(Store(db).samples(row["id"])) >= 3 * 30  # pooled samples
