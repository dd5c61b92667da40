"""Coral Edge TPU runtime: the agent's clear errors, on the host and on a board over SSH.

No Edge TPU exists here, so what is tested is what a lab engineer sees when something is
missing: a variant not compiled for the Edge TPU (a model error) and a missing libedgetpu.so.1
(a device error). The delegate path itself needs the hardware."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.deadline import Deadline
from harness.errors import DeviceError, ModelError
from harness.runners.agent_runner import AgentRunner
from harness.runners.base import Job
from harness.transports import open_transport
from harness.transports.base import CommandTransport
from harness.transports.local import LocalTransport
from tests.conftest import MODELS
from tests.sshd_server import start_sshd


@pytest.fixture(scope="module", params=["local", "ssh"])
def transport(request: pytest.FixtureRequest):
    if request.param == "local":
        yield LocalTransport()
        return
    sshd = start_sshd()
    board = open_transport(sshd.url, ssh=sshd.options())
    board.open(Deadline(20))
    yield board
    board.close()
    sshd.stop()


def job(model: Path) -> Job:
    return Job(model_path=model, dataset_path=None, warmup_count=0, warmup_min_seconds=0,
               measure_count=1, measure_min_seconds=0)


def test_variant_not_compiled_for_edgetpu(transport: CommandTransport) -> None:
    runner = AgentRunner(transport, "edgetpu")
    with pytest.raises(ModelError, match=r"int8.tflite: not compiled for the Edge TPU .*edgetpu_compiler"):
        runner.measure(job(MODELS / "digits-cnn" / "int8.tflite"), Deadline(60))


def edgetpu_library_installed() -> bool:
    import ctypes

    try:
        ctypes.CDLL("libedgetpu.so.1")
    except OSError:
        return False
    return True


def test_missing_edgetpu_is_a_clear_device_error(transport: CommandTransport, tmp_path: Path) -> None:
    """Runs on every machine (no skip): without libedgetpu.so.1 the message says to install it;
    with it but no Edge TPU plugged in (this lab has none) the message says no Edge TPU is found."""
    model = tmp_path / "int8_edgetpu.tflite"
    shutil.copy(MODELS / "digits-cnn" / "int8.tflite", model)
    runner = AgentRunner(transport, "edgetpu")
    expected = (r"no Edge TPU found: libedgetpu.so.1 loads but its delegate failed" if edgetpu_library_installed()
                else r"Edge TPU runtime libedgetpu.so.1 is not installed.*libedgetpu1-std")
    with pytest.raises(DeviceError, match=expected):
        runner.measure(job(model), Deadline(60))
