"""Deploy by flashing: write the model partition image into an ESP32's `model` partition with
esptool (the `esp32` extra), for boards whose model lives in flash rather than being uploaded
over the UART. The firmware then loads it at boot and reports its CRC-32 like an upload."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.deadline import Deadline
from harness.errors import ConfigError, DeviceTimeout, InfrastructureError
from harness.models.firmware_image import partition_image

FLASH_TIMEOUT_S = 300.0


def esptool_argv(port: str, baud: int, chip: str, offset: int, image: Path, connect_attempts: int = 7) -> list[str]:
    return [sys.executable, "-m", "esptool", "--chip", chip, "--port", port, "--baud", str(baud),
            "--before", "default-reset", "--after", "hard-reset", "--connect-attempts", str(connect_attempts),
            "write-flash", f"{offset:#x}", str(image)]


def flash_model(port: str, baud: int, chip: str, offset: int, model: bytes, deadline: Deadline,
                connect_attempts: int = 7, benchmark: str | None = None) -> None:
    """The port must be closed by the caller: esptool needs it to itself."""
    if importlib.util.find_spec("esptool") is None:
        raise ConfigError("deploy 'esptool' needs esptool: pip install 'edge-harness[esp32]'")
    with tempfile.TemporaryDirectory(prefix="edge-harness-flash-") as tmp:
        image = Path(tmp) / "model-partition.bin"
        image.write_bytes(partition_image(model, benchmark))  # the MLPerf Tiny tag, when given
        argv = esptool_argv(port, baud, chip, offset, image, connect_attempts)
        try:
            done = subprocess.run(argv, capture_output=True, text=True,
                                  timeout=deadline.timeout(FLASH_TIMEOUT_S))
        except subprocess.TimeoutExpired:
            raise DeviceTimeout(f"esptool on {port}: flashing did not finish in time") from None
    if done.returncode != 0:
        lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        raise InfrastructureError(f"esptool on {port} failed ({done.returncode}): {' | '.join(lines[-2:])}")
