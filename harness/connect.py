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
    check_present = getattr(transport, "check_present", None)  # e.g. a serial port that does not exist
    if check_present is not None:
        check_present()
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

        return AgentRunner(transport, profile.runtime.value)
    from harness.runners.firmware import FirmwareRunner

    serial = profile.serial
    if serial is None:
        return FirmwareRunner(transport)
    flash = ({"chip": serial.esptool_chip, "offset": serial.model_partition}
             if serial.deploy == "esptool" else None)
    return FirmwareRunner(transport, protocol=serial.protocol, read_timeout=serial.read_timeout, flash=flash)
