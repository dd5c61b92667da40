"""Fault injection with real parts, asserting outcomes: a QEMU Cortex-M board that hangs (QMP
`stop`), crashes (kill -9) or resets (QMP `system_reset`) mid-case, an SSH link cut mid-suite, a
board that fails its health check, one that is unreachable, one in maintenance, and one whose
every case hangs. For each: one stored row per planned case per board (none lost, none
duplicated), the right board marked in the store's `boards` table, the rest of the suite done.

The emulated board is the real transport with a tap on the commands the harness writes, so each
fault lands at an exact point of the protocol (the Nth EVAL frame of a given case, a model
upload) instead of wherever a timer happens to fire. The serial read timeout is short (0.5 s, the
retransmission timer's initial value and floor; it backs off to 4 s, harness/rto.py) so that a hung
board is noticed in about 20 s. How many retransmissions and restarts a fault costs depends on the
machine's load; the results, the rows and the board's health do not, and those are asserted.
"""

from __future__ import annotations

import os
import shutil
import signal
import struct
from pathlib import Path
from typing import Any, Callable

import pytest
from typer.testing import CliRunner

from harness.results import ci_outputs
from harness.config import profiles
from harness.cli import app
from harness.lab.board import open_runner
from harness.deadline import Deadline
from harness.lab.fleet import Board, run_boards
from harness.lab.health import CHECK_FILE
from harness.config.profiles import DeviceProfile
from harness.runners.base import Runner
from harness.runners.firmware import FirmwareRunner
from harness.runners.frames import Cmd, Frame, FrameReader
from harness.lab.session import PlannedCase, finish_run, initial_state, open_run, plan, run_device
from harness.results.store import Store
from harness.config.suites import Suite, load_suite
from harness.transports.qemu_mcu import DEFAULT_ELF, QemuMcuTransport
from tests.conftest import MODELS, REPO, require, require_tool
from tests.sshd_server import Sshd, TcpProxy, free_port, start_sshd
from tests.suite_files import write_emulated_mcu_profile
from tests.test_ssh_run import CutDuringSecondCase, board_profile

pytestmark = pytest.mark.slow
VARIANTS = ["int8", "pruned-int8", "tiny-int8"]
READ_TIMEOUT_S = 0.5


# ------------------------------------------------------------------ profiles and suites


def qemu_profile(directory: Path, name: str = "qemu-board") -> DeviceProfile:
    return profiles.load_profile(write_emulated_mcu_profile(
        directory, name, "the emulated Cortex-M3 with a short serial deadline, for fault injection",
        f"qemu:\n  icount_shift: 3\nserial:\n  read_timeout: {READ_TIMEOUT_S} s\n"))


def small_suite(directory: Path, timeout: str = "60 s", name: str = "faults", min_seconds: str = "0 s") -> Suite:
    path = directory / f"{name}.yaml"
    path.write_text(f"""\
name: {name}
models:
  - path: {MODELS / 'digits-cnn'}
    variants: [{', '.join(VARIANTS)}]
run:
  warmup: {{count: 2, min_seconds: 0 s}}
  measure: {{count: 10, min_seconds: {min_seconds}}}
  accuracy_samples: 32
  timeout: {timeout}
""")
    return load_suite(path)


# ------------------------------------------------------------------ the tapped board


class TappedBoard(QemuMcuTransport):
    """The real emulated board; every command frame the harness writes goes past `on_command`
    once it is on the wire. `boots` counts emulator starts (1 + restarts by recovery)."""

    def __init__(self, url: str, on_command: Callable[["TappedBoard", Frame], None], **options: Any) -> None:
        super().__init__(url, **options)
        self.on_command, self.tap, self.boots = on_command, FrameReader(), 0

    def open(self, deadline: Deadline) -> None:
        super().open(deadline)
        self.boots += 1

    def write(self, data: bytes, deadline: Deadline) -> None:
        super().write(data, deadline)
        for frame in self.tap.feed(data):
            self.on_command(self, frame)

    def kill(self) -> None:
        """kill -9 of the emulator: the board dies without a word."""
        assert self._proc is not None
        os.kill(self._proc.pid, signal.SIGKILL)
        self._proc.wait()


class FaultAtEval:
    """Progress hooks + tap: `action(board)` once, at the `nth` EVAL command of case `variant`
    (the accuracy stream, mid-measurement). `variant=None` never fires: a clean run."""

    def __init__(self, variant: str | None, action: Callable[[TappedBoard], None], nth: int = 10) -> None:
        self.variant, self.action, self.nth = variant, action, nth
        self.current: str | None = None
        self.evals, self.fired = 0, False
        self.rows: list[dict[str, Any]] = []

    def case_started(self, planned: PlannedCase) -> None:
        self.current, self.evals = planned.case.variant, 0

    def case_done(self, planned: PlannedCase, row: dict[str, Any]) -> None:
        self.rows.append(dict(row))

    def on_command(self, board: TappedBoard, frame: Frame) -> None:
        if self.fired or frame.type != Cmd.EVAL or self.current != self.variant:
            return
        self.evals += 1
        if self.evals == self.nth:
            self.fired = True
            self.action(board)


class Connector:
    """What `open_runner` does for this board, with the tapped transport; keeps the handles."""

    def __init__(self, device: DeviceProfile, on_command: Callable[[TappedBoard, Frame], None]) -> None:
        self.device, self.on_command = device, on_command
        self.boards: list[TappedBoard] = []
        self.runners: list[FirmwareRunner] = []

    def __call__(self) -> Runner:
        board = TappedBoard(self.device.transport or "", self.on_command, **self.device.transport_options())
        board.open(Deadline(300))  # builds the firmware first when it is missing
        runner = FirmwareRunner(board, read_timeout=READ_TIMEOUT_S)
        self.boards.append(board)
        self.runners.append(runner)
        return runner


def run_one(store: Store, suite: Suite, device: DeviceProfile, connect: Callable[[], Runner],
            progress: Any = None) -> str:
    run_id = open_run(store, suite, [device.name])
    run_device(store, run_id, suite, device, connect, plan(suite, device), initial_state(store, device.name),
               progress)
    finish_run(store, run_id, True)
    return run_id


def assert_one_row_per_case(rows: list[dict[str, Any]], devices: list[str]) -> None:
    keys = [(r["device"], r["family"], r["variant"]) for r in rows]
    assert len(keys) == len(set(keys)), f"duplicated: {sorted(keys)}"  # none duplicated
    assert set(keys) == {(d, "digits-cnn", v) for d in devices for v in VARIANTS}  # none lost


def outcome(store: Store, row: dict[str, Any]) -> tuple:
    """What an emulated board measured: instruction-count time is exactly repeatable."""
    return (row["status"], row["latency_n"], store.samples(row["id"]), row["first_inference_ms"],
            row["accuracy_top1"], (row["extra"] or {}).get("predictions"), row["arena_bytes"])


@pytest.fixture(scope="module")
def qemu() -> None:
    require_tool("qemu-system-arm")
    require(DEFAULT_ELF.is_file() or shutil.which("arm-none-eabi-gcc") is not None,
            f"{DEFAULT_ELF} is missing and arm-none-eabi-gcc is not installed to build it")


@pytest.fixture(scope="module")
def clean(qemu, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    """The reference: the suite on a board nobody touches."""
    directory = tmp_path_factory.mktemp("clean")
    device, suite = qemu_profile(directory), small_suite(directory)
    store = Store(f"sqlite:///{directory / 'r.sqlite'}")
    run_id = run_one(store, suite, device, Connector(device, FaultAtEval(None, lambda board: None).on_command))
    rows = store.results(run_id)
    assert_one_row_per_case(rows, [device.name])
    assert all(r["status"] == "ok" for r in rows), [r["reason"] for r in rows]
    return {r["variant"]: outcome(store, r) for r in rows}


def run_with_fault(directory: Path, action: Callable[[TappedBoard], None]) -> tuple[Store, str, FaultAtEval, Connector]:
    """The suite on one board with `action` done mid-way through the second case's accuracy stream."""
    device, suite = qemu_profile(directory), small_suite(directory)
    store = Store(f"sqlite:///{directory / 'r.sqlite'}")
    fault = FaultAtEval("pruned-int8", action)
    connect = Connector(device, fault.on_command)
    run_id = run_one(store, suite, device, connect, fault)
    assert fault.fired
    return store, run_id, fault, connect


def assert_completed_like_clean(store: Store, run_id: str, clean: dict[str, tuple], fault: FaultAtEval) -> None:
    rows = store.results(run_id)
    assert_one_row_per_case(rows, ["qemu-board"])
    assert all(r["status"] == "ok" for r in rows), [r["reason"] for r in rows]
    assert {r["variant"]: outcome(store, r) for r in rows} == clean
    first = next(r for r in rows if r["variant"] == "int8")
    assert first["id"] == fault.rows[0]["id"]  # measured before the fault, stored once, kept
    assert store.board_health("qemu-board")["health"] == "good"
    assert store.run(run_id)["status"] == "complete"


# ------------------------------------------------------------------ hang, crash, reset


def test_hung_board_is_restarted_and_the_case_retried(clean, tmp_path: Path) -> None:
    store, run_id, fault, connect = run_with_fault(tmp_path, lambda board: board.stop())
    [board] = connect.boards
    assert board.boots >= 2  # the link timed out and recovery restarted the emulator
    assert_completed_like_clean(store, run_id, clean, fault)


def test_crashed_board_is_restarted_and_the_case_retried(clean, tmp_path: Path) -> None:
    store, run_id, fault, connect = run_with_fault(tmp_path, TappedBoard.kill)
    [board] = connect.boards
    assert board.boots >= 2
    assert_completed_like_clean(store, run_id, clean, fault)


def test_board_reset_mid_case_is_survived_by_the_firmware_runner(clean, tmp_path: Path) -> None:
    store, run_id, fault, connect = run_with_fault(tmp_path, lambda board: board.reset(Deadline(5)))
    [board], [runner] = connect.boards, connect.runners
    assert board.boots == 1 and runner.resets >= 1  # no restart: the runner went on where it was
    assert_completed_like_clean(store, run_id, clean, fault)


# ------------------------------------------------------------------ SSH drop, with a second board


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory):
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


def test_ssh_drop_mid_suite_with_host_in_parallel(sshd: Sshd, tmp_path: Path) -> None:
    suite = small_suite(tmp_path, name="ssh-drop", min_seconds="3 s")  # the cut lands mid-measurement
    proxy = TcpProxy(sshd.port)
    ssh_board = profiles.load_profile(board_profile(tmp_path, sshd, port=proxy.port))
    host = profiles.resolve("host", REPO / "device_profiles")
    store = Store(f"sqlite:///{tmp_path / 'r.sqlite'}")
    run_id = open_run(store, suite, [ssh_board.name, host.name])
    cut = CutDuringSecondCase(proxy)
    boards = [Board(d, plan(suite, d), initial_state(store, d.name), lambda d=d: open_runner(d, Deadline(60)), p)
              for d, p in ((ssh_board, cut), (host, None))]
    try:
        run_boards(store, run_id, suite, boards)
    finally:
        proxy.close()
    finish_run(store, run_id, True)
    assert proxy.connections >= 2  # the cable was pulled and the board reconnected
    rows = store.results(run_id)
    assert_one_row_per_case(rows, [ssh_board.name, host.name])
    assert all(r["status"] == "ok" for r in rows), [(r["device"], r["variant"], r["reason"]) for r in rows]
    first = next(r for r in rows if r["device"] == ssh_board.name and r["variant"] == cut.rows[0]["variant"])
    assert first["id"] == cut.rows[0]["id"]  # measured before the cut, kept as it was
    assert [store.board_health(d)["health"] for d in (ssh_board.name, host.name)] == ["good", "good"]


# ------------------------------------------------------------------ boards that go bad


def test_board_failing_its_health_check_runs_nothing_while_host_completes(qemu, tmp_path: Path) -> None:
    device, suite = qemu_profile(tmp_path), small_suite(tmp_path)
    host = profiles.resolve("host", REPO / "device_profiles")
    store = Store(f"sqlite:///{tmp_path / 'r.sqlite'}")
    stopped: list[Runner] = []

    def connect_then_hang() -> Runner:  # the board boots, then never answers again
        runner = open_runner(device, Deadline(300))
        runner.transport.stop()  # type: ignore[attr-defined]
        stopped.append(runner)
        return runner

    run_id = open_run(store, suite, [device.name, host.name])
    boards = [Board(device, plan(suite, device), initial_state(store, device.name), connect_then_hang),
              Board(host, plan(suite, host), initial_state(store, host.name), lambda: open_runner(host, Deadline(60)))]
    run_boards(store, run_id, suite, boards)
    finish_run(store, run_id, True)
    rows = store.results(run_id)
    assert_one_row_per_case(rows, [device.name, host.name])
    mine = [r for r in rows if r["device"] == device.name]
    assert len(stopped) == 1  # connected once, checked once
    assert [r["status"] for r in mine] == ["not-run"] * 3
    assert all(r["reason"].startswith("board bad: health check failed") for r in mine)
    assert all(r["status"] == "ok" for r in rows if r["device"] == host.name)
    health = store.board_health(device.name)
    assert health["health"] == "bad" and "health check failed" in health["reason"]
    assert store.board_health(host.name)["health"] == "good"
    assert {e["device"] for e in store.environments(run_id)} == {host.name}  # the bad board measured nothing
    assert ci_outputs.exit_code(rows) == ci_outputs.EXIT_INFRASTRUCTURE


def test_cli_unreachable_and_maintenance_boards_beside_host_exit_3(tmp_path: Path) -> None:
    profiles_dir = tmp_path / "profiles"
    profiles_dir.mkdir()
    shutil.copy(REPO / "device_profiles" / "host.yaml", profiles_dir / "host.yaml")
    host_text = (profiles_dir / "host.yaml").read_text()
    (profiles_dir / "bench.yaml").write_text(host_text.replace("name: host", "name: bench"))
    port = free_port()  # nobody listens there
    (profiles_dir / "gone.yaml").write_text(f"""\
name: gone
description: a board whose SSH port is closed (unplugged)
tier: iot
transport: ssh://root@127.0.0.1:{port}
runtime: litert
compute_tops: null
ram: 4 GiB
flash: 32 GB
model_volume_cap: 20 MB
ssh:
  connect_timeout: 2 s
  boot_wait: 1 s
""")
    suite = small_suite(tmp_path)
    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    Store(db).set_board_health("bench", "maintenance", "probe replaced")
    result = CliRunner().invoke(app, ["run", str(suite.path), "--device", "gone", "--device", "host",
                                      "--device", "bench", "--store", db, "--profiles", str(profiles_dir)])
    assert result.exit_code == 3, result.output
    store = Store(db)
    rows = store.results(store.latest_run_id())
    keys = [(r["device"], r["variant"]) for r in rows]
    assert len(keys) == len(set(keys)) == 9  # none duplicated
    assert set(keys) == {(d, v) for d in ("gone", "host", "bench") for v in VARIANTS}  # none lost
    by = {d: [r for r in rows if r["device"] == d] for d in ("gone", "host", "bench")}
    assert all(r["status"] == "ok" for r in by["host"])
    assert [r["status"] for r in by["gone"]] == ["not-run"] * 3
    assert "cannot connect" in by["gone"][0]["reason"] and by["gone"][-1]["reason"].startswith("board bad:")
    gone = store.board_health("gone")
    assert gone["health"] == "bad" and "2 infrastructure failures in a row" in gone["reason"]
    assert "cannot connect" in gone["reason"]
    assert [r["status"] for r in by["bench"]] == ["not-run"] * 3
    assert all(r["reason"] == "board maintenance: probe replaced" for r in by["bench"])
    assert store.board_health("bench")["health"] == "maintenance"  # untouched, reason kept
    assert store.board_health("bench")["reason"] == "probe replaced"
    assert {e["device"] for e in store.environments(store.latest_run_id())} == {"host"}
    assert store.board_health("host")["health"] == "good"


def test_board_whose_every_case_hangs_goes_bad_after_two(qemu, tmp_path: Path) -> None:
    """The board answers its health check (tiny-int8), but hangs on the upload of any other
    model: two cases lost in a row make it bad, and the third is not run."""
    check_model_bytes = (CHECK_FILE.parent / "tiny-int8.tflite").stat().st_size
    hangs: list[int] = []

    def hang_on_suite_models(board: TappedBoard, frame: Frame) -> None:
        if frame.type != Cmd.LOAD_BEGIN or struct.unpack_from("<I", frame.data, 4)[0] == check_model_bytes:
            return
        if not hangs or hangs[-1] != board.boots:  # not again for the retransmissions
            hangs.append(board.boots)
            board.stop()

    device = qemu_profile(tmp_path)
    suite = small_suite(tmp_path, timeout="50 s")  # a clean case takes ~3 s; a hang is seen in ~20 s
    store = Store(f"sqlite:///{tmp_path / 'r.sqlite'}")
    connect = Connector(device, hang_on_suite_models)
    run_id = run_one(store, suite, device, connect)
    rows = store.results(run_id)
    assert_one_row_per_case(rows, [device.name])
    assert [r["status"] for r in rows] == ["failed", "failed", "not-run"]
    assert all(r["error_kind"] == "infrastructure" for r in rows)
    health = store.board_health(device.name)
    assert health["health"] == "bad" and "2 infrastructure failures in a row" in health["reason"]
    assert rows[2]["reason"].startswith("board bad: 2 infrastructure failures in a row")
    assert len(connect.boards) == 1 and len(hangs) >= 2  # both cases hung (retries: as time allowed)
    assert hangs == sorted(set(hangs)) and hangs[0] == 1  # each hang on a restarted emulator
    assert all("no valid reply" in r["reason"] or "deadline" in r["reason"] for r in rows[:2])
