"""Frame codec (COBS, CRC-32, header) and the serial transport on a real pty pair."""

from __future__ import annotations

import os
import threading
import time
import tty
from pathlib import Path

import pytest

from harness.deadline import Deadline
from harness.errors import ConfigError, InfrastructureError
from harness.runners import frames
from harness.runners.frames import Frame
from harness.transports import open_transport


@pytest.mark.parametrize("size", [0, 1, 253, 254, 255, 509, 1024, 4000])
def test_cobs_round_trip_has_no_zero_bytes(size: int) -> None:
    for data in (bytes(size), os.urandom(size), b"\x01" * size):
        encoded = frames.cobs_encode(data)
        assert 0 not in encoded
        assert len(encoded) <= size + size // 254 + 1
        assert frames.cobs_decode(encoded) == data


def test_crc32_is_the_ieee_check_value() -> None:
    assert frames.crc32(b"123456789") == 0xCBF43926


def test_frame_round_trip_and_every_single_bit_flip_is_caught() -> None:
    frame = Frame(frames.Cmd.LOAD_CHUNK, 0xBEEF, bytes(range(256)) * 2)
    wire = frames.encode(frame)
    assert wire[0] == 0 and wire[-1] == 0 and 0 not in wire[1:-1]
    assert frames.decode(wire[1:-1]) == frame
    for position in range(1, len(wire) - 1, 7):
        for bit in (0x01, 0x80):
            damaged = bytearray(wire)
            damaged[position] ^= bit
            reader = frames.FrameReader()
            assert reader.feed(bytes(damaged)) != [frame]


def test_reader_resynchronises_after_garbage_and_sees_the_boot_banner() -> None:
    one, two = Frame(0x81, 1, b"a"), Frame(0x82, 2, b"bb")
    reader = frames.FrameReader()
    stream = b"noise\xff\x13" + frames.encode(one) + b"\x00m-init-done\r\nm-ready\r\n\x00" + frames.encode(two)
    got = []
    for i in range(0, len(stream), 5):  # arrives in pieces
        got += reader.feed(stream[i:i + 5])
    assert got == [one, two]
    assert reader.saw_boot and reader.bad_frames == 1


def _pty_link(tmp_path: Path) -> tuple[int, Path]:
    master, slave = os.openpty()
    tty.setraw(slave)
    link = tmp_path / "by-id" / "usb-test-if00"
    link.parent.mkdir(parents=True)
    link.symlink_to(os.ttyname(slave))
    return master, link


def test_serial_transport_reads_with_a_deadline(tmp_path: Path) -> None:
    master, link = _pty_link(tmp_path)
    port = open_transport(f"serial://{link}?baud=921600")
    port.open(Deadline(5))
    try:
        port.write(b"ping", Deadline(2))
        assert os.read(master, 16) == b"ping"
        os.write(master, b"pong")
        got = b""
        while len(got) < 4:
            got += port.read(16, Deadline(2))
        assert got == b"pong"
        t0 = time.monotonic()
        assert port.read(16, Deadline(0.3)) == b""
        assert 0.25 < time.monotonic() - t0 < 1.5
    finally:
        port.close()
        os.close(master)


def test_serial_transport_reopens_the_by_id_path_after_an_unplug(tmp_path: Path) -> None:
    master, link = _pty_link(tmp_path)
    port = open_transport(f"serial://{link}?baud=115200")
    port.open(Deadline(5))
    os.close(master)  # the board drops off the bus
    link.unlink()
    replugged: dict[str, int] = {}

    def replug() -> None:
        time.sleep(0.5)
        new_master, new_link = _pty_link(tmp_path / "again")
        os.makedirs(link.parent, exist_ok=True)
        link.symlink_to(new_link.resolve())
        replugged["master"] = new_master

    thread = threading.Thread(target=replug)
    thread.start()
    try:
        assert port.read(16, Deadline(0.3)) == b""  # gone: nothing to read, no exception
        port.write(b"after", Deadline(5))             # waits for the port to come back
        thread.join()
        assert os.read(replugged["master"], 16) == b"after"
        assert port.reopens >= 1
    finally:
        thread.join()
        port.close()


def test_serial_transport_errors_name_the_port(tmp_path: Path) -> None:
    with pytest.raises(InfrastructureError, match="no-such-port"):
        open_transport(f"serial://{tmp_path}/no-such-port").open(Deadline(0.3))
    with pytest.raises(ConfigError, match="baud"):
        open_transport(f"serial://{tmp_path}/x?baud=fast")


def test_a_port_that_does_not_exist_is_named_with_the_ports_that_do(tmp_path: Path) -> None:
    """A typo'd port: preflight refuses it at once (before a run writes anything), and an open()
    gives up after a short re-enumeration grace, not at the caller's 300 s deadline."""
    from harness.transports.serial import APPEAR_S

    port = open_transport(f"serial://{tmp_path}/ttyNOPE0?baud=115200")
    with pytest.raises(ConfigError, match=rf"no such port {tmp_path}/ttyNOPE0; (ports here: |no serial ports here)"):
        port.preflight()
    deadline = Deadline(300)
    with pytest.raises(InfrastructureError, match="no such port"):
        port.open(deadline)
    assert deadline.remaining is not None and deadline.remaining > 300 - 10 * APPEAR_S  # did not wait it out


def test_a_port_that_appears_within_the_grace_is_opened(tmp_path: Path) -> None:
    """A USB board re-enumerating after a reset: its by-id link comes back within APPEAR_S."""
    master, slave = os.openpty()
    link = tmp_path / "usb-board-if00"
    threading.Timer(0.5, lambda: link.symlink_to(os.ttyname(slave))).start()
    port = open_transport(f"serial://{link}?baud=115200")
    try:
        port.open(Deadline(30))
    finally:
        port.close()
        os.close(master)
        os.close(slave)
