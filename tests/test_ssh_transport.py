"""The SSH transport against a real OpenSSH sshd on 127.0.0.1: host keys, login, timeouts,
staging with the sha256 skip, and reconnecting after a cut connection."""

from __future__ import annotations

import base64
import threading
import time
from pathlib import Path

import paramiko
import pytest

from harness.deadline import Deadline
from harness.errors import ConfigError, DeviceTimeout, InfrastructureError
from harness.transports import open_transport
from harness.transports.ssh import SshTransport
from harness.transports.ssh_keys import fingerprint
from tests.sshd_server import Sshd, TcpProxy, free_port, keygen, start_sshd


@pytest.fixture(scope="module")
def sshd():
    server = start_sshd()
    yield server
    server.stop()


def connect(url: str, **options: object) -> SshTransport:
    transport = open_transport(url, ssh=options)
    assert isinstance(transport, SshTransport)
    transport.open(Deadline(20))
    return transport


def host_fingerprint(sshd: Sshd) -> str:
    kind, data = sshd.host_key_pub.split()[:2]
    return fingerprint(paramiko.PKey.from_type_string(kind, base64.b64decode(data)))


def test_runs_quoted_commands(sshd: Sshd) -> None:
    with connect(sshd.url, **sshd.options()) as t:
        done = t.run(["printf", "%s|", "a b", "$HOME", "'; echo pwned"], deadline=Deadline(10))
        assert done.returncode == 0
        assert done.stdout == b"a b|$HOME|'; echo pwned|"
        echo = t.run(["cat"], stdin=b"x" * 200_000, deadline=Deadline(10))
        assert echo.stdout == b"x" * 200_000
        assert t.run(["sh", "-c", "echo oops >&2; exit 3"], deadline=Deadline(10)) == \
            type(echo)(3, b"", b"oops\n")
        assert t.run(["sh", "-c", "kill -SEGV $$"], deadline=Deadline(10)).returncode == 128 + 11


def test_unknown_host_key_refused_with_fingerprint(sshd: Sshd, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    with pytest.raises(ConfigError) as err:
        connect(sshd.url, **sshd.options(host_key=None, known_hosts=str(known)))
    message = str(err.value)
    assert "unknown host key" in message and host_fingerprint(sshd) in message
    assert f">> {known}" in message  # how to trust it
    # Following the printed advice makes the next connection succeed.
    line = message.split("echo '")[1].split("'")[0]
    known.write_text(line + "\n")
    with connect(sshd.url, **sshd.options(host_key=None, known_hosts=str(known))) as t:
        assert t.run(["true"], deadline=Deadline(10)).returncode == 0


def test_default_known_hosts_is_the_harness_own(sshd: Sshd, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    with pytest.raises(ConfigError, match=str(tmp_path / "edge-harness" / "known_hosts")):
        connect(sshd.url, **sshd.options(host_key=None))


def test_changed_host_key_refused(sshd: Sshd, tmp_path: Path) -> None:
    other = Path(f"{keygen(tmp_path / 'impostor', 'other')}.pub").read_text()
    with pytest.raises(ConfigError) as err:
        connect(sshd.url, **sshd.options(host_key=other))
    message = str(err.value)
    assert "HOST KEY CHANGED" in message and host_fingerprint(sshd) in message
    assert "ssh-keygen -R" in message


def test_accept_unknown_is_explicit_and_logged(sshd: Sshd, tmp_path: Path, caplog) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    with connect(sshd.url, **sshd.options(host_key=None, known_hosts=str(known),
                                          accept_unknown_host_key=True)) as t:
        assert t.run(["true"], deadline=Deadline(10)).returncode == 0
    assert host_fingerprint(sshd) in caplog.text and "not verified" in caplog.text


def test_wrong_user_key_refused(sshd: Sshd, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    stranger = keygen(tmp_path / "stranger", "stranger")
    with pytest.raises(ConfigError, match=rf"login as '{sshd.user}' refused.*{stranger}"):
        connect(sshd.url, **sshd.options(key_file=str(stranger)))


def test_missing_key_file_and_password_env(sshd: Sshd, tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(ConfigError, match="ssh.key_file .*nope: no such file"):
        open_transport(sshd.url, ssh=sshd.options(key_file=str(tmp_path / "nope")))
    monkeypatch.delenv("EDGE_TEST_PW", raising=False)
    with pytest.raises(ConfigError, match=r"\$EDGE_TEST_PW, which is not set"):
        connect(sshd.url, **sshd.options(password_env="EDGE_TEST_PW"))


def test_unreachable_board_retried_then_clear_error(sshd: Sshd) -> None:
    url = f"ssh://{sshd.user}@127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(InfrastructureError, match=r"cannot connect: .*refused.*gave up after [2-9] attempt"):
        connect(url, **sshd.options(boot_wait=2.0))
    assert 1.5 < time.monotonic() - started < 6


def test_command_timeout(sshd: Sshd) -> None:
    with connect(sshd.url, **sshd.options()) as t:
        started = time.monotonic()
        with pytest.raises(DeviceTimeout, match="sleep did not finish within 1 s"):
            t.run(["sleep", "5"], deadline=Deadline(1))
        assert time.monotonic() - started < 3
        assert t.run(["true"], deadline=Deadline(10)).returncode == 0  # still usable


def test_stage_skips_what_the_board_already_holds(sshd: Sshd, tmp_path: Path) -> None:
    payload = tmp_path / "model_edgetpu.tflite"
    payload.write_bytes(b"\x01" * 100_000)
    options = sshd.options(workdir=str(tmp_path / "board"))
    with connect(sshd.url, **options) as first:
        remote = first.stage(payload, Deadline(10))
        assert remote.endswith("-model_edgetpu.tflite") and first.uploaded_bytes == 100_000
        assert Path(remote).read_bytes() == payload.read_bytes()
        run_dir = Path(remote).parent
    assert not run_dir.exists()  # close() removed the per-run directory, not the cache
    with connect(sshd.url, **options) as second:  # a later night: nothing uploaded again
        assert Path(second.stage(payload, Deadline(10))).read_bytes() == payload.read_bytes()
        assert second.uploaded_bytes == 0
    cached = next((tmp_path / "board" / "cache").glob("*/model_edgetpu.tflite"))
    cached.write_bytes(b"\x02" * 100_000)  # same size, damaged on the board: uploaded again
    with connect(sshd.url, **options) as third:
        assert Path(third.stage(payload, Deadline(10))).read_bytes() == payload.read_bytes()
        assert third.uploaded_bytes == 100_000


def test_cut_connection_is_infrastructure_error_then_reconnects(sshd: Sshd) -> None:
    proxy = TcpProxy(sshd.port)
    try:
        url = f"ssh://{sshd.user}@127.0.0.1:{proxy.port}"
        with connect(url, **sshd.options()) as t:
            threading.Timer(0.5, proxy.cut).start()
            with pytest.raises(InfrastructureError, match="connection (dropped|lost)"):
                t.run(["sleep", "3"], deadline=Deadline(10))
            assert t.run(["echo", "back"], deadline=Deadline(10)).stdout == b"back\n"
        assert proxy.connections == 2
    finally:
        proxy.close()


def test_emulated_board_without_image_names_the_build_script(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no image at .*missing.qcow2; build it with `sudo tools/build_aarch64_image.sh`"):
        open_transport("qemu://aarch64-virt", qemu={"image": str(tmp_path / "missing.qcow2")})
