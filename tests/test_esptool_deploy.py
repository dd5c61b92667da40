"""Deploy by flashing: the partition image the firmware boots, and esptool driven for real."""

from __future__ import annotations

import importlib.util
import os
import time

import pytest

from harness.deadline import Deadline
from harness.errors import InfrastructureError
from harness.models.firmware_image import MAGIC, partition_image
from harness.runners.base import Job
from harness.runners.esptool_deploy import flash_model
from harness.runners.firmware import FirmwareRunner
from harness.transports import open_transport
from tests.conftest import MODELS, require, require_tool

DIGITS = MODELS / "digits-cnn"


def test_partition_image_layout() -> None:
    model = (DIGITS / "tiny-int8.tflite").read_bytes()
    image = partition_image(model)
    assert image[:4] == b"EHMD" and int.from_bytes(image[:4], "little") == MAGIC
    assert int.from_bytes(image[4:8], "little") == len(model) and image[8:16] == bytes(8)
    assert image[16:] == model


@pytest.mark.slow
def test_the_firmware_boots_the_partition_image() -> None:
    """QEMU's loader puts the very image esptool would flash where the firmware looks at boot;
    the runner then finds the model in place and uploads nothing."""
    require_tool("qemu-system-arm")
    model = DIGITS / "int8.tflite"
    transport = open_transport("qemu://mps2-an385", qemu={"icount_shift": 3}, preload=str(model))
    transport.open(Deadline(300))
    runner = FirmwareRunner(transport)

    def no_upload(*_args: object) -> int:
        raise AssertionError("the model was already in the partition: nothing to upload")

    runner.client.upload = no_upload
    try:
        job = Job(model_path=model, dataset_path=DIGITS / "eval.npz", warmup_count=1, warmup_min_seconds=0,
                  measure_count=3, measure_min_seconds=0, accuracy_samples=20)
        measured = runner.measure(job, Deadline(120))
        assert measured.latency_us["n"] >= 3 and measured.accuracy_samples == 20
    finally:
        runner.close()


def test_esptool_failure_is_an_infrastructure_error() -> None:
    """esptool really runs, against a serial port where no ESP32 answers."""
    require(importlib.util.find_spec("esptool") is not None, "esptool is not installed (the esp32 extra)")
    controller, board = os.openpty()
    try:
        started = time.monotonic()
        with pytest.raises(InfrastructureError, match=r"esptool on /dev/pts/\d+ failed"):
            flash_model(os.ttyname(board), 115200, "esp32s3", 0x200000, b"model", Deadline(120),
                        connect_attempts=1)
        assert time.monotonic() - started < 60
    finally:
        os.close(controller)
        os.close(board)
