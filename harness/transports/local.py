"""local:// — this machine. Commands run as subprocesses; files are used where they lie.

`local://?python=PATH` runs the agent under another Python of this machine: a runtime whose wheel
needs its own environment (tflite-runtime 2.14 is built against NumPy 1), as a board has its own.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from harness.deadline import Deadline
from harness.errors import DeviceTimeout, InfrastructureError
from harness.transports import register
from harness.transports.base import CommandResult, CommandTransport


@register("local")
class LocalTransport(CommandTransport):
    def __init__(self, url: str = "local://", **_options: object) -> None:
        self.url = url
        self._python = parse_qs(urlsplit(url).query).get("python", [sys.executable])[0]

    def open(self, deadline: Deadline) -> None:
        pass

    def close(self) -> None:
        pass

    @property
    def python(self) -> str:
        return self._python

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
