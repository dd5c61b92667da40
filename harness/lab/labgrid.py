"""Boards shared through labgrid: acquire a place, reach it, release it.

    profile                                     what the harness does
    labgrid: {place: b1, coordinator: H:P}      labgrid-client -x H:P -p b1 acquire
    transport: rfc2217://                       ... show -> the NetworkSerialPort's host:port
    transport: ssh://user@                      ... show -> the NetworkService's address:port
    (the run ends, or the runner is closed)     labgrid-client -x H:P -p b1 release

labgrid is reached only through its command-line client in a subprocess, never imported:
it installs `pyserial-labgrid` over pyserial's `serial` package and registers a pytest
plugin, so it lives in its own venv (`make labgrid-venv`). The client is the profile's
`labgrid.client`, else $EDGE_HARNESS_LABGRID_CLIENT, else `labgrid-client` on PATH, else
the repo's .venv-labgrid/bin/labgrid-client.

A place acquired by someone else is an InfrastructureError ("... is acquired by user@host"):
that board's cases are not run, the other boards go on. A place this user already holds on
this host (a run killed with -9 before it released it) is used and released afterwards.
"""

from __future__ import annotations

import ast
import logging
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from harness.deadline import Deadline
from harness.errors import ConfigError, DeviceTimeout, HarnessError, InfrastructureError
from harness.locations import SOURCE_ROOT
from harness.config.profiles import LABGRID_TEMPLATES as TEMPLATES
from harness.runners.base import Job, Measurement, Runner

CLIENT_ENV = "EDGE_HARNESS_LABGRID_CLIENT"
REPO_CLIENT = SOURCE_ROOT / ".venv-labgrid" / "bin" / "labgrid-client"
CLIENT_TIMEOUT_S = 30.0  # one labgrid-client call (it connects to the coordinator each time)
PORT_WAIT_S = 15.0  # the exporter starts ser2net when the place is acquired
POWER_CLASSES = {"NetworkPowerPort", "NetworkUSBPowerPort", "NetworkSiSPMPowerPort", "PDUDaemonPort",
                 "TasmotaPowerPort", "NetworkYKUSHPowerPort"}  # what `labgrid-client power` drives
_HEADER = re.compile(r"^Acquired resource '([^']+)' \(([^/]+)/([^/]+)/([^/]+)/([^)]+)\):$")
_HELD_BY = re.compile(r"already acquired by (\S+?)\.?(\s|$)")  # ... by host/user.
_MINE = re.compile(r"You have already acquired place \S+?(?: on (\S+?))?\.(?:\s|$)")  # this user; on another host?
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resource:
    """One acquired resource of a place, as `labgrid-client show` prints it."""

    name: str
    cls: str
    params: dict[str, Any]


def fill_template(template: str, resources: list[Resource], resource_name: str | None = None) -> str:
    """The real transport URL: the template with the place's host and port (and serial speed)."""
    parts = urlsplit(template)
    cls, protocol = TEMPLATES[parts.scheme]
    found = [r for r in resources if r.cls == cls and resource_name in (None, r.name)]
    if not found:
        raise ConfigError(f"{template}: the place has no {cls}"
                          f"{f' named {resource_name!r}' if resource_name else ''} "
                          f"(it has {', '.join(r.cls + ' ' + r.name for r in resources) or 'nothing'})")
    if len(found) > 1:
        raise ConfigError(f"{template}: the place has several {cls} ({', '.join(r.name for r in found)}); "
                          "name one with labgrid.resource")
    params = found[0].params
    if cls == "NetworkService":
        user = parts.username or params.get("username")
        host = _netloc(str(params["address"]), int(params.get("port") or 22))
        return urlunsplit((parts.scheme, f"{user}@{host}" if user else host, parts.path, parts.query, ""))
    if params.get("protocol", "rfc2217") != protocol:
        raise ConfigError(f"{template}: the place's serial port speaks {params.get('protocol')}, "
                          f"not {protocol}; use {'socket' if protocol == 'rfc2217' else 'rfc2217'}://")
    query = parse_qs(parts.query, keep_blank_values=True)
    if params.get("speed"):
        query.setdefault("baud", [str(params["speed"])])
    if protocol == "rfc2217":  # a pty or a plain UART has no flow control to set (labgrid does the same)
        query.setdefault("ign_set_control", [""])
    query_text = "&".join(f"{k}={v[0]}" if v[0] else k for k, v in query.items())
    return urlunsplit((parts.scheme, _netloc(str(params["host"]), int(params["port"])), parts.path, query_text, ""))


def preview_url(template: str) -> str:
    """The template filled with a placeholder host, to construct (not open) its transport early."""
    cls, protocol = TEMPLATES[urlsplit(template).scheme]
    fake = {"host": "labgrid.invalid", "address": "labgrid.invalid", "port": 1, "protocol": protocol,
            "username": "root"}
    return fill_template(template, [Resource("preview", cls, fake)])


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def find_client(configured: str | None = None) -> str | None:
    """The labgrid-client executable, or None when it is not installed."""
    explicit = configured or os.environ.get(CLIENT_ENV)
    found = shutil.which(explicit or "labgrid-client")
    if found or explicit:
        return found
    return str(REPO_CLIENT) if REPO_CLIENT.is_file() else None


@dataclass
class Place:
    """A labgrid place this process holds; `release()` is safe to call twice."""

    name: str
    coordinator: str
    client: str
    resources: list[Resource] = field(default_factory=list)
    held: bool = False

    def run(self, *args: str, deadline: Deadline) -> subprocess.CompletedProcess[str]:
        argv = [self.client, "-x", self.coordinator, "-p", self.name, *args]
        env = {k: v for k, v in os.environ.items() if k not in ("LG_ENV", "LG_PLACE", "LG_STATE")}
        try:
            return subprocess.run(argv, capture_output=True, text=True, env=env,
                                  timeout=deadline.timeout(CLIENT_TIMEOUT_S), stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise DeviceTimeout(f"labgrid place {self.name!r}: `labgrid-client {args[0]}` got no answer "
                                f"from coordinator {self.coordinator}") from None
        except OSError as exc:
            raise ConfigError(f"labgrid client {self.client}: {exc}") from None

    def acquire(self, deadline: Deadline) -> list[Resource]:
        done = self.run("acquire", deadline=deadline)
        if done.returncode != 0:
            self._acquire_failed(_error_line(done))
        self.held = True
        try:
            self.resources = self._wait_for_ports(deadline)
        except BaseException:
            self.release()  # never keep a place we cannot use
            raise
        return self.resources

    def _acquire_failed(self, error: str) -> None:
        """Translate the client's one-line error; return only when this user already holds it here."""
        mine = _MINE.search(error)
        if mine and not mine.group(1):
            log.warning("labgrid place %s was already held by this user on this host (a killed run?); "
                        "using it and releasing it afterwards", self.name)
            return
        held_by = _HELD_BY.search(error)
        if held_by or mine:
            host, _, user = held_by.group(1).partition("/") if held_by else (mine.group(1), "", "this user")
            raise InfrastructureError(f"labgrid place {self.name!r} is acquired by {user}@{host}")
        if "matches nothing" in error:
            raise ConfigError(f"labgrid place {self.name!r} does not exist on coordinator {self.coordinator} "
                              f"(labgrid-client -p {self.name} create)")
        if "connect to coordinator" in error:
            raise InfrastructureError(f"labgrid coordinator {self.coordinator} is unreachable "
                                      f"(place {self.name!r})")
        raise InfrastructureError(f"labgrid place {self.name!r}: acquire failed: {error}")

    def _wait_for_ports(self, deadline: Deadline) -> list[Resource]:
        """The acquired resources, once every serial port has its ser2net port."""
        wait = deadline.sub(PORT_WAIT_S)
        while True:
            resources = self.show(deadline)
            if all(r.params.get("port") for r in resources if r.cls == "NetworkSerialPort"):
                return resources
            if wait.expired:
                raise InfrastructureError(f"labgrid place {self.name!r}: its serial port got no "
                                          f"network port within {PORT_WAIT_S:g} s (is ser2net installed "
                                          "on the exporter?)")
            time.sleep(0.2)

    def show(self, deadline: Deadline) -> list[Resource]:
        done = self.run("show", deadline=deadline)
        if done.returncode != 0:
            raise InfrastructureError(f"labgrid place {self.name!r}: show failed: {_error_line(done)}")
        return parse_show(done.stdout)

    def power_cycle(self, deadline: Deadline) -> bool:
        """Cycle the place's power through labgrid; False when it has no power resource."""
        if not any(r.cls in POWER_CLASSES for r in self.resources):
            return False
        done = self.run("power", "cycle", deadline=deadline)
        if done.returncode != 0:
            raise InfrastructureError(f"labgrid place {self.name!r}: power cycle failed: {_error_line(done)}")
        return True

    def release(self) -> None:
        if not self.held:
            return
        try:  # called from close() and error paths: it logs, it never raises
            done = self.run("release", deadline=Deadline(CLIENT_TIMEOUT_S))
        except HarnessError as exc:
            log.error("labgrid place %s was not released: %s", self.name, exc)
            return
        if done.returncode != 0 and "is not acquired" not in done.stderr:
            log.error("labgrid place %s was not released: %s", self.name, _error_line(done))
            return
        self.held = False


def parse_show(text: str) -> list[Resource]:
    """The `Acquired resource` blocks of `labgrid-client show` (each a Python dict literal)."""
    resources: list[Resource] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        header = _HEADER.match(line)
        if not header:
            continue
        body = []
        for nxt in lines[i + 1:]:
            if not nxt.startswith("  "):
                break
            body.append(nxt[2:])
        try:
            data = ast.literal_eval("\n".join(body))
        except (ValueError, SyntaxError):
            raise InfrastructureError(f"cannot read labgrid resource {header.group(1)!r}: "
                                      f"{' '.join(body)[:200]}") from None
        resources.append(Resource(name=header.group(5), cls=str(data.get("cls", header.group(4))),
                                  params=dict(data.get("params") or {})))
    return resources


def _error_line(done: subprocess.CompletedProcess[str]) -> str:
    text = (done.stderr or done.stdout).strip().splitlines()
    return text[-1].removeprefix("labgrid-client: ").removeprefix("Error: ") if text else f"exit {done.returncode}"


class PlaceRunner(Runner):
    """A board's runner on a labgrid place: power cycles through labgrid, releases on close."""

    def __init__(self, inner: Runner, place: Place) -> None:
        self.inner, self.place = inner, place

    @property
    def runtime(self) -> str:  # type: ignore[override]
        return self.inner.runtime

    def measure(self, job: Job, deadline: Deadline) -> Measurement:
        return self.inner.measure(job, deadline)

    def recover(self, deadline: Deadline) -> None:
        if self.place.power_cycle(deadline):
            log.info("labgrid place %s: power cycled", self.place.name)
        self.inner.recover(deadline)

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            self.place.release()

    def __getattr__(self, name: str) -> Any:  # what a test or a report reads off the board's runner
        return getattr(self.inner, name)


def acquire_place(place: str, coordinator: str, client: str | None, template: str, resource: str | None,
                  deadline: Deadline) -> tuple[Place, str]:
    """Acquire the place; hand back it (release it when done) and the transport URL it gives."""
    path = find_client(client)
    if path is None:
        raise ConfigError(missing_client_message(client))
    held = Place(place, coordinator, path)
    held.acquire(deadline)
    try:
        url = fill_template(template, held.resources, resource)
    except BaseException:
        held.release()
        raise
    log.info("labgrid place %s: %s", place, url)
    return held, url


def missing_client_message(client: str | None) -> str:
    return (f"labgrid client {client or os.environ.get(CLIENT_ENV) or 'labgrid-client'!r} not found: "
            f"install labgrid in its own venv (make labgrid-venv) or set {CLIENT_ENV}")
