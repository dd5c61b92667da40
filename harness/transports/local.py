"""local:// — this machine. Commands run as subprocesses; files are used where they lie."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.deadline import Deadline
from harness.errors import DeviceTimeout, InfrastructureError
from harness.transports import register
from harness.transports.base import CommandResult, CommandTransport


@register("local")
class LocalTransport(CommandTransport):
    def __init__(self, url: str = "local://", **_options: object) -> None:
        self.url = url

    def open(self, deadline: Deadline) -> None:
        pass

    def close(self) -> None:
        pass

    @property
    def python(self) -> str:
        return sys.executable

    def stage(self, local: Path, deadline: Deadline) -> str:
        return str(local.resolve())

    def run(self, argv: list[str], *, stdin: bytes = b"", deadline: Deadline) -> CommandResult:
        try:
            done = subprocess.run(argv, input=stdin, capture_output=True, timeout=deadline.timeout())
        except subprocess.TimeoutExpired:
            raise DeviceTimeout(f"local: {argv[0]} did not finish within {deadline.seconds:g} s") from None
        except OSError as exc:
            raise InfrastructureError(f"local: cannot run {argv[0]}: {exc.strerror}") from None
        return CommandResult(done.returncode, done.stdout, done.stderr)
