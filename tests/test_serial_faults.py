"""The harness and the firmware (under QEMU) through a pty with a fault-injecting relay, reached by
a by-id style symlink: flipped bits, dropped bytes, a stalled board, a board reset mid-run and an
unplug/replug are each survived, with every result correct and none lost or duplicated."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from harness.deadline import Deadline
from harness.runners.base import Job
from harness.runners.firmware import FirmwareRunner
from harness.transports import open_transport
from harness.testing.linesim import LineRelay
from tests.conftest import MODELS, require_tool

pytestmark = pytest.mark.slow
DIGITS = MODELS / "digits-cnn"
JOB = Job(model_path=DIGITS / "tiny-int8.tflite", dataset_path=DIGITS / "eval.npz", warmup_count=2,
          warmup_min_seconds=0, measure_count=40, measure_min_seconds=0, accuracy_samples=200)


@pytest.fixture
def rig(tmp_path: Path):
    require_tool("qemu-system-arm")
    board = open_transport("qemu://mps2-an385", qemu={"icount_shift": 3})
    board.open(Deadline(300))
    relay = LineRelay(board, tmp_path / "serial" / "by-id" / "usb-edge-harness-sim-if00")
    relay.start()
    host = open_transport(f"serial://{relay.link}?baud=921600", serial={"read_timeout": 0.5})
    host.open(Deadline(10))
    yield board, relay, host
    host.close()
    relay.stop()
    board.close()


def measure_with(rig, fault: Callable[[object, LineRelay], None] | None = None, at: float = 0.5,
                 after_outputs: int | None = None):
    """The job through the relay; `fault` fires `at` seconds in, or (`after_outputs`) once the
    runner holds that many accuracy outputs: mid-run by progress, whatever the machine's speed."""
    board, relay, host = rig
    runner = FirmwareRunner(host, read_timeout=0.5)
    if fault is not None and after_outputs is not None:
        def when_due() -> None:
            give_up = time.monotonic() + 120
            while len(getattr(runner, "last_outputs", {})) < after_outputs and time.monotonic() < give_up:
                time.sleep(0.005)
            fault(board, relay)
        threading.Thread(target=when_due, daemon=True).start()
    elif fault is not None:
        threading.Timer(at, fault, args=(board, relay)).start()
    measured = runner.measure(JOB, Deadline(180))
    return runner, measured, dict(runner.last_outputs)


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> tuple:
    """The reference: the same job with no faults."""
    require_tool("qemu-system-arm")
    board = open_transport("qemu://mps2-an385", qemu={"icount_shift": 3})
    board.open(Deadline(300))
    try:
        runner = FirmwareRunner(board)
        measured = runner.measure(JOB, Deadline(180))
        return measured, dict(runner.last_outputs)
    finally:
        board.close()


def assert_same(clean: tuple, measured, outputs) -> None:
    reference, reference_outputs = clean
    assert outputs == reference_outputs                      # every sample, once, correct
    assert measured.predictions == reference.predictions
    assert measured.accuracy_top1 == reference.accuracy_top1
    assert measured.samples_us == reference.samples_us      # instruction-count time: exact
    assert measured.latency_us["n"] == JOB.measure_count


def test_flipped_bits_both_ways(rig, clean) -> None:
    rig[1].faults.flip_every = 1500
    runner, measured, outputs = measure_with(rig)
    assert rig[1].faults.flipped > 5 and runner.client.retransmits > 0
    assert_same(clean, measured, outputs)


def test_dropped_bytes(rig, clean) -> None:
    rig[1].faults.drop_every = 2000
    runner, measured, outputs = measure_with(rig)
    assert rig[1].faults.dropped > 3 and runner.client.retransmits > 0
    assert_same(clean, measured, outputs)


def test_stalled_board(rig, clean) -> None:
    t0 = time.monotonic()
    runner, measured, outputs = measure_with(rig, lambda board, relay: relay.stall(2.0))
    assert time.monotonic() - t0 > 2.5  # the stall fell inside the run
    assert_same(clean, measured, outputs)


def test_board_silent_for_longer_than_fixed_timeouts_allowed(rig, clean) -> None:
    """8 s of silence: nine fixed 0.5 s read timeouts gave up after 4.5 s; the backed-off
    retransmission timer (harness/rto.py) waits it out and resends a handful of times."""
    t0 = time.monotonic()
    runner, measured, outputs = measure_with(rig, lambda board, relay: relay.stall(8.0))
    assert time.monotonic() - t0 > 8.5  # the stall fell inside the run
    assert_same(clean, measured, outputs)


def test_board_reset_mid_run(rig, clean) -> None:
    runner, measured, outputs = measure_with(rig, lambda board, relay: board.reset(Deadline(5)), after_outputs=50)
    assert runner.resets >= 1
    assert_same(clean, measured, outputs)


def test_unplug_and_replug_of_the_by_id_path(rig, clean) -> None:
    runner, measured, outputs = measure_with(rig, lambda board, relay: relay.unplug(1.0))
    assert rig[2].reopens >= 1
    assert_same(clean, measured, outputs)


def test_binary_upload_reaches_85_percent_of_the_line_rate(tmp_path: Path) -> None:
    require_tool("qemu-system-arm")
    from harness.runners.frames import crc32
    from harness.runners.fwclient import FirmwareClient

    baud = 115200
    board = open_transport("qemu://mps2-an385", qemu={"icount_shift": 3})
    board.open(Deadline(300))
    relay = LineRelay(board, tmp_path / "by-id" / "usb-sim-if00", baud=baud)
    relay.start()
    host = open_transport(f"serial://{relay.link}?baud={baud}")
    host.open(Deadline(10))
    try:
        client = FirmwareClient(host)
        client.sync(Deadline(5))
        model = (DIGITS / "int8.tflite").read_bytes()
        t0 = time.monotonic()
        assert client.upload(0, model, 1024, Deadline(60)) == crc32(model)
        rate = len(model) / (time.monotonic() - t0)
        assert rate >= 0.85 * baud / 10, f"{rate:.0f} B/s is under 85% of {baud / 10:.0f} B/s"
    finally:
        host.close()
        relay.stop()
        board.close()
