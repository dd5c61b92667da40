"""The ESP32-S3 profile agrees with its firmware port. The port cannot be built here (no ESP-IDF),
so its constants are read from the sources: where it talks, at what baud, its arena, the model
partition, and what it links."""

from __future__ import annotations

import re

from harness.models.fit import VariantFacts, check
from harness.config.profiles import Runtime, load_profile
from harness.transports.serial import parse_url
from tests.conftest import REPO

PORT = REPO / "firmware" / "ports" / "esp32"
PROFILE = load_profile(REPO / "device_profiles" / "esp32-s3.yaml")


def port_source() -> str:
    return (PORT / "main" / "port.c").read_text()


def test_the_profile_talks_where_the_firmware_does() -> None:
    assert re.search(r"#define UART UART_NUM_0\b", port_source()), "the port moved off UART0: fix the profile"
    port, baud = parse_url(PROFILE.transport)
    assert "USB_JTAG" not in port and "Espressif_USB" not in port, \
        f"{port} is the native USB-Serial-JTAG port; the firmware talks on UART0 (the USB-UART bridge)"
    sdkconfig = (PORT / "sdkconfig.defaults").read_text()
    console_baud = int(re.search(r"CONFIG_ESP_CONSOLE_UART_BAUDRATE=(\d+)", sdkconfig).group(1))
    assert "uart_set_baudrate" not in port_source()  # else the baud below is no longer the console's
    assert baud == console_baud


def test_the_profile_names_the_engine_the_firmware_runs() -> None:
    assert PROFILE.runtime is Runtime.HARNESS_FW
    links = (PORT / "main" / "CMakeLists.txt").read_text() + (PORT / "main" / "idf_component.yml").read_text()
    assert "tflite-micro" not in links.replace("TFLite-Micro's", "")  # nothing else is linked or fetched


def test_the_fit_check_uses_the_firmware_arena() -> None:
    arena = int(re.search(r"static uint8_t arena\[(\d+)u << 10\]", port_source()).group(1)) << 10
    assert PROFILE.arena == arena
    facts = VariantFacts(family="f", variant="int8", file_name="int8.tflite", model_bytes=10_000,
                         quantization="int8 full-integer", accuracy=None, activation_bytes=arena + 4096,
                         tflm_runnable=True, operators=("CONV_2D",))
    assert check(facts, PROFILE).reasons == ["arena 260 KiB (TFLite-Micro arena) exceeds the firmware's arena 256 KiB"]


def test_the_model_partition_holds_the_largest_model_allowed() -> None:
    rows = [line.split(",") for line in (PORT / "partitions.csv").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    model = next(r for r in rows if r[0].strip() == "model")
    offset, size = int(model[3], 16), int(model[4], 16)
    header = int(re.search(r"#define MODEL_HEADER (\d+)", port_source()).group(1))
    assert PROFILE.serial is not None and PROFILE.serial.model_partition == offset
    assert PROFILE.model_volume_cap <= size - header
