"""From a device profile to an open transport and the runner that fits it."""

from __future__ import annotations

from typing import Any

from harness.deadline import Deadline
from harness.errors import ConfigError
from harness.profiles import DeviceProfile
from harness.runners.base import Runner
from harness.transports import CommandTransport, open_transport


def transport_options(profile: DeviceProfile) -> dict[str, Any]:
    """The plain options a transport takes (kept for callers; the profile owns it now)."""
    return profile.transport_options()


def preflight(profile: DeviceProfile) -> None:
    """Construct (without connecting) the board's transport and power meter, so a bad URL or a
    missing package is a ConfigError before the run writes anything."""
    if profile.transport is None:
        raise ConfigError(f"device {profile.name!r} is a reference class with no transport; "
                          "use it with `harness check`, not `harness run`")
    url = profile.transport
    if profile.labgrid is not None:  # the place gives the host: check the template and the client
        from harness.labgrid_place import find_client, missing_client_message, preview_url

        if find_client(profile.labgrid.client) is None:
            raise ConfigError(f"device {profile.name!r}: {missing_client_message(profile.labgrid.client)}")
        url = preview_url(url)
    transport = open_transport(url, **transport_options(profile))
    if profile.labgrid is None:  # a place's URL is only a preview until the place is acquired
        transport.preflight()  # e.g. a serial port that does not exist, an emulator not installed
    if profile.gdb is not None and profile.gdb.firmware is not None:
        from harness.transports.qemu_mcu import firmware_image

        elf = firmware_image(profile.gdb.firmware)
        if not elf.is_file():
            raise ConfigError(f"device {profile.name!r}: gdb.firmware {elf} does not exist (build the "
                              "firmware port for this board first: docs/gdb.md)")
    from harness.power.recording import build_meter

    build_meter(profile)


def open_runner(profile: DeviceProfile, deadline: Deadline) -> Runner:
    if profile.transport is None:
        raise ConfigError(f"device {profile.name!r} is a reference class with no transport; "
                          "use it with `harness check`, not `harness run`")
    if profile.labgrid is not None:  # a shared board: acquire its place, release it on close
        from harness.labgrid_place import open_on_place

        lg, template = profile.labgrid, profile.transport
        return open_on_place(lg.place, lg.coordinator, lg.client, template, lg.resource,
                             lambda url: _runner_at(profile, url, deadline), deadline)
    return _runner_at(profile, profile.transport, deadline)


def _runner_at(profile: DeviceProfile, url: str, deadline: Deadline) -> Runner:
    transport = open_transport(url, **transport_options(profile))
    transport.open(deadline)
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
