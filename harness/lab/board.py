"""Assemble a board: a device profile in; its transport, the runner over it and its meter out.

    preflight(profile)             construct (without connecting) the transport and the meter, so a
                                   bad URL or a missing package is a ConfigError before a run
                                   writes anything
    open_runner(profile, deadline) acquire the labgrid place (a shared board), open the transport,
                                   put the runner that fits it on top: the board's own runner
    metered(profile, runner)       the runner with the profile's meter around it (metering.py)
    build_meter(profile)           the meter alone, constructed, not opened

The way from `harness run --device X` to an open runner goes down only, through this module:
labgrid.py, transports, runners and meters are called and never call back up. A meter that
reads counters on the board itself (hwmon, RAPL) gets a second connection to it from here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from harness.deadline import Deadline
from harness.errors import ConfigError, InfrastructureError
from harness.lab.labgrid import PlaceRunner, acquire_place, find_client, missing_client_message, preview_url
from harness.power import ON_THE_BOARD, PowerMeter, open_meter
from harness.lab.metering import MeteredRunner
from harness.config.profiles import DeviceProfile
from harness.runners.base import Runner
from harness.transports import CommandTransport, Transport, open_transport

# A counter read on a board is one SSH command: on a busy controller or board it can take
# seconds, and a meter that gives up then reports "meter failed" for a board that is fine.
BOARD_COMMAND_TIMEOUT_S = 30.0


def preflight(profile: DeviceProfile) -> None:
    """Everything the board needs that can be checked without touching it."""
    url = _runnable(profile)
    if profile.labgrid is not None:  # the place gives the host: check the template and the client
        if find_client(profile.labgrid.client) is None:
            raise ConfigError(f"device {profile.name!r}: {missing_client_message(profile.labgrid.client)}")
        url = preview_url(url)
    transport = _transport(profile, url)
    if profile.labgrid is None:  # a place's URL is only a preview until the place is acquired
        transport.preflight()  # e.g. a serial port that does not exist, an emulator not installed
    if profile.gdb is not None and profile.gdb.firmware is not None:
        from harness.transports.qemu_mcu import firmware_image

        elf = firmware_image(profile.gdb.firmware)
        if not elf.is_file():
            raise ConfigError(f"device {profile.name!r}: gdb.firmware {elf} does not exist (build the "
                              "firmware port for this board first: docs/gdb.md)")
    build_meter(profile)


def open_runner(profile: DeviceProfile, deadline: Deadline) -> Runner:
    """The board's runner over its open transport; a shared board's place is released on close."""
    url = _runnable(profile)
    if profile.labgrid is None:
        return _runner(profile, _open(profile, url, deadline))
    lg = profile.labgrid
    place, url = acquire_place(lg.place, lg.coordinator, lg.client, url, lg.resource, deadline)
    try:
        return PlaceRunner(_runner(profile, _open(profile, url, deadline)), place)
    except BaseException:
        place.release()
        raise


def metered(profile: DeviceProfile, runner: Runner) -> MeteredRunner:
    """`runner` with the profile's meter around it; the meter opens when the first case runs."""
    return MeteredRunner(runner, profile, build_meter(profile))


def build_meter(profile: DeviceProfile) -> PowerMeter | None:
    """The profile's meter, constructed but not opened (no I/O); None without a meter. Counters
    read on the measured machine itself (hwmon, RAPL) go through a second connection to the
    board: never the controller's own /sys (the profile refuses a board that cannot run commands)."""
    url = profile.power.meter
    if not url:
        return None
    on_board = urlsplit(url).scheme in ON_THE_BOARD and not str(profile.transport).startswith("local:")
    return open_meter(url, **({"run": BoardCommands(profile)} if on_board else {}))


class BoardCommands:
    """run(argv) -> stdout on the device, over a transport of its own (opened on first use)."""

    def __init__(self, profile: DeviceProfile) -> None:
        self.profile, self.transport = profile, None

    def __call__(self, argv: list[str]) -> bytes:
        if self.transport is None:
            self.transport = _open(self.profile, _runnable(self.profile), Deadline(BOARD_COMMAND_TIMEOUT_S))
        done = self.transport.run(argv, deadline=Deadline(BOARD_COMMAND_TIMEOUT_S))
        if done.returncode != 0:
            raise InfrastructureError(f"{argv[0]} exited with {done.returncode}: "
                                      f"{done.stderr.decode(errors='replace').strip()[:200]}")
        return done.stdout

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None


def _runnable(profile: DeviceProfile) -> str:
    """The profile's transport URL (a template with a labgrid place)."""
    if profile.transport is None:
        raise ConfigError(f"device {profile.name!r} is a reference class with no transport; "
                          "use it with `harness check`, not `harness run`")
    return profile.transport


def _transport(profile: DeviceProfile, url: str) -> Transport:
    return open_transport(url, **profile.transport_options())


def _open(profile: DeviceProfile, url: str, deadline: Deadline) -> Any:
    transport = _transport(profile, url)
    transport.open(deadline)
    return transport


def _runner(profile: DeviceProfile, transport: Any) -> Runner:
    """The runner that fits the transport: the agent on a command transport, else the firmware."""
    if isinstance(transport, CommandTransport):
        from harness.runners.agent_runner import AgentRunner

        load = profile.accelerator_load
        return AgentRunner(transport, profile.runtime.value, load.model_dump() if load else None)
    from harness.runners.firmware import FirmwareRunner

    gdb = _gdb_deployer(profile, transport)
    serial = profile.serial
    if serial is None:
        return FirmwareRunner(transport, gdb=gdb)
    flash = ({"chip": serial.esptool_chip, "offset": serial.model_partition}
             if serial.deploy == "esptool" else None)
    tiny = {"model": serial.model, "model_sha256": serial.model_sha256, "mode": serial.tiny_mode,
            "iterations": serial.tiny_iterations}
    return FirmwareRunner(transport, protocol=serial.protocol, read_timeout=serial.read_timeout, flash=flash,
                          gdb=gdb, tiny=tiny if serial.protocol == "mlperf-tiny" else None)


def _gdb_deployer(profile: DeviceProfile, transport: Any) -> Any:
    if profile.gdb is None:
        return None
    from harness.runners.gdb_deploy import GdbDeployer
    from harness.transports.qemu_mcu import build_firmware, firmware_image

    elf = firmware_image(profile.gdb.firmware)
    build_firmware(elf)  # the reference firmware is built on first use, as for QEMU's -kernel
    return GdbDeployer(profile.gdb.model_dump(), elf, transport)
