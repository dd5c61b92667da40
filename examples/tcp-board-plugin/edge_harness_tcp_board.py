"""tcpboard://HOST:PORT: a board whose tiny daemon (`serve`, below) runs commands sent over TCP.

An example plugin: it registers through the `edge_harness.transports` entry point (pyproject.toml
beside it), so `harness` opens `tcpboard://` URLs without a line of the harness changed. The
protocol is one JSON line each way per request. The daemon runs what it is sent: bind it to a
private interface only (a lab network, a USB gadget link), never to the internet.
"""

import base64, hashlib, json, os, socket, subprocess, sys, tempfile
from pathlib import Path
from urllib.parse import urlsplit

from harness.errors import DeviceTimeout, InfrastructureError
from harness.transports.base import CommandResult, CommandTransport


class TcpBoard(CommandTransport):
    def __init__(self, url: str, **_options: object) -> None:
        self.url, self._addr = url, (urlsplit(url).hostname, urlsplit(url).port)

    def _ask(self, request: dict, deadline) -> dict:
        try:
            with socket.create_connection(self._addr, timeout=deadline.timeout()) as s:
                s.sendall(json.dumps(request).encode() + b"\n")
                return json.loads(s.makefile("rb").readline())
        except socket.timeout:
            raise DeviceTimeout(f"{self.url}: no answer within {deadline.seconds:g} s") from None
        except (OSError, ValueError) as exc:
            raise InfrastructureError(f"{self.url}: {exc}") from None

    def open(self, deadline) -> None:
        self._python = self._ask({"op": "python"}, deadline)["python"]

    def close(self) -> None:
        pass

    @property
    def python(self) -> str:
        return self._python

    def stage(self, local: Path, deadline) -> str:
        data = local.read_bytes()
        return self._ask({"op": "put", "name": local.name, "sha256": hashlib.sha256(data).hexdigest(),
                          "data": base64.b64encode(data).decode()}, deadline)["path"]

    def run(self, argv: list[str], *, stdin: bytes = b"", deadline) -> CommandResult:
        r = self._ask({"op": "run", "argv": argv, "stdin": base64.b64encode(stdin).decode(),
                       "timeout": deadline.timeout()}, deadline)
        return CommandResult(r["returncode"], base64.b64decode(r["stdout"]), base64.b64decode(r["stderr"]))


def serve(host: str = "127.0.0.1", port: int = 0, ready=print) -> None:
    """The board's side: python -m edge_harness_tcp_board [PORT]; files kept by sha256."""
    store, server = Path(tempfile.mkdtemp(prefix="tcpboard-")), socket.create_server((host, port))
    ready(server.getsockname()[1])
    while True:
        conn, _ = server.accept()
        with conn:
            req, reply = json.loads(conn.makefile("rb").readline()), {}
            if req["op"] == "python":
                reply = {"python": sys.executable}
            elif req["op"] == "put":
                path = store / req["sha256"] / req["name"]
                path.parent.mkdir(exist_ok=True)
                path.write_bytes(base64.b64decode(req["data"]))
                reply = {"path": str(path)}
            elif req["op"] == "run":
                done = subprocess.run(req["argv"], input=base64.b64decode(req["stdin"]), capture_output=True,
                                      timeout=req["timeout"])
                reply = {"returncode": done.returncode, "stdout": base64.b64encode(done.stdout).decode(),
                         "stderr": base64.b64encode(done.stderr).decode()}
            conn.sendall(json.dumps(reply).encode() + b"\n")


if __name__ == "__main__":
    serve(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0, ready=lambda p: print(p, flush=True))
