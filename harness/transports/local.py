"""local:// — this machine. Commands run as subprocesses; files are used where they lie.

`local://?python=PATH` runs the agent under another Python of this machine: a runtime whose wheel
needs its own environment (tflite-runtime 2.14 is built against NumPy 1), as a board has its own.
`python.RUNTIME=PATH` does so for one runtime only, so one board runs each runtime in its own venv
(host: `.pte` models under ExecuTorch's venv, `python.executorch=.venv-executorch/bin/python`).
A relative PATH is taken from the working directory.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from harness import interrupts
from harness.deadline import Deadline
from harness.errors import DeviceError, DeviceTimeout, InfrastructureError
from harness.transports import register
from harness.transports.base import CommandResult, CommandTransport


@register("local")
class LocalTransport(CommandTransport):
    def __init__(self, url: str = "local://", **_options: object) -> None:
        self.url = url
        query = parse_qs(urlsplit(url).query)
        self._python = query.get("python", [sys.executable])[0]
        self._runtime_python = {key.removeprefix("python."): values[0] for key, values in query.items()
                                if key.startswith("python.")}

    def open(self, deadline: Deadline) -> None:
        pass

    def close(self) -> None:
        pass

    @property
    def python(self) -> str:
        return self._python

    def python_for(self, runtime: str) -> str:
        python = self._runtime_python.get(runtime)
        if python is None:
            return self._python
        if not Path(python).is_file():
            raise DeviceError(f"{self.url}: {runtime}'s interpreter {python} does not exist "
                              f"(make {runtime}-venv installs it; see docs/runtimes.md)")
        return python

    def stage(self, local: Path, deadline: Deadline) -> str:
        return str(local.resolve())

    def run(self, argv: list[str], *, stdin: bytes = b"", deadline: Deadline) -> CommandResult:
        # Its own process group: a terminal's Ctrl-C reaches the harness only, which then ends
        # this command itself if it is measurement work (harness/interrupts.py).
        try:
            proc = interrupts.popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
        except OSError as exc:
            raise InfrastructureError(f"local: cannot run {argv[0]}: {exc.strerror}") from None
        try:
            stdout, stderr = proc.communicate(stdin, timeout=deadline.timeout())
        except subprocess.TimeoutExpired:
            interrupts.kill_group(proc)
            proc.communicate()
            raise DeviceTimeout(f"local: {argv[0]} did not finish within {deadline.seconds:g} s") from None
        finally:
            if proc.poll() is None:  # an exception other than the timeout: leave nothing running
                interrupts.kill_group(proc)
                proc.wait()
            interrupts.forget(proc)
        return CommandResult(proc.returncode, stdout, stderr)
