"""Boards shared through labgrid (harness/lab/labgrid.py), against a real labgrid lab on
127.0.0.1: labgrid-coordinator, labgrid-exporter exporting a RawSerialPort (through ser2net,
RFC 2217) that the QEMU Cortex-M board's UART is behind (-serial pty), and a NetworkPowerPort
driven over HTTP. labgrid runs from its own venv (make labgrid-venv); the harness calls its
client in a subprocess and never imports it."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pytest

from harness.config import profiles
from harness.lab.board import preflight
from harness.deadline import Deadline
from harness.errors import ConfigError
from harness.lab.labgrid import CLIENT_ENV, Place, Resource, fill_template, find_client
from harness.results.store import Store
from tests.conftest import REPO, require, require_tool
from tests.suite_files import write_emulated_mcu_profile

SUITE = REPO / "suites" / "quickstart-int8.yaml"
PLACE = "cortex-m-1"
OTHER = {"LG_USERNAME": "alice", "LG_HOSTNAME": "benchpc"}  # a second labgrid user


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_profile(directory: Path, name: str, coordinator: str, transport: str = "rfc2217://") -> Path:
    return write_emulated_mcu_profile(
        directory, name, "the QEMU Cortex-M board behind a labgrid place",
        f'labgrid:\n  place: {PLACE}\n  coordinator: "{coordinator}"\nserial:\n  protocol: binary\n'
        "thresholds:\n  memory_fraction: 0.6\n", transport=transport)


# ------------------------------------------------------------------ without a lab


def test_transport_must_be_a_template_the_place_fills(tmp_path: Path) -> None:
    path = write_profile(tmp_path, "shared", "127.0.0.1:20408", transport="rfc2217://10.0.0.5:3000")
    with pytest.raises(ConfigError, match="host comes from the place"):
        profiles.load_profile(path)
    write_profile(tmp_path, "shared", "127.0.0.1:20408", transport="serial:///dev/ttyUSB0")
    with pytest.raises(ConfigError, match="rfc2217://, socket://, ssh://"):
        profiles.load_profile(path)


def test_templates_are_filled_from_the_place_resources() -> None:
    serial = Resource("RawSerialPort", "NetworkSerialPort",
                      {"host": "exporter1", "port": 40001, "speed": 921600, "protocol": "rfc2217"})
    ssh = Resource("NetworkService", "NetworkService", {"address": "fe80::1%eth0", "username": "root", "port": 22})
    assert fill_template("rfc2217://", [serial, ssh]) == "rfc2217://exporter1:40001?baud=921600&ign_set_control"
    assert fill_template("ssh://pi@", [serial, ssh]) == "ssh://pi@[fe80::1%eth0]:22"
    assert fill_template("ssh://", [ssh]) == "ssh://root@[fe80::1%eth0]:22"
    with pytest.raises(ConfigError, match="speaks rfc2217, not raw"):
        fill_template("socket://", [serial])
    with pytest.raises(ConfigError, match="has no NetworkService"):
        fill_template("ssh://pi@", [serial])


def test_labgrid_never_shares_the_harness_venv() -> None:
    # labgrid's pyserial-labgrid would replace pyserial's `serial` package here, and its pytest
    # plugin would load into this test run: it belongs in .venv-labgrid only.
    import importlib.metadata
    import importlib.util

    assert importlib.util.find_spec("labgrid") is None
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("pyserial-labgrid")


def test_preflight_names_a_missing_labgrid_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CLIENT_ENV, str(tmp_path / "no-such-labgrid-client"))
    device = profiles.load_profile(write_profile(tmp_path, "shared", "127.0.0.1:20408"))
    with pytest.raises(ConfigError, match="labgrid client .* not found: .*make labgrid-venv"):
        preflight(device)


# ------------------------------------------------------------------ a real lab on 127.0.0.1


@dataclass
class Lab:
    client: str
    coordinator: str
    directory: Path
    power_requests: list[str] = field(default_factory=list)

    def client_run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.client, "-x", self.coordinator, "-p", PLACE, *args], capture_output=True,
                              text=True, timeout=30, env={**os.environ, **(env or {})})

    def acquired_by(self) -> str:
        shown = self.client_run("show").stdout
        return next(line.split(":", 1)[1].strip() for line in shown.splitlines()
                    if line.strip().startswith("acquired:"))

    def harness_run(self, device: str, store: Path) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, CLIENT_ENV: self.client}
        return subprocess.run([sys.executable, "-m", "harness.cli", "run", str(SUITE), "--device", device,
                               "--store", f"sqlite:///{store}"], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=240)


def _spawn(stack: ExitStack, argv: list[str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    stack.callback(stop)
    return proc


def _wait(what: str, ready: Callable[[], bool], log: Path, seconds: float = 30.0) -> None:
    end = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > end:
            raise AssertionError(f"{what} not ready after {seconds:g} s: {log.read_text(errors='replace')[-800:]}")
        time.sleep(0.2)


def _qemu_pty(stack: ExitStack, directory: Path) -> str:
    """Boot the reference firmware with its UART on a pseudo-terminal; the pty's path."""
    from harness.transports.qemu_mcu import build_firmware

    elf = build_firmware()
    log = directory / "qemu.log"
    _spawn(stack, ["qemu-system-arm", "-M", "mps2-an385", "-kernel", str(elf), "-nographic", "-monitor", "none",
                   "-serial", "pty", "-icount", "shift=3,sleep=off"], log, directory)
    _wait("QEMU's pty", lambda: "/dev/pts/" in log.read_text(errors="replace"), log)
    line = next(x for x in log.read_text().splitlines() if "/dev/pts/" in x)
    return line.split("redirected to ", 1)[1].split()[0]  # "char device redirected to /dev/pts/3 (label serial0)"


def _power_server(stack: ExitStack, hits: list[str]) -> int:
    """A switched outlet with labgrid's `simplerest` interface: GET /outlet/0 (off), /outlet/1 (on)."""

    class Outlet(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"1")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Outlet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stack.callback(server.server_close)
    stack.callback(server.shutdown)
    return server.server_address[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    client = find_client()
    require(client is not None, "labgrid-client not found (make labgrid-venv installs labgrid 26.0.1)")
    assert client is not None
    require_tool("qemu-system-arm")
    require_tool("ser2net", "/usr/sbin/ser2net")
    bindir = Path(client).parent
    directory = tmp_path_factory.mktemp("labgrid")
    with ExitStack() as stack:
        pty = _qemu_pty(stack, directory)
        lab = Lab(client, f"127.0.0.1:{free_port()}", directory)
        power_port = _power_server(stack, lab.power_requests)
        (directory / "exporter.yaml").write_text(f"""\
cortex-m:
  RawSerialPort:
    port: {pty}
    speed: 115200
  NetworkPowerPort:
    model: simplerest
    host: "http://127.0.0.1:{power_port}/outlet/{{value}}"
    index: 0
""")
        log = directory / "coordinator.log"
        _spawn(stack, [str(bindir / "labgrid-coordinator"), "-l", lab.coordinator], log, directory)
        _wait("labgrid-coordinator", lambda: lab.client_run("places").returncode == 0, log)
        log = directory / "exporter.log"
        _spawn(stack, [str(bindir / "labgrid-exporter"), "-c", lab.coordinator, "-n", "exporter1",
                       "--hostname", "127.0.0.1", str(directory / "exporter.yaml")], log, directory)
        _wait("labgrid-exporter", lambda: "NetworkSerialPort" in lab.client_run("resources").stdout, log)
        for step in (["create"], ["add-match", "*/*/*"]):
            done = lab.client_run(*step)
            assert done.returncode == 0, done.stderr
        yield lab


@pytest.mark.slow
def test_suite_through_a_labgrid_place_equals_the_direct_run(lab: Lab, tmp_path: Path) -> None:
    profile = write_profile(tmp_path, "cortex-m-shared", lab.coordinator)
    started = time.monotonic()
    shared = lab.harness_run(str(profile), tmp_path / "shared.sqlite")
    shared_s = time.monotonic() - started
    assert shared.returncode == 0, shared.stdout[-2000:] + shared.stderr[-2000:]
    assert lab.acquired_by() == "None"  # released when the run closed the board
    direct = lab.harness_run("qemu-cortex-m", tmp_path / "direct.sqlite")
    assert direct.returncode == 0, direct.stdout[-2000:] + direct.stderr[-2000:]

    def results(db: Path) -> dict[str, tuple[Store, dict]]:
        store = Store(f"sqlite:///{db}")
        return {row["variant"]: (store, row) for row in store.results(store.latest_run_id())}

    via_labgrid, reference = results(tmp_path / "shared.sqlite"), results(tmp_path / "direct.sqlite")
    assert sorted(via_labgrid) == sorted(reference) == ["int8", "pruned-int8", "tiny-int8"]
    for variant, (store, row) in via_labgrid.items():
        ref_store, ref = reference[variant]
        assert row["status"] == ref["status"] == "ok", (variant, row["reason"])
        assert row["extra"]["predictions"] == ref["extra"]["predictions"]  # every eval output
        assert row["accuracy_top1"] == ref["accuracy_top1"] and row["arena_bytes"] == ref["arena_bytes"]
        # instruction-count time (-icount) is the same behind ser2net as on QEMU's own socket
        assert store.samples(row["id"]) == ref_store.samples(ref["id"])
    env = via_labgrid["int8"][0].environments(via_labgrid["int8"][1]["run_id"])[0]
    assert "rfc2217://127.0.0.1:" in str(env)
    print(f"quickstart-int8 through the labgrid place: {shared_s:.1f} s")


@pytest.mark.slow
def test_place_acquired_by_someone_else_is_an_infrastructure_failure(lab: Lab, tmp_path: Path) -> None:
    assert lab.client_run("acquire", env=OTHER).returncode == 0
    try:
        run = lab.harness_run(str(write_profile(tmp_path, "cortex-m-shared", lab.coordinator)),
                              tmp_path / "results.sqlite")
        assert lab.acquired_by() == "benchpc/alice"  # never taken from its holder
    finally:
        lab.client_run("release", env=OTHER)
    assert run.returncode == 3, run.stdout[-2000:] + run.stderr[-2000:]
    store = Store(f"sqlite:///{tmp_path / 'results.sqlite'}")
    rows = store.results(store.latest_run_id())
    assert len(rows) == 3
    for row in rows:
        assert row["status"] == "not-run" and row["error_kind"] == "infrastructure"
        assert "labgrid place 'cortex-m-1' is acquired by alice@benchpc" in row["reason"]
    assert store.board_health("cortex-m-shared")["health"] == "bad"


@pytest.mark.slow
def test_power_cycle_through_the_place_and_release_twice(lab: Lab) -> None:
    place = Place(PLACE, lab.coordinator, lab.client)
    resources = place.acquire(Deadline(60))
    try:
        assert {r.cls for r in resources} == {"NetworkSerialPort", "NetworkPowerPort"}
        serial = next(r for r in resources if r.cls == "NetworkSerialPort")
        assert serial.params["host"] == "127.0.0.1" and serial.params["port"]  # ser2net started for us
        del lab.power_requests[:]
        assert place.power_cycle(Deadline(60))
        assert lab.power_requests == ["/outlet/0", "/outlet/1"]  # off, then on
    finally:
        place.release()
    place.release()  # a second release is a no-op
    assert lab.acquired_by() == "None"
