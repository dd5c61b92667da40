"""The cycle estimate of the emulated Cortex-M (harness/cycles, firmware/qemu-plugin), with real
QEMU: microbenchmarks whose cycles are computed by hand from the Cortex-M3 table (exact where
the model is exact, within its bound otherwise), per-operator counts that add up to the whole,
and estimates of the quickstart's int8 cases that are identical on two runs."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cycles.model import cycles_of, estimate, load_table
from harness.cycles.plugin import PLUGIN, build_plugin, read_log, read_totals
from harness.deadline import Deadline
from harness.runners.base import Job
from harness.runners.firmware import FirmwareRunner
from harness.transports import open_transport
from tests.conftest import MODELS, REPO, require_tool

PORT = REPO / "firmware" / "ports" / "qemu-mps2"
BENCH = REPO / "firmware" / "build" / "qemu-mps2" / "cyclebench.elf"
M3 = load_table("cortex-m3")

# Hand-computed from cortex-m3.yaml (ARM DDI 0337I 3.3.1 Table 3.1), P = 2 assumed, P in 1..3.
# Every region starts with its marker, MOV r10,r10: 1 ALU cycle. (name, estimate, true low, true high)
EXPECTED = [
    ("LDR x50 back to back", 1 + 2 + 49 * 1, 52, 52),            # first 2, the rest pipelined: 1
    ("ADDS x100", 1 + 100, 101, 101),
    ("MULS x50", 1 + 50, 51, 51),
    ("MLA x50", 1 + 50 * 2, 101, 101),
    ("(LDR; ADDS) x50", 1 + 50 * (2 + 1), 151, 151),              # an ALU between: no pipelining
    ("(STR; ADDS) x50", 1 + 50 * (2 + 1), 151, 151),
    ("LDM {4 regs} x20", 1 + 20 * (1 + 4), 101, 101),             # 1 + N
    ("UMULL x20", 1 + 20 * 4, 1 + 20 * 3, 1 + 20 * 5),            # 3 to 5
    ("UDIV x10", 1 + 10 * 7, 1 + 10 * 2, 1 + 10 * 12),            # 2 to 12
    # MOVS, then 100 x (ADDS; SUBS; BNE back): 99 taken (1 + P), the last not taken (1); the
    # model assumes a backward branch taken, so it counts 100 x (1 + P)
    ("loop x100", 1 + 1 + 200 + 100 * 3, 1 + 1 + 200 + 99 * 2 + 1, 1 + 1 + 200 + 99 * 4 + 1),
    ("(CMP; BNE fwd, not taken) x20", 1 + 20 + 20 * 1, 41, 41),  # forward: assumed not taken
    ("(BL; BX LR) x10", 1 + 20 * 3, 1 + 20 * 2, 1 + 20 * 4),     # 1 + P each
]


def run_bench(tmp_path: Path, branches: str) -> Path:
    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")
    require_tool("gcc")
    subprocess.run(["make", "-s", "-C", str(PORT), "cyclebench"], check=True, capture_output=True)
    build_plugin()
    log = tmp_path / f"bench-{branches}.log"
    subprocess.run(["qemu-system-arm", "-M", "mps2-an385", "-kernel", str(BENCH), "-nographic",
                    "-monitor", "none", "-semihosting-config", "enable=on,target=native",
                    "-icount", "shift=3,sleep=off",
                    "-plugin", f"{PLUGIN},out={log},branches={branches}"], check=True, timeout=60,
                   capture_output=True)
    return log


def test_microbenchmarks_match_hand_computed_cycles(tmp_path: Path) -> None:
    log = run_bench(tmp_path, "assumed")
    _names, records, _end = read_log(log)
    assert len(records) == 1 and len(records[0]) == len(EXPECTED)
    for (name, expected, true_low, true_high), counts in zip(EXPECTED, records[0]):
        got = cycles_of(counts, M3, exact_branches=False)
        assert got.cycles == expected, (name, counts)
        assert got.low <= true_low <= true_high <= got.high, (name, got)  # the bound holds the truth
        if true_low == true_high and "B" not in name:  # no branch, divide, long multiply: exact
            assert got.low == got.cycles == got.high, name


def test_exact_branch_tracking_counts_taken_branches(tmp_path: Path) -> None:
    _names, records, _end = read_log(run_bench(tmp_path, "exact"))
    loop, forward = records[0][9], records[0][10]
    assert loop["BCOND_TAKEN"] == 99 and forward["BCOND_TAKEN"] == 0
    got = cycles_of(loop, M3, exact_branches=True)
    assert got.cycles == 1 + 1 + 200 + 99 * 3 + 1  # P = 2 on the 99 taken: the hand value
    assert (got.low, got.high) == (1 + 1 + 200 + 99 * 2 + 1, 1 + 1 + 200 + 99 * 4 + 1)
    assert cycles_of(forward, M3, exact_branches=True).high == 41  # known not taken: exact


def test_per_operator_counts_add_up_to_the_whole(tmp_path: Path) -> None:
    log = run_bench(tmp_path, "assumed")
    _names, records, _end = read_log(log)
    totals = read_totals(log)
    for name in totals["T"]:
        inside = sum(op[name] for run in records for op in run)
        assert inside == totals["T"][name] - totals["O"][name], name


@pytest.mark.slow
def test_firmware_operators_add_up_and_repeat(tmp_path: Path) -> None:
    """The engine's markers on a real model: every instruction executed is either in one
    operator or outside every invocation, and each invocation of one input counts the same."""
    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")
    board = open_transport("qemu://mps2-an385", qemu={"icount_shift": 3}, serial={"read_timeout": 5},
                           cycles={"core": "cortex-m3", "clock_mhz": 25, "flash_wait_states": 0})
    board.open(Deadline(300))
    try:
        model = MODELS / "digits-cnn" / "tiny-int8.tflite"
        m = FirmwareRunner(board, read_timeout=5).measure(
            Job(model_path=model, dataset_path=None, warmup_count=2, warmup_min_seconds=0,
                measure_count=20, measure_min_seconds=0), Deadline(120))
        log = board.cycle_log
        assert m.cycles is not None and m.cycles["model"] == "cortex-m3-trm/v1"
        ops = m.cycles["operators"]
        assert [o["op"] for o in ops] == ["CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]
        assert sum(o["cycles"] for o in ops) == m.cycles["cycles"]
        assert m.cycles["invocations"] >= 23 and m.cycles["invocations_matching"] >= 20
        assert m.cycles["latency_us"] == m.cycles["cycles"] / 25
        board.qmp.execute("quit")
        for _ in range(100):  # the plugin writes its totals when QEMU exits
            if "\nO " in log.read_text():
                break
            time.sleep(0.1)
        _names, records, _end = read_log(log)
        totals = read_totals(log)
        for name in totals["T"]:
            assert sum(op[name] for run in records for op in run) == totals["T"][name] - totals["O"][name]
    finally:
        board.close()


def test_estimate_picks_the_invocation_without_the_timer_interrupt() -> None:
    plain = [{"ALU": 10}, {"ALU": 5, "LD": 2}]
    ticked = [{"ALU": 10}, {"ALU": 12, "LD": 2}]  # SysTick's handler landed in operator 1
    est = estimate([plain, ticked, plain, [{"ALU": 1}]], ["CONV_2D", "SOFTMAX"], M3,
                   clock_mhz=25, exact_branches=False)
    assert est["cycles"] == 19 and est["invocations"] == 3 and est["invocations_matching"] == 2
    assert [o["cycles"] for o in est["operators"]] == [10, 9] and est["exact"]


@pytest.mark.slow
def test_quickstart_int8_estimates_identical_on_two_runs(tmp_path: Path) -> None:
    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")
    figures = []
    for n in range(2):
        store = tmp_path / f"run{n}.db"
        done = subprocess.run([sys.executable, "-m", "harness.cli", "run", "suites/quickstart-int8.yaml",
                               "--device", "qemu-cortex-m", "--store", str(store)],
                              cwd=REPO, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        with sqlite3.connect(store) as db:
            rows = db.execute("select variant, estimated_cycles, estimated_latency_us, cycle_model, extra "
                              "from results order by variant").fetchall()
        figures.append([(v, c, us, m, json.loads(e)["cycles"]["operators"]) for v, c, us, m, e in rows])
    assert [f[0] for f in figures[0]] == ["int8", "pruned-int8", "tiny-int8"]
    assert all(c > 0 and m == "cortex-m3-trm/v1" for _v, c, _us, m, _ops in figures[0])
    assert figures[0] == figures[1]


def _estimate_row(run_id: str, ops: list[tuple[str, int]], model: str = "cortex-m3-trm/v1") -> dict:
    total = sum(c for _op, c in ops)
    return {"run_id": run_id, "device": "qemu-cortex-m", "family": "digits-cnn", "variant": "int8",
            "status": "ok", "emulated": True, "latency_p50_us": 29415.0, "estimated_cycles": total,
            "estimated_latency_us": total / 25, "cycle_model": model,
            "extra": {"cycles": {"operators": [{"index": i, "op": op, "cycles": c}
                                               for i, (op, c) in enumerate(ops)]}}}


@pytest.mark.slow
def test_compare_gates_on_estimated_cycles_with_per_operator_diff(tmp_path: Path) -> None:
    from harness.results.store import Store

    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store(url)
    runs = {"base": [("CONV_2D", 1000), ("SOFTMAX", 50)], "same": [("CONV_2D", 1000), ("SOFTMAX", 50)],
            "slower": [("CONV_2D", 1000), ("SOFTMAX", 51)]}
    for run_id, ops in runs.items():
        store.start_run({"run_id": run_id, "suite": "quickstart-int8", "devices": ["qemu-cortex-m"]})
        store.record_result(_estimate_row(run_id, ops), [29415.0] * 20)
        store.finish_run(run_id, "complete")

    def compare(base: str, new: str, pct: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "harness.cli", "compare", base, new, "--store", url,
                               "--cycles-pct", pct], cwd=REPO, capture_output=True, text=True, timeout=120)

    same = compare("base", "same", "0")
    assert same.returncode == 0, same.stdout + same.stderr
    assert "unchanged" in same.stdout
    slower = compare("base", "slower", "0")  # one cycle more is real: the estimate is exact
    assert slower.returncode == 4, slower.stdout + slower.stderr
    assert "regressed" in slower.stdout and "op 1 SOFTMAX: 50 -> 51 (+1)" in slower.stdout
    assert compare("base", "slower", "1").returncode == 0  # 0.1 % is within a 1 % limit


def test_calibration_stores_measured_over_estimated_and_the_report_shows_it(tmp_path: Path) -> None:
    """A real Cortex-M3 board timing with its DWT cycle counter (profile cycles.dwt_timer) is
    calibrated against the newest estimate of the same model; the run report shows both."""
    from harness.cycles.calibration import with_calibration
    from harness.config.profiles import DeviceProfile
    from harness.report.render import render_run_report
    from harness.results.store import Store

    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.start_run({"run_id": "nightly", "suite": "quickstart-int8", "devices": ["qemu-cortex-m", "mps2-board"]})
    estimate = _estimate_row("nightly", [("CONV_2D", 1_900_000), ("SOFTMAX", 100_000)])
    store.record_result({**estimate, "model_sha256": "ab" * 32}, [29415.0])
    board = DeviceProfile(name="mps2-board", description="a real MPS2+ AN385", tier="iot",
                          transport="serial:///dev/ttyUSB0", runtime="edge-harness-fw", compute_tops=None,
                          ram="4 MiB", flash="4 MiB", model_volume_cap="1 MB",
                          cycles={"core": "cortex-m3", "clock_mhz": 25, "dwt_timer": True})
    row = {"run_id": "nightly", "device": "mps2-board", "family": "digits-cnn", "variant": "int8",
           "status": "ok", "model_sha256": "ab" * 32, "latency_p50_us": 88_000.0}  # 2.2 M cycles
    row["extra"] = with_calibration(store, board, row)
    cal = row["extra"]["cycle_calibration"]
    assert cal["measured_cycles"] == 2_200_000 and cal["estimated_cycles"] == 2_000_000
    assert cal["ratio"] == pytest.approx(1.1) and cal["error_pct"] == pytest.approx(-100 / 11)
    assert cal["cycle_model"] == "cortex-m3-trm/v1" and cal["estimate_device"] == "qemu-cortex-m"
    store.record_result(row, [88_000.0])
    store.finish_run("nightly", "complete")
    unrelated = {**row, "model_sha256": "cd" * 32, "extra": None}  # another model: nothing to calibrate against
    assert "cycle_calibration" not in (with_calibration(store, board, unrelated) or {})

    html = render_run_report(store, "nightly", tmp_path / "report").read_text()
    assert "Cycle estimates (emulated Cortex-M)" in html
    assert "2,000,000" in html and "cortex-m3-trm/v1" in html and "0 CONV_2D 1,900,000" in html
    assert "measured (DWT)" in html and "2,200,000" in html and "-9.1 %" in html
