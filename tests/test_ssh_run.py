"""Suites end to end through a real sshd: the agent runs over SSH exactly as on the host, and a
connection cut mid-run is survived without losing or duplicating results."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from harness.config import profiles
from harness.cli import app
from harness.lab.board import open_runner
from harness.deadline import Deadline
from harness.lab.session import PlannedCase, plan, run_suite
from harness.results.store import Store
from harness.config.suites import load_suite
from tests.conftest import MODELS, REPO
from tests.sshd_server import Sshd, TcpProxy, start_sshd

pytestmark = pytest.mark.slow
cli = CliRunner()


@pytest.fixture(scope="module")
def sshd():
    server = start_sshd()
    yield server
    server.stop()


def board_profile(directory: Path, sshd: Sshd, port: int | None = None, name: str = "ssh-board") -> Path:
    """A profile like rpi4.yaml, pointing at the test sshd (pinned host key, test user key)."""
    o = sshd.options()
    path = directory / f"{name}.yaml"
    path.write_text(f"""\
name: {name}
description: the test sshd on 127.0.0.1, running the agent with this Python
tier: iot
transport: ssh://{sshd.user}@127.0.0.1:{port or sshd.port}
runtime: litert
compute_tops: null
ram: 4 GiB
flash: 32 GB
model_volume_cap: 20 MB
ssh:
  key_file: {o['key_file']}
  host_key: "{o['host_key']}"
  python: {o['python']}
  workdir: {o['workdir']}
  boot_wait: 5 s
""")
    return path


def harness_run(suite: Path, device: str, store: str) -> str:
    result = cli.invoke(app, ["run", str(suite), "--device", device, "--store", store,
                              "--profiles", str(REPO / "device_profiles")])
    assert result.exit_code in (0, 1), result.output  # 1: a threshold failed, still a full run
    return Store(store).latest_run_id()


def test_quickstart_over_ssh_matches_host(sshd: Sshd, tmp_path: Path) -> None:
    suite = REPO / "suites" / "quickstart.yaml"
    over_ssh = f"sqlite:///{tmp_path / 'ssh.sqlite'}"
    on_host = f"sqlite:///{tmp_path / 'host.sqlite'}"
    ssh_rows = Store(over_ssh).results(harness_run(suite, str(board_profile(tmp_path, sshd)), over_ssh))
    host_rows = Store(on_host).results(harness_run(suite, "host", on_host))
    assert len(ssh_rows) == len(host_rows) == 8
    host = {(r["family"], r["variant"]): r for r in host_rows}
    for row in ssh_rows:
        twin = host[(row["family"], row["variant"])]
        assert row["status"] == twin["status"] == "ok", (row["reason"], twin["reason"])
        assert row["accuracy_top1"] == twin["accuracy_top1"]
        assert (row["extra"] or {}).get("predictions") == (twin["extra"] or {}).get("predictions")
        assert row["latency_n"] >= 100 and row["runtime"] == "litert"
    env = Store(over_ssh).environments(ssh_rows[0]["run_id"])
    assert env and env[0]["data"]["runtime_version"]
    assert not list((Path(sshd.options()["workdir"])).glob("run-*"))  # per-run dir cleaned up


class CutDuringSecondCase:
    """Progress hooks: pulls the cable while the second case's agent is measuring."""

    def __init__(self, proxy: TcpProxy) -> None:
        self.proxy = proxy
        self.rows: list[dict[str, Any]] = []

    def case_started(self, planned: PlannedCase) -> None:
        if len(self.rows) == 1:
            threading.Timer(1.5, self.proxy.cut).start()

    def case_done(self, planned: PlannedCase, row: dict[str, Any]) -> None:
        self.rows.append(dict(row))


def test_connection_cut_mid_run_reconnects_and_finishes(sshd: Sshd, tmp_path: Path) -> None:
    suite_path = tmp_path / "cut.yaml"
    suite_path.write_text(f"""\
name: cut
models:
  - path: {MODELS / 'digits-cnn'}
    variants: [fp32, int8, tiny-int8]
run:
  warmup: {{count: 3, min_seconds: 0}}
  measure: {{count: 30, min_seconds: 3 s}}
  timeout: 120 s
""")
    proxy = TcpProxy(sshd.port)
    store = Store(f"sqlite:///{tmp_path / 'cut.sqlite'}")
    suite = load_suite(suite_path)
    device = profiles.load_profile(board_profile(tmp_path, sshd, port=proxy.port))
    runner = open_runner(device, Deadline(30))
    hooks = CutDuringSecondCase(proxy)
    try:
        run_id = run_suite(suite, device, store, runner, plan(suite, device), progress=hooks)
    finally:
        runner.close()
        proxy.close()
    assert proxy.connections >= 2  # the cut happened and the transport reconnected
    rows = store.results(run_id)
    assert sorted(r["variant"] for r in rows) == ["fp32", "int8", "tiny-int8"]  # each stored once
    assert all(r["status"] == "ok" for r in rows), [r["reason"] for r in rows]
    first = next(r for r in rows if r["variant"] == hooks.rows[0]["variant"])
    assert first["id"] == hooks.rows[0]["id"]  # measured before the cut, kept as it was
    assert first["latency_p50_us"] == hooks.rows[0]["latency_p50_us"]
    assert store.run(run_id)["status"] == "complete"
