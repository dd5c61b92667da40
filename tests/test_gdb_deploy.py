"""Deploy through the GDB remote protocol, with QEMU's own GDB stub (-gdb tcp:...,-S) on the
emulated mps2-an385 standing in for a debug probe's server: the harness writes the firmware ELF
and the model partition, verifies, resets, and the board runs the int8 cases with the outputs
of the QEMU-loaded path. Faults go through a TCP proxy in front of the real stub."""

from __future__ import annotations

import hashlib
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from harness.deadline import Deadline
from harness.errors import ConfigError, InfrastructureError, ModelError
from harness.runners.base import Job
from harness.runners.firmware import FirmwareRunner
from harness.runners.fwclient import FirmwareClient
from harness.runners.gdb_deploy import GdbDeployer
from harness.transports import open_transport
from harness.models.firmware_image import elf_segments, partition_image
from harness.config.profiles import load_profile
from harness.transports.gdb_rsp import GdbRemote, checksum, escape, unescape
from harness.transports.qemu_mcu import DEFAULT_ELF, build_firmware
from tests.conftest import MODELS, REPO, require_tool

DIGITS = MODELS / "digits-cnn"
GDB = {"server": "gdb://127.0.0.1:0", "model_address": 0x21000000, "reset": ["system_reset"],
       "stage_datasets": True, "probe_timeout": 2.0, "hello_timeout": 10.0, "start_timeout": 10.0, "timeout": 5.0}


def test_binary_escaping_round_trips_every_byte() -> None:
    data = bytes(range(256)) * 2
    assert unescape(escape(data)) == data
    assert b"#" not in escape(data) and b"$" not in escape(data)
    assert unescape(b"0* ") == b"0000"  # run-length: ' ' is 32 - 29 = 3 more
    assert checksum(b"OK") == b"9a"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_flash_target_through_a_server_the_harness_starts() -> None:
    """The flash path of OpenOCD/pyOCD (memory map, vFlash*), against a wire-level simulator of
    a probe's server started from an argv as a profile names one: segments sharing a flash block
    survive (erased once), everything reads back, the server is stopped with the runner."""
    require_tool("arm-none-eabi-gcc")
    build_firmware()
    gdb_port, uart_port = _free_port(), _free_port()
    argv = [sys.executable, str(REPO / "tests" / "gdb_flash_sim.py"), str(gdb_port), str(uart_port)]
    uart = open_transport(f"socket://127.0.0.1:{uart_port}")
    deployer = GdbDeployer({**GDB, "server": argv, "port": gdb_port, "model_address": 0xC0000,
                            "reset": ["reset run"]}, DEFAULT_ELF, uart)
    try:
        deployer.address(Deadline(30))  # starts the server, waits until it listens
        uart.open(Deadline(10))
        model = (DIGITS / "tiny-int8.tflite").read_bytes()
        report = deployer.deploy(model, True, Deadline(60))
        segments = elf_segments(DEFAULT_ELF)
        assert report.firmware and report.bytes_written == sum(len(d) for _, d in segments) + len(model) + 16
        remote = GdbRemote("127.0.0.1", gdb_port)
        remote.connect(Deadline(10))
        for address, data in [*segments, (0xC0000, partition_image(model))]:
            assert remote.read(address, len(data), Deadline(10)) == data
        remote.detach(Deadline(10))
    finally:
        deployer.close()
        uart.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", gdb_port), timeout=2).close()


# ------------------------------------------------------------ the emulated board


def job(variant: str, samples: int | None = 90) -> Job:
    return Job(model_path=DIGITS / f"{variant}.tflite", dataset_path=DIGITS / "eval.npz",
               warmup_count=1, warmup_min_seconds=0, measure_count=3, measure_min_seconds=0,
               accuracy_samples=samples)


def gdb_runner(stage: bool = True, url: str | None = None, firmware: Path | None = None,
               **options: object) -> FirmwareRunner:
    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")
    build_firmware()
    transport = open_transport("qemu://mps2-an385", qemu={"icount_shift": 3}, serial={"read_timeout": 3},
                               gdb=GDB)
    transport.open(Deadline(60))
    if url is not None:
        transport.stub_url, transport.gdb_url = transport.gdb_url, url  # type: ignore[attr-defined]
    deployer = GdbDeployer({**GDB, "stage_datasets": stage, **options}, firmware or DEFAULT_ELF, transport)
    return FirmwareRunner(transport, read_timeout=3, gdb=deployer)


@pytest.mark.slow
def test_deployed_through_the_stub_outputs_equal_the_qemu_loaded_path() -> None:
    require_tool("qemu-system-arm")
    loaded = open_transport("qemu://mps2-an385", qemu={"icount_shift": 3}, serial={"read_timeout": 3})
    loaded.open(Deadline(300))
    try:
        reference = FirmwareRunner(loaded, read_timeout=3)
        expected = {v: (reference.measure(job(v), Deadline(300)), dict(reference.last_outputs))
                    for v in ("int8", "tiny-int8")}
    finally:
        loaded.close()
    runner = gdb_runner()
    try:
        for variant, (measured_ref, outputs_ref) in expected.items():
            measured = runner.measure(job(variant), Deadline(300))
            assert runner.last_outputs == outputs_ref  # staged through the probe, run by EVAL_MEM
            assert measured.predictions == measured_ref.predictions
            assert measured.latency_us["p50"] == measured_ref.latency_us["p50"]  # same -icount time
        first, second = runner.deploys
        assert first["firmware_written"] and first["bytes_written"] > DIGITS.joinpath("int8.tflite").stat().st_size
        assert not second["firmware_written"] and not second["cached"]  # the firmware kept, a new model
        runner.measure(job("tiny-int8", samples=5), Deadline(300))
        assert runner.deploys[-1] == {"cached": True, "seconds": runner.deploys[-1]["seconds"],
                                      "bytes_written": 0, "firmware_written": False}
    finally:
        runner.close()


@pytest.mark.slow
def test_a_board_that_lost_its_firmware_is_flashed_again_by_recovery() -> None:
    runner = gdb_runner()
    try:
        runner.measure(job("tiny-int8", samples=5), Deadline(300))
        runner.recover(Deadline(120))  # QEMU restarts halted and blank: a board without firmware
        assert runner.deploys[-1]["firmware_written"]
        assert runner.client.identify(Deadline(10))["build"] == runner.gdb.build_id  # type: ignore[union-attr]
    finally:
        runner.close()


@pytest.mark.slow
def test_the_firmware_sha256_of_its_slot_equals_hashlib_for_every_padding_case() -> None:
    require_tool("qemu-system-arm")
    board = open_transport("qemu://mps2-an385", qemu={"icount_shift": 3}, serial={"read_timeout": 3})
    board.open(Deadline(300))
    try:
        client = FirmwareClient(board, read_timeout=3)
        client.sync(Deadline(5))
        for length in (1, 55, 56, 63, 64, 65, 119, 120, 1000):
            blob = bytes((i * 7 + length) & 0xFF for i in range(length))
            with pytest.raises(ModelError):  # not a model: committed, hashed, not loaded
                client.upload(0, blob, 1024, Deadline(30))
            assert client.slot_sha256(Deadline(30)) == hashlib.sha256(blob).hexdigest(), length
    finally:
        board.close()


# ------------------------------------------------------------ faults


class FaultProxy:
    """Forwards one GDB connection at a time to the real stub; `die_after` closes both sides after
    that many bytes from the client, `corrupt_read` flips one byte of the first memory read."""

    def __init__(self, target: str, die_after: int | None = None, corrupt_read: bool = False) -> None:
        host, port = target[len("gdb://"):].split(":")
        self.target = (host, int(port))
        self.die_after, self.corrupt_read = die_after, corrupt_read
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"gdb://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()
            self._pump(client, server, True)

    def _pump(self, src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        sent, held = 0, b""
        try:
            while data := src.recv(65536):
                if upstream:
                    sent += len(data)
                    self.reading = getattr(self, "reading", False) or b"$m" in data
                    if self.die_after is not None and sent > self.die_after:
                        break
                elif self.corrupt_read and getattr(self, "reading", False):
                    held += data  # a whole reply packet first
                    start = held.find(b"$")
                    end = held.find(b"#", start)
                    if start < 0 or end < 0 or len(held) < end + 3:
                        continue
                    data, held = held[:start] + _corrupt(held[start:end + 3]), held[end + 3:]
                    self.corrupt_read = False
                dst.sendall(data + held)
                held = b""
        except OSError:
            pass
        for s in (src, dst):
            s.close()

    def close(self) -> None:
        self.listener.close()


def _corrupt(packet: bytes) -> bytes:
    """One hex digit of a memory-read reply changed, its checksum made right again."""
    end = packet.index(b"#")
    body = bytearray(packet[1:end])
    body[10] = ord("0") if body[10] != ord("0") else ord("1")
    return b"$" + bytes(body) + b"#" + checksum(bytes(body)) + packet[end + 3:]


@pytest.mark.slow
def test_a_server_that_refuses_the_connection_is_an_infrastructure_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"gdb://127.0.0.1:{s.getsockname()[1]}"
    runner = gdb_runner(url=closed)
    try:
        with pytest.raises(InfrastructureError, match="refused the connection"):
            runner.measure(job("tiny-int8", samples=5), Deadline(120))
    finally:
        runner.close()


@pytest.mark.slow
@pytest.mark.parametrize(("fault", "message"), [({"die_after": 20000}, "closed the connection"),
                                                 ({"corrupt_read": True}, "verify failed at 0x")])
def test_a_server_dying_mid_write_or_a_verify_mismatch_is_an_infrastructure_error(fault, message) -> None:
    runner = gdb_runner()
    proxy = FaultProxy(runner.transport.gdb_url, **fault)  # type: ignore[attr-defined]
    runner.transport.gdb_url = proxy.url  # type: ignore[attr-defined]
    try:
        with pytest.raises(InfrastructureError, match=message):
            runner.measure(job("tiny-int8", samples=5), Deadline(120))
    finally:
        proxy.close()
        runner.close()


def silent_firmware(tmp_path: Path) -> Path:
    """A valid Cortex-M image whose reset handler spins: a board that never says hello."""
    source = tmp_path / "silent.c"
    source.write_text("void reset(void) { for (;;) {} }\n"
                      "__attribute__((section(\".vectors\"), used)) void *const vectors[2] = "
                      "{(void *)0x20001000, (void *)reset};\n")
    elf = tmp_path / "silent.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m3", "-mthumb", "-nostdlib", "-e", "reset",
                    "-Wl,--section-start=.vectors=0x0", "-Wl,-Ttext=0x100", str(source), "-o", str(elf)], check=True)
    return elf


@pytest.mark.slow
def test_a_board_that_never_says_hello_after_the_reset_is_an_infrastructure_error(tmp_path: Path) -> None:
    require_tool("arm-none-eabi-gcc")
    runner = gdb_runner(firmware=silent_firmware(tmp_path), hello_timeout=2.0)
    try:
        with pytest.raises(InfrastructureError, match="never said hello"):
            runner.measure(job("tiny-int8", samples=5), Deadline(120))
    finally:
        runner.close()


@pytest.mark.slow
def test_cli_run_over_gdb_and_a_silent_board_retried_and_stored_once(tmp_path: Path) -> None:
    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")
    suite = tmp_path / "tiny.yaml"
    suite.write_text(f"name: tiny\ndescription: one model\nmodels:\n  - path: {DIGITS}\n    variants: [tiny-int8]\n"
                     "run:\n  warmup: {count: 1}\n  measure: {count: 5, min_seconds: 0 s}\n  timeout: 120 s\n")
    store = tmp_path / "results.db"
    ok = _run(suite, REPO / "device_profiles" / "qemu-cortex-m-gdb.yaml", store)
    assert ok.returncode == 0, ok.stderr
    profile = (REPO / "device_profiles" / "qemu-cortex-m-gdb.yaml").read_text()
    silent = tmp_path / "qemu-silent.yaml"
    silent.write_text(profile.replace("name: qemu-cortex-m-gdb", "name: qemu-silent").replace(
        "  reset: [system_reset]", f"  reset: [system_reset]\n  hello_timeout: 2 s\n  firmware: {silent_firmware(tmp_path)}"))
    bad = _run(suite, silent, store)
    assert bad.returncode != 0
    assert "never said hello" in bad.stdout + bad.stderr
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT device, status, error_kind, reason FROM results ORDER BY id").fetchall()
    assert [r[:2] for r in rows if r[0] == "qemu-cortex-m-gdb"] == [("qemu-cortex-m-gdb", "ok")]
    silent_rows = [r for r in rows if r[0] == "qemu-silent"]
    assert len(silent_rows) == 1, rows  # retried as infrastructure errors are, stored once
    assert silent_rows[0][2] == "infrastructure" and "never said hello" in silent_rows[0][3]


def _run(suite: Path, device: Path, store: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", "run", str(suite), "--device", str(device),
                           "--store", str(store)], capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(("server", "message"), [('"gdb://127.0.0.1"', "is not gdb://HOST:PORT"),
                                                 ("[]", "an empty argv")])
def test_a_bad_gdb_server_in_a_profile_names_file_line_and_field(tmp_path: Path, server: str, message: str) -> None:
    text = (REPO / "device_profiles" / "qemu-cortex-m-gdb.yaml").read_text()
    bad = tmp_path / "qemu-cortex-m-gdb.yaml"
    bad.write_text(text.replace("server: gdb://127.0.0.1:0", f"server: {server}"))
    line = next(i for i, row in enumerate(bad.read_text().splitlines(), 1) if "server:" in row)
    with pytest.raises(ConfigError) as error:
        load_profile(bad)
    assert f"qemu-cortex-m-gdb.yaml:{line}" in str(error.value) and "gdb.server" in str(error.value)
    assert message in str(error.value)
