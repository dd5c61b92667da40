"""The two transport interfaces: commands on a Linux board, or a byte stream to a UART."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path

from harness.deadline import Deadline


@dataclass(frozen=True)
class CommandResult:
    returncode: int  # negative: killed by that signal
    stdout: bytes
    stderr: bytes


class Transport(abc.ABC):
    url: str
    emulated: bool = False  # an emulator's timing is functional only, never board latency

    @abc.abstractmethod
    def open(self, deadline: Deadline) -> None:
        """Connect (boot, for an emulator); raises InfrastructureError."""

    @abc.abstractmethod
    def close(self) -> None:
        """Disconnect and release everything; safe to call twice."""

    def preflight(self) -> None:
        """Cheap checks of what would make `open` a ConfigError (a missing emulator, an SSH host
        with no trusted key), run before a run writes anything. Never an infrastructure error:
        a board that does not answer is the health model's business."""

    def __enter__(self) -> "Transport":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CommandTransport(Transport):
    """A machine that runs commands and holds files: the host, an SSH board, a QEMU Linux VM."""

    @abc.abstractmethod
    def run(self, argv: list[str], *, stdin: bytes = b"", deadline: Deadline) -> CommandResult:
        """Run argv (each element quoted by the transport); DeviceTimeout past the deadline."""

    @abc.abstractmethod
    def stage(self, local: Path, deadline: Deadline) -> str:
        """Make a local file available on the target; returns its path there.

        Implementations skip the copy when the target already holds identical content."""

    @property
    @abc.abstractmethod
    def python(self) -> str:
        """The Python interpreter that runs the measurement agent on the target."""

    def python_for(self, runtime: str) -> str:
        """The interpreter that runs the agent for `runtime` (a board may keep a runtime in an
        environment of its own); DeviceError when it names one that is not there."""
        return self.python


class StreamTransport(Transport):
    """A byte stream to a microcontroller: a UART, ser2net, or an emulator's serial socket."""

    @abc.abstractmethod
    def write(self, data: bytes, deadline: Deadline) -> None: ...

    @abc.abstractmethod
    def read(self, size: int, deadline: Deadline) -> bytes:
        """Up to `size` bytes; b'' only when the deadline expires with nothing read."""

    @abc.abstractmethod
    def reset(self, deadline: Deadline) -> None:
        """Reset the board (DTR/RTS, a profile command, or the emulator's system_reset)."""
