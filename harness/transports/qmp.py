"""A minimal QMP (QEMU Machine Protocol) client: stop, cont, system_reset, quit, query-status.

QMP is JSON lines over a socket: a greeting, `qmp_capabilities`, then one reply per command,
with asynchronous events interleaved (skipped here).
"""

from __future__ import annotations

import json
import socket
from typing import Any

from harness.errors import InfrastructureError


class QmpClient:
    def __init__(self, path: str, timeout: float = 10.0) -> None:
        self.path = path
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buffer = b""

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError as exc:
            sock.close()
            raise InfrastructureError(f"QMP {self.path}: cannot connect: {exc.strerror or exc}") from None
        self._sock = sock
        greeting = self._message()
        if "QMP" not in greeting:
            raise InfrastructureError(f"QMP {self.path}: unexpected greeting {greeting!r}")
        self.execute("qmp_capabilities")

    def execute(self, command: str, **arguments: Any) -> Any:
        if self._sock is None:
            self.connect()
        request: dict[str, Any] = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        assert self._sock is not None
        try:
            self._sock.sendall(json.dumps(request).encode() + b"\n")
        except OSError as exc:
            raise InfrastructureError(f"QMP {command}: {exc}") from None
        while True:
            reply = self._message()
            if "event" in reply:
                continue
            if "error" in reply:
                raise InfrastructureError(f"QMP {command}: {reply['error'].get('desc', reply['error'])}")
            return reply.get("return")

    def _message(self) -> dict[str, Any]:
        assert self._sock is not None
        while b"\n" not in self._buffer:
            try:
                chunk = self._sock.recv(65536)
            except OSError as exc:
                raise InfrastructureError(f"QMP {self.path}: {exc}") from None
            if not chunk:
                raise InfrastructureError(f"QMP {self.path}: QEMU closed the monitor")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
